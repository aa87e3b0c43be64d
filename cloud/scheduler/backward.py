"""The backward JIT construction: a pure numpy kernel over resource x time-slot arrays.

Input is a `Problem` (capacity by resource and slot, steps with their holding windows on groups of
alternative resources, precedence, release and due slots); output is a `Plan` (start slot per
step, chosen resource per requirement). No I/O and no Python loop over time slots.

The placement rule (the reference in `reference.py` implements the same rule in plain Python):
steps are placed level by level — every order's last step first (orders in the given sequence),
then every order's second-to-last step, and so on. A step is placed at the latest feasible start
`s` in `[lo, hi]`, where `lo` is its release (now, materials) and `hi` right-aligns it to the
earlier of its own due slot and its successor's start minus the transfer time. `s` is feasible
when every requirement finds a resource free over its holding window `[s + off, s + off + len)`;
each requirement takes the first such candidate in its group's order that no earlier requirement
of the step took. An order with a step that has no feasible start is unplaced and placed forward
from its earliest feasible start, step by step (earliest feasible start each), and reported late.

Speed comes from batching: one gather evaluates all candidate starts of all alternative
resources of all requirements of a whole batch of steps at once. The batch's placements are
accepted in sequence order up to the first one that collides with an earlier one of the same
batch; those are exactly what one-at-a-time placement would give, because extra busy slots can
only make a later start or an earlier-listed candidate infeasible, never feasible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["NO_DUE", "Plan", "Problem", "ideal_starts", "plan_backward", "step_costs"]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: due slot of a step without a due date of its own
NO_DUE = np.int64(2**40)

_WINDOW = 256
_MAX_BATCH = 128


@dataclass
class Problem:
    """Arrays the kernel plans on (indices are 0-based; slot 0 is now).

    Attributes:
        open_: (R, T) resource open for ordinary steps (calendar minus breaks, breakdowns).
        open_span: (R, T) resource open for steps allowed to span breaks.
        order_ptr: (O+1,) steps of order o are `order_ptr[o]:order_ptr[o+1]`, in routing order.
        dur: (S,) step duration in slots.
        due: (S,) latest end slot of each step (`NO_DUE` when it has none).
        release: (S,) earliest start slot (now, order release, materials ready).
        transfer: (S,) slots between the end of a step and the start of the next one.
        span: (S,) step may span breaks.
        req_ptr: (S+1,) requirements of step s are `req_ptr[s]:req_ptr[s+1]` (at least one).
        req_off: (Q,) start of the holding window relative to the step's start.
        req_len: (Q,) length of the holding window (slots, >= 1).
        cand_ptr: (Q+1,) candidates of requirement q are `cand_ptr[q]:cand_ptr[q+1]`.
        cand_res: (C,) candidate resources, in order of preference.
        w_early: (S,) earliness weight per slot.
        w_tardy: (S,) tardiness weight per slot.
    """

    open_: B
    open_span: B
    order_ptr: I64
    dur: I64
    due: I64
    release: I64
    transfer: I64
    span: B
    req_ptr: I64
    req_off: I64
    req_len: I64
    cand_ptr: I64
    cand_res: I64
    w_early: F64
    w_tardy: F64

    @property
    def n_res(self) -> int:
        """Number of individual resources."""
        return int(self.open_.shape[0])

    @property
    def n_slots(self) -> int:
        """Number of time slots in the horizon."""
        return int(self.open_.shape[1])

    @property
    def n_steps(self) -> int:
        """Number of steps of all orders."""
        return int(self.dur.shape[0])

    @property
    def n_orders(self) -> int:
        """Number of orders."""
        return int(self.order_ptr.shape[0] - 1)

    def step_order(self) -> I64:
        """The order of every step."""
        counts = np.diff(self.order_ptr)
        return np.repeat(np.arange(self.n_orders, dtype=np.int64), counts)


@dataclass
class Plan:
    """The kernel's result.

    Attributes:
        start: (S,) start slot per step, -1 where the step could not be placed.
        res: (Q,) resource chosen per requirement, -1 where unplaced.
        forward: (O,) order did not fit backward and was placed forward.
        unplaced: (O,) order (or part of it) could not be placed in the horizon.
        busy: (R, T) slots taken by the plan.
    """

    start: I64
    res: I64
    forward: B
    unplaced: B
    busy: B = field(repr=False)


def _ranges(starts: I64, counts: I64) -> I64:
    """Concatenation of `arange(starts[i], starts[i] + counts[i])` for every i."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(total, dtype=np.int64)


class _Kernel:
    """State of one construction: blocked slots and the placements so far."""

    def __init__(self, p: Problem, window: int) -> None:
        self.p = p
        self.window = window
        r, t = p.open_.shape
        self.n_res = r
        q = p.req_off.shape[0]
        # Flattened candidates ("rows"): one per (requirement, candidate resource).
        self.row_req = np.repeat(np.arange(q, dtype=np.int64), np.diff(p.cand_ptr))
        self.row_res = p.cand_res.astype(np.int64)
        self.step_rows_ptr = p.cand_ptr[p.req_ptr]
        self.max_hold = int((p.req_off + p.req_len).max(initial=1))
        pad = window + self.max_hold + int(p.req_len.max(initial=1)) + 1
        # Rows 0..R-1: blocked for ordinary steps; rows R..2R-1: blocked for steps spanning breaks.
        blk = np.ones((2 * r, t + pad), dtype=np.bool_)
        blk[:r, :t] = ~p.open_
        blk[r:, :t] = ~p.open_span
        self.blk = blk
        self.start = np.full(p.n_steps, -1, dtype=np.int64)
        self.res = np.full(q, -1, dtype=np.int64)

    # -- search ------------------------------------------------------------------------------

    def search(self, steps: I64, t0: I64, width: I64) -> tuple[B, I64, I64, B]:
        """Evaluates every start in `[t0, t0 + width)` for each step, all at once.

        Returns:
            (ok (B, W), rows (K,), row_step (K,), okc (K, W)) where ok[i, w] says step i can
            start at t0[i] + w ignoring distinctness, and okc says which candidate fits there.
        """
        p = self.p
        w = int(width.max())
        rs = self.step_rows_ptr[steps]
        counts = self.step_rows_ptr[steps + 1] - rs
        rows = _ranges(rs, counts)
        row_step = np.repeat(np.arange(steps.shape[0], dtype=np.int64), counts)
        req = self.row_req[rows]
        off = p.req_off[req]
        length = p.req_len[req]
        lmax = int(length.max())
        base = t0[row_step] + off
        cols = base[:, None] + np.arange(w + lmax, dtype=np.int64)[None, :]
        rr = self.row_res[rows] + self.n_res * p.span[steps][row_step]
        g = self.blk[rr[:, None], cols]
        cs = np.zeros((rows.shape[0], w + lmax + 1), dtype=np.int32)
        np.cumsum(g, axis=1, out=cs[:, 1:])
        ar = np.arange(w, dtype=np.int64)[None, :]
        cnt = np.take_along_axis(cs, length[:, None] + ar, axis=1) - cs[:, :w]
        okc = cnt == 0
        okc &= ar < width[row_step][:, None]
        # any over a requirement's candidates, then all over a step's requirements
        q_first = np.flatnonzero(np.r_[True, req[1:] != req[:-1]])
        okq = np.logical_or.reduceat(okc, q_first, axis=0)
        q_step = row_step[q_first]
        s_first = np.flatnonzero(np.r_[True, q_step[1:] != q_step[:-1]])
        ok = np.logical_and.reduceat(okq, s_first, axis=0)
        return ok, rows, row_step, okc

    def assign(self, rows: I64, row_step: I64, okc: B, w: I64) -> tuple[I64, I64, B]:
        """Picks the first fitting candidate per requirement at offsets `w` (per step).

        Returns:
            (req (Qb,), chosen row (Qb,), step_has_duplicate (B,))
        """
        fit = okc[np.arange(rows.shape[0]), w[row_step]]
        req = self.row_req[rows]
        q_first = np.flatnonzero(np.r_[True, req[1:] != req[:-1]])
        key = np.where(fit, np.arange(rows.shape[0]), np.iinfo(np.int64).max)
        # steps without a fitting start get an arbitrary pick; callers cut the batch before them
        chosen = np.minimum(np.minimum.reduceat(key, q_first), rows.shape[0] - 1)
        qreq = req[q_first]
        qstep = row_step[q_first]
        res = self.row_res[rows[chosen]]
        # duplicate resource within a step (groups that overlap)
        order = np.lexsort((res, qstep))
        dup_sorted = (np.diff(qstep[order]) == 0) & (np.diff(res[order]) == 0)
        dup = np.zeros(int(row_step.max(initial=-1)) + 1, dtype=np.bool_)
        dup[qstep[order][1:][dup_sorted]] = True
        return qreq, rows[chosen], dup

    def occupy(self, qreq: I64, chosen_rows: I64, step_start: I64) -> None:
        """Marks the holding windows of requirements `qreq` (at their steps' starts) busy."""
        p = self.p
        a = step_start + p.req_off[qreq]
        length = p.req_len[qreq]
        res = self.row_res[chosen_rows]
        cols = _ranges(a, length)
        rr = np.repeat(res, length)
        self.blk[rr, cols] = True
        self.blk[rr + self.n_res, cols] = True
        self.res[qreq] = res

    def release_order(self, o: int) -> None:
        """Frees everything order `o` holds (before placing it forward)."""
        p = self.p
        s0, s1 = int(p.order_ptr[o]), int(p.order_ptr[o + 1])
        for s in range(s0, s1):
            if self.start[s] < 0:
                continue
            for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                r = int(self.res[q])
                a = int(self.start[s] + p.req_off[q])
                b = a + int(p.req_len[q])
                self.blk[r, a:b] = ~p.open_[r, a:b]
                self.blk[r + self.n_res, a:b] = ~p.open_span[r, a:b]
                self.res[q] = -1
            self.start[s] = -1

    # -- one step at a time (window growth, duplicates, forward placement) ----------------------

    def place_one(self, s: int, lo: int, hi: int, forward: bool) -> bool:
        """Places step `s` at its latest (or earliest, `forward`) feasible start in [lo, hi]."""
        steps = np.array([s], dtype=np.int64)
        cur_lo, cur_hi = lo, hi
        while cur_lo <= cur_hi:
            if forward:
                t0 = cur_lo
                width = min(self.window, cur_hi - cur_lo + 1)
            else:
                t0 = max(cur_lo, cur_hi - self.window + 1)
                width = cur_hi - t0 + 1
            ok, rows, _, okc = self.search(
                steps, np.array([t0], dtype=np.int64), np.array([width], dtype=np.int64)
            )
            cand = np.flatnonzero(ok[0])
            if not forward:
                cand = cand[::-1]
            for w in cand.tolist():
                if self._try_distinct(s, rows, okc, int(w), t0):
                    return True
            if forward:
                cur_lo = t0 + width
            else:
                cur_hi = t0 - 1
        return False

    def _try_distinct(self, s: int, rows: I64, okc: B, w: int, t0: int) -> bool:
        """Greedy distinct assignment of step `s` at start t0 + w; occupies on success."""
        req = self.row_req[rows]
        taken: set[int] = set()
        picks: list[tuple[int, int]] = []
        for q in range(int(self.p.req_ptr[s]), int(self.p.req_ptr[s + 1])):
            sel = np.flatnonzero((req == q) & okc[:, w])
            pick = next((int(k) for k in sel if int(self.row_res[rows[k]]) not in taken), None)
            if pick is None:
                return False
            taken.add(int(self.row_res[rows[pick]]))
            picks.append((q, int(rows[pick])))
        qs = np.array([q for q, _ in picks], dtype=np.int64)
        crow = np.array([r for _, r in picks], dtype=np.int64)
        self.start[s] = t0 + w
        self.occupy(qs, crow, np.full(qs.shape[0], t0 + w, dtype=np.int64))
        return True


def _level_sequence(p: Problem, sequence: I64) -> I64:
    """Steps in placement order: last steps of all orders (in `sequence`), then the level below."""
    counts = np.diff(p.order_ptr)[sequence]
    levels = int(counts.max(initial=0))
    ks = np.arange(levels, dtype=np.int64)
    last = p.order_ptr[sequence + 1] - 1
    steps = last[None, :] - ks[:, None]
    valid = ks[:, None] < counts[None, :]
    return steps[valid]


def plan_backward(
    p: Problem,
    sequence: I64 | None = None,
    *,
    window: int = _WINDOW,
    max_batch: int = _MAX_BATCH,
) -> Plan:
    """Builds the backward JIT plan (see the module's docstring for the placement rule).

    Args:
        p: the problem arrays.
        sequence: order in which orders are placed within each level (default: 0..O-1).
        window: candidate starts evaluated per step and gather.
        max_batch: most steps evaluated in one gather.

    Returns:
        The plan.
    """
    if sequence is None:
        sequence = np.arange(p.n_orders, dtype=np.int64)
    k = _Kernel(p, window)
    n_orders = p.n_orders
    step_order = p.step_order()
    is_last = np.zeros(p.n_steps, dtype=np.bool_)
    is_last[p.order_ptr[1:] - 1] = True
    done = np.zeros(n_orders, dtype=np.bool_)
    forward = np.zeros(n_orders, dtype=np.bool_)
    unplaced = np.zeros(n_orders, dtype=np.bool_)
    seq = _level_sequence(p, sequence)
    pos, n = 0, seq.shape[0]
    # a batch never crosses a level: a step's successor must be placed before it is searched
    counts = np.diff(p.order_ptr)
    level_sizes = np.bincount(counts - 1, minlength=1)[::-1].cumsum()[::-1]
    level_end = np.repeat(np.cumsum(level_sizes), level_sizes)
    batch = 16
    while pos < n:
        stop = min(pos + batch, int(level_end[pos]))
        idx = np.arange(pos, stop, dtype=np.int64)
        idx = idx[~done[step_order[seq[idx]]]]
        if idx.shape[0] == 0:
            pos = stop
            continue
        steps = seq[idx]
        lo = p.release[steps]
        nxt = np.minimum(steps + 1, p.n_steps - 1)
        succ_start = np.where(is_last[steps], NO_DUE, k.start[nxt])
        hi = np.minimum(p.due[steps], succ_start - p.transfer[steps]) - p.dur[steps]
        hi = np.minimum(hi, p.n_slots - 1)
        t0 = np.maximum(lo, hi - window + 1)
        width = np.maximum(hi - t0 + 1, 0)
        n_ok = int(np.argmin(width > 0)) if (width <= 0).any() else steps.shape[0]
        consumed = 0
        if n_ok > 0:
            consumed = _batch(k, steps[:n_ok], t0[:n_ok], width[:n_ok])
            batch = min(max_batch, batch * 2) if consumed == n_ok else max(4, batch // 2)
        if consumed < steps.shape[0]:
            # this step goes one at a time: a wider search, distinct picks, or forward placement
            s = int(steps[consumed])
            placed = width[consumed] > 0 and k.place_one(
                s, int(lo[consumed]), int(hi[consumed]), False
            )
            if not placed:
                o = int(step_order[s])
                k.release_order(o)
                done[o] = True
                forward[o] = True
                unplaced[o] = not _place_forward(k, p, o)
            consumed += 1
        pos = int(idx[consumed - 1]) + 1
    busy = k.blk[: p.n_res, : p.n_slots] & p.open_
    return Plan(start=k.start, res=k.res, forward=forward, unplaced=unplaced, busy=busy)


def _batch(k: _Kernel, bs: I64, t0: I64, width: I64) -> int:
    """Places a batch speculatively; returns how many leading steps were accepted."""
    p = k.p
    n_ok = bs.shape[0]
    ok, rows, row_step, okc = k.search(bs, t0, width)
    has = ok.any(axis=1)
    w = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    cut = int(np.argmin(has)) if not has.all() else n_ok
    qreq, crow, dup = k.assign(rows, row_step, okc, np.where(has, w, 0))
    if dup[:cut].any():
        cut = int(np.argmax(dup[:cut]))
    # collisions with earlier steps of the same batch
    qstep = np.repeat(np.arange(n_ok, dtype=np.int64), np.diff(p.req_ptr)[bs])
    start = t0 + w
    a = start[qstep] + p.req_off[qreq]
    b = a + p.req_len[qreq]
    r = k.row_res[crow]
    m = qstep < cut
    if int(m.sum()) > 1:
        ri, ai, bi, si = r[m], a[m], b[m], qstep[m]
        clash = (
            (ri[:, None] == ri[None, :])
            & (ai[:, None] < bi[None, :])
            & (ai[None, :] < bi[:, None])
            & (si[:, None] < si[None, :])
        )
        if clash.any():
            cut = min(cut, int(si[np.flatnonzero(clash.any(axis=0))].min()))
    if cut > 0:
        acc = qstep < cut
        k.start[bs[:cut]] = start[:cut]
        k.occupy(qreq[acc], crow[acc], start[qstep[acc]])
    return cut


def _place_forward(k: _Kernel, p: Problem, o: int) -> bool:
    """Places order `o` forward, each step at its earliest feasible start; False if it cannot."""
    prev_end = -(2**40)
    for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
        lo = max(int(p.release[s]), prev_end)
        hi = p.n_slots - int(p.dur[s])
        if lo > hi or not k.place_one(s, lo, hi, True):
            return False
        prev_end = int(k.start[s] + p.dur[s] + p.transfer[s])
    return True


def step_costs(p: Problem, start: I64) -> tuple[F64, F64]:
    """Weighted earliness and tardiness of every step with a due slot (0 elsewhere)."""
    end = start + p.dur
    has = (p.due < NO_DUE) & (start >= 0)
    early = np.where(has, np.maximum(p.due - end, 0), 0) * p.w_early
    tardy = np.where(has, np.maximum(end - p.due, 0), 0) * p.w_tardy
    return early.astype(np.float64), tardy.astype(np.float64)


def ideal_starts(p: Problem) -> I64:
    """The ideal JIT plan: every step right-aligned as if capacity were unlimited.

    Each order's last step ends at its due slot, each earlier step at the earlier of its own due
    slot and its successor's start minus the transfer time. Calendars and releases are ignored:
    this is the plan the resource requirement by time is computed from.
    """
    counts = np.diff(p.order_ptr)
    start = np.zeros(p.n_steps, dtype=np.int64)
    last = p.order_ptr[1:] - 1
    due_last = np.where(p.due[last] < NO_DUE, p.due[last], p.n_slots)
    start[last] = due_last - p.dur[last]
    for k in range(1, int(counts.max(initial=0))):
        o = np.flatnonzero(counts > k)
        s = last[o] - k
        end = np.minimum(p.due[s], start[s + 1] - p.transfer[s])
        start[s] = end - p.dur[s]
    return start
