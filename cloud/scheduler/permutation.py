"""Permutation search for flow shops: one order sequence on every machine, timed by the LP.

Where every order visits the same machines in the same order (one fixed resource per step),
the sequences of all machines can follow one permutation of the orders. This module searches
permutations with the warm timing LP of `timing.py` as the exact scorer: each order in turn (a
seeded order) is tried at every position, the best insertion kept; at a local optimum two
random insertions perturb the best. The improvement phase (`improve.py`) spends part of its
budget here and continues with its own moves (which leave the permutation) from the best.
Deterministic under a seed and an iteration budget (one LP solve = one iteration).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cloud.scheduler.problem import I64, Problem
from cloud.scheduler.timing import ColdTiming, IncrementalTiming, Timing

__all__ = ["flow_route", "permutation_search", "permutation_sequences"]


def flow_route(p: Problem, res: I64) -> I64 | None:
    """(O, m) requirement of step k of order o, when every order has one route; else None."""
    counts = np.diff(p.order_ptr)
    if p.n_orders < 3 or (counts != counts[0]).any() or (np.diff(p.req_ptr) != 1).any():
        return None
    m = int(counts[0])
    route = res.reshape(p.n_orders, m)
    if (route != route[0]).any() or (p.req_off != 0).any():
        return None
    out: I64 = np.arange(p.n_steps, dtype=np.int64).reshape(p.n_orders, m)
    return out


def permutation_sequences(p: Problem, res: I64, reqs: I64, perm: I64) -> list[I64]:
    """Each resource's requirements with the orders in `perm` (route from `flow_route`)."""
    seqs = [np.zeros(0, dtype=np.int64) for _ in range(p.n_res)]
    for k in range(reqs.shape[1]):
        r = int(res[reqs[0, k]])
        seqs[r] = np.concatenate([seqs[r], reqs[perm, k]])
    return seqs


def permutation_search(
    p: Problem,
    res: I64,
    reqs: I64,
    lp: IncrementalTiming | ColdTiming,
    start_perm: I64,
    rng: np.random.Generator,
    spent: Callable[[int], bool],
) -> tuple[I64, Timing | None, int]:
    """Insertion search over order permutations; (best permutation, its timing, LP solves)."""
    n = start_perm.shape[0]
    used = 0

    def score(perm: I64) -> Timing | None:
        nonlocal used
        lp.load(permutation_sequences(p, res, reqs, perm))
        used += 1
        return lp.solve()

    best = start_perm.copy()
    best_t = score(best)
    if best_t is None:
        return best, None, used
    cur, cur_t = best.copy(), best_t
    while not spent(used):
        improved = False
        for o in rng.permutation(n).tolist():
            i = int(np.flatnonzero(cur == o)[0])
            rest = np.delete(cur, i)
            for j in range(n):
                if j == i or spent(used):
                    continue
                trial = np.insert(rest, j, o)
                t = score(trial)
                if t is not None and t.cost < cur_t.cost - 1e-9:
                    cur, cur_t, improved = trial, t, True
                    i, rest = j, np.delete(trial, j)
            if spent(used):
                break
        if cur_t.cost < best_t.cost - 1e-9:
            best, best_t = cur.copy(), cur_t
        if improved:
            continue
        nxt = best.copy()
        for _ in range(2):
            a, b = (int(x) for x in rng.integers(0, n, size=2))
            nxt = np.insert(np.delete(nxt, a), b, nxt[a])
        t = score(nxt)
        if t is not None:
            cur, cur_t = nxt, t
    return best, best_t, used
