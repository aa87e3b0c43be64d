"""Improvement phase: lower total weighted earliness + tardiness of a backward plan.

Sequence is separated from timing. For fixed resource sequences the best start times under
earliness and tardiness costs are a linear programme over difference constraints (precedence,
transfer, one holding window after the other on each resource), solved exactly with scipy's HiGHS;
its duals say which resource-sequence constraints cost money. A seeded local search swaps
neighbours on those constraints (most expensive first), keeps improvements, and perturbs when it
is stuck (iterated local search). With a seed and an iteration budget it is deterministic.

The timing step ignores calendars: a solution is kept only if every holding window lies inside
its resource's calendar (always true for resources open around the clock, as in the benchmark
shop), so the phase never returns a plan that is worse or infeasible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from cloud.scheduler.backward import (
    NO_DUE,
    Plan,
    Problem,
    ideal_starts,
    replan,
    restore,
    step_costs,
)

__all__ = [
    "Improvement",
    "Timing",
    "improve_orders",
    "improve_plan",
    "resource_sequences",
    "solve_timing",
]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass
class Timing:
    """Optimal start times for fixed sequences.

    Attributes:
        start: (S,) start slot per step.
        cost: total weighted earliness + tardiness.
        pair_duals: (P,) cost decrease per slot of relaxing each resource-sequence pair.
    """

    start: I64
    cost: float
    pair_duals: F64


@dataclass
class Improvement:
    """Result of the improvement phase (`plan`: the improved plan with kernel state, if any)."""

    start: I64
    res: I64
    cost_before: float
    cost_after: float
    iterations: int
    seconds: float
    plan: Plan | None = None


class _TimingModel:
    """The fixed part of the timing LP (precedence and due rows); resource pairs are added."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        n = p.n_steps
        self.n = n
        step_order = p.step_order()
        self.step_of_req = np.repeat(np.arange(n, dtype=np.int64), np.diff(p.req_ptr))
        # precedence rows: S_s - S_{s+1} <= -(dur_s + transfer_s)
        s = np.flatnonzero(step_order[:-1] == step_order[1:]).astype(np.int64)
        self.prec_i, self.prec_j = s, s + 1
        self.prec_b = -(p.dur[s] + p.transfer[s]).astype(np.float64)
        due = np.flatnonzero(p.due < NO_DUE).astype(np.int64)
        self.due = due
        m = due.shape[0]
        # variables: S (n), E (m), T (m)
        self.c = np.concatenate([np.zeros(n), p.w_early[due], p.w_tardy[due]]).astype(np.float64)
        rows = np.arange(m)
        # -S - E <= dur - due ;  S - T <= due - dur
        self.due_rows = sp.vstack(
            [
                sp.csr_matrix(
                    (
                        np.r_[-np.ones(m), -np.ones(m)],
                        (np.r_[rows, rows], np.r_[due, n + rows]),
                    ),
                    shape=(m, n + 2 * m),
                ),
                sp.csr_matrix(
                    (np.r_[np.ones(m), -np.ones(m)], (np.r_[rows, rows], np.r_[due, n + m + rows])),
                    shape=(m, n + 2 * m),
                ),
            ]
        )
        dd = (p.dur[due] - p.due[due]).astype(np.float64)
        self.due_b = np.r_[dd, -dd]
        lo = p.release.astype(np.float64)
        hi = (p.n_slots - p.dur).astype(np.float64)
        self.bounds = np.c_[np.r_[lo, np.zeros(2 * m)], np.r_[hi, np.full(2 * m, np.inf)]]

    def solve(self, pi: I64, pj: I64, pb: F64) -> Timing | None:
        """Solves the LP with resource pairs S_pi - S_pj <= pb; None if infeasible."""
        n, m = self.n, self.due.shape[0]
        ii = np.r_[self.prec_i, pi]
        jj = np.r_[self.prec_j, pj]
        k = ii.shape[0]
        rows = np.arange(k)
        diff = sp.csr_matrix(
            (np.r_[np.ones(k), -np.ones(k)], (np.r_[rows, rows], np.r_[ii, jj])),
            shape=(k, n + 2 * m),
        )
        a = sp.vstack([diff, self.due_rows]).tocsr()
        b = np.r_[self.prec_b, pb, self.due_b]
        res = linprog(self.c, A_ub=a, b_ub=b, bounds=self.bounds, method="highs-ds")
        if res.status != 0:
            return None
        start = np.rint(res.x[:n]).astype(np.int64)
        marg = -np.asarray(res.ineqlin.marginals, dtype=np.float64)
        e, t = step_costs(self.p, start)
        return Timing(
            start=start,
            cost=float(e.sum() + t.sum()),
            pair_duals=marg[self.prec_i.shape[0] : k],
        )


def resource_sequences(p: Problem, plan: Plan, start: I64 | None = None) -> list[I64]:
    """Requirements held on each resource, in the order of their holding windows.

    With `start`, the order follows those start times instead of the plan's (the plan still
    says which resource each requirement holds).
    """
    step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
    begin = (plan.start if start is None else start)[step_of_req] + p.req_off
    placed = plan.res >= 0
    q = np.flatnonzero(placed)
    order = np.lexsort((begin[q], plan.res[q]))
    q = q[order]
    bounds = np.searchsorted(plan.res[q], np.arange(p.n_res + 1))
    return [q[bounds[r] : bounds[r + 1]] for r in range(p.n_res)]


def _pairs(p: Problem, step_of_req: I64, seqs: list[I64]) -> tuple[I64, I64, F64, I64]:
    """Constraint pairs from resource sequences: (step i, step j, bound, position index)."""
    first = np.concatenate([s[:-1] for s in seqs if s.shape[0] > 1] or [np.zeros(0, np.int64)])
    second = np.concatenate([s[1:] for s in seqs if s.shape[0] > 1] or [np.zeros(0, np.int64)])
    pb = (p.req_off[second] - p.req_off[first] - p.req_len[first]).astype(np.float64)
    return step_of_req[first], step_of_req[second], pb, first


def solve_timing(p: Problem, seqs: list[I64]) -> Timing | None:
    """Exact best start times for the given resource sequences (None if they form a cycle)."""
    model = _TimingModel(p)
    pi, pj, pb, _ = _pairs(p, model.step_of_req, seqs)
    return model.solve(pi, pj, pb)


class _CalendarFilter:
    """Says whether start times keep every holding window inside its resource's calendar.

    The timing LP knows nothing of shifts and breaks; its solutions are kept only where they
    fit (always, on resources open around the clock).
    """

    def __init__(self, p: Problem, res: I64) -> None:
        self.p = p
        self.trivial = bool(p.open_.all())
        self.step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
        self.row = res + p.n_res * p.span[self.step_of_req]
        closed = np.concatenate([~p.open_, ~p.open_span])
        self.cs = np.zeros((closed.shape[0], closed.shape[1] + 1), dtype=np.int32)
        np.cumsum(closed, axis=1, out=self.cs[:, 1:])

    def __call__(self, start: I64) -> bool:
        if self.trivial:
            return True
        a = start[self.step_of_req] + self.p.req_off
        b = a + self.p.req_len
        if a.min() < 0 or b.max() > self.p.n_slots:
            return False
        return bool((self.cs[self.row, b] == self.cs[self.row, a]).all())


class _IncrementalTiming:
    """The timing LP kept warm in HiGHS: a swap rewrites three rows and re-solves from the basis.

    Uses the HiGHS binding that scipy ships (`scipy.optimize._highspy`); `available` is False
    where that private module is missing, and callers fall back to `_TimingModel`.
    """

    def __init__(self, p: Problem, model: _TimingModel, seqs: list[I64]) -> None:
        from scipy.optimize._highspy import _core as hc

        self.hc = hc
        self.p = p
        self.model = model
        n, m = model.n, model.due.shape[0]
        pi, pj, pb, _ = _pairs(p, model.step_of_req, seqs)
        self.n_prec = model.prec_i.shape[0]
        self.pi, self.pj = pi.copy(), pj.copy()
        diff_i = np.r_[model.prec_i, pi]
        diff_j = np.r_[model.prec_j, pj]
        k = diff_i.shape[0]
        rows = np.arange(k)
        diff = sp.csr_matrix(
            (np.r_[np.ones(k), -np.ones(k)], (np.r_[rows, rows], np.r_[diff_i, diff_j])),
            shape=(k, n + 2 * m),
        )
        a = sp.vstack([model.due_rows, diff]).tocsr()
        self.pair_row0 = model.due_rows.shape[0] + self.n_prec
        ub = np.r_[model.due_b, model.prec_b, pb]
        lp = hc.HighsLp()
        lp.num_col_ = n + 2 * m
        lp.num_row_ = a.shape[0]
        lp.col_cost_ = model.c
        lp.col_lower_ = model.bounds[:, 0].copy()
        lp.col_upper_ = np.where(np.isinf(model.bounds[:, 1]), hc.kHighsInf, model.bounds[:, 1])
        lp.row_lower_ = np.full(a.shape[0], -hc.kHighsInf)
        lp.row_upper_ = ub
        lp.a_matrix_.format_ = hc.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(np.float64)
        lp.a_matrix_.num_col_ = n + 2 * m
        lp.a_matrix_.num_row_ = a.shape[0]
        h = hc._Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        for key, value in _HIGHS_OPTIONS.items():
            h.setOptionValue(key, value)
        h.passModel(lp)
        self.h = h

    def set_pair(self, c: int, i: int, j: int, bound: float) -> None:
        """Rewrites pair row c as S_i - S_j <= bound."""
        row = self.pair_row0 + c
        h = self.h
        h.changeCoeff(row, int(self.pi[c]), 0.0)
        h.changeCoeff(row, int(self.pj[c]), 0.0)
        h.changeCoeff(row, i, 1.0)
        h.changeCoeff(row, j, -1.0)
        h.changeRowBounds(row, -self.hc.kHighsInf, bound)
        self.pi[c], self.pj[c] = i, j

    def load(self, seqs: list[I64]) -> None:
        """Makes the pair rows follow `seqs` (rewrites only the rows that differ)."""
        pi, pj, pb, _ = _pairs(self.p, self.model.step_of_req, seqs)
        for c in np.flatnonzero((pi != self.pi) | (pj != self.pj)).tolist():
            self.set_pair(c, int(pi[c]), int(pj[c]), float(pb[c]))

    def solve(self) -> Timing | None:
        """Re-solves from the current basis; None if the sequences form a cycle."""
        h = self.h
        h.run()
        if h.getModelStatus() != self.hc.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        start = np.rint(x[: self.model.n]).astype(np.int64)
        duals = -np.asarray(sol.row_dual)[self.pair_row0 :]
        e, t = step_costs(self.p, start)
        return Timing(start=start, cost=float(e.sum() + t.sum()), pair_duals=duals)


def _best_start_sequences(p: Problem, plan: Plan, model: _TimingModel) -> list[I64]:
    """The plan's own sequences or those of the ideal JIT plan, whichever times better."""
    best: list[I64] = resource_sequences(p, plan)
    timing = model.solve(*_pairs(p, model.step_of_req, best)[:3])
    best_cost = timing.cost if timing is not None else np.inf
    ideal = ideal_starts(p)
    # ties broken by step index keep one global order, so ideal sequences never form a cycle
    for key in (ideal, ideal + p.dur):
        seqs = resource_sequences(p, plan, key)
        timing = model.solve(*_pairs(p, model.step_of_req, seqs)[:3])
        if timing is not None and timing.cost < best_cost:
            best, best_cost = seqs, timing.cost
    return best


def _rows_between(
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


def _move(seq: I64, a: int, b: int) -> I64:
    """`seq` with the element at position a moved to position b."""
    return np.insert(np.delete(seq, a), b, seq[a])


#: moves tried around a costly pair at positions (k, k+1): (element offset, new position offset)
_MOVES = ((1, 0), (1, -1), (0, 2))
#: costly pairs (highest duals) tried per local-search step
_TOP = 1000
#: perturb with swaps of binding pairs only (False: any neighbours)
_PERTURB_BINDING = True
#: most random swaps in one perturbation
_KICK = 4
#: pick the pairs a perturbation swaps with probability by their dual (else uniformly)
_KICK_BY_DUAL = True
#: extra HiGHS options for the warm timing LP
_HIGHS_OPTIONS: dict[str, object] = {}
#: a new local optimum becomes the base of the perturbations if at most this much worse
_ACCEPT = 0.0


def improve_plan(
    p: Problem,
    plan: Plan,
    *,
    seed: int = 0,
    max_iters: int = 1000,
    time_s: float = 1.0,
    progress: Callable[[float], None] | None = None,
    max_lp_steps: int = 3000,
) -> Improvement:
    """Iterated local search over resource sequences with exact timing; never makes it worse.

    Args:
        p: the problem.
        plan: a feasible plan (from `plan_backward`).
        seed: seed of the perturbations.
        max_iters: most timing solves.
        time_s: wall-clock budget in seconds.
        progress: called now and then with the fraction of the budget used.
        max_lp_steps: larger problems use `improve_orders` instead (one timing solve would
            take seconds there).

    Returns:
        The best plan found (the input plan when nothing better or the phase does not apply).
    """
    t_start = time.perf_counter()
    e, t = step_costs(p, plan.start)
    before = float(e.sum() + t.sum())
    keep = Improvement(plan.start, plan.res, before, before, 0, 0.0)
    if p.n_steps > max_lp_steps and plan.state is not None:
        return improve_orders(
            p, plan, seed=seed, max_iters=max_iters, time_s=time_s, progress=progress
        )
    if plan.unplaced.any() or p.n_steps == 0 or p.n_steps > max_lp_steps:
        keep.seconds = time.perf_counter() - t_start
        return keep
    model = _TimingModel(p)
    fits = _CalendarFilter(p, plan.res)
    rng = np.random.default_rng(seed)
    seqs = _best_start_sequences(p, plan, model)
    lp = _IncrementalTiming(p, model, seqs)
    lens = np.array([max(s.shape[0] - 1, 0) for s in seqs], dtype=np.int64)
    pair0 = np.cumsum(lens) - lens
    pair_res, pair_pos = _pair_positions(seqs)
    cur = lp.solve()
    iters = 1
    if cur is None:
        return keep
    best_cost, best_start = before, plan.start
    if cur.cost < best_cost and fits(cur.start):
        best_cost, best_start = cur.cost, cur.start
    # the base the perturbations start from: the best, or a local optimum close to it
    base_cost, base_seqs, base_duals = cur.cost, [s.copy() for s in seqs], cur.pair_duals

    def out_of_budget() -> bool:
        return iters >= max_iters or time.perf_counter() - t_start > time_s

    stuck = 0
    while not out_of_budget():
        if progress is not None:
            progress(max(iters / max_iters, (time.perf_counter() - t_start) / time_s))
        duals = cur.pair_duals
        cand = np.flatnonzero(duals > 1e-9)
        order = cand[np.argsort(-duals[cand], kind="stable")]
        improved = False
        for da, db in _MOVES:
            for c in order[:_TOP].tolist():
                r, k = int(pair_res[c]), int(pair_pos[c])
                n_r = seqs[r].shape[0]
                src, dst = k + da, k + db
                if not 0 <= dst < n_r:
                    continue
                old = seqs[r]
                seqs[r] = _move(old, src, dst)
                lo, hi = min(src, dst), max(src, dst)
                for row in _rows_between(p, model.step_of_req, seqs[r], lo, hi, int(pair0[r])):
                    lp.set_pair(*row)
                nxt = lp.solve()
                iters += 1
                if nxt is not None and nxt.cost < cur.cost - 1e-9:
                    cur = nxt
                    improved = True
                    break
                seqs[r] = old
                for row in _rows_between(p, model.step_of_req, old, lo, hi, int(pair0[r])):
                    lp.set_pair(*row)
                if out_of_budget():
                    break
            if improved or out_of_budget():
                break
        if cur.cost < best_cost - 1e-9 and fits(cur.start):
            best_cost, best_start = cur.cost, cur.start
            stuck = 0
        if improved:
            continue
        # stuck at a local optimum: keep it as the base if it is close enough to the base,
        # then perturb the base with a few random swaps of binding pairs
        stuck += 1
        if cur.cost <= base_cost * (1 + _ACCEPT) + 1e-9:
            base_cost, base_seqs, base_duals = cur.cost, [s.copy() for s in seqs], cur.pair_duals
        seqs = [s.copy() for s in base_seqs]
        pool = np.arange(pair_res.shape[0])
        if _PERTURB_BINDING:
            tight = np.flatnonzero(base_duals > 1e-9)
            pool = tight if tight.shape[0] else pool
        for _ in range(1 + min(stuck, _KICK)):
            if pool.shape[0] == 0:
                break
            if _KICK_BY_DUAL and pool.shape[0] and base_duals[pool].sum() > 0:
                weights = base_duals[pool] / base_duals[pool].sum()
                c = int(pool[int(rng.choice(pool.shape[0], p=weights))])
            else:
                c = int(pool[int(rng.integers(pool.shape[0]))])
            r, k = int(pair_res[c]), int(pair_pos[c])
            seqs[r][k], seqs[r][k + 1] = seqs[r][k + 1], seqs[r][k]
        lp.load(seqs)
        nxt = lp.solve()
        iters += 1
        if nxt is None:
            seqs = [s.copy() for s in base_seqs]
            lp.load(seqs)
            nxt = lp.solve()
            iters += 1
            if nxt is None:
                break
        cur = nxt
    return Improvement(
        start=best_start,
        res=plan.res,
        cost_before=before,
        cost_after=min(best_cost, before),
        iterations=iters,
        seconds=time.perf_counter() - t_start,
    )


def improve_orders(
    p: Problem,
    plan: Plan,
    *,
    seed: int = 0,
    max_iters: int = 1000,
    time_s: float = 1.0,
    progress: Callable[[float], None] | None = None,
) -> Improvement:
    """Order-level improvement with the kernel itself, for plans too large for the timing LP.

    The costliest orders first: release the order and one order holding its resources where
    it wanted to be, place the costly one first and the other after it (an incremental
    `replan`); keep the result if their joint earliness + tardiness went down, otherwise put
    both back. Consumes `plan`'s kernel state; the improved plan carries it on.

    Args:
        p: the problem.
        plan: a plan with kernel state (from `plan_backward`).
        seed: seed for the order in which blockers are tried.
        max_iters: most trial replans.
        time_s: wall-clock budget in seconds.
        progress: called now and then with the fraction of the budget used.

    Returns:
        The best plan found.
    """
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    step_order = p.step_order()
    step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
    e, t = step_costs(p, plan.start)
    order_cost = np.bincount(step_order, weights=e + t, minlength=p.n_orders)
    before = float(order_cost.sum())
    cur = plan
    iters = 0
    tried: set[tuple[int, int]] = set()

    def out_of_budget() -> bool:
        return iters >= max_iters or time.perf_counter() - t_start > time_s

    for x in np.argsort(-order_cost, kind="stable").tolist():
        if order_cost[x] <= 0 or out_of_budget():
            break
        if progress is not None:
            progress(max(iters / max_iters, (time.perf_counter() - t_start) / time_s))
        for y in _blockers(p, cur, x, step_of_req, step_order, rng)[:3].tolist():
            if (x, y) in tried or out_of_budget():
                continue
            tried.add((x, y))
            pair = np.array([x, y], dtype=np.int64)
            trial = replan(cur, pair, with_busy=False)
            iters += 1
            ea, ta = step_costs(p, trial.start)
            cost = np.bincount(step_order, weights=ea + ta, minlength=p.n_orders)
            if cost[pair].sum() < order_cost[pair].sum() - 1e-9 and not trial.unplaced[pair].any():
                cur, order_cost = trial, cost
                break
            cur = restore(trial, pair, cur)
    after = float(order_cost.sum())
    return Improvement(
        start=cur.start,
        res=cur.res,
        cost_before=before,
        cost_after=after,
        iterations=iters,
        seconds=time.perf_counter() - t_start,
        plan=cur,
    )


def _blockers(
    p: Problem, plan: Plan, x: int, step_of_req: I64, step_order: I64, rng: np.random.Generator
) -> I64:
    """Orders holding x's candidate resources where x's steps with due dates wanted to be."""
    s = np.arange(int(p.order_ptr[x]), int(p.order_ptr[x + 1]), dtype=np.int64)
    s = s[(p.due[s] < NO_DUE) & (plan.start[s] + p.dur[s] != p.due[s])]
    if s.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    found: list[I64] = []
    for step in s.tolist():
        a_ideal = int(p.due[step] - p.dur[step])
        for q in range(int(p.req_ptr[step]), int(p.req_ptr[step + 1])):
            cands = p.cand_res[p.cand_ptr[q] : p.cand_ptr[q + 1]]
            a0 = a_ideal + int(p.req_off[q])
            a1 = a0 + int(p.req_len[q])
            qa = plan.start[step_of_req] + p.req_off
            hit = np.isin(plan.res, cands) & (qa < a1) & (qa + p.req_len > a0)
            found.append(step_order[step_of_req[hit]])
    orders = np.unique(np.concatenate(found))
    orders = orders[orders != x]
    return rng.permutation(orders)


def _pair_positions(seqs: list[I64]) -> tuple[I64, I64]:
    """For every consecutive pair in the sequences: its resource and the index of its first."""
    lens = np.array([max(s.shape[0] - 1, 0) for s in seqs], dtype=np.int64)
    res = np.repeat(np.arange(len(seqs), dtype=np.int64), lens)
    starts = np.cumsum(lens) - lens
    pos = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(starts, lens)
    return res, pos
