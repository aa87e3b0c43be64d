"""Moves and starts of the timing-LP search (`improve.py`) over resource sequences.

A resource's sequence is an array of requirement indices; a move rewrites a few of them and
the warm timing LP's matching pair rows (`rows_between`), so that a re-solve scores it
exactly. Here: single moves (`move`), the order-level moves (`order_moves`: a part of one
order one place on every resource it holds) and the perturbation's order shift
(`shift_order`), the pair bookkeeping, and the forward dispatch that gives the search a start
for tight due dates (`dispatch_starts`). No search policy: that stays in `improve.py`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cloud.scheduler.problem import I64, NO_DUE, Problem, step_costs
from cloud.scheduler.timing import ColdTiming, IncrementalTiming, Timing

__all__ = [
    "dispatch_starts",
    "move",
    "order_moves",
    "pair_gaps",
    "pair_positions",
    "rows_between",
    "shift_order",
]


def dispatch_starts(p: Problem, res: I64, rule: str = "due") -> I64:
    """Start times of a forward dispatch on the plan's resources, earliest due date first.

    Giffler & Thompson's active schedule: of the orders' next steps, the one that can end
    first fixes a resource; among the steps that could start on that resource before that
    end, the one with the earliest due date (its own, else its order's next) goes first. A
    start for tight due dates, where the backward plan and the ideal times leave most steps
    far late once the sequences are timed.
    """
    step_order = p.step_order()
    due = np.where(p.due < NO_DUE, p.due, np.iinfo(np.int64).max // 4)
    # a step without a due date takes its order's next due date
    for s in range(p.n_steps - 2, -1, -1):
        if p.due[s] >= NO_DUE and step_order[s] == step_order[s + 1]:
            due[s] = due[s + 1]
    if rule == "slack":
        rest = p.dur.astype(np.int64).copy()
        for s in range(p.n_steps - 2, -1, -1):
            if step_order[s] == step_order[s + 1]:
                rest[s] += rest[s + 1]
        due = due - rest
    res_of = [
        [int(res[q]) for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])) if res[q] >= 0]
        for s in range(p.n_steps)
    ]
    free = np.zeros(p.n_res, dtype=np.int64)
    nxt = p.order_ptr[:-1].copy()
    ready = np.zeros(p.n_orders, dtype=np.int64)
    start = np.zeros(p.n_steps, dtype=np.int64)
    while True:
        live = np.flatnonzero(nxt < p.order_ptr[1:])
        if live.shape[0] == 0:
            return start
        steps = nxt[live]
        est = np.array(
            [
                max([int(ready[x]), int(p.release[s])] + [int(free[r]) for r in res_of[s]])
                for x, s in zip(live.tolist(), steps.tolist(), strict=True)
            ],
            dtype=np.int64,
        )
        ect = est + p.dur[steps]
        i = int(np.argmin(est if rule == "nodelay" else ect))
        cut = est[i] + 1 if rule == "nodelay" else ect[i]
        machines = set(res_of[int(steps[i])])
        rivals = [
            j
            for j in range(live.shape[0])
            if est[j] < cut and (j == i or machines & set(res_of[int(steps[j])]))
        ]
        j = min(rivals, key=lambda j: (int(due[steps[j]]), int(steps[j])))
        s, x = int(steps[j]), int(live[j])
        start[s] = est[j]
        end = int(est[j] + p.dur[s])
        for r in res_of[s]:
            free[r] = end
        ready[x] = end + int(p.transfer[s])
        nxt[x] += 1


def rows_between(
    p: Problem, step_of_req: I64, seq: I64, lo: int, hi: int, pair0: int
) -> list[tuple[int, int, int, float]]:
    """Pair rows (c, i, j, bound) for positions lo-1 .. hi of one sequence."""
    out = []
    for pos in range(lo - 1, hi + 1):
        if 0 <= pos < seq.shape[0] - 1:
            q1, q2 = int(seq[pos]), int(seq[pos + 1])
            bound = float(p.req_off[q2] - p.req_off[q1] - p.req_len[q1])
            out.append((pair0 + pos, int(step_of_req[q1]), int(step_of_req[q2]), bound))
    return out


def move(seq: I64, a: int, b: int) -> I64:
    """`seq` with the element at position a moved to position b."""
    return np.insert(np.delete(seq, a), b, seq[a])


#: moves tried around a costly pair at positions (k, k+1): (element offset, new position offset)


def pair_positions(seqs: list[I64]) -> tuple[I64, I64]:
    """For every consecutive pair in the sequences: its resource and the index of its first."""
    lens = np.array([max(s.shape[0] - 1, 0) for s in seqs], dtype=np.int64)
    res = np.repeat(np.arange(len(seqs), dtype=np.int64), lens)
    starts = np.cumsum(lens) - lens
    pos = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(starts, lens)
    return res, pos


def pair_gaps(p: Problem, step_of_req: I64, seqs: list[I64], start: I64) -> I64:
    """Idle slots between the two holding windows of every consecutive pair of the sequences."""
    first = np.concatenate([s[:-1] for s in seqs if s.shape[0] > 1] or [np.zeros(0, np.int64)])
    second = np.concatenate([s[1:] for s in seqs if s.shape[0] > 1] or [np.zeros(0, np.int64)])
    end = start[step_of_req[first]] + p.req_off[first] + p.req_len[first]
    gap: I64 = (start[step_of_req[second]] + p.req_off[second] - end).astype(np.int64)
    return gap


def order_moves(
    p: Problem,
    res: I64,
    seqs: list[I64],
    lp: IncrementalTiming | ColdTiming,
    pair0: I64,
    cur: Timing,
    failed: set[tuple[int, int, int, bytes]],
    stop: Callable[[int], bool],
) -> tuple[Timing | None, int]:
    """First improving order-level move: steps of one order each swap with a neighbour.

    A single step moved alone is often held back by its own order's previous or next step
    (the routing), so a local optimum of single moves can still improve when a part of an
    order moves together: its tardy tail one place earlier, or its early head one place later,
    on every resource those steps hold. Orders by their cost, costliest first. Returns the
    better timing (the sequences changed in place) or None (the sequences as they were), and
    the number of timing solves.
    """
    step_of_req = lp.model.step_of_req
    e, t = step_costs(p, cur.start)
    step_order = p.step_order()
    order_cost = np.bincount(step_order, weights=e + t, minlength=p.n_orders)
    used = 0
    for x in np.argsort(-order_cost, kind="stable").tolist():
        if order_cost[x] <= 1e-9:
            break
        steps = list(range(int(p.order_ptr[x]), int(p.order_ptr[x + 1])))
        groups: list[tuple[list[int], int]] = []
        for i, s in enumerate(steps):
            if t[s] > 1e-9:
                groups.append((steps[i:], -1))
            if e[s] > 1e-9:
                groups.append((steps[: i + 1], 1))
        groups.sort(key=lambda g: -len(g[0]))
        for group, d in groups:
            if stop(used):
                return None, used
            reqs = [q for s in group for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))]
            key = (
                -1 - x,
                d,
                len(group),
                b"".join(seqs[int(res[q])].tobytes() for q in reqs if res[q] >= 0),
            )
            if key in failed:
                continue
            undo: list[tuple[int, I64, int]] = []
            for q in reqs:
                r = int(res[q])
                if r < 0:
                    continue
                k = int(np.flatnonzero(seqs[r] == q)[0])
                if not 0 <= k + d < seqs[r].shape[0]:
                    continue
                if step_order[step_of_req[seqs[r][k + d]]] == x:
                    continue
                undo.append((r, seqs[r], min(k, k + d)))
                seqs[r] = move(seqs[r], k, k + d)
                for row in rows_between(p, step_of_req, seqs[r], k - 1, k + 1, int(pair0[r])):
                    lp.set_pair(*row)
            if not undo:
                continue
            nxt = lp.solve()
            used += 1
            if nxt is not None and nxt.cost < cur.cost - 1e-9:
                return nxt, used
            failed.add(key)
            for r, old, k in reversed(undo):
                seqs[r] = old
                for row in rows_between(p, step_of_req, old, k - 1, k + 2, int(pair0[r])):
                    lp.set_pair(*row)
    return None, used


def shift_order(p: Problem, res: I64, seqs: list[I64], x: int, rng: np.random.Generator) -> None:
    """Moves a random head or tail of order x one place earlier or later on its resources."""
    n = int(p.order_ptr[x + 1] - p.order_ptr[x])
    if n == 0:
        return
    cut = int(rng.integers(n))
    d = 1 if rng.random() < 0.5 else -1
    first = int(p.order_ptr[x])
    steps = range(first, first + cut + 1) if d > 0 else range(first + cut, first + n)
    for s in steps:
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
            r = int(res[q])
            if r < 0:
                continue
            k = int(np.flatnonzero(seqs[r] == q)[0])
            if 0 <= k + d < seqs[r].shape[0]:
                seqs[r] = move(seqs[r], k, k + d)
