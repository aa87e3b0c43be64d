"""The LP search's job-shop parts: the forward dispatch start and the order-level moves."""

import itertools

import numpy as np
import pytest

from cloud.scheduler.backward import NO_DUE, Problem, plan_backward
from cloud.scheduler.moves import dispatch_starts, order_moves, pair_positions
from cloud.scheduler.problem import I64
from cloud.scheduler.timing import (
    Timing,
    TimingModel,
    open_timing,
    resource_sequences,
    solve_timing,
)

from .problems import random_problem
from .test_improve import shop


def two_jobs() -> Problem:
    """Orders A and B, each machine 0 then machine 1; only B's last step has a tight due date."""
    dur = np.full(4, 2, dtype=np.int64)
    return Problem(
        open_=np.ones((2, 40), dtype=np.bool_),
        open_span=np.ones((2, 40), dtype=np.bool_),
        order_ptr=np.array([0, 2, 4], dtype=np.int64),
        dur=dur,
        due=np.array([NO_DUE, 20, NO_DUE, 4], dtype=np.int64),
        release=np.zeros(4, dtype=np.int64),
        transfer=np.zeros(4, dtype=np.int64),
        span=np.zeros(4, dtype=np.bool_),
        req_ptr=np.arange(5, dtype=np.int64),
        req_off=np.zeros(4, dtype=np.int64),
        req_len=dur.copy(),
        cand_ptr=np.arange(5, dtype=np.int64),
        cand_res=np.array([0, 1, 0, 1], dtype=np.int64),
        w_early=np.array([0.0, 1.0, 0.0, 1.0]),
        w_tardy=np.array([0.0, 1.0, 0.0, 10.0]),
    )


def run_job_moves(
    p: Problem, seqs: list[I64]
) -> tuple[Timing | None, list[I64], tuple[Timing, Timing, int]]:
    model = TimingModel(p)
    lp = open_timing(p, model, seqs)
    cur = lp.solve()
    assert cur is not None
    lens = np.array([max(s.shape[0] - 1, 0) for s in seqs], dtype=np.int64)
    pair0 = np.cumsum(lens) - lens
    found, used = order_moves(p, p.cand_res, seqs, lp, pair0, cur, set(), lambda u: False)
    again = lp.solve()
    assert again is not None
    return found, seqs, (cur, again, used)


def test_order_move_takes_a_late_order_ahead_on_its_resources() -> None:
    p = two_jobs()
    # A before B on both machines: B's last step ends at 8 or later against a due date of 4
    seqs = [np.array([0, 2], dtype=np.int64), np.array([1, 3], dtype=np.int64)]
    found, seqs, (cur, again, used) = run_job_moves(p, seqs)
    assert found is not None and used >= 1
    assert found.cost < cur.cost - 1e-9
    # the sequences were changed in place and the LP rows follow them
    timed = solve_timing(p, seqs)
    assert timed is not None and timed.cost == pytest.approx(found.cost)
    assert again.cost == pytest.approx(found.cost)
    assert seqs[1].tolist() == [3, 1]


@pytest.mark.parametrize("seed", range(6))
def test_order_moves_keep_lp_and_sequences_in_step(seed: int) -> None:
    p = shop(seed, jobs=4, machines=3, horizon=40)
    rng = np.random.default_rng(seed)
    # a random order on each machine that agrees with one global key increasing along every
    # routing (so the sequences form no cycle)
    pos = np.arange(p.n_steps) - p.order_ptr[p.step_order()]
    key = (pos * 1000 + rng.integers(0, 1000, p.n_steps)).astype(np.int64)
    seqs = resource_sequences(p, plan_backward(p), key)
    before = [s.copy() for s in seqs]
    found, seqs, (cur, again, _) = run_job_moves(p, seqs)
    timed = solve_timing(p, seqs)
    assert timed is not None
    if found is None:
        # nothing better: sequences and LP rows are as they were
        assert all((a == b).all() for a, b in zip(before, seqs, strict=True))
        assert again.cost == pytest.approx(cur.cost)
    else:
        assert found.cost < cur.cost - 1e-9
        assert again.cost == pytest.approx(found.cost)
    assert timed.cost == pytest.approx(again.cost)
    assert pair_positions(seqs)[0].shape[0] == sum(max(len(s) - 1, 0) for s in seqs)


@pytest.mark.parametrize("rule", ["due", "slack", "nodelay"])
@pytest.mark.parametrize("seed", range(4))
def test_dispatch_start_is_a_feasible_schedule(rule: str, seed: int) -> None:
    p = random_problem(seed, breaks=False)
    plan = plan_backward(p)
    start = dispatch_starts(p, plan.res, rule)
    step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
    # routing order with transfers, releases
    order = p.step_order()
    same = order[:-1] == order[1:]
    gap = start[1:] - (start[:-1] + p.dur[:-1] + p.transfer[:-1])
    assert (gap[same] >= 0).all()
    assert (start >= p.release).all()
    # no two steps on one resource at once (a step holds its resources for its whole duration)
    for r in range(p.n_res):
        steps = np.unique(step_of_req[plan.res == r])
        iv = sorted((int(start[s]), int(start[s] + p.dur[s])) for s in steps)
        assert all(b0 >= a1 for (_, a1), (b0, _) in itertools.pairwise(iv))


def test_dispatch_puts_the_earlier_due_date_first() -> None:
    p = two_jobs()
    start = dispatch_starts(p, p.cand_res, "due")
    assert start[2] < start[0]  # B (due 4) before A (due 20) on machine 0
