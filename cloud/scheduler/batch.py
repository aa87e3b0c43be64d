"""The backward construction for N scenarios in one call, along a scenario axis.

`plan_scenarios` places the orders of N problems (scenarios of one plant: the same resources,
different closures, due dates, releases or order sets) by the rule of `backward.plan_backward`
and returns, scenario by scenario, the plan a single call would give. The scenarios advance in
lock step: in every round each scenario takes its next batch of steps the way the single
construction does (latest starts first, the windowed search for the misses, acceptance up to
the first collision with an earlier step of the same scenario's batch, the one-at-a-time
fallback and the forward placement), and the gathers of all scenarios' batches are one gather.
The fixed cost of a round — some hundred numpy calls — is paid once for N scenarios instead of
N times. Batches are smaller than the single construction's (16 steps per scenario at most, not
128: fewer steps are searched in vain past a collision); the plan does not depend on the batch
size, because what is accepted from a batch is exactly what one-at-a-time placement gives (the
argument in `backward`'s docstring), and the tests check it scenario by scenario.

Memory: the scenarios share one calendar index (last open / last closed slot per *distinct*
calendar row: a machine down in one scenario adds one row, not a copy of the plant), and the
per-scenario state is only what placing changes — the free-run length per resource and slot, in
one byte when every holding window is shorter than 255 slots. The blocked map and the backward
runs `Kernel` keeps are derived (a slot is blocked when its free run is 0; a window blocks at
most `sat` slots before it), and rows for steps that may span breaks exist only when some step
may. Scenarios are planned in chunks of about equal size that keep that state under
`max_bytes` (256 MiB: 22 scenarios of the 300-resource, three-week, one-minute benchmark plant
at a time). Chunks keep memory and its first-touch cost down (fresh memory costs the first call
of a process seconds per GB on a loaded machine) while a round's fixed cost is still shared by
tens of scenarios. Measured (`bench/whatif.py --max-bytes`, four runs each, `docs/whatif.md`):
one chunk of all 64 (1 GiB) pays a round's fixed cost once and its second call in a process
took ~15 % less CPU, but its first call — the only one of a `taktline whatif` run — took ~13 %
more on average (two of four runs at 6-7 s) and the peak memory was ~0.8 GB higher, so the
default stays.

Steps, requirements and candidates of all scenarios are stacked with offsets (resource r of
scenario i is resource i * R + r), so the single kernel's machinery (the calendar bound, the
windowed search and `Kernel.latest`, `place_one`, `_try_distinct`) runs unchanged on the stack.
Written here: holding and releasing windows (the lean state), fit and first fitting candidate
(the first `_FIRST` candidates of each requirement in one gather, the rest only where none of
those fits), and the one-at-a-time steps of all scenarios searched together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cloud.scheduler._kernel import Kernel, _runs_of, _starts_of, ranges
from cloud.scheduler.backward import _run, plan_backward
from cloud.scheduler.problem import I64, NO_DUE, B, Plan, Problem, jit_sequence, level_sequence

__all__ = ["ScenarioJob", "chunk_sizes", "plan_one", "plan_scenarios", "state_bytes"]

_WINDOW = 256
_MAX_BATCH = 128
#: steps per scenario and round in a batched call: a round's fixed cost is shared by all
#: scenarios, so smaller batches (fewer steps searched past a collision) pay off
_SCENARIO_BATCH = 16
_MAX_BYTES = 256 << 20
#: candidates of a requirement tried first when fitting steps at a start (the first fitting
#: one is among the first 8 for about 95 in 100 requirements of the benchmark plant)
_FIRST = 8


@dataclass
class ScenarioJob:
    """One scenario's construction.

    Attributes:
        problem: the scenario's arrays.
        sequence: orders to place, in placement order (default `jit_sequence`).
        state: continue from this kernel state instead of the empty plant (an incremental replan:
            the orders of `sequence` already released, closures already in the calendars);
            every order not in `sequence` keeps what it holds there.
        previous: with `state`, the plan it belongs to (forward / unplaced of other orders).
        with_busy: compute the plan's busy map (`replan` in a tight loop skips it).
    """

    problem: Problem
    sequence: I64 | None = None
    state: Kernel | None = None
    previous: Plan | None = None
    with_busy: bool = True


def state_bytes(p: Problem, window: int = _WINDOW) -> int:
    """Bytes of placement state one scenario of `p` holds in a batched call."""
    rows = p.n_res * (2 if bool(p.span.any()) else 1)
    sat = int(p.req_len.max(initial=1)) + 1
    width = p.n_slots + _pad(p, window)
    return rows * width * (1 if sat <= 255 else 2)


def plan_one(
    job: ScenarioJob | Problem,
    *,
    window: int = _WINDOW,
    max_batch: int = _MAX_BATCH,
    with_busy: bool = True,
) -> Plan:
    """The single construction of one job: what `plan_scenarios` equals scenario by scenario.

    `plan_backward(problem, sequence)`, or with a `state` the placement `replan` continues
    with once it has released the orders and closed the resources.
    """
    if isinstance(job, Problem):
        job = ScenarioJob(job)
    if job.state is None:
        return plan_backward(job.problem, job.sequence, window=window, max_batch=max_batch)
    sequence = job.sequence if job.sequence is not None else jit_sequence(job.problem)
    return _run(job.state, sequence, max_batch, job.previous, with_busy)


def plan_scenarios(
    jobs: Sequence[ScenarioJob | Problem],
    *,
    window: int = _WINDOW,
    max_batch: int = _SCENARIO_BATCH,
    with_busy: bool = True,
    keep_state: bool = False,
    max_bytes: int = _MAX_BYTES,
) -> list[Plan]:
    """Plans every scenario by the backward rule; plan i equals the single construction of job i.

    A job given as a bare `Problem` is `ScenarioJob(problem)`: `plan_backward(problem)`. With a
    `state`, plan i equals `backward._run` continued from that state (what `replan` does after
    releasing the orders and closing the resources).

    Args:
        jobs: the scenarios (all with the same resources).
        window: candidate starts evaluated per step and gather (as `plan_backward`).
        max_batch: most steps of one scenario evaluated in one round (the single construction
            takes 128; the plan does not depend on it, see the module docstring).
        with_busy: compute each plan's busy map.
        keep_state: give each plan a `Kernel` state like the single construction's, so it can
            be replanned incrementally or improved (costs a full state per scenario).
        max_bytes: most bytes of placement state held at once; scenarios beyond it are planned
            in further chunks (`chunk_sizes`).

    Returns:
        One plan per job, in order.
    """
    todo = [j if isinstance(j, ScenarioJob) else ScenarioJob(j) for j in jobs]
    if not todo:
        return []
    n_res = todo[0].problem.n_res
    for j in todo:
        if j.problem.n_res != n_res:
            raise ValueError(
                f"scenarios of one plant have the same resources: {j.problem.n_res} != {n_res}"
            )
    plans: list[Plan] = []
    at = 0
    for size in chunk_sizes([j.problem for j in todo], window=window, max_bytes=max_bytes):
        plans += _Batch(todo[at : at + size], window).run(max_batch, with_busy, keep_state)
        at += size
    return plans


def chunk_sizes(
    problems: Sequence[Problem], *, window: int = _WINDOW, max_bytes: int = _MAX_BYTES
) -> list[int]:
    """How many scenarios `plan_scenarios` plans together, chunk by chunk (in order).

    As many chunks as `max_bytes` needs, with about as many scenarios in each.
    """

    def cut(most: int) -> list[int]:
        sizes: list[int] = []
        held = 0
        for p in problems:
            size = state_bytes(p, window)
            if sizes and held + size <= max_bytes and sizes[-1] < most:
                sizes[-1] += 1
                held += size
            else:
                sizes.append(1)
                held = size
        return sizes

    greedy = cut(len(problems))
    return cut(-(-len(problems) // max(1, len(greedy))))


def _pad(p: Problem, window: int) -> int:
    max_hold = int((p.req_off + p.req_len).max(initial=1))
    return window + max_hold + int(p.req_len.max(initial=1)) + 1


def _stack(problems: list[Problem], n_res: int) -> Problem:
    """One problem holding every scenario's steps; resource r of scenario i is i * R + r.

    The calendars are not stacked (the batch keeps them per distinct row): `open_` and
    `open_span` are zero-size-in-memory broadcast views giving only the shape.
    """

    def cat(name: str) -> NDArray[np.generic]:
        return np.concatenate([getattr(q, name) for q in problems])

    def ptr(name: str) -> I64:
        parts = [np.zeros(1, dtype=np.int64)]
        base = 0
        for q in problems:
            a = getattr(q, name)
            parts.append(a[1:] + base)
            base += int(a[-1])
        return np.concatenate(parts)

    shape = (n_res * len(problems), max(q.n_slots for q in problems))
    closed = np.broadcast_to(np.zeros(1, dtype=np.bool_), shape)
    return Problem(
        open_=closed,
        open_span=closed,
        order_ptr=ptr("order_ptr"),
        dur=cat("dur").astype(np.int64),
        due=cat("due").astype(np.int64),
        release=cat("release").astype(np.int64),
        transfer=cat("transfer").astype(np.int64),
        span=cat("span").astype(np.bool_),
        req_ptr=ptr("req_ptr"),
        req_off=cat("req_off").astype(np.int64),
        req_len=cat("req_len").astype(np.int64),
        cand_ptr=ptr("cand_ptr"),
        cand_res=np.concatenate([q.cand_res + i * n_res for i, q in enumerate(problems)]),
        w_early=cat("w_early").astype(np.float64),
        w_tardy=cat("w_tardy").astype(np.float64),
    )


class _StackedKernel(Kernel):
    """`Kernel` over stacked scenarios with the lean state (see the module docstring).

    Holding and releasing windows are redefined for a state of free runs only (`frun`):
    blocked is `frun == 0`, and a window starting at `a` shortens the runs of at most `sat - 1`
    slots before it. The calendar index is built once for all scenarios (`_calendars`); the
    rest is `Kernel`'s.
    """

    def __init__(self, jobs: list[ScenarioJob], window: int) -> None:
        problems = [j.problem for j in jobs]
        r = problems[0].n_res
        n = len(problems)
        p = _stack(problems, r)
        self.p = p
        self.problems = problems
        self.window = window
        self.n_res = r * n
        self.res_per = r
        self.row_req = np.repeat(np.arange(p.req_off.shape[0], dtype=np.int64), np.diff(p.cand_ptr))
        self.row_res = p.cand_res.astype(np.int64, copy=False)
        self.step_rows_ptr = p.cand_ptr[p.req_ptr]
        self.max_hold = int((p.req_off + p.req_len).max(initial=1))
        pad = window + self.max_hold + int(p.req_len.max(initial=1)) + 1
        self.width = p.n_slots + pad
        self.sat = min(int(p.req_len.max(initial=1)) + 1, 32767)
        self.modes = 2 if bool(p.span.any()) else 1
        dtype = np.uint8 if self.sat <= 255 else np.int16
        self.frun = np.empty((self.modes * self.n_res, self.width), dtype=dtype)
        self._calendars(problems)
        self._rows_cache: tuple[I64, tuple[I64, I64, I64, I64]] | None = None
        self._windows: dict[int, NDArray[np.generic]] = {}
        self.start = np.full(p.n_steps, -1, dtype=np.int64)
        self.res = np.full(p.req_off.shape[0], -1, dtype=np.int64)
        self.step_off = np.concatenate(([0], np.cumsum([q.n_steps for q in problems])))
        self.req_off_of = np.concatenate(([0], np.cumsum([q.req_off.shape[0] for q in problems])))
        self.order_off = np.concatenate(([0], np.cumsum([q.n_orders for q in problems])))
        for i, job in enumerate(jobs):
            if job.state is not None:
                self._take_state(i, job.state)

    def _calendars(self, problems: list[Problem]) -> None:
        """Distinct calendar rows of all scenarios, their index, and the initial free runs.

        A scenario's calendars are compared with the first scenario's as packed bits, so only
        the rows a scenario changes (a closure, a cancelled shift) are looked up one by one.
        """
        r, width = self.res_per, self.width
        ids: dict[bytes, int] = {}
        rows: list[B] = []
        cal = np.full(2 * self.n_res, -1, dtype=np.int64)  # -1: a mode no step uses
        first: list[tuple[NDArray[np.uint8], int, I64]] = []
        for i, q in enumerate(problems):
            for mode, open_ in enumerate((q.open_, q.open_span)[: self.modes]):
                at = mode * self.n_res + i * r
                packed = np.packbits(open_, axis=1)
                same = np.zeros(r, dtype=np.bool_)
                if i > 0:
                    ref, ref_slots, ref_cal = first[mode]
                    if ref.shape == packed.shape and ref_slots == q.n_slots:
                        same = ~(ref != packed).any(axis=1)
                        cal[at : at + r][same] = ref_cal[same]
                for k in np.flatnonzero(~same).tolist():
                    key = packed[k].tobytes() + q.n_slots.to_bytes(4, "little")
                    c = ids.get(key)
                    if c is None:
                        c = ids[key] = len(ids)
                        row = np.zeros(width, dtype=np.bool_)
                        row[: q.n_slots] = open_[k]
                        rows.append(row)
                    cal[at + k] = c
                if i == 0:
                    first.append((packed, q.n_slots, cal[at : at + r].copy()))
        self.cal_of_row = cal
        opened = np.array(rows)
        t = np.arange(width, dtype=np.int32)[None, :]
        self.last_open = np.maximum.accumulate(np.where(opened, t, -1), axis=1).astype(np.int32)
        self.last_closed = np.maximum.accumulate(np.where(opened, -1, t), axis=1).astype(np.int32)
        frun_c, _ = _runs_of(opened, self.sat)
        frun_c = frun_c.astype(self.frun.dtype)
        for k in range(0, self.frun.shape[0], r):
            np.take(frun_c, cal[k : k + r], axis=0, out=self.frun[k : k + r])
        self._requirement_calendars()

    def _rows_of(self, steps: I64) -> tuple[I64, I64, I64, I64]:
        """`Kernel._rows_of`, remembered for the last batch (`fits_at`, then `assign_at`)."""
        cached = self._rows_cache
        if cached is not None and cached[0] is steps:
            return cached[1]
        rows = super()._rows_of(steps)
        self._rows_cache = (steps, rows)
        return rows

    def _take_state(self, i: int, state: Kernel) -> None:
        """Starts scenario i from a single kernel's state (its holds and closures)."""
        r, t = self.res_per, state.blk.shape[1]
        for mode in range(self.modes):
            rows = slice(mode * self.n_res + i * r, mode * self.n_res + (i + 1) * r)
            free = np.zeros((r, self.width), dtype=np.bool_)
            w = min(t, self.width)
            free[:, :w] = ~state.blk[mode * r : (mode + 1) * r, :w]
            self.frun[rows] = _runs_of(free, self.sat)[0].astype(self.frun.dtype)
        s0, s1 = self.step_off[i], self.step_off[i + 1]
        q0, q1 = self.req_off_of[i], self.req_off_of[i + 1]
        self.start[s0:s1] = state.start
        self.res[q0:q1] = np.where(state.res >= 0, state.res + i * r, -1)

    # -- state changes -------------------------------------------------------------------------

    def hold(self, qreq: I64, res: I64, step_start: I64) -> None:
        """Marks requirements `qreq` held on resources `res` from their steps' starts busy."""
        p = self.p
        a = step_start + p.req_off[qreq]
        b = a + p.req_len[qreq]
        self.res[qreq] = res
        if self.modes == 2:
            res, a, b = (
                np.concatenate((res, res + self.n_res)),
                np.concatenate((a, a)),
                np.concatenate((b, b)),
            )
        width = self.width
        frun = self.frun.ravel()
        frun[ranges(res * width + a, b - a)] = 0
        # a slot t before a window: its free run now ends at a at the latest, and at the
        # nearest window start after t of all the windows (on one row) held here: each slot
        # is updated for that window alone (from just after the window before it on its row),
        # so the updated slots are distinct and one gather and one scatter do
        key = np.sort(res * width + a)
        lo = np.maximum(key - self.sat + 1, key - key % width)
        if key.shape[0] > 1:
            lo[1:] = np.maximum(lo[1:], key[:-1] + 1)
        cnt = key - lo
        flat = ranges(lo, cnt)
        dist = (np.repeat(key, cnt) - flat).astype(frun.dtype)
        frun[flat] = np.minimum(frun[flat], dist)

    def release_orders(self, orders: Iterable[int]) -> None:
        """Frees everything the given orders (stacked indices) hold; their rows are rebuilt."""
        p = self.p
        touched: set[int] = set()
        for o in orders:
            i = int(np.searchsorted(self.order_off, o, side="right") - 1)
            q = self.problems[i]
            base = i * self.res_per
            for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
                if self.start[s] < 0:
                    continue
                for k in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                    r = int(self.res[k])
                    a = int(self.start[s] + p.req_off[k])
                    b = a + int(p.req_len[k])
                    calendars = (q.open_, q.open_span)
                    for mode in range(self.modes):
                        row = r + mode * self.n_res
                        opened = calendars[mode][r - base, a : min(b, q.n_slots)]
                        # open slots get a run >= 1 for now; the row's runs are rebuilt below
                        self.frun[row, a : a + opened.shape[0]] = opened
                        self.frun[row, a + opened.shape[0] : b] = 0
                        touched.add(row)
                    self.res[k] = -1
                self.start[s] = -1
        for row in sorted(touched):
            free = self.frun[row] > 0
            self.frun[row] = _runs_of(free[None, :], self.sat)[0][0].astype(self.frun.dtype)

    def refresh_rows(self, rows: I64) -> None:
        """Free runs are kept exact by `hold` and `release_orders`; nothing to rebuild."""
        del rows

    # -- results -------------------------------------------------------------------------------

    def busy(self, i: int) -> B:
        """Slots scenario i's plan takes (as `Plan.busy`)."""
        q = self.problems[i]
        rows = slice(i * self.res_per, (i + 1) * self.res_per)
        busy: B = (self.frun[rows, : q.n_slots] == 0) & q.open_
        return busy

    def single_state(self, i: int, job: ScenarioJob) -> Kernel:
        """A single kernel's state for scenario i, as the single construction leaves it."""
        q = job.problem
        k = job.state if job.state is not None else Kernel(q, self.window)
        s0, s1 = int(self.step_off[i]), int(self.step_off[i + 1])
        q0, q1 = int(self.req_off_of[i]), int(self.req_off_of[i + 1])
        start = self.start[s0:s1]
        res = self.res[q0:q1] - i * self.res_per
        new = (start >= 0) & (k.start < 0)
        step_of_q = np.repeat(np.arange(q.n_steps, dtype=np.int64), np.diff(q.req_ptr))
        hold = np.flatnonzero(new[step_of_q] & (res >= 0))
        k.start[new] = start[new]
        if hold.shape[0]:
            k.hold(hold, res[hold], start[step_of_q[hold]])
        return k


class _Batch:
    """One chunk of scenarios planned in lock step (see `plan_scenarios`)."""

    def __init__(self, jobs: list[ScenarioJob], window: int) -> None:
        self.jobs = jobs
        self.k = _StackedKernel(jobs, window)

    def run(self, max_batch: int, with_busy: bool, keep_state: bool) -> list[Plan]:
        k, p, jobs = self.k, self.k.p, self.jobs
        n = len(jobs)
        window = k.window
        step_order = p.step_order()
        scen_of_step = np.repeat(np.arange(n, dtype=np.int64), np.diff(k.step_off))
        n_slots = np.array([j.problem.n_slots for j in jobs], dtype=np.int64)
        is_last = np.zeros(p.n_steps, dtype=np.bool_)
        is_last[p.order_ptr[1:] - 1] = True
        done = np.zeros(p.n_orders, dtype=np.bool_)
        forward = np.zeros(p.n_orders, dtype=np.bool_)
        unplaced = np.zeros(p.n_orders, dtype=np.bool_)
        seqs: list[I64] = []
        level_ends: list[I64] = []
        base = 0
        for i, job in enumerate(jobs):
            q = job.problem
            sequence = job.sequence if job.sequence is not None else jit_sequence(q)
            sequence = np.asarray(sequence, dtype=np.int64)
            o0 = int(k.order_off[i])
            if job.previous is not None:
                forward[o0 : o0 + q.n_orders] = job.previous.forward
                unplaced[o0 : o0 + q.n_orders] = job.previous.unplaced
            forward[sequence + o0] = False
            unplaced[sequence + o0] = False
            seqs.append(level_sequence(q, sequence) + k.step_off[i])
            counts = np.diff(q.order_ptr)[sequence]
            sizes = np.bincount(counts - 1, minlength=1)[::-1].cumsum()[::-1]
            level_ends.append(np.repeat(np.cumsum(sizes), sizes) + base)
            base += int(seqs[-1].shape[0])
        seq = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
        level_end = np.concatenate(level_ends) if level_ends else np.zeros(0, dtype=np.int64)
        ends = np.cumsum([s.shape[0] for s in seqs]).astype(np.int64)
        pos = ends - np.array([s.shape[0] for s in seqs], dtype=np.int64)
        batch = np.full(n, min(16, max_batch), dtype=np.int64)
        while True:
            act = np.flatnonzero(pos < ends)
            if act.shape[0] == 0:
                break
            stop = np.minimum(pos[act] + batch[act], level_end[np.minimum(pos[act], base - 1)])
            cnt = stop - pos[act]
            idx = ranges(pos[act], cnt)
            keep = ~done[step_order[seq[idx]]]
            idx = idx[keep]
            scen = scen_of_step[seq[idx]]
            seg_n = np.bincount(scen, minlength=n)
            empty = act[seg_n[act] == 0]
            pos[empty] = stop[seg_n[act] == 0]
            live = act[seg_n[act] > 0]
            if live.shape[0] == 0:
                continue
            steps = seq[idx]
            seg_start = np.concatenate(([0], np.cumsum(seg_n)[:-1]))
            local = np.arange(steps.shape[0], dtype=np.int64) - seg_start[scen]
            lo = p.release[steps]
            nxt = np.minimum(steps + 1, p.n_steps - 1)
            succ_start = np.where(is_last[steps], NO_DUE, k.start[nxt])
            hi = np.minimum(p.due[steps], succ_start - p.transfer[steps]) - p.dur[steps]
            hi = k.calendar_bound(steps, np.minimum(hi, n_slots[scen] - 1))
            t0 = np.maximum(lo, hi - window + 1)
            width = np.maximum(hi - t0 + 1, 0)
            # leading steps of each scenario with a non-empty window
            n_ok = seg_n.copy()
            bad = np.flatnonzero(width <= 0)
            np.minimum.at(n_ok, scen[bad], local[bad])
            in_ok = local < n_ok[scen]
            consumed = np.zeros(n, dtype=np.int64)
            single = np.ones(n, dtype=np.bool_)
            if in_ok.any():
                sel = np.flatnonzero(in_ok)
                cut, sgl = self._batch(steps[sel], t0[sel], width[sel], scen[sel], local[sel], n_ok)
                has_ok = n_ok > 0
                consumed[has_ok] = cut[has_ok]
                single[has_ok] = sgl[has_ok]
                full = has_ok & (cut == n_ok)
                batch[full] = np.minimum(max_batch, batch[full] * 2)
                part = has_ok & ~full
                batch[part] = np.maximum(8, 2 * cut[part])
            # steps that go one at a time (a wider search, distinct picks, or forward): the
            # first window of all of them is one search
            one = live[
                (consumed[live] < seg_n[live]) & (single[live] | (consumed[live] == n_ok[live]))
            ]
            if one.shape[0]:
                js = seg_start[one] + consumed[one]
                placed = self._place_latest(steps[js], lo[js], hi[js], width[js] > 0)
                for i, j in zip(one[~placed].tolist(), js[~placed].tolist(), strict=True):
                    o = int(step_order[steps[j]])
                    k.release_orders([o])
                    done[o] = True
                    forward[o] = True
                    unplaced[o] = not self._place_forward(o, int(n_slots[i]))
                consumed[one] += 1
            pos[live] = idx[seg_start[live] + consumed[live] - 1] + 1
        return self._plans(forward, unplaced, with_busy, keep_state)

    def _batch(
        self, bs: I64, t0: I64, width: I64, scen: I64, local: I64, n_ok: I64
    ) -> tuple[I64, B]:
        """`backward._batch` for every scenario's batch at once; (cut, single) per scenario."""
        k, p = self.k, self.k.p
        n = n_ok.shape[0]
        hi = t0 + width - 1
        start = hi.copy()
        # every step at its latest start: whether it fits, and each requirement's first
        # fitting candidate (`fits_at` and `assign_at` of the single kernel in one gather)
        has, qreq, crow = self._first_fit(bs, hi)
        miss = np.flatnonzero(~has & (width > 1))
        found: B = np.zeros(0, dtype=np.bool_)
        if miss.shape[0]:
            found, start[miss] = k.latest(bs[miss], t0[miss], width[miss] - 1)
            has[miss] = found
        nq = p.req_ptr[bs + 1] - p.req_ptr[bs]
        if bool(found.any()):
            moved = miss[found]  # the candidates again, at the start the search found
            _, _, again = self._first_fit(bs[moved], start[moved])
            crow[ranges((np.cumsum(nq) - nq)[moved], nq[moved])] = again
        cut = n_ok.copy()
        no = np.flatnonzero(~has)
        np.minimum.at(cut, scen[no], local[no])
        qstep = np.repeat(np.arange(bs.shape[0], dtype=np.int64), nq)
        res = k.row_res[crow]
        order = np.lexsort((res, qstep))
        twice = (np.diff(qstep[order]) == 0) & (np.diff(res[order]) == 0)
        dup = np.zeros(bs.shape[0], dtype=np.bool_)
        dup[qstep[order][1:][twice]] = True
        d = np.flatnonzero(dup & (local < cut[scen]))
        np.minimum.at(cut, scen[d], local[d])
        single = cut < n_ok
        # collisions with earlier steps of the same scenario's batch: intervals on one resource
        a = start[qstep] + p.req_off[qreq]
        b = a + p.req_len[qreq]
        r = k.row_res[crow]
        m = np.flatnonzero(local[qstep] < cut[scen[qstep]])
        if m.shape[0] > 1:
            first = _first_clash(r[m], a[m], b[m], local[qstep[m]], scen[qstep[m]], n)
            hit = first < cut
            cut[hit] = first[hit]
            single[hit] = False
        acc = np.flatnonzero(local[qstep] < cut[scen[qstep]])
        take = local < cut[scen]
        k.start[bs[take]] = start[take]
        if acc.shape[0]:
            k.occupy(qreq[acc], crow[acc], start[qstep[acc]])
        return cut, single

    def _first_fit(self, steps: I64, start: I64) -> tuple[B, I64, I64]:
        """Each step at its start: (fits, its requirements, their first fitting candidate).

        The first `_FIRST` candidates of every requirement are tried in one gather, the rest
        only for the requirements none of those fit (the first fitting candidate is among the
        first few for most). A requirement with no fitting candidate gets an arbitrary one
        (its step does not fit; callers cut the batch before it), as in `Kernel.assign_at`.
        """
        k, p = self.k, self.k.p
        nq = p.req_ptr[steps + 1] - p.req_ptr[steps]
        reqs = ranges(p.req_ptr[steps], nq)
        q_step = np.repeat(np.arange(steps.shape[0], dtype=np.int64), nq)
        at = start[q_step] + p.req_off[reqs]
        if k.modes == 2:
            at = at + (k.n_res * k.width) * p.span[steps][q_step]
        length = p.req_len[reqs].astype(k.frun.dtype)
        c0 = p.cand_ptr[reqs]
        n_cand = p.cand_ptr[reqs + 1] - c0
        chosen = self._first_of(c0, np.minimum(n_cand, _FIRST), at, length)
        rest = np.flatnonzero((chosen < 0) & (n_cand > _FIRST))
        if rest.shape[0]:
            chosen[rest] = self._first_of(
                c0[rest] + _FIRST, n_cand[rest] - _FIRST, at[rest], length[rest]
            )
        okq = chosen >= 0
        fits = np.logical_and.reduceat(okq, np.cumsum(nq) - nq) if nq.shape[0] else okq
        return fits, reqs, np.where(okq, chosen, c0)

    def _first_of(self, c0: I64, count: I64, at: I64, length: NDArray[np.generic]) -> I64:
        """Per requirement, the first of its candidates `c0 .. c0 + count` that fits.

        Fits: a free run of `length` at flat slot offset `at` (`count` >= 1); -1 where none.
        """
        k = self.k
        rows = ranges(c0, count)
        first = np.cumsum(count) - count
        row_q = np.repeat(np.arange(c0.shape[0], dtype=np.int64), count)
        fit = k.frun.ravel()[k.row_res[rows] * k.width + at[row_q]] >= length[row_q]
        key = np.where(fit, rows, np.iinfo(np.int64).max)
        best = np.minimum.reduceat(key, first)
        return np.where(best == np.iinfo(np.int64).max, -1, best)

    def _place_latest(self, steps: I64, lo: I64, hi: I64, may: B) -> B:
        """`Kernel.place_one` backward for steps of different scenarios, all at once.

        Each step goes to its latest start in [lo, hi] where its requirements find distinct
        resources, searched window by window from `hi` down, each window twice as wide as the
        one before — as `place_one` does, with one search per round for all the steps.
        """
        k = self.k
        placed = np.zeros(steps.shape[0], dtype=np.bool_)
        cur_hi = hi.copy()
        span = np.full(steps.shape[0], k.window, dtype=np.int64)
        todo = np.flatnonzero(may & (lo <= hi))
        while todo.shape[0]:
            bound = k.calendar_bound(steps[todo], cur_hi[todo])
            keep = bound >= lo[todo]
            todo, bound = todo[keep], bound[keep]
            if todo.shape[0] == 0:
                break
            t0 = np.maximum(lo[todo], bound - span[todo] + 1)
            ok, rows, row_step, okc = k.search(steps[todo], t0, bound - t0 + 1)
            seg = np.searchsorted(row_step, np.arange(todo.shape[0] + 1))
            for x in np.flatnonzero(ok.any(axis=1)).tolist():
                i, start = int(todo[x]), int(t0[x])
                mine = slice(int(seg[x]), int(seg[x + 1]))
                for w in np.flatnonzero(ok[x])[::-1].tolist():
                    if k._try_distinct(int(steps[i]), rows[mine], okc[mine], w, start):
                        placed[i] = True
                        break
            rest = ~placed[todo]
            todo, t0 = todo[rest], t0[rest]
            cur_hi[todo] = t0 - 1
            span[todo] *= 2  # nights and weekends: widen the search geometrically
            todo = todo[lo[todo] <= cur_hi[todo]]
        return placed

    def _place_forward(self, o: int, n_slots: int) -> bool:
        """Order `o` (stacked index) forward, each step at its earliest feasible start."""
        k, p = self.k, self.k.p
        prev_end = -(2**40)
        for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
            lo = max(int(p.release[s]), prev_end)
            hi = n_slots - int(p.dur[s])
            if lo > hi or not k.place_one(s, lo, hi, True):
                return False
            prev_end = int(k.start[s] + p.dur[s] + p.transfer[s])
        return True

    def _plans(self, forward: B, unplaced: B, with_busy: bool, keep_state: bool) -> list[Plan]:
        k = self.k
        out = []
        for i, job in enumerate(self.jobs):
            s0, s1 = int(k.step_off[i]), int(k.step_off[i + 1])
            q0, q1 = int(k.req_off_of[i]), int(k.req_off_of[i + 1])
            o0, o1 = int(k.order_off[i]), int(k.order_off[i + 1])
            res = k.res[q0:q1]
            state = k.single_state(i, job) if keep_state else None
            busy = np.zeros((0, 0), np.bool_)
            if with_busy and job.with_busy:
                q = job.problem
                busy = k.busy(i) if state is None else state.blk[: k.res_per, : q.n_slots] & q.open_
            out.append(
                Plan(
                    start=k.start[s0:s1].copy(),
                    res=np.where(res >= 0, res - i * k.res_per, -1),
                    forward=forward[o0:o1].copy(),
                    unplaced=unplaced[o0:o1].copy(),
                    busy=busy,
                    state=state,
                )
            )
        return out


def _first_clash(r: I64, a: I64, b: I64, step: I64, scen: I64, n: int) -> I64:
    """Per scenario, the first step whose window overlaps an earlier step's on one resource.

    The smallest over overlapping pairs (of different steps) of the later step, found among
    the pairs of intervals on the same resource (resources are per scenario already).
    """
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    order = np.argsort(r, kind="stable")
    rs = r[order]
    g0 = _starts_of(rs)
    size = np.diff(np.append(g0, rs.shape[0]))
    at = np.arange(rs.shape[0], dtype=np.int64)
    after = np.repeat(g0 + size, size) - at - 1
    x = order[np.repeat(at, after)]
    y = order[ranges(at + 1, after)]
    hit = (a[x] < b[y]) & (a[y] < b[x]) & (step[x] != step[y])
    if hit.any():
        later = np.maximum(step[x[hit]], step[y[hit]])
        np.minimum.at(first, scen[x[hit]], later)
    return first
