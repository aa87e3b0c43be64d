"""Improvement on shift calendars: LP timings moved into open time are kept, not discarded."""

import numpy as np
import pytest

import cloud.scheduler.improve as improve
from cloud.scheduler.backward import Problem, plan_backward
from cloud.scheduler.improve import improve_plan

from .test_backward import assert_feasible
from .test_improve import shop


def shift_shop(seed: int) -> Problem:
    """A 10-job, 4-machine shop whose machines stop 4 slots in every 20 (a break, no spanning)."""
    p = shop(seed, jobs=10, machines=4, horizon=120)
    p.due = np.random.default_rng(seed).integers(20, 90, size=p.n_steps).astype(np.int64)
    closed = (np.arange(p.n_slots) % 20) >= 16
    p.open_[:, closed] = False
    p.open_span[:, closed] = False
    return p


def test_shift_plans_improve_and_stay_inside_open_time(monkeypatch: pytest.MonkeyPatch) -> None:
    improved, repaired = 0, 0
    for seed in range(4):
        p = shift_shop(seed)
        plan = plan_backward(p)
        imp = improve_plan(p, plan, seed=0, max_iters=150, time_s=60)
        for q in range(p.n_steps):  # one requirement per step here
            a = int(imp.start[q])
            assert p.open_[p.cand_res[q], a : a + p.dur[q]].all()
        plan.start = imp.start
        assert_feasible(p, plan)
        improved += imp.cost_after < imp.cost_before - 1e-9
        # without the repair the LP's timings cross the breaks and are all thrown away
        monkeypatch.setattr(improve, "_REPAIR_ROUNDS", 0)
        bare = improve_plan(p, plan_backward(p), seed=0, max_iters=150, time_s=60)
        monkeypatch.undo()
        repaired += imp.cost_after < bare.cost_after - 1e-9
    assert improved >= 3 and repaired >= 3
