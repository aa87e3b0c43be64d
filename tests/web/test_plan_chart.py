"""What the Plan page's Gantt reads besides the plan: `GET /api/plan/state`'s chart parts.

On the harness example plant (Europe/Berlin; a holiday and a maintenance closure on the two-shift
calendar) with an operator's leave, a tool's maintenance window, a material needed before it is
ready and two orders for named customers: after the floor started one step and ended another, a
breakdown of CUT-1 and a late delivery, `chart_state` holds each of them as the chart draws it —
down windows of every kind with their reason, the material arrivals (the late one named by its
delivery), the real progress with the share done, the orders' customers, the time zone. The
route's answer agrees with `PlanState` in docs/openapi.yaml, and an order file's `customer`
goes through the order contract into the plan's orders.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cloud.plant import load_orders, order_to_json, parse_orders, parse_plant
from cloud.replan import DeliveryLate, Engine, Replanner, ResourceLost, StepEnded, StepStarted
from cloud.web import plan as plan_routes
from cloud.web.plan_chart import chart_state
from cloud.web.plan_view import PlanView
from contract.planning import validate_order
from taktline.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
NOW = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin


def _plant_data() -> dict[str, Any]:
    data = json.loads((EXAMPLES / "harness_plant.json").read_text())
    data["leave"] = [
        {"operator": "OP-BEN", "start": "2026-03-24T05:00:00Z", "end": "2026-03-24T13:00:00Z"}
    ]
    for r in data["resources"]:
        if r["id"] == "APP-A1":
            regrind = {"start": "2026-03-23T12:00:00Z", "end": "2026-03-23T13:00:00Z"}
            r["unavailable"] = [{**regrind, "reason": "regrind"}]
    for m in data["materials"]:
        if m["id"] == "terminal-a":
            m["needed"] = "2026-03-23T07:30:00Z"  # ready 08:00: late
    return data


@pytest.fixture
def replanner() -> Replanner:
    plant = parse_plant(_plant_data())
    orders = load_orders(EXAMPLES / "harness_orders.json", plant)
    mine = parse_orders(
        {"orders": [{**order_to_json(orders[0]), "customer": "Kessler Automotive"}]}, plant
    )
    engine = Engine(plant, [*mine, *orders[1:]], NOW)
    clock = FakeClock(NOW)
    return Replanner(engine, clock=clock, improve=False)


def _first_steps(replanner: Replanner) -> list[tuple[str, str, datetime, datetime]]:
    out = []
    for row in replanner.document()["orders"]:
        step = row["steps"][0]
        if step["start"] is not None:
            start = datetime.fromisoformat(step["start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(step["end"].replace("Z", "+00:00"))
            out.append((row["order"], step["step"], start, end))
    return sorted(out, key=lambda x: x[2])


def test_the_chart_parts_hold_down_time_arrivals_progress_and_customers(
    replanner: Replanner,
) -> None:
    (o1, s1, a1, _), (o2, s2, a2, _) = _first_steps(replanner)[:2]
    now = max(a1, a2) + timedelta(minutes=5)
    replanner.clock.set_wall(now)  # type: ignore[attr-defined]
    broke = now - timedelta(minutes=2)
    replanner.engine.apply(
        [
            StepStarted(o1, s1, a1),
            StepEnded(o1, s1, a1 + timedelta(minutes=4)),
            StepStarted(o2, s2, a2),
            ResourceLost("CUT-1", broke, reason="breakdown"),
            DeliveryLate("connector-12p", now + timedelta(hours=3), delivery="D-2002"),
        ],
        now,
    )
    state = chart_state(replanner)
    assert state["timezone"] == "Europe/Berlin"

    down = {(w["resource"], w["kind"]): w for w in state["down"]}
    assert down["CUT-1", "breakdown"]["start"] == broke.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert down["CUT-1", "breakdown"]["end"] is None  # until further notice
    assert down["OP-BEN", "leave"]["start"] == "2026-03-24T05:00:00Z"
    assert down["APP-A1", "unavailable"]["reason"] == "regrind"
    # the calendar's closure (local 06:00-08:00, Berlin in CET) and holiday (a whole local day)
    assert down["CUT-1", "closure"]["start"] == "2026-03-25T05:00:00Z"
    assert down["CUT-1", "closure"]["reason"] == "maintenance"
    holiday = down["CUT-1", "holiday"]
    assert (holiday["start"], holiday["end"]) == ("2026-03-29T22:00:00Z", "2026-03-30T22:00:00Z")

    # the calendar's closed hours: Monday 23 March works 06:00-22:00 local (05:00-21:00 UTC)
    # but for its breaks, and the holiday on Monday 30 March is closed all day
    closed = [(w["start"], w["end"]) for w in state["calendars"]["two-shift"]]
    assert ("2026-03-23T08:30:00Z", "2026-03-23T08:45:00Z") in closed  # 09:30 break
    assert ("2026-03-23T21:00:00Z", "2026-03-24T05:00:00Z") in closed  # the night
    assert ("2026-03-27T21:00:00Z", "2026-03-31T04:00:00Z") in closed  # weekend, holiday

    arrivals = {a["material"]: a for a in state["arrivals"]}
    assert arrivals["wire-0.35-red"]["late"] is False
    assert arrivals["terminal-a"]["late"] is True  # ready after it is needed
    late = arrivals["connector-12p"]
    assert late["late"] is True and late["delivery"] == "D-2002"

    actual = {(a["order"], a["step"]): a for a in state["actual"]}
    assert actual[o1, s1]["end"] is not None and actual[o1, s1]["progress"] == 1.0
    running = actual[o2, s2]
    assert running["end"] is None and running["resources"]
    assert 0 < running["progress"] < 1, running  # 5 min into a step of its standard time

    customers = {o["order"]: o["customer"] for o in state["orders"]}
    assert customers["SO-1001"] == "Kessler Automotive"
    assert customers["SO-1002"] == ""


def test_the_state_route_agrees_with_the_openapi_document(replanner: Replanner) -> None:
    replanner.engine.apply([ResourceLost("CRIMP-1", NOW, reason="breakdown")], NOW)
    app = Starlette(routes=plan_routes.routes(PlanView(replanner, None)))
    with TestClient(app) as client:
        answer = client.get("/api/plan/state")
        assert answer.status_code == 200
        body = answer.json()
        plan = client.get("/api/plan", headers={"Accept-Encoding": "gzip"})
        assert plan.headers["Content-Encoding"] == "gzip" and plan.json()["orders"]
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    schema = {**spec["components"]["schemas"]["PlanState"], "components": spec["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)
    documented = set(spec["components"]["schemas"]["PlanState"]["properties"])
    assert set(body) == documented  # every part documented, nothing documented missing
    assert any(w["resource"] == "CRIMP-1" and w["kind"] == "breakdown" for w in body["down"])


def test_an_orders_customer_passes_the_order_contract() -> None:
    plant = parse_plant(_plant_data())
    row = {"id": "SO-9", "product": "HARNESS-DOOR", "quantity": 5, "due": "2026-03-24T13:00:00Z"}
    (order,) = parse_orders({"orders": [{**row, "customer": "Nordlicht GmbH"}]}, plant)
    written = order_to_json(order)
    assert written["customer"] == "Nordlicht GmbH"
    validate_order(written, "order")  # what the event log records
    assert "customer" not in order_to_json(parse_orders({"orders": [row]}, plant)[0])
    with pytest.raises(ValueError, match="1 to 100 characters"):
        parse_orders({"orders": [{**row, "customer": "x" * 101}]}, plant)
