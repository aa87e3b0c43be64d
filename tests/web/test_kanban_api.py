"""The kanban routes on a real planning cloud: loop sizing follows the plan, a planner's change.

A CloudService (real Mosquitto, real HTTP, real replans) plans crimping orders whose step uses
terminals from a kanban loop. The loop's recommended size follows the plan's demand: more
orders through the REST intake, a replan, a bigger loop. A planner's new size is a `kanban.loop`
event in the log, shown by the route at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.service import CloudService, CloudSettings
from taktline.clock import SystemClock
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import wait_for
from tests.web.auth import Grants
from tests.web.plan_app import GRANTS, SITE, STATIONS, call, iso, write_plant

pytestmark = pytest.mark.mqtt

CARDS = ["0C000001", "0C000002", "0C000003"]


def _plant(folder: Path) -> Path:
    path = write_plant(folder)
    plant = json.loads(path.read_text())
    plant["materials"] = [{"id": "term"}]
    plant["products"][0]["steps"][0]["materials"] = ["term"]
    plant["kanban"] = [
        {"id": "KB-TERM", "material": "term", "container_qty": 5, "lead_time_min": 60,
         "safety": 0.2, "supermarket": "SM-1", "cards": CARDS}
    ]  # fmt: skip
    path.write_text(json.dumps(plant))
    return path


def _orders(first: int, count: int) -> list[dict[str, Any]]:
    now = SystemClock().now()
    return [
        {"id": f"O-{n}", "product": "P", "quantity": 30, "due": iso(now + timedelta(hours=2 + n))}
        for n in range(first, first + count)
    ]


@pytest.fixture
def cloud(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[CloudService]:
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({"orders": _orders(0, 4)}))
    settings = CloudSettings(
        database=tmp_path / "cloud.db", broker=mosquitto.url, site=SITE, web_port=0,
        plant=_plant(tmp_path), orders=orders, frozen_minutes=0, order_policy="new",
        replan_quiet_s=0.1,
    )  # fmt: skip
    with CloudService(settings, clock=SystemClock()) as running:
        GRANTS[id(running)] = Grants(settings.database)
        try:
            yield running
        finally:
            GRANTS.pop(id(running)).close()


def _loop(cloud: CloudService) -> dict[str, Any]:
    code, body, _ = call(cloud, "get", "/api/kanban")
    assert code == 200, body
    loop: dict[str, Any] = body["loops"]["KB-TERM"]
    return loop


def test_the_loop_size_follows_the_plan_and_a_planner_sets_it(cloud: CloudService) -> None:
    assert len(STATIONS) == 2
    loop = _loop(cloud)
    # 4 orders x 30 terminals in the next 24 h: 120 / 1440 min; x 60 min x 1.2 / 5 = 1.2 -> 2.
    assert (loop["in_loop"], loop["cards"], loop["by_state"]["full"]) == (3, 3, 3)
    assert loop["demand_per_h"] == pytest.approx(5.0, abs=0.01)
    assert loop["recommended"] == 2
    code, body, _ = call(cloud, "post", "/api/orders", {"orders": _orders(4, 12)}, user="erp")
    assert code in (200, 201, 202), body
    wait_for(lambda: _loop(cloud)["recommended"] == 5, 20, "the loop sized for 16 orders")
    # 16 x 30 = 480 in 24 h: 20/h x 1 h x 1.2 / 5 = 4.8 -> 5 cards, beside the 3 in the loop.
    assert _loop(cloud)["demand_per_h"] == pytest.approx(20.0, abs=0.01)
    code, body, _ = call(
        cloud, "post", "/api/kanban/loops/KB-TERM", {"cards": 5, "reason": "plan needs 5"},
        user="ana",
    )  # fmt: skip
    assert code == 201, body
    loop = _loop(cloud)
    assert (loop["cards"], loop["in_loop"], loop["set_by"]) == (5, 3, "ana")
    events = [e for _, e, _ in cloud.log.replay() if e["type"] == "kanban.loop"]
    assert [(e["source"], e["payload"]["cards"], e["payload"]["by"]) for e in events] == [
        ("cloud-kanban", 5, "ana")
    ]
    code, body, _ = call(cloud, "post", "/api/kanban/loops/KB-NONE", {"cards": 2}, user="ana")
    assert code == 404 and "KB-TERM" in body["detail"], body
    for bad in ({"safety": 11}, {}, {"cards": 0}, {"cards": 2, "user": "a"}, {"size": 2},
                {"cards": "two"}):  # fmt: skip
        code, body, _ = call(cloud, "post", "/api/kanban/loops/KB-TERM", bad)
        assert code == 422, (bad, body)
    assert len([e for _, e, _ in cloud.log.replay() if e["type"] == "kanban.loop"]) == 1
