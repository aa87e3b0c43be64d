import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from cloud.scheduler.backward import NO_DUE, Problem, plan_backward, replan, step_costs
from cloud.scheduler.improve import improve_plan, resource_sequences, solve_timing
from tests.conftest import service_missing

from .problems import random_problem
from .test_backward import assert_feasible

BENCH = Path(__file__).resolve().parents[2] / "bench"


def shop(seed: int, jobs: int = 2, machines: int = 2, horizon: int = 14) -> Problem:
    rng = np.random.default_rng(seed)
    s = jobs * machines
    dur = rng.integers(1, 4, size=s).astype(np.int64)
    mach = np.concatenate([rng.permutation(machines) for _ in range(jobs)]).astype(np.int64)
    return Problem(
        open_=np.ones((machines, horizon), dtype=np.bool_),
        open_span=np.ones((machines, horizon), dtype=np.bool_),
        order_ptr=np.arange(0, s + 1, machines, dtype=np.int64),
        dur=dur,
        due=rng.integers(2, horizon - 2, size=s).astype(np.int64),
        release=np.zeros(s, dtype=np.int64),
        transfer=np.zeros(s, dtype=np.int64),
        span=np.zeros(s, dtype=np.bool_),
        req_ptr=np.arange(s + 1, dtype=np.int64),
        req_off=np.zeros(s, dtype=np.int64),
        req_len=dur.copy(),
        cand_ptr=np.arange(s + 1, dtype=np.int64),
        cand_res=mach,
        w_early=rng.uniform(0.1, 1, size=s),
        w_tardy=rng.uniform(0.1, 1, size=s),
    )


def brute_force(p: Problem, seqs: list[np.ndarray]) -> float:
    """Best cost over every integer start vector that keeps the given sequences."""
    grids = np.array(list(itertools.product(range(p.n_slots), repeat=p.n_steps)))
    ok = np.ones(grids.shape[0], dtype=bool)
    ok &= (grids + p.dur <= p.n_slots).all(axis=1)
    for o in range(p.n_orders):
        for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1]) - 1):
            ok &= grids[:, s] + p.dur[s] <= grids[:, s + 1]
    for seq in seqs:
        for a, b in itertools.pairwise(seq.tolist()):
            ok &= grids[:, a] + p.dur[a] <= grids[:, b]
    end = grids[ok] + p.dur
    cost = np.maximum(p.due - end, 0) * p.w_early + np.maximum(end - p.due, 0) * p.w_tardy
    return float(cost.sum(axis=1).min())


@pytest.mark.parametrize("seed", range(6))
def test_timing_step_is_exact(seed: int) -> None:
    p = shop(seed, horizon=11)
    plan = plan_backward(p)
    seqs = resource_sequences(p, plan)
    timing = solve_timing(p, seqs)
    assert timing is not None
    assert timing.cost == pytest.approx(brute_force(p, seqs), abs=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_improvement_never_worse_and_feasible(seed: int) -> None:
    p = shop(seed, jobs=5, machines=3, horizon=60)
    plan = plan_backward(p)
    e, t = step_costs(p, plan.start)
    imp = improve_plan(p, plan, seed=seed, max_iters=60, time_s=30)
    assert imp.cost_after <= e.sum() + t.sum() + 1e-9
    plan.start = imp.start
    assert_feasible(p, plan)
    again = improve_plan(p, plan_backward(p), seed=seed, max_iters=60, time_s=30)
    np.testing.assert_array_equal(again.start, imp.start)  # deterministic under a seed


def test_improvement_respects_calendars() -> None:
    p = random_problem(3, n_orders=8)
    p.due = np.where(p.due < NO_DUE, p.due, NO_DUE)
    plan = plan_backward(p)
    imp = improve_plan(p, plan, seed=1, max_iters=40, time_s=30)
    plan.start = imp.start
    assert_feasible(p, plan)


@pytest.mark.parametrize("seed", range(10))
def test_replan_after_closure_is_feasible(seed: int) -> None:
    p = random_problem(seed, n_orders=12, load=2)
    plan = plan_backward(p)
    step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
    placed = np.flatnonzero(plan.res >= 0)
    q = int(placed[seed % placed.shape[0]])
    r, a = int(plan.res[q]), int(plan.start[step_of_req[q]] + p.req_off[q])
    hit = (plan.res == r) & (plan.start[step_of_req] + p.req_off < a + 10)
    hit &= plan.start[step_of_req] + p.req_off + p.req_len > a
    orders = np.unique(p.step_order()[step_of_req[hit]])
    new = replan(plan, orders, [(r, a, a + 10)])
    assert_feasible(p, new)
    assert not p.open_[r, a : a + 10].any()
    with pytest.raises(ValueError, match="handed on"):
        replan(plan, orders)


def test_jit_bench_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = Path(__file__).resolve().parents[3] / "shared/benchmarks/jit_jobshop_baptiste2008"
    if not inst.exists():
        service_missing(f"benchmark data not present: {inst}")
    sys.path.insert(0, str(BENCH))
    try:
        import jit_jobshop

        assert (
            jit_jobshop.main(
                ["--instances", str(inst), "--quick", "--solutions", str(tmp_path), "--time", "0.2"]
            )
            == 0
        )
    finally:
        sys.path.remove(str(BENCH))
    out = capsys.readouterr().out
    assert '"mean_gap_pct"' in out
    assert len(list(tmp_path.rglob("*.json"))) == 2


def test_plant_scale_bench_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import plant_scale

        assert plant_scale.main(["--quick", "--orders", "60", "--replans", "2"]) == 0
        assert (
            plant_scale.main(["--quick", "--orders", "60", "--replans", "1", "--departures"]) == 0
        )
    finally:
        sys.path.remove(str(BENCH))
    assert '"same_construction": true' in capsys.readouterr().out


def test_jobshop_bench_quick(capsys: pytest.CaptureFixture[str]) -> None:
    inst = Path(__file__).resolve().parents[3] / "shared/benchmarks/jobshop_makespan"
    if not inst.exists():
        service_missing(f"benchmark data not present: {inst}")
    sys.path.insert(0, str(BENCH))
    try:
        import jobshop_makespan

        assert jobshop_makespan.main(["--instances", str(inst), "--quick"]) == 0
    finally:
        sys.path.remove(str(BENCH))
    assert '"total_tardiness"' in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(6))
def test_order_level_improvement_never_worse_and_feasible(seed: int) -> None:
    from cloud.scheduler.improve import improve_orders

    p = random_problem(seed, n_orders=20, load=3)
    plan = plan_backward(p)
    e, t = step_costs(p, plan.start)
    imp = improve_orders(p, plan, seed=seed, max_iters=40, time_s=30)
    assert imp.plan is not None
    e2, t2 = step_costs(p, imp.plan.start)
    assert e2.sum() + t2.sum() <= e.sum() + t.sum() + 1e-9
    assert imp.cost_after == pytest.approx(e2.sum() + t2.sum())
    final = replan(imp.plan, np.zeros(0, dtype=np.int64))  # recomputes the busy map
    assert_feasible(p, final)
    np.testing.assert_array_equal(final.start, imp.plan.start)


def test_cold_timing_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import cloud.scheduler.improve as improve_mod
    from cloud.scheduler.timing import ColdTiming

    monkeypatch.setattr(improve_mod, "open_timing", ColdTiming)
    p = shop(2, jobs=4, machines=3, horizon=50)
    plan = plan_backward(p)
    e, t = step_costs(p, plan.start)
    imp = improve_plan(p, plan, seed=0, max_iters=30, time_s=30)
    assert imp.cost_after <= e.sum() + t.sum() + 1e-9
    plan.start = imp.start
    assert_feasible(p, plan)
