"""The batched kernel equals single plans scenario by scenario.

`plan_scenarios` plans N scenarios in one call; each must be the plan `plan_backward` (or the
placement `replan` continues with) gives it alone: machine down, rush order, due dates moved,
cancelled shift, a longer horizon, an overloaded plant with orders placed forward, steps that
span breaks, requirements that must pick distinct resources. On the demo plant the same holds
through the engine: `run_scenarios` (one batched call) equals every scenario applied alone.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import numpy as np
import pytest

from cloud.plant import load_orders, load_plant
from cloud.replan import Engine
from cloud.scheduler import batch as batch_module
from cloud.scheduler.backward import (
    NO_DUE,
    Plan,
    Problem,
    plan_backward,
    release_and_close,
    replan,
)
from cloud.scheduler.batch import ScenarioJob, plan_scenarios
from cloud.whatif import Scenario, plan_digest, run_scenarios
from cloud.whatif.changes import apply_changes
from demo.plant_model import write_master_data
from tests.scheduler.problems import random_problem

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _with_order(p: Problem, like: int, due: int) -> Problem:
    """`p` plus a rush copy of order `like`, due at slot `due`, heavily weighted."""
    s0, s1 = int(p.order_ptr[like]), int(p.order_ptr[like + 1])
    q0, q1 = int(p.req_ptr[s0]), int(p.req_ptr[s1])
    c0, c1 = int(p.cand_ptr[q0]), int(p.cand_ptr[q1])
    new_due = np.full(s1 - s0, NO_DUE, dtype=np.int64)
    new_due[-1] = due
    return dataclasses.replace(
        p,
        order_ptr=np.append(p.order_ptr, p.order_ptr[-1] + s1 - s0),
        dur=np.append(p.dur, p.dur[s0:s1]),
        due=np.append(p.due, new_due),
        release=np.append(p.release, p.release[s0:s1]),
        transfer=np.append(p.transfer, p.transfer[s0:s1]),
        span=np.append(p.span, p.span[s0:s1]),
        req_ptr=np.append(p.req_ptr, p.req_ptr[s0 + 1 : s1 + 1] - q0 + p.req_ptr[-1]),
        req_off=np.append(p.req_off, p.req_off[q0:q1]),
        req_len=np.append(p.req_len, p.req_len[q0:q1]),
        cand_ptr=np.append(p.cand_ptr, p.cand_ptr[q0 + 1 : q1 + 1] - c0 + p.cand_ptr[-1]),
        cand_res=np.append(p.cand_res, p.cand_res[c0:c1]),
        w_early=np.append(p.w_early, np.full(s1 - s0, 3.0)),
        w_tardy=np.append(p.w_tardy, np.full(s1 - s0, 40.0)),
    )


def _closed(p: Problem, rows: slice | int, a: int, b: int) -> Problem:
    q = dataclasses.replace(p, open_=p.open_.copy(), open_span=p.open_span.copy())
    q.open_[rows, a:b] = False
    q.open_span[rows, a:b] = False
    return q


def _variants(seed: int, load: float) -> list[Problem]:
    """A random plant and scenarios of it, one of each kind."""
    p = random_problem(seed, n_res=6, n_orders=14, n_slots=320, load=load)
    single = plan_backward(copy.deepcopy(p))
    step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
    q = int(np.flatnonzero(single.res >= 0)[seed % 5])
    held, at = int(single.res[q]), int(single.start[step_of_req[q]] + p.req_off[q])
    earlier = dataclasses.replace(p, due=p.due.copy())
    last = p.order_ptr[1:] - 1
    earlier.due[last[::3]] = np.maximum(earlier.due[last[::3]] - 60, 1)
    longer = random_problem(seed, n_res=6, n_orders=14, n_slots=360, load=load)
    return [
        p,  # as planned
        _closed(p, held, at, at + 40),  # a machine down where it was busy
        _with_order(p, seed % p.n_orders, 90),  # a rush order
        earlier,  # due dates an hour earlier
        _closed(p, slice(None), 150, 210),  # a shift cancelled for everyone
        longer,  # another horizon
    ]


def _same(a: Plan, b: Plan) -> None:
    assert np.array_equal(a.start, b.start)
    assert np.array_equal(a.res, b.res)
    assert np.array_equal(a.forward, b.forward)
    assert np.array_equal(a.unplaced, b.unplaced)


@pytest.mark.parametrize("load", [1.0, 3.0])
def test_batched_plans_equal_single_plans_scenario_by_scenario(load: float) -> None:
    forward = 0
    for seed in range(6):
        problems = _variants(seed, load)
        singles = [plan_backward(copy.deepcopy(q)) for q in problems]
        batched = plan_scenarios(problems)
        assert len(batched) == len(problems)
        for one, many in zip(singles, batched, strict=True):
            _same(one, many)
            assert np.array_equal(one.busy, many.busy)
        # one scenario per chunk (a tiny memory budget), the single construction's batch sizes
        alone = plan_scenarios(problems, max_bytes=1, max_batch=128)
        for one, many in zip(singles, alone, strict=True):
            _same(one, many)
        forward += sum(int(s.forward.sum()) for s in singles)
    if load > 1:
        assert forward > 0  # the overloaded plants did take the forward path


def test_incremental_jobs_equal_replan_and_keep_a_state_to_go_on_with() -> None:
    # each its own arrays: a replan's closures are written into its problem's calendars
    problems = [copy.deepcopy(q) for q in _variants(3, 1.5)]
    plans = plan_scenarios(problems, keep_state=True)
    jobs, replans = [], []
    for i, (p, plan) in enumerate(zip(problems, plans, strict=True)):
        mine = plan_backward(copy.deepcopy(p))
        assert plan.state is not None and mine.state is not None
        assert np.array_equal(plan.state.blk, mine.state.blk)  # the single kernel's state
        orders = np.array([i % p.n_orders, (i + 5) % p.n_orders], dtype=np.int64)
        closure = [(i % p.n_res, 100, 140)]
        replans.append(replan(mine, orders, closure))
        state = release_and_close(plan, orders, closure)
        jobs.append(ScenarioJob(p, orders, state=state, previous=plan))
    for one, many in zip(replans, plan_scenarios(jobs, keep_state=True), strict=True):
        _same(one, many)
        assert many.state is not None and one.state is not None
        assert np.array_equal(one.state.blk, many.state.blk)


def _scenarios(raw: object) -> list[Scenario]:
    return msgspec.convert(raw, list[Scenario])


def test_on_the_demo_plant_one_batched_call_equals_each_scenario_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant_path, orders_path = write_master_data(tmp_path, START)
    plant = dataclasses.replace(
        load_plant(plant_path), improve_seconds=60.0, improve_iterations=100
    )
    orders = load_orders(orders_path, plant)
    now = START + timedelta(minutes=5)
    base = Engine(plant, orders, now)
    first = orders[0]
    operator = next(r.id for r in plant.resources if r.kind == "operator")
    calendar = next(iter(plant.calendars))
    raw = [
        {"name": "as planned"},
        {"name": "down", "changes": [{"kind": "machine_down", "resource": "crimp-02",
                                     "hours": 3}]},
        {"name": "rush", "changes": [{"kind": "rush_order", "order": "RUSH-1",
                                     "product": first.product, "quantity": 40,
                                     "due": (now + timedelta(hours=3)).isoformat()}]},
        {"name": "due", "changes": [{"kind": "due_date", "order": first.id,
                                    "due": (first.due - timedelta(hours=4)).isoformat()}]},
        {"name": "shift", "changes": [{"kind": "shift_cancelled", "calendar": calendar,
                                      "start": (now + timedelta(hours=1)).isoformat(),
                                      "end": (now + timedelta(hours=5)).isoformat()}]},
        {"name": "absent", "changes": [{"kind": "operator_absent", "operator": operator,
                                       "hours": 6}]},
        {"name": "down and rush", "changes": [
            {"kind": "machine_down", "resource": "crimp-01", "hours": 2},
            {"kind": "rush_order", "order": "RUSH-2", "product": first.product,
             "quantity": 20, "due": (now + timedelta(hours=6)).isoformat()}]},
    ]  # fmt: skip
    scenarios = _scenarios(raw)
    calls: list[int] = []
    batched_call = batch_module.plan_scenarios

    def counted(jobs: list[ScenarioJob], **kwargs: bool) -> list[Plan]:
        calls.append(len(jobs))
        return batched_call(jobs, **kwargs)

    monkeypatch.setattr("cloud.whatif.run.plan_scenarios", counted)
    for improve in (False, True):
        calls.clear()
        results = run_scenarios(base, scenarios, now, improve=improve)
        assert calls == [len(scenarios) - 1]  # every changed scenario in one call
        for scenario, result in zip(scenarios, results, strict=True):
            alone = copy.deepcopy(base)
            triggers = apply_changes(alone, list(scenario.changes), now)
            if triggers:
                alone.apply(triggers, now)  # the single construction
                if improve:
                    alone.improve(now)
            assert result.digest == plan_digest(alone), scenario.name
        assert len({r.digest for r in results}) == len(scenarios)


def test_the_benchmark_runs_and_finds_the_same_plans() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "whatif.py"), "--quick", "--scenarios", "5",
         "--orders", "120", "--reference-runs", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert "EXTRAPOLATED to 5" in out.stdout
    summary = json.loads(lines[-1])
    assert summary["same_plans"] is True and summary["reference_extrapolated"] is True
    assert summary["scenarios"] == 5 and summary["speedup_vs_sequential"] > 0


def test_windows_longer_than_a_byte_and_an_empty_scenario() -> None:
    p = random_problem(4, n_res=5, n_orders=10, n_slots=300)

    def stretched(f: int) -> Problem:  # every time 40x: holding windows past 255 slots
        return dataclasses.replace(
            p,
            open_=np.repeat(p.open_, f, axis=1),
            open_span=np.repeat(p.open_span, f, axis=1),
            dur=p.dur * f,
            due=np.where(p.due < NO_DUE, p.due * f, p.due),
            release=p.release * f,
            transfer=p.transfer * f,
            req_off=p.req_off * f,
            req_len=p.req_len * f,
        )

    long = stretched(40)
    assert int(long.req_len.max()) > 255
    empty = dataclasses.replace(
        p,
        order_ptr=np.zeros(1, dtype=np.int64),
        req_ptr=np.zeros(1, dtype=np.int64),
        cand_ptr=np.zeros(1, dtype=np.int64),
        **{f: getattr(p, f)[:0] for f in ("dur", "due", "release", "transfer", "span",
                                          "req_off", "req_len", "cand_res", "w_early",
                                          "w_tardy")},
    )  # fmt: skip
    problems = [long, p, empty]
    singles = [plan_backward(copy.deepcopy(q)) for q in problems]
    for one, many in zip(singles, plan_scenarios(problems), strict=True):
        _same(one, many)
        assert np.array_equal(one.busy, many.busy)


def test_a_failed_kernel_call_undoes_the_pins_of_the_construction_waiting_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloud.replan import ResourceLost

    plant_path, orders_path = write_master_data(tmp_path, START)
    plant = load_plant(plant_path)
    engine = Engine(plant, load_orders(orders_path, plant), START)
    p = engine.model.problem
    before = [a.copy() for a in (p.release, p.due, p.w_early, p.w_tardy, p.cand_res)]

    def failing(job: ScenarioJob, **kwargs: bool) -> Plan:
        # the construction waits with its pins in the arrays
        assert not np.array_equal(job.problem.release, before[0])
        raise RuntimeError("kernel failed")

    monkeypatch.setattr("cloud.replan.engine.plan_one", failing)
    # the suspended construction stays referenced (as a kept traceback's frames would keep it):
    # its pins must be undone by the failure itself, not whenever it is collected
    held: list[object] = []
    steps = Engine.apply_steps

    def holding(self: Engine, *args: object, **kwargs: object) -> object:
        run = steps(self, *args, **kwargs)  # type: ignore[arg-type]
        held.append(run)
        return run

    monkeypatch.setattr(Engine, "apply_steps", holding)
    lost = ResourceLost("crimp-02", START, START + timedelta(hours=2))
    with pytest.raises(RuntimeError, match="kernel failed"):
        engine.apply([lost], START + timedelta(minutes=5))
    assert held
    after = (p.release, p.due, p.w_early, p.w_tardy, p.cand_res)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
