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

Capacity is kept as free-run lengths per resource and slot (how many free slots start there),
so whether a holding window fits is one lookup. Speed comes from batching: one gather tries a
whole batch of steps at their latest starts, one more evaluates all candidate starts of all
alternative resources of all requirements of the steps that missed. The batch's placements are
accepted in sequence order up to the first one that collides with an earlier one of the same
batch; those are exactly what one-at-a-time placement would give, because extra busy slots can
only make a later start or an earlier-listed candidate infeasible, never feasible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "NO_DUE",
    "Plan",
    "Problem",
    "ideal_starts",
    "plan_backward",
    "replan",
    "restore",
    "step_costs",
]

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
        state: the kernel's state, for an incremental `replan` (None once handed on).
    """

    start: I64
    res: I64
    forward: B
    unplaced: B
    busy: B = field(repr=False)
    state: _Kernel | None = field(default=None, repr=False, compare=False)


_SAT = 32767


def _runs_of(free: B, sat: int) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    """Free-run lengths per row: starting at each slot, and ending at each slot (saturated)."""
    t = np.arange(free.shape[1], dtype=np.int32)[None, :]
    big = np.int32(free.shape[1])
    nxt = np.minimum.accumulate(np.where(free, big, t)[:, ::-1], axis=1)[:, ::-1]
    last = np.maximum.accumulate(np.where(free, -1, t), axis=1)
    frun = np.minimum(nxt - t, sat).astype(np.int16)
    brun = np.minimum(t - last, sat).astype(np.int16)
    return frun, brun


def _starts_of(key: I64) -> I64:
    """Indices where a new run of equal consecutive values begins."""
    if key.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.empty(key.shape[0], dtype=np.bool_)
    change[0] = True
    np.not_equal(key[1:], key[:-1], out=change[1:])
    return np.flatnonzero(change)


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
        self._calendar_index(~blk)
        # free runs: frun[r, t] free slots starting at t, brun[r, t] free slots ending at t
        # (saturated just above the longest holding window: feasibility stays exact and an
        # update never has to look further than that)
        self.sat = min(int(p.req_len.max(initial=1)) + 1, _SAT)
        cal = ~blk[np.unique(self.cal_of_row, return_index=True)[1]]
        frun_c, brun_c = _runs_of(cal, self.sat)
        self.frun = frun_c[self.cal_of_row]
        self.brun = brun_c[self.cal_of_row]
        self.start = np.full(p.n_steps, -1, dtype=np.int64)
        self.res = np.full(q, -1, dtype=np.int64)

    def _calendar_index(self, open_rows: B) -> None:
        """Per distinct calendar row: last open slot and last closed slot at or before t."""
        packed = np.packbits(open_rows, axis=1)
        ids: dict[bytes, int] = {}
        self.cal_of_row = np.array(
            [ids.setdefault(row.tobytes(), len(ids)) for row in packed], dtype=np.int64
        )
        first = np.unique(self.cal_of_row, return_index=True)[1]
        cal = open_rows[first]
        t = np.arange(cal.shape[1], dtype=np.int32)[None, :]
        self.last_open = np.maximum.accumulate(np.where(cal, t, -1), axis=1).astype(np.int32)
        self.last_closed = np.maximum.accumulate(np.where(cal, -1, t), axis=1).astype(np.int32)

    def calendar_bound(self, steps: I64, hi: I64) -> I64:
        """Latest start <= hi not ruled out by the calendars alone (skips nights, weekends).

        Only starts that would put a holding window over a closed slot are skipped, so the
        search result is the same as without the bound, only cheaper.
        """
        p = self.p
        rs = self.step_rows_ptr[steps]
        counts = self.step_rows_ptr[steps + 1] - rs
        rows = _ranges(rs, counts)
        row_step = np.repeat(np.arange(steps.shape[0], dtype=np.int64), counts)
        req = self.row_req[rows]
        off = p.req_off[req]
        length = p.req_len[req]
        cal = self.cal_of_row[self.row_res[rows] + self.n_res * p.span[steps][row_step]]
        x = np.maximum(hi[row_step] + off + length - 1, 0)
        y = self.last_open[cal, x].astype(np.int64)
        run0 = self.last_closed[cal, np.maximum(y, 0)].astype(np.int64) + 1
        short = y - run0 + 1 < length
        y2 = self.last_open[cal, np.maximum(run0 - 1, 0)].astype(np.int64)
        y2 = np.where(run0 - 1 < 0, -1, y2)
        end = np.where(short, y2, y)
        bound = np.where(end < 0, -(2**40), end - length + 1 - off)
        q_first = _starts_of(req)
        best = np.maximum.reduceat(bound, q_first)
        q_step = row_step[q_first]
        s_first = _starts_of(q_step)
        return np.minimum(hi, np.minimum.reduceat(best, s_first))

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
        base = t0[row_step] + off
        ar = np.arange(w, dtype=np.int64)[None, :]
        rr = self.row_res[rows] + self.n_res * p.span[steps][row_step]
        flat = (rr * self.frun.shape[1] + base)[:, None] + ar
        okc = self.frun.ravel()[flat] >= length[:, None]
        okc &= ar < width[row_step][:, None]
        # any over a requirement's candidates, then all over a step's requirements
        q_first = _starts_of(req)
        okq = np.logical_or.reduceat(okc, q_first, axis=0)
        q_step = row_step[q_first]
        s_first = _starts_of(q_step)
        ok = np.logical_and.reduceat(okq, s_first, axis=0)
        return ok, rows, row_step, okc

    def _rows_of(self, steps: I64) -> tuple[I64, I64, I64, I64]:
        """Candidate rows of `steps`: (rows, step index per row, requirement, mode row)."""
        rs = self.step_rows_ptr[steps]
        counts = self.step_rows_ptr[steps + 1] - rs
        rows = _ranges(rs, counts)
        row_step = np.repeat(np.arange(steps.shape[0], dtype=np.int64), counts)
        rr = self.row_res[rows] + self.n_res * self.p.span[steps][row_step]
        return rows, row_step, self.row_req[rows], rr

    def _fit_rows(self, steps: I64, start: I64) -> tuple[I64, I64, I64, B]:
        """Which candidate rows fit if each step starts at `start` (one flat gather)."""
        p = self.p
        rows, row_step, req, rr = self._rows_of(steps)
        at = start[row_step] + p.req_off[req]
        fit = self.frun.ravel()[rr * self.frun.shape[1] + at] >= p.req_len[req]
        return rows, row_step, req, fit

    def fits_at(self, steps: I64, start: I64) -> B:
        """Whether each step fits at its given start (ignoring distinctness)."""
        _, row_step, req, fit = self._fit_rows(steps, start)
        q_first = _starts_of(req)
        okq = np.logical_or.reduceat(fit, q_first)
        q_step = row_step[q_first]
        s_first = _starts_of(q_step)
        return np.logical_and.reduceat(okq, s_first)

    def assign_at(self, steps: I64, start: I64) -> tuple[I64, I64, B]:
        """First fitting candidate per requirement with each step at `start`.

        Returns:
            (req (Qb,), chosen row (Qb,), step_has_duplicate (B,))
        """
        rows, row_step, req, fit = self._fit_rows(steps, start)
        q_first = _starts_of(req)
        key = np.where(fit, np.arange(rows.shape[0]), np.iinfo(np.int64).max)
        # steps that fit nowhere get an arbitrary pick; callers cut the batch before them
        chosen = np.minimum(np.minimum.reduceat(key, q_first), rows.shape[0] - 1)
        qstep = row_step[q_first]
        res = self.row_res[rows[chosen]]
        order = np.lexsort((res, qstep))
        dup_sorted = (np.diff(qstep[order]) == 0) & (np.diff(res[order]) == 0)
        dup = np.zeros(steps.shape[0], dtype=np.bool_)
        dup[qstep[order][1:][dup_sorted]] = True
        return req[q_first], rows[chosen], dup

    def occupy(self, qreq: I64, chosen_rows: I64, step_start: I64) -> None:
        """Marks the holding windows of requirements `qreq` (at their steps' starts) busy."""
        self.hold(qreq, self.row_res[chosen_rows], step_start)

    def hold(self, qreq: I64, res: I64, step_start: I64) -> None:
        """Marks requirements `qreq` held on resources `res` from their steps' starts busy."""
        p = self.p
        a = step_start + p.req_off[qreq]
        b = a + p.req_len[qreq]
        self.res[qreq] = res
        rows = np.concatenate((res, res + self.n_res))
        a2, b2 = np.concatenate((a, a)), np.concatenate((b, b))
        width = self.blk.shape[1]
        blk, frun, brun = self.blk.ravel(), self.frun.ravel(), self.brun.ravel()
        # free runs around each window, read before anything changes
        before = np.where(a2 > 0, self.brun[rows, np.maximum(a2 - 1, 0)], 0).astype(np.int64)
        after = self.frun[rows, b2].astype(np.int64)
        length = b2 - a2
        flat = _ranges(rows * width + a2, length)
        blk[flat] = True
        frun[flat] = 0
        brun[flat] = 0
        # slots before a window: free run now ends at the next blocked slot (a itself at most)
        cnt = before + 1
        flat = _ranges(rows * width + a2 - before, cnt)
        pos = np.arange(flat.shape[0], dtype=np.int64)
        nxt = np.minimum.accumulate(np.where(blk[flat], pos, flat.shape[0])[::-1])[::-1]
        frun[flat] = np.minimum(flat[nxt] - flat, self.sat)
        # slots after a window: free run now starts after the last blocked slot (b - 1 at least)
        cnt = after + 1
        flat = _ranges(rows * width + b2 - 1, cnt)
        pos = np.arange(flat.shape[0], dtype=np.int64)
        last = np.maximum.accumulate(np.where(blk[flat], pos, -1))
        brun[flat] = np.minimum(flat - flat[last], self.sat)

    def refresh_rows(self, rows: I64) -> None:
        """Recomputes the free runs of whole rows (after slots were freed)."""
        rows = np.unique(rows)
        self.frun[rows], self.brun[rows] = _runs_of(~self.blk[rows], self.sat)

    def release_order(self, o: int) -> None:
        """Frees everything order `o` holds (before placing it forward)."""
        p = self.p
        s0, s1 = int(p.order_ptr[o]), int(p.order_ptr[o + 1])
        touched: list[int] = []
        for s in range(s0, s1):
            if self.start[s] < 0:
                continue
            for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                r = int(self.res[q])
                a = int(self.start[s] + p.req_off[q])
                b = a + int(p.req_len[q])
                self.blk[r, a:b] = ~p.open_[r, a:b]
                self.blk[r + self.n_res, a:b] = ~p.open_span[r, a:b]
                touched.extend((r, r + self.n_res))
                self.res[q] = -1
            self.start[s] = -1
        if touched:
            self.refresh_rows(np.array(touched, dtype=np.int64))

    # -- one step at a time (window growth, duplicates, forward placement) ----------------------

    def place_one(self, s: int, lo: int, hi: int, forward: bool) -> bool:
        """Places step `s` at its latest (or earliest, `forward`) feasible start in [lo, hi]."""
        steps = np.array([s], dtype=np.int64)
        cur_lo, cur_hi = lo, hi
        span = self.window
        while cur_lo <= cur_hi:
            if not forward:
                cur_hi = int(self.calendar_bound(steps, np.array([cur_hi], dtype=np.int64))[0])
                if cur_hi < cur_lo:
                    break
            if forward:
                t0 = cur_lo
                width = min(span, cur_hi - cur_lo + 1)
            else:
                t0 = max(cur_lo, cur_hi - span + 1)
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
            span *= 2  # nights and weekends: widen the search geometrically
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
    fixed: Plan | None = None,
) -> Plan:
    """Builds the backward JIT plan (see the module's docstring for the placement rule).

    Args:
        p: the problem arrays.
        sequence: order in which orders are placed within each level (default: 0..O-1).
        window: candidate starts evaluated per step and gather.
        max_batch: most steps evaluated in one gather.
        fixed: for a replan from scratch: orders not in `sequence` keep their placements from
            this plan (and the capacity they hold); only the orders in `sequence` are placed.

    Returns:
        The plan.
    """
    if sequence is None:
        sequence = np.arange(p.n_orders, dtype=np.int64)
    k = _Kernel(p, window)
    if fixed is not None:
        _keep(k, p, fixed, sequence)
        k.refresh_rows(np.arange(2 * p.n_res, dtype=np.int64))
    return _run(k, sequence, max_batch)


def replan(
    plan: Plan,
    orders: I64,
    closures: Sequence[tuple[int, int, int]] = (),
    *,
    max_batch: int = _MAX_BATCH,
    with_busy: bool = True,
) -> Plan:
    """Replans incrementally from `plan`'s kernel state: closes resources, re-places `orders`.

    Each closure `(resource, a, b)` takes the resource out of slots [a, b) (a breakdown, a
    maintenance window) in the problem's calendars too. The orders in `orders` are released and
    placed again by the same rule; every other order keeps its placement. The kernel state moves
    to the returned plan: replan from the newest plan only.

    Args:
        plan: a plan from `plan_backward` or `replan`.
        orders: orders to place again (those hit by the closures, changed or new orders).
        closures: resource closures to apply first.
        max_batch: most steps evaluated in one gather.
        with_busy: compute the plan's busy map (skip it in tight loops).

    Returns:
        The new plan.
    """
    k = plan.state
    if k is None:
        raise ValueError("this plan's kernel state was handed on; replan from the newest plan")
    plan.state = None
    p = k.p
    for o in np.asarray(orders, dtype=np.int64).tolist():
        k.release_order(o)
    touched = []
    for r, a, b in closures:
        p.open_[r, a:b] = False
        p.open_span[r, a:b] = False
        k.blk[r, a:b] = True
        k.blk[r + k.n_res, a:b] = True
        touched += [r, r + k.n_res]
    if touched:
        k.refresh_rows(np.array(touched, dtype=np.int64))
    return _run(k, np.asarray(orders, dtype=np.int64), max_batch, plan, with_busy)


def restore(plan: Plan, orders: I64, old: Plan) -> Plan:
    """Puts `orders` back where `old` had them (undoes a trial `replan`).

    Args:
        plan: the newest plan (holds the kernel state).
        orders: the orders to put back.
        old: the earlier plan.

    Returns:
        The plan with those orders restored (without a busy map).
    """
    start, res = old.start, old.res
    k = plan.state
    if k is None:
        raise ValueError("this plan's kernel state was handed on; restore on the newest plan")
    plan.state = None
    p = k.p
    for o in np.asarray(orders, dtype=np.int64).tolist():
        k.release_order(o)
    s = _ranges(p.order_ptr[orders], np.diff(p.order_ptr)[orders])
    s = s[start[s] >= 0]
    q = _ranges(p.req_ptr[s], np.diff(p.req_ptr)[s])
    step_of_q = np.repeat(s, np.diff(p.req_ptr)[s])
    k.start[s] = start[s]
    k.hold(q, res[q], start[step_of_q])
    forward, unplaced = plan.forward.copy(), plan.unplaced.copy()
    forward[orders] = old.forward[orders]
    unplaced[orders] = old.unplaced[orders]
    return Plan(
        start=k.start.copy(),
        res=k.res.copy(),
        forward=forward,
        unplaced=unplaced,
        busy=np.zeros((0, 0), np.bool_),
        state=k,
    )


def _run(
    k: _Kernel,
    sequence: I64,
    max_batch: int,
    previous: Plan | None = None,
    with_busy: bool = True,
) -> Plan:
    """Places the orders of `sequence` level by level on the kernel's current state."""
    p = k.p
    window = k.window
    n_orders = p.n_orders
    step_order = p.step_order()
    is_last = np.zeros(p.n_steps, dtype=np.bool_)
    is_last[p.order_ptr[1:] - 1] = True
    done = np.zeros(n_orders, dtype=np.bool_)
    forward = np.zeros(n_orders, dtype=np.bool_) if previous is None else previous.forward.copy()
    unplaced = np.zeros(n_orders, dtype=np.bool_) if previous is None else previous.unplaced.copy()
    forward[sequence] = False
    unplaced[sequence] = False
    seq = _level_sequence(p, sequence)
    pos, n = 0, seq.shape[0]
    # a batch never crosses a level: a step's successor must be placed before it is searched
    counts = np.diff(p.order_ptr)[sequence]
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
        hi = k.calendar_bound(steps, np.minimum(hi, p.n_slots - 1))
        t0 = np.maximum(lo, hi - window + 1)
        width = np.maximum(hi - t0 + 1, 0)
        n_ok = int(np.argmin(width > 0)) if (width <= 0).any() else steps.shape[0]
        consumed, single = 0, True
        if n_ok > 0:
            consumed, single = _batch(k, steps[:n_ok], t0[:n_ok], width[:n_ok])
            batch = min(max_batch, batch * 2) if consumed == n_ok else max(4, batch // 2)
        if consumed < steps.shape[0] and (single or consumed == n_ok):
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
    busy = k.blk[: p.n_res, : p.n_slots] & p.open_ if with_busy else np.zeros((0, 0), np.bool_)
    return Plan(
        start=k.start.copy(),
        res=k.res.copy(),
        forward=forward,
        unplaced=unplaced,
        busy=busy,
        state=k,
    )


def _batch(k: _Kernel, bs: I64, t0: I64, width: I64) -> tuple[int, bool]:
    """Places a batch speculatively.

    Every step is first tried at its latest start `hi` (one gather for the whole batch); only
    the steps that do not fit there get the windowed search.

    Returns:
        (how many leading steps were accepted, whether the next one must go one at a time
        rather than lead the next batch: it has no fitting start in its window, or its
        requirements picked the same resource twice).
    """
    p = k.p
    n_ok = bs.shape[0]
    hi = t0 + width - 1
    start = hi.copy()
    has = k.fits_at(bs, hi)
    miss = np.flatnonzero(~has & (width > 1))
    if miss.shape[0]:
        ok, _, _, _ = k.search(bs[miss], t0[miss], width[miss] - 1)
        found = ok.any(axis=1)
        w = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
        start[miss] = t0[miss] + w
        has[miss] = found
    cut = int(np.argmin(has)) if not has.all() else n_ok
    qreq, crow, dup = k.assign_at(bs, np.where(has, start, hi))
    if dup[:cut].any():
        cut = int(np.argmax(dup[:cut]))
    single = cut < n_ok
    # collisions with earlier steps of the same batch
    qstep = np.repeat(np.arange(n_ok, dtype=np.int64), np.diff(p.req_ptr)[bs])
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
            first = int(si[np.flatnonzero(clash.any(axis=0))].min())
            if first < cut:
                cut, single = first, False
    if cut > 0:
        acc = qstep < cut
        k.start[bs[:cut]] = start[:cut]
        k.occupy(qreq[acc], crow[acc], start[qstep[acc]])
    return cut, single


def _keep(k: _Kernel, p: Problem, fixed: Plan, sequence: I64) -> None:
    """Takes over the placements of every order not in `sequence` from `fixed`."""
    again = np.zeros(p.n_orders, dtype=np.bool_)
    again[sequence] = True
    step_keep = ~again[p.step_order()] & (fixed.start >= 0)
    req_step = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
    q = np.flatnonzero(step_keep[req_step] & (fixed.res >= 0))
    k.start[step_keep] = fixed.start[step_keep]
    k.hold(q, fixed.res[q], fixed.start[req_step[q]])


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
