"""The incremental replan's rules: started steps stay, the frozen window holds, real progress."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from cloud.plant import Order, Plant
from cloud.replan import (
    DeliveryLate,
    Engine,
    Replanner,
    ResourceLost,
    StepEnded,
    StepLate,
    StepStarted,
)
from taktline.clock import FakeClock
from tests.replan.conftest import NOW


def _earliest(eng: Engine) -> tuple[int, datetime, list[str]]:
    """The earliest planned step: index, start, resources it holds."""
    p = eng.model.problem
    s = int(np.argmin(np.where(eng.plan.start >= 0, eng.plan.start, 2**40)))
    held = [
        eng.plant.resources[int(eng.plan.res[q])].id
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))
    ]
    return s, eng.model.time_of(int(eng.plan.start[s])), held


def _where(eng: Engine, key: tuple[str, str]) -> tuple[datetime, list[str]]:
    s = eng.step_index(*key)
    p = eng.model.problem
    held = [
        eng.plant.resources[int(eng.plan.res[q])].id
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))
    ]
    return eng.model.time_of(int(eng.plan.start[s])), held


def _key(eng: Engine, s: int) -> tuple[str, str]:
    o, step = eng.model.steps[s]
    return eng.model.orders[o].id, step.id


def _machine_not_in(eng: Engine, held: list[str]) -> str:
    """A machine of a group that none of `held` belongs to."""
    near = {m for g in eng.plant.groups.values() if set(held) & set(g.members) for m in g.members}
    return next(r.id for r in eng.plant.resources if r.kind == "machine" and r.id not in near)


def test_frozen_window_stays_unless_its_resource_is_lost(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    eng = Engine(plant, orders, NOW, frozen=timedelta(minutes=30))
    s, start, held = _earliest(eng)
    key = _key(eng, s)
    now = start - timedelta(minutes=10)  # the step starts inside the frozen window
    other = _machine_not_in(eng, held)
    eng.apply([ResourceLost(other, now)], now)
    assert _where(eng, key) == (start, held)
    machine = next(r for r in held if eng.plant.resources[_index(eng, r)].kind == "machine")
    eng.apply([ResourceLost(machine, now)], now)
    moved_start, moved_held = _where(eng, key)
    assert machine not in moved_held
    assert moved_start >= now


def _index(eng: Engine, rid: str) -> int:
    return [r.id for r in eng.plant.resources].index(rid)


def test_started_step_stays_when_its_machine_breaks_down(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    eng = Engine(plant, orders, NOW, frozen=timedelta(0))
    s, start, held = _earliest(eng)
    key = _key(eng, s)
    now = start + timedelta(minutes=5)
    eng.apply([ResourceLost(held[0], now)], now)
    assert _where(eng, key) == (start, held)
    # nothing else is planned on the machine from now on
    p = eng.model.problem
    r = _index(eng, held[0])
    step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
    a = eng.plan.start[step_of_req] + p.req_off
    end_of_started = int(eng.plan.start[s] + p.dur[s])
    others = (eng.plan.res == r) & (step_of_req != s) & (a + p.req_len > end_of_started)
    assert not others.any()


def test_late_step_pushes_its_successor_and_the_resource_users(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    eng = Engine(plant, orders, NOW, frozen=timedelta(minutes=30))
    s, start, _ = _earliest(eng)
    order, step = _key(eng, s)
    now = start + timedelta(minutes=5)
    p = eng.model.problem
    planned_end = eng.model.time_of(int(eng.plan.start[s] + p.dur[s]))
    late_end = planned_end + timedelta(hours=2)
    eng.apply([StepLate(order, step, late_end)], now)
    nxt = eng.model.steps[s + 1][1]
    next_start, _ = _where(eng, (order, nxt.id))
    assert next_start >= late_end + timedelta(minutes=eng.model.steps[s][1].transfer_min)


def test_actual_end_later_than_planned_pushes_the_successor(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    eng = Engine(plant, orders, NOW, frozen=timedelta(minutes=30))
    s, start, _ = _earliest(eng)
    order, step = _key(eng, s)
    eng.apply([StepStarted(order, step, start)], start)
    planned_end = eng.model.time_of(int(eng.plan.start[s] + eng.model.problem.dur[s]))
    ended = planned_end + timedelta(minutes=50)
    eng.apply([StepEnded(order, step, ended)], ended)
    assert _where(eng, (order, step))[0] == start  # a started step never moves
    nxt = eng.model.steps[eng.step_index(order, step) + 1][1]
    assert _where(eng, (order, nxt.id))[0] >= ended


def test_small_delays_are_ignored_by_the_threshold(harness: tuple[Plant, list[Order]]) -> None:
    plant, orders = harness
    eng = Engine(plant, orders, NOW)
    replanner = Replanner(eng, clock=FakeClock(NOW), late_threshold=timedelta(minutes=10))
    s, _, _ = _earliest(eng)
    order, step = _key(eng, s)
    end = eng.model.time_of(int(eng.plan.start[s] + eng.model.problem.dur[s]))
    replanner.submit(StepLate(order, step, end + timedelta(minutes=3)))
    assert replanner.stats.ignored == 1 and not replanner.due()
    replanner.submit(StepLate(order, step, end + timedelta(minutes=30)))
    assert replanner.stats.triggers == 1


def test_late_delivery_moves_the_steps_that_need_it(harness: tuple[Plant, list[Order]]) -> None:
    plant, orders = harness
    eng = Engine(plant, orders, NOW, frozen=timedelta(0))
    ready = NOW + timedelta(days=1, hours=6)
    eng.apply([DeliveryLate("terminal-a", ready)], NOW)
    for o, step in eng.model.steps:
        if "terminal-a" in step.materials:
            start, _ = _where(eng, (eng.model.orders[o].id, step.id))
            assert start >= ready


def test_improvement_in_the_loop_never_makes_the_plan_worse(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    eng = Engine(plant, orders, NOW)
    _, start, held = _earliest(eng)
    eng.apply([ResourceLost(held[0], start)], start)
    out = eng.improve(start, seconds=0.5)
    assert out.cost_after_improvement <= out.cost_before_improvement + 1e-9
    assert eng.plan.state is not None  # the next incremental replan still works
    eng.apply([ResourceLost(_machine_not_in(eng, held), start)], start)
