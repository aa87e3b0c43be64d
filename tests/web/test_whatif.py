"""The what-if routes on a real planning cloud: scenarios beside the live plan, and promoting
one — its order change recorded with who and why, the live plan following it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.service import CloudService
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import wait_for
from tests.web.plan_app import ORDERS, STATIONS, call, planning_cloud

pytestmark = pytest.mark.mqtt


@pytest.fixture
def cloud(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[CloudService]:
    with planning_cloud(tmp_path, mosquitto.url) as running:
        yield running


def _due(cloud: CloudService, order: str) -> datetime:
    assert cloud.replanner is not None
    return cloud.replanner.engine.orders[order].due


def test_scenarios_are_planned_beside_the_live_plan_without_touching_it(
    cloud: CloudService,
) -> None:
    assert cloud.replanner is not None
    replans = cloud.replanner.stats.replans
    down = {"kind": "machine_down", "resource": STATIONS[1], "hours": 3}
    code, body, _ = call(
        cloud, "POST", "/api/whatif", {"scenarios": [{"name": "down", "changes": [down]}]}
    )
    assert code == 200, body
    base, scenario = body["scenarios"]
    assert base["name"] == "base" and scenario["name"] == "down"
    assert scenario["digest"] != base["digest"]
    assert scenario["kpis"]["utilisation_by_group"]["crimpers"] >= 0
    assert scenario["kpis"]["weighted_cost"] >= base["kpis"]["weighted_cost"]
    assert cloud.replanner.stats.replans == replans  # nothing planned live
    code, body, _ = call(
        cloud, "POST", "/api/whatif", {"scenarios": [{"name": "x", "changes": [
            {"kind": "machine_down", "resource": "crimp-9", "hours": 1}]}]}
    )  # fmt: skip
    assert code == 422 and "'crimp-9' is not in the plant model" in body["detail"]
    code, _, _ = call(cloud, "POST", "/api/whatif", {"scenarios": [{"name": "x"}]}, role="viewer")
    assert code == 403
    # the planning cloud's other advice: the forecast (its orders are a day's: no history yet)
    code, body, _ = call(cloud, "GET", "/api/forecast", role="viewer")
    assert code == 200 and body == {"products": [], "material_per_h": {}}
    code, body, _ = call(cloud, "GET", "/api/warnings", role="viewer")
    assert code == 200 and body["alerts"] == []


def test_a_promoted_scenario_is_the_planners_recorded_decision(cloud: CloudService) -> None:
    order = ORDERS[3]
    later = _due(cloud, order) + timedelta(hours=2)
    scenario: dict[str, Any] = {
        "name": "move O-3",
        "changes": [{"kind": "due_date", "order": order, "due": later.isoformat()}],
    }
    code, body, _ = call(cloud, "POST", "/api/whatif/promote", {"scenario": scenario})
    assert code == 200, body
    assert body["changed"] == [order] and body["by"] == "kim"
    wait_for(lambda: _due(cloud, order) == later, 10, "the live plan to take the new due date")
    recorded = [
        event
        for _, event, _ in cloud.log.replay()
        if event["type"] == "plan.order" and event["payload"]["source"] == "whatif:move O-3"
    ]
    assert len(recorded) == 1
    assert recorded[0]["payload"]["by"] == "kim"
    assert recorded[0]["payload"]["decision"] == "adjust"
    absent = {"name": "gone", "changes": [{"kind": "material_delayed", "material": "m",
                                           "hours": 1}]}  # fmt: skip
    code, body, _ = call(cloud, "POST", "/api/whatif/promote", {"scenario": absent})
    assert code == 409 and "changes the floor (material_delayed)" in body["detail"]


def test_a_promoted_machine_down_is_planned_maintenance_that_a_restart_keeps(
    cloud: CloudService,
) -> None:
    from cloud.replan.restore import restore_planning

    assert cloud.replanner is not None and cloud.master is not None
    start = cloud.replanner.clock.now() + timedelta(minutes=30)
    down = {"kind": "machine_down", "resource": STATIONS[0], "hours": 1.5,
            "start": start.isoformat()}  # fmt: skip
    code, body, _ = call(
        cloud, "POST", "/api/whatif/promote", {"scenario": {"name": "service", "changes": [down]}}
    )
    assert code == 200, body
    assert body["maintenance"] == [
        {"resource": STATIONS[0], "start": start.isoformat(), "minutes": 90}
    ]
    events = [e for _, e, _ in cloud.log.replay() if e["type"] == "plan.maintenance"]
    assert [(e["payload"]["resource"], e["payload"]["minutes"], e["payload"]["by"])
            for e in events] == [(STATIONS[0], 90, "kim")]  # fmt: skip
    engine = cloud.replanner.engine

    def held_out() -> bool:
        return any(w.start <= start for w in engine.down.get(STATIONS[0], []))

    wait_for(held_out, 10, "the machine held out of the plan for its maintenance")
    # what a restart plans with: the window from the log
    ((resource, begins, ends),) = restore_planning(
        cloud.status.planning, cloud.master.plant
    ).maintenance
    assert resource == STATIONS[0] and abs((begins - start).total_seconds()) < 1
    assert ends - begins == timedelta(minutes=90)
