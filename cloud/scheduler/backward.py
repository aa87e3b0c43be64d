"""The backward JIT construction: a pure numpy kernel over resource x time-slot arrays.

Input is a `Problem` (capacity by resource and slot, steps with their holding windows on groups of
alternative resources, precedence, release and due slots); output is a `Plan` (start slot per
step, chosen resource per requirement). No I/O and no Python loop over time slots.

The placement rule (the reference in `reference.py` implements the same rule in plain Python):
steps are placed level by level — every order's last step first (orders in the given sequence),
then every order's second-to-last step, and so on (the default sequence is `jit_sequence`:
highest earliness weight per slot of processing first). A step is placed at the latest feasible
start `s` in `[lo, hi]`, where `lo` is its release (now, materials) and `hi` right-aligns it to the
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

import numpy as np

from cloud.scheduler._kernel import Kernel, ranges
from cloud.scheduler.problem import (
    I64,
    NO_DUE,
    Plan,
    Problem,
    ideal_starts,
    jit_sequence,
    level_sequence,
    step_costs,
)

__all__ = [
    "NO_DUE",
    "Plan",
    "Problem",
    "ideal_starts",
    "plan_backward",
    "release_and_close",
    "replan",
    "restore",
    "step_costs",
]

_WINDOW = 256
_MAX_BATCH = 128


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
        sequence: order in which orders are placed within each level (default:
            `jit_sequence`, highest earliness weight per slot first).
        window: candidate starts evaluated per step and gather.
        max_batch: most steps evaluated in one gather.
        fixed: for a replan from scratch: orders not in `sequence` keep their placements from
            this plan (and the capacity they hold); only the orders in `sequence` are placed.

    Returns:
        The plan.
    """
    if sequence is None:
        sequence = jit_sequence(p)
    k = Kernel(p, window)
    if fixed is not None:
        _keep(k, p, fixed, sequence)
        k.refresh_rows(np.arange(k.modes * p.n_res, dtype=np.int64))
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
    k = release_and_close(plan, orders, closures)
    return _run(k, np.asarray(orders, dtype=np.int64), max_batch, plan, with_busy)


def release_and_close(
    plan: Plan, orders: I64, closures: Sequence[tuple[int, int, int]] = ()
) -> Kernel:
    """The first half of `replan`: takes `plan`'s kernel state, releases `orders`, closes.

    Returns the state the placement continues from (`replan` runs it at once; the batched
    construction, `cloud.scheduler.batch`, runs many such states together).
    """
    k = plan.state
    if k is None:
        raise ValueError("this plan's kernel state was handed on; replan from the newest plan")
    plan.state = None
    p = k.p
    k.release_orders(np.asarray(orders, dtype=np.int64).tolist())
    touched = []
    for r, a, b in closures:
        p.open_[r, a:b] = False
        p.open_span[r, a:b] = False
        k.blk[r, a:b] = True
        k.blk[r + k.n_res, a:b] = True
        touched += [r, r + k.n_res]
    if touched:
        k.refresh_rows(np.array(touched, dtype=np.int64))
    return k


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
    s = ranges(p.order_ptr[orders], np.diff(p.order_ptr)[orders])
    s = s[start[s] >= 0]
    q = ranges(p.req_ptr[s], np.diff(p.req_ptr)[s])
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
    k: Kernel,
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
    seq = level_sequence(p, sequence)
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
            batch = min(max_batch, batch * 2) if consumed == n_ok else max(8, 2 * consumed)
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


def _batch(k: Kernel, bs: I64, t0: I64, width: I64) -> tuple[int, bool]:
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
        found, start[miss] = k.latest(bs[miss], t0[miss], width[miss] - 1)
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


def _keep(k: Kernel, p: Problem, fixed: Plan, sequence: I64) -> None:
    """Takes over the placements of every order not in `sequence` from `fixed`."""
    again = np.zeros(p.n_orders, dtype=np.bool_)
    again[sequence] = True
    step_keep = ~again[p.step_order()] & (fixed.start >= 0)
    req_step = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
    q = np.flatnonzero(step_keep[req_step] & (fixed.res >= 0))
    k.start[step_keep] = fixed.start[step_keep]
    k.hold(q, fixed.res[q], fixed.start[req_step[q]])


def _place_forward(k: Kernel, p: Problem, o: int) -> bool:
    """Places order `o` forward, each step at its earliest feasible start; False if it cannot."""
    prev_end = -(2**40)
    for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
        lo = max(int(p.release[s]), prev_end)
        hi = p.n_slots - int(p.dur[s])
        if lo > hi or not k.place_one(s, lo, hi, True):
            return False
        prev_end = int(k.start[s] + p.dur[s] + p.transfer[s])
    return True
