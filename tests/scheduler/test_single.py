"""Single-resource improvement: exact idle insertion, batch scorer, search and its budget."""

import sys
from pathlib import Path

import numpy as np
import pytest

from cloud.scheduler.backward import Problem, plan_backward, step_costs
from cloud.scheduler.improve import improve_plan
from cloud.scheduler.single import _Jobs, decomposes, search_sequence
from cloud.scheduler.timing import sequence_timing, solve_timing

from .test_budgets import cpu_load

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import jit_suite  # noqa: E402

sys.path.remove(str(BENCH))


def one_machine(
    dur: np.ndarray,
    due: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    release: np.ndarray,
    horizon: int,
) -> Problem:
    n = dur.shape[0]
    return Problem(
        open_=np.ones((1, horizon), dtype=np.bool_),
        open_span=np.ones((1, horizon), dtype=np.bool_),
        order_ptr=np.arange(n + 1, dtype=np.int64),
        dur=dur.astype(np.int64),
        due=due.astype(np.int64),
        release=release.astype(np.int64),
        transfer=np.zeros(n, dtype=np.int64),
        span=np.zeros(n, dtype=np.bool_),
        req_ptr=np.arange(n + 1, dtype=np.int64),
        req_off=np.zeros(n, dtype=np.int64),
        req_len=dur.astype(np.int64),
        cand_ptr=np.arange(n + 1, dtype=np.int64),
        cand_res=np.zeros(n, dtype=np.int64),
        w_early=a.astype(np.float64),
        w_tardy=b.astype(np.float64),
    )


def test_idle_insertion_equals_the_timing_lp() -> None:
    """Distinct due dates, releases, zero weights: pool-adjacent-violators = HiGHS, 120 cases."""
    rng = np.random.default_rng(7)
    for _ in range(120):
        n = int(rng.integers(1, 11))
        dur = rng.integers(1, 10, n)
        due = rng.integers(0, 60, n)
        release = rng.integers(0, 30, n) * (rng.random(n) < 0.5)
        p = one_machine(dur, due, rng.integers(0, 5, n), rng.integers(0, 5, n), release, 200)
        seq = rng.permutation(n).astype(np.int64)
        lp = solve_timing(p, [seq])
        assert lp is not None
        s = sequence_timing(
            p.dur[seq], p.due[seq], p.w_early[seq], p.w_tardy[seq], p.release[seq],
            (200 - p.dur)[seq],
        )  # fmt: skip
        assert s is not None
        assert (s >= p.release[seq]).all() and (s[1:] >= s[:-1] + p.dur[seq][:-1]).all()
        start = np.empty(n, dtype=np.int64)
        start[seq] = s
        e, t = step_costs(p, start)
        assert float(e.sum() + t.sum()) == pytest.approx(lp.cost)


def test_idle_insertion_reports_bounds_it_cannot_meet() -> None:
    one = np.ones(2, dtype=np.int64)
    assert sequence_timing(one * 5, one * 9, one * 1.0, one * 1.0, np.array([0, 0]),
                           np.array([10, 3])) is None  # fmt: skip


def test_batch_scorer_agrees_with_exact_timing_on_common_due_dates() -> None:
    inst = jit_suite.generate(30, 0.4, 2)
    n = 30
    horizon = inst.d + int(inst.p.sum()) + 1
    jobs = _Jobs(inst.p, np.full(n, inst.d), inst.a * 1.0, inst.b * 1.0,
                 np.zeros(n, dtype=np.int64), horizon - inst.p)  # fmt: skip
    assert jobs.common
    seqs = np.stack([np.random.default_rng(k).permutation(n) for k in range(20)])
    fast = jobs.costs(seqs)
    for row, cost in zip(seqs, fast, strict=True):
        assert jobs.cost_of(row)[0] == pytest.approx(cost)
        assert jit_suite._linear_cost(inst, row) == pytest.approx(cost)


def test_one_insertion_far_away_is_found() -> None:
    """The issue's case: a job that belongs 9 positions away; adjacent swaps would not get it."""
    n = 10
    dur = np.ones(n, dtype=np.int64)
    a = np.ones(n)
    a[0] = 100.0  # the job input first must end at the due date, i.e. go last of the early ones
    jobs = _Jobs(dur, np.full(n, 10), a, np.full(n, 1000.0), np.zeros(n, dtype=np.int64),
                 np.full(n, 50))  # fmt: skip
    seq, cost, _, _ = search_sequence(jobs, np.arange(n), seed=0, max_iters=n, deadline=1e18)
    assert int(seq[-1]) == 0 and cost == pytest.approx(45.0)


@pytest.mark.parametrize("n", [10, 12])
def test_common_due_date_optimum_reached(n: int) -> None:
    for h in jit_suite.TIGHTNESS:
        inst = jit_suite.generate(n, h, 0)
        optimum = jit_suite.exact(inst)[0]
        built, ours, _, stopped = jit_suite.solve_ours(inst, 0, 300, 30.0)
        assert ours == optimum, (inst.name, ours, optimum)
        assert built >= ours and stopped == "iterations"


def test_improve_plan_routes_single_machines_and_is_deterministic_under_load() -> None:
    inst = jit_suite.generate(60, 0.6, 1)
    n = 60
    p = one_machine(inst.p, np.full(n, inst.d), inst.a, inst.b, np.zeros(n, dtype=np.int64),
                    inst.d + int(inst.p.sum()) + 1)  # fmt: skip
    assert decomposes(p)
    quiet = improve_plan(p, plan_backward(p), seed=3, max_iters=200, time_s=60)
    with cpu_load():
        loaded = improve_plan(p, plan_backward(p), seed=3, max_iters=200, time_s=60)
    assert quiet.stopped_by == loaded.stopped_by == "iterations"
    assert quiet.iterations == loaded.iterations == 200
    np.testing.assert_array_equal(quiet.start, loaded.start)
    assert quiet.cost_after < quiet.cost_before
    assert jit_suite.cost_of(inst, quiet.start) == round(quiet.cost_after)
    tiny = improve_plan(p, plan_backward(p), seed=3, max_iters=10**9, time_s=0.05)
    assert tiny.stopped_by == "time" and tiny.seconds < 0.05 * 1.1 + 0.05


def test_plans_that_do_not_decompose_keep_the_lp_search() -> None:
    n = 4
    p = one_machine(np.ones(n), np.full(n, 5), np.ones(n), np.ones(n), np.zeros(n), 20)
    p.open_[0, 3] = False  # a calendar: the single-resource timing knows none
    assert not decomposes(p)


@pytest.mark.parametrize("seed", range(4))
def test_window_scoring_equals_full_scoring(seed: int) -> None:
    """Scoring only the changed window of insertions, swaps and block moves is exact."""
    from cloud.scheduler.single import _block_moves, _insertions, _swaps

    rng = np.random.default_rng(seed)
    for _ in range(40):
        n = int(rng.integers(4, 80))
        p = rng.integers(1, 20, n)
        a = rng.integers(0, 10, n).astype(np.float64)
        b = rng.integers(0, 15, n).astype(np.float64)
        d = int(float(rng.choice([0.2, 0.5, 0.8])) * int(p.sum()))
        low = int(rng.integers(0, 5))
        jobs = _Jobs(p, np.full(n, d), a, b, np.full(n, low), np.full(n, 10**6))
        assert jobs.common
        seq = rng.permutation(n).astype(np.int64)
        i = int(rng.integers(n - 2))
        js = np.unique(rng.integers(0, n - 2, 6))
        js = js[js != i]
        if js.shape[0] == 0:
            continue
        lo, hi = min(i, int(js.min())), max(i, int(js.max())) + 1
        for rows, top in (
            (_insertions(seq, i, js), hi),
            (_swaps(seq, i, js), hi),
            (_block_moves(seq, i, 2, js), hi + 1),
        ):
            full = jobs._common_costs(rows)
            assert np.allclose(jobs._window_costs(rows[:, lo:top], seq, lo, top), full)
            assert np.allclose(jobs.costs(rows, seq, lo, top), full)
