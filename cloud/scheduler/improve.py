"""Improvement phase: lower total weighted earliness + tardiness of a backward plan.

Sequence is separated from timing. For fixed resource sequences the best start times under
earliness and tardiness costs are a linear programme over difference constraints (precedence,
transfer, one holding window after the other on each resource), solved exactly with scipy's HiGHS;
its duals say which resource-sequence constraints cost money. A seeded local search moves steps
1-8 places around those constraints (most expensive first),
then whole parts of an order one place on every resource it holds, keeps improvements (a move
that failed is not retried until its stretch of sequence changes), and perturbs when it is
stuck (iterated local search). It starts from the two best-timed of the plan's own sequences,
the ideal JIT order and forward dispatches (`dispatch_starts`), one descent each. With a seed
and an iteration budget it is deterministic.

The LP ignores calendars: a timing that puts a holding window across closed time is re-solved
with that step bounded to the nearer side of the closure (a few rounds, `_fit_calendars`), and a
timing is kept only if every holding window lies inside its resource's calendar, so the phase
works on shift plants and never returns a plan that is worse or infeasible. Plans whose orders
are one step on one resource each go to `single.py` (exact idle insertion, larger moves).

Budgets: the iteration budget (`max_iters`, timing solves or trial replans) is the stop meant to
bind, so the same seed and budget give the same plan on a quiet or a loaded machine. The wall-clock
cap (`time_s`) is a safety net; when it ends a search first, the result says so
(`Improvement.stopped_by == "time"`) and a warning is logged, because that plan then depends on
the machine's load. The cap is kept to within 10 %: no iteration starts that would end past 1.1 x
the cap at the pace of the latest iterations.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cloud.scheduler.backward import (
    NO_DUE,
    Plan,
    Problem,
    ideal_starts,
    replan,
    restore,
    step_costs,
)
from cloud.scheduler.moves import (
    dispatch_starts,
    move,
    order_moves,
    pair_gaps,
    pair_positions,
    rows_between,
    shift_order,
)
from cloud.scheduler.permutation import flow_route, permutation_search, permutation_sequences
from cloud.scheduler.single import decomposes, improve_single
from cloud.scheduler.timing import (
    CalendarFilter,
    ColdTiming,
    IncrementalTiming,
    Timing,
    TimingModel,
    open_timing,
    pairs,
    resource_sequences,
    solve_timing,
)

__all__ = [
    "Improvement",
    "Timing",
    "improve_orders",
    "improve_plan",
    "resource_sequences",
    "solve_timing",
]

log = logging.getLogger(__name__)

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass
class Improvement:
    """Result of the improvement phase (`plan`: the improved plan with kernel state, if any).

    `stopped_by` says what ended the search: "iterations" (the budget, deterministic),
    "time" (the wall-clock cap cut it: the plan depends on machine load), "done" (nothing
    left to try) or "skipped" (the phase does not apply to this plan).
    """

    start: I64
    res: I64
    cost_before: float
    cost_after: float
    iterations: int
    seconds: float
    plan: Plan | None = None
    stopped_by: str = "skipped"

    @property
    def cut_by_time(self) -> bool:
        """The wall-clock cap, not the iteration budget, ended the search."""
        return self.stopped_by == "time"


class _Budget:
    """Iteration budget first, wall-clock cap second; remembers which one stopped the search."""

    def __init__(self, max_iters: int, time_s: float) -> None:
        self.max_iters = max_iters
        self.time_s = time_s
        self.t_start = time.perf_counter()
        self.stopped_by = "done"
        self.last_t, self.last_iters, self.pace = self.t_start, 0, 0.0

    def spent(self, iters: int) -> bool:
        if iters >= self.max_iters:
            self.stopped_by = "iterations"
            return True
        now = time.perf_counter()
        elapsed = now - self.t_start
        # the cap is kept to within 10 %: no iteration starts that would likely end later, by
        # the latest iterations' pace (an order-level trial replan on a large plant takes
        # 0.1 s or more, the first one longer)
        if iters > self.last_iters:
            self.pace = (now - self.last_t) / (iters - self.last_iters)
            self.last_t, self.last_iters = now, iters
        if elapsed > self.time_s or elapsed + self.pace > 1.1 * self.time_s:
            self.stopped_by = "time"
            return True
        return False

    def fraction(self, iters: int) -> float:
        return max(iters / self.max_iters, (time.perf_counter() - self.t_start) / self.time_s)

    def report(self, kind: str, iters: int) -> str:
        if self.stopped_by == "time":
            log.warning(
                "%s: the wall-clock cap of %.3f s cut the search after %d of %d iterations; "
                "the plan depends on machine load (raise the cap or lower the iteration budget)",
                kind,
                self.time_s,
                iters,
                self.max_iters,
            )
        return self.stopped_by


def _start_sequences(p: Problem, plan: Plan, model: TimingModel) -> list[list[I64]]:
    """Candidate start sequences, best timed first (those that form a cycle left out).

    The plan's own, the ideal JIT order (by start and by end) and the forward dispatches
    (`_DISPATCH`), each once.
    """
    ideal = ideal_starts(p)
    # ties broken by step index keep one global order, so ideal sequences never form a cycle
    keys = [ideal, ideal + p.dur]
    keys += [dispatch_starts(p, plan.res, rule) for rule in _DISPATCH]
    found: list[tuple[float, int, list[I64]]] = []
    for i, seqs in enumerate(
        [resource_sequences(p, plan)] + [resource_sequences(p, plan, key) for key in keys]
    ):
        timing = model.solve(*pairs(p, model.step_of_req, seqs)[:3])
        if timing is not None and not any(
            all((a == b).all() for a, b in zip(seqs, other, strict=True)) for _, _, other in found
        ):
            found.append((timing.cost, i, seqs))
    found.sort(key=lambda x: (x[0], x[1]))
    return [seqs for _, _, seqs in found] or [resource_sequences(p, plan)]


#: dispatch rules of the forward starts: "due" (earliest due date first, active schedule),
#: "slack" (due date minus the order's remaining work), "nodelay" (due, non-delay schedule)
_DISPATCH = ("due", "slack", "nodelay")


_MOVES = ((1, 0), (1, -1), (0, 2), (1, -3), (0, 4), (1, -7), (0, 8))
#: costly pairs (highest duals) tried per local-search step
_TOP = 1000
#: most start sequences that get a descent of their own (the best timed first)
_STARTS = 2
#: most of the iteration budget one of the other starts' descents may take
_START_SHARE = 0.2
#: after the pairs with positive duals, try the tight pairs whose dual is zero (degenerate LP);
#: off: on the quick flow shops it cost 2-11 % (6,075 / 7,404 against 5,914 / 6,629), on the
#: job shop it made no difference
_TIGHT = False
#: shift a whole order (or the part of it before / after a costly step) one place earlier or
#: later on every resource it holds, when no single move improves
_JOB_MOVES = True
#: forget the failed moves when a perturbation starts a new descent
_FORGET = True
#: share of a perturbation's kicks that shift a random part of a random order (else swaps)
_JOB_KICK = 0.5
#: perturb with swaps of binding pairs only (False: any neighbours)
_PERTURB_BINDING = True
#: most random swaps in one perturbation
_KICK = 4
#: pick the pairs a perturbation swaps with probability by their dual (else uniformly)
_KICK_BY_DUAL = True
#: most blockers released together with a costly order in the order-level phase
_GROUP = 6
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
        max_iters: most timing solves (the stop meant to bind).
        time_s: wall-clock cap in seconds (reported in `stopped_by` when it binds).
        progress: called now and then with the fraction of the budget used.
        max_lp_steps: larger problems use `improve_orders` instead (one timing solve would
            take seconds there).

    Returns:
        The best plan found (the input plan when nothing better or the phase does not apply).
    """
    t_start = time.perf_counter()
    budget = _Budget(max_iters, time_s)
    e, t = step_costs(p, plan.start)
    before = float(e.sum() + t.sum())
    keep = Improvement(plan.start, plan.res, before, before, 0, 0.0)
    if p.n_steps > max_lp_steps and plan.state is not None:
        return improve_orders(
            p, plan, seed=seed, max_iters=max_iters, time_s=time_s, progress=progress
        )
    if not plan.unplaced.any() and decomposes(p):
        return _improve_single(p, plan, keep, seed, max_iters, time_s, t_start)
    if plan.unplaced.any() or p.n_steps == 0 or p.n_steps > max_lp_steps:
        keep.seconds = time.perf_counter() - t_start
        return keep
    model = TimingModel(p)
    fits = CalendarFilter(p, plan.res)
    rng = np.random.default_rng(seed)
    starts = _start_sequences(p, plan, model)
    seqs, pending = starts[0], starts[1:_STARTS]
    lp = open_timing(p, model, seqs)
    lens = np.array([max(s.shape[0] - 1, 0) for s in seqs], dtype=np.int64)
    pair0 = np.cumsum(lens) - lens
    pair_res, pair_pos = pair_positions(seqs)
    cur = lp.solve()
    iters = 1
    if cur is None:
        return keep
    best_cost, best_start = before, plan.start

    def spent_with(used: int) -> bool:
        return budget.spent(iters + used)

    reqs = flow_route(p, plan.res)
    if reqs is not None and _PERMUTATION_SHARE > 0:
        pending = []  # the permutation search is the flow shop's own start
        # a flow shop: first one order sequence on every machine, with part of the budget
        last = plan.start[reqs[:, -1]]
        perm0 = np.lexsort((np.arange(p.n_orders), last)).astype(np.int64)
        share = int(max_iters * _PERMUTATION_SHARE)
        perm, timing, used = permutation_search(
            p, plan.res, reqs, lp, perm0, rng, lambda u: u >= share or spent_with(u)
        )
        iters += used
        if timing is not None and timing.cost < cur.cost - 1e-9:
            seqs = permutation_sequences(p, plan.res, reqs, perm)
            cur = timing
        lp.load(seqs)
        again = lp.solve()
        iters += 1
        if again is None:
            return keep
        cur = again
    if cur.cost < best_cost:
        kept, used = _fit_calendars(lp, fits, cur, spent_with)
        iters += used
        if kept is not None and kept.cost < best_cost:
            best_cost, best_start = kept.cost, kept.start
    # the base the perturbations start from: the best, or a local optimum close to it
    base_cost, base_seqs, base_duals = cur.cost, [s.copy() for s in seqs], cur.pair_duals

    def out_of_budget() -> bool:
        return budget.spent(iters)

    stuck = 0
    # the other starts each get one descent (at most `_START_SHARE` of the budget) before the
    # perturbations begin from the best of their local optima
    start_iters, start_limit = iters, int(max_iters * _START_SHARE)
    # moves that did not improve, by their resource's sequence around them: not tried again
    # until that stretch changes or a perturbation starts a new descent (don't-look memory)
    failed: set[tuple[int, int, int, bytes]] = set()
    while not out_of_budget():
        if progress is not None:
            progress(budget.fraction(iters))
        duals = cur.pair_duals
        cand = np.flatnonzero(duals > 1e-9)
        order = cand[np.argsort(-duals[cand], kind="stable")]
        if _TIGHT:
            gap = pair_gaps(p, model.step_of_req, seqs, cur.start)
            order = np.r_[order, np.flatnonzero((gap == 0) & (duals <= 1e-9))]
        improved = False
        for da, db in _MOVES:
            for c in order[:_TOP].tolist():
                r, k = int(pair_res[c]), int(pair_pos[c])
                n_r = seqs[r].shape[0]
                src, dst = k + da, k + db
                if not 0 <= dst < n_r:
                    continue
                lo, hi = min(src, dst), max(src, dst)
                key = (r, da, db, seqs[r][max(lo - 1, 0) : hi + 2].tobytes())
                if key in failed:
                    continue
                old = seqs[r]
                seqs[r] = move(old, src, dst)
                for row in rows_between(p, model.step_of_req, seqs[r], lo, hi, int(pair0[r])):
                    lp.set_pair(*row)
                nxt = lp.solve()
                iters += 1
                if nxt is not None and nxt.cost < cur.cost - 1e-9:
                    cur = nxt
                    improved = True
                    break
                failed.add(key)
                seqs[r] = old
                for row in rows_between(p, model.step_of_req, old, lo, hi, int(pair0[r])):
                    lp.set_pair(*row)
                if out_of_budget():
                    break
            if improved or out_of_budget():
                break
        if not improved and _JOB_MOVES and not out_of_budget():
            found, used = order_moves(p, plan.res, seqs, lp, pair0, cur, failed, spent_with)
            iters += used
            if found is not None:
                cur, improved = found, True
        if cur.cost < best_cost - 1e-9:
            kept, used = _fit_calendars(lp, fits, cur, spent_with)
            iters += used
            if kept is not None and kept.cost < best_cost - 1e-9:
                best_cost, best_start = kept.cost, kept.start
                stuck = 0
        if improved and not (pending and iters - start_iters >= start_limit):
            continue
        # stuck at a local optimum: keep it as the base if it is close enough to the base,
        # then perturb the base with a few random swaps of binding pairs
        stuck += 1
        if cur.cost <= base_cost * (1 + _ACCEPT) + 1e-9:
            base_cost, base_seqs, base_duals = cur.cost, [s.copy() for s in seqs], cur.pair_duals
        if pending:
            seqs = pending.pop(0)
            lp.load(seqs)
            nxt = lp.solve()
            iters += 1
            failed.clear()
            start_iters = iters
            if nxt is not None:
                cur = nxt
                continue
        seqs = [s.copy() for s in base_seqs]
        if _FORGET:
            failed.clear()
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
            if rng.random() < _JOB_KICK:
                shift_order(p, plan.res, seqs, int(rng.integers(p.n_orders)), rng)
                continue
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
        stopped_by=budget.report("improve_plan", iters),
    )


#: share of the iteration budget a flow shop's permutation search gets first
_PERMUTATION_SHARE = 0.5
#: most re-solves spent moving one timing's holding windows into open time
_REPAIR_ROUNDS = 6


def _fit_calendars(
    lp: IncrementalTiming | ColdTiming,
    fits: CalendarFilter,
    timing: Timing,
    stop: Callable[[int], bool] | None = None,
) -> tuple[Timing | None, int]:
    """The timing itself if it respects the calendars, else the best one nearby that does.

    The LP knows no shifts: a holding window it puts across a break or a night is pushed to
    the nearer side of the closed time (the step's start bounded to end before it, or to start
    after it) and the LP re-solved with those bounds, the sequences unchanged; a few rounds,
    since a bound may push a window into another closure. Returns the timing (or None) and the
    number of re-solves; the LP gets its own bounds back. `stop(used)` ends the rounds early
    (the search's budget).
    """
    if fits(timing.start):
        return timing, 0
    bounded: dict[int, tuple[float, float]] = {}
    used = 0
    found: Timing | None = None
    cur = timing
    step_of_req = fits.step_of_req
    for _ in range(_REPAIR_ROUNDS):
        if stop is not None and stop(used):
            break
        for q in fits.outside(cur.start).tolist():
            s = int(step_of_req[q])
            a = int(cur.start[s] + fits.p.req_off[q])
            left, right = fits.nearest(q, a)
            lo, hi = bounded.get(s, (float(lp.bounds0[s, 0]), float(lp.bounds0[s, 1])))
            off = int(fits.p.req_off[q])
            go_left = left is not None and (right is None or a - left <= right - a)
            if go_left and left is not None and left - off >= lo:
                hi = min(hi, float(left - off))
            elif right is not None and right - off <= hi:
                lo = max(lo, float(right - off))
            else:
                continue
            bounded[s] = (lo, hi)
            lp.set_bounds(s, lo, hi)
        nxt = lp.solve()
        used += 1
        if nxt is None:
            break
        if fits(nxt.start):
            found = nxt
            break
        cur = nxt
    lp.reset_bounds(list(bounded))
    return found, used


def _improve_single(
    p: Problem, plan: Plan, keep: Improvement, seed: int, max_iters: int, time_s: float, t0: float
) -> Improvement:
    """`single.improve_single` for plans whose orders are one step on one resource each."""
    single = improve_single(p, plan.start, plan.res, seed=seed, max_iters=max_iters, time_s=time_s)
    keep.seconds = time.perf_counter() - t0
    if single is None:
        return keep
    if single.stopped_by == "time":
        log.warning(
            "improve_single: the wall-clock cap of %.3f s cut the search after %d of %d "
            "iterations; the plan depends on machine load",
            time_s,
            single.iterations,
            max_iters,
        )
    better = single.cost < keep.cost_before - 1e-9
    return Improvement(
        start=single.start if better else plan.start,
        res=plan.res,
        cost_before=keep.cost_before,
        cost_after=single.cost if better else keep.cost_before,
        iterations=single.iterations,
        seconds=keep.seconds,
        stopped_by=single.stopped_by,
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

    The costliest orders first: release the order and the orders holding its resources where
    it wanted to be (all of them together, then each alone), place the costly one first and
    the others after it (an incremental `replan`); keep the result if their joint earliness +
    tardiness went down, otherwise put them back. Consumes `plan`'s kernel state; the
    improved plan carries it on.

    Args:
        p: the problem.
        plan: a plan with kernel state (from `plan_backward`).
        seed: seed for the order in which blockers are tried.
        max_iters: most trial replans (the stop meant to bind).
        time_s: wall-clock cap in seconds (reported in `stopped_by` when it binds).
        progress: called now and then with the fraction of the budget used.

    Returns:
        The best plan found.
    """
    t_start = time.perf_counter()
    budget = _Budget(max_iters, time_s)
    rng = np.random.default_rng(seed)
    step_order = p.step_order()
    step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
    e, t = step_costs(p, plan.start)
    order_cost = np.bincount(step_order, weights=e + t, minlength=p.n_orders)
    before = float(order_cost.sum())
    cur = plan
    iters = 0
    tried: set[tuple[int, ...]] = set()

    def out_of_budget() -> bool:
        return budget.spent(iters)

    for x in np.argsort(-order_cost, kind="stable").tolist():
        if order_cost[x] <= 0 or out_of_budget():
            break
        if progress is not None:
            progress(budget.fraction(iters))
        blockers = _blockers(p, cur, x, step_of_req, step_order, rng)
        # the costly order first, then all of its blockers together, then each one alone
        trials = [blockers[:_GROUP]] if blockers.shape[0] > 1 else []
        trials += [blockers[i : i + 1] for i in range(min(3, blockers.shape[0]))]
        for group in trials:
            key = (x, *group.tolist())
            if key in tried or out_of_budget():
                continue
            tried.add(key)
            sel = np.concatenate((np.array([x], dtype=np.int64), group))
            trial = replan(cur, sel, with_busy=False)
            iters += 1
            ea, ta = step_costs(p, trial.start)
            cost = np.bincount(step_order, weights=ea + ta, minlength=p.n_orders)
            if cost[sel].sum() < order_cost[sel].sum() - 1e-9 and not trial.unplaced[sel].any():
                cur, order_cost = trial, cost
                break
            cur = restore(trial, sel, cur)
    after = float(order_cost.sum())
    return Improvement(
        start=cur.start,
        res=cur.res,
        cost_before=before,
        cost_after=after,
        iterations=iters,
        seconds=time.perf_counter() - t_start,
        plan=cur,
        stopped_by=budget.report("improve_orders", iters),
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
