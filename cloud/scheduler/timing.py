"""Exact start times for fixed resource sequences: a linear programme over difference constraints.

Precedence, transfer times and "one holding window after the other on each resource" are
difference constraints; weighted earliness and tardiness are linear with one slack each, so the
best timing for fixed sequences is an LP, solved exactly by HiGHS. `IncrementalTiming` keeps the
LP warm inside HiGHS (the binding scipy ships) so that a local-search move rewrites a few rows and
re-solves from the previous basis; its duals say which sequence constraints cost money.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from cloud.scheduler.problem import F64, I64, NO_DUE, Plan, Problem, step_costs

__all__ = [
    "HIGHS_OPTIONS",
    "CalendarFilter",
    "ColdTiming",
    "IncrementalTiming",
    "Timing",
    "TimingModel",
    "open_timing",
    "pairs",
    "resource_sequences",
    "sequence_timing",
    "solve_timing",
]

#: extra HiGHS options for the warm timing LP: dual simplex with Dantzig pricing re-solves a
#: move's few changed rows about 20 % faster than the default edge weights (JIT job shop 20x10)
HIGHS_OPTIONS: dict[str, object] = {"simplex_strategy": 1, "simplex_dual_edge_weight_strategy": 0}


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


class TimingModel:
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


def pairs(p: Problem, step_of_req: I64, seqs: list[I64]) -> tuple[I64, I64, F64, I64]:
    """Constraint pairs from resource sequences: (step i, step j, bound, position index)."""
    first = np.concatenate([s[:-1] for s in seqs if s.shape[0] > 1] or [np.zeros(0, np.int64)])
    second = np.concatenate([s[1:] for s in seqs if s.shape[0] > 1] or [np.zeros(0, np.int64)])
    pb = (p.req_off[second] - p.req_off[first] - p.req_len[first]).astype(np.float64)
    return step_of_req[first], step_of_req[second], pb, first


def solve_timing(p: Problem, seqs: list[I64]) -> Timing | None:
    """Exact best start times for the given resource sequences (None if they form a cycle)."""
    model = TimingModel(p)
    pi, pj, pb, _ = pairs(p, model.step_of_req, seqs)
    return model.solve(pi, pj, pb)


class CalendarFilter:
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

    def outside(self, start: I64) -> I64:
        """Requirements whose holding window at these start times is not inside its calendar."""
        a = np.clip(start[self.step_of_req] + self.p.req_off, 0, self.p.n_slots)
        b = np.clip(a + self.p.req_len, 0, self.p.n_slots)
        bad = (self.cs[self.row, b] != self.cs[self.row, a]) | (b - a < self.p.req_len)
        out: I64 = np.flatnonzero(bad).astype(np.int64)
        return out

    def nearest(self, q: int, a: int) -> tuple[int | None, int | None]:
        """The latest window start <= a and the earliest >= a where requirement q's window fits."""
        length = int(self.p.req_len[q])
        xs = np.arange(0, self.p.n_slots - length + 1)
        row = self.cs[int(self.row[q])]
        ok = xs[row[xs + length] == row[xs]]
        i = int(np.searchsorted(ok, a, side="right"))
        left = int(ok[i - 1]) if i > 0 else None
        j = int(np.searchsorted(ok, a, side="left"))
        right = int(ok[j]) if j < ok.shape[0] else None
        return left, right

    def __call__(self, start: I64) -> bool:
        """True if every holding window at these start times lies inside its calendar."""
        if self.trivial:
            return True
        a = start[self.step_of_req] + self.p.req_off
        b = a + self.p.req_len
        if a.min() < 0 or b.max() > self.p.n_slots:
            return False
        return bool((self.cs[self.row, b] == self.cs[self.row, a]).all())


class IncrementalTiming:
    """The timing LP kept warm in HiGHS: a swap rewrites three rows and re-solves from the basis.

    Uses the HiGHS binding that scipy ships (`scipy.optimize._highspy`, private); where it is
    missing, `open_timing` falls back to `ColdTiming` (same answers, slower).
    """

    def __init__(self, p: Problem, model: TimingModel, seqs: list[I64]) -> None:
        from scipy.optimize._highspy import _core as hc

        self.hc = hc
        self.p = p
        self.model = model
        n, m = model.n, model.due.shape[0]
        pi, pj, pb, _ = pairs(p, model.step_of_req, seqs)
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
        for key, value in HIGHS_OPTIONS.items():
            h.setOptionValue(key, value)
        h.passModel(lp)
        self.h = h
        self.bounds0 = model.bounds.copy()

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
        pi, pj, pb, _ = pairs(self.p, self.model.step_of_req, seqs)
        for c in np.flatnonzero((pi != self.pi) | (pj != self.pj)).tolist():
            self.set_pair(c, int(pi[c]), int(pj[c]), float(pb[c]))

    def set_bounds(self, step: int, lo: float, hi: float) -> None:
        """Bounds step's start to [lo, hi] (the model's own bounds: `reset_bounds`)."""
        self.h.changeColBounds(step, lo, hi)

    def reset_bounds(self, steps: list[int]) -> None:
        """Gives these steps their model bounds back."""
        for s in steps:
            self.h.changeColBounds(s, float(self.bounds0[s, 0]), float(self.bounds0[s, 1]))

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


class ColdTiming:
    """`IncrementalTiming`'s interface over `scipy.optimize.linprog` (solves from scratch)."""

    def __init__(self, p: Problem, model: TimingModel, seqs: list[I64]) -> None:
        self.p = p
        self.model = model
        pi, pj, pb, _ = pairs(p, model.step_of_req, seqs)
        self.pi, self.pj, self.pb = pi.copy(), pj.copy(), pb.copy()
        self.bounds0 = model.bounds.copy()

    def set_pair(self, c: int, i: int, j: int, bound: float) -> None:
        """Rewrites pair row c as S_i - S_j <= bound."""
        self.pi[c], self.pj[c], self.pb[c] = i, j, bound

    def load(self, seqs: list[I64]) -> None:
        """Makes the pair rows follow `seqs`."""
        self.pi, self.pj, self.pb, _ = pairs(self.p, self.model.step_of_req, seqs)

    def set_bounds(self, step: int, lo: float, hi: float) -> None:
        """Bounds step's start to [lo, hi] (the model's own bounds: `reset_bounds`)."""
        self.model.bounds[step] = (lo, hi)

    def reset_bounds(self, steps: list[int]) -> None:
        """Gives these steps their model bounds back."""
        for s in steps:
            self.model.bounds[s] = self.bounds0[s]

    def solve(self) -> Timing | None:
        """Solves the LP; None if the sequences form a cycle."""
        return self.model.solve(self.pi, self.pj, self.pb)


def open_timing(p: Problem, model: TimingModel, seqs: list[I64]) -> IncrementalTiming | ColdTiming:
    """The warm HiGHS timing LP where scipy's binding is there, else the cold one."""
    try:
        return IncrementalTiming(p, model, seqs)
    except (ImportError, AttributeError):
        return ColdTiming(p, model, seqs)


def sequence_timing(dur: I64, due: I64, w_early: F64, w_tardy: F64, lo: I64, hi: I64) -> I64 | None:
    """Exact best start times of jobs that follow each other on one resource in the given order.

    Optimal idle-time insertion for a fixed sequence: minimises sum of w_early * earliness +
    w_tardy * tardiness (against `due`, the latest end) subject to S_j >= S_{j-1} + dur_{j-1}
    and lo_j <= S_j <= hi_j. With x_j = S_j - (dur_0 + ... + dur_{j-1}) the sequence constraint
    becomes x_j >= x_{j-1}: a generalized isotonic regression with separable convex piecewise
    linear costs, solved exactly by pool-adjacent-violators (Best, Chakravarti & Ubhaya 2000):
    a block of adjacent jobs shares one x, at the smallest weighted median of its targets
    `due - dur - prefix` (weights: earliness below, tardiness above) clipped to the block's
    bounds; a block whose x falls below its predecessor's merges with it. Integer data give an
    integer optimum. O(n log n) typical, O(n^2) worst case (big blocks merging repeatedly).

    Args:
        dur: (n,) processing times in sequence order.
        due: (n,) due slot (latest end) per job; `NO_DUE` for a job without one (weights ignored).
        w_early: (n,) earliness weight per slot.
        w_tardy: (n,) tardiness weight per slot.
        lo: (n,) earliest start per job.
        hi: (n,) latest start per job.

    Returns:
        (n,) start slots, or None when no timing satisfies the bounds in this order.
    """
    n = int(dur.shape[0])
    prefix = np.concatenate([[0], np.cumsum(dur)[:-1]]).astype(np.int64)
    has = due < NO_DUE
    target = np.where(has, due - dur - prefix, 0).tolist()
    wa = np.where(has, w_early, 0.0).tolist()
    wb = np.where(has, w_tardy, 0.0).tolist()
    low = (lo - prefix).tolist()
    high = (hi - prefix).tolist()
    # blocks on a stack: [first job, sorted (target, a + b) pairs, sum a, low, high, x]
    stack: list[tuple[int, list[tuple[int, float]], float, int, int, int]] = []
    for j in range(n):
        pts = [(target[j], wa[j] + wb[j])] if wa[j] + wb[j] > 0 else []
        first, total_a, b_lo, b_hi = j, wa[j], low[j], high[j]
        while True:
            x = _block_x(pts, total_a, b_lo, b_hi)
            if not stack or x >= stack[-1][5]:
                break
            f0, p0, a0, l0, h0, _ = stack.pop()
            first, total_a = f0, total_a + a0
            pts = sorted(p0 + pts)
            b_lo, b_hi = max(b_lo, l0), min(b_hi, h0)
        if b_lo > b_hi:
            return None
        stack.append((first, pts, total_a, b_lo, b_hi, x))
    xs = np.empty(n, dtype=np.int64)
    ends = [blk[0] for blk in stack[1:]] + [n]
    for blk, end in zip(stack, ends, strict=True):
        xs[blk[0] : end] = blk[5]
    return xs + prefix


def _block_x(pts: list[tuple[int, float]], total_a: float, low: int, high: int) -> int:
    """Smallest minimiser of a block's cost (weighted median of its targets), clipped to bounds."""
    if not pts:
        return low
    acc = 0.0
    x = pts[-1][0]
    for t, w in pts:
        acc += w
        if acc >= total_a - 1e-9:
            x = t
            break
    return min(max(x, low), high)
