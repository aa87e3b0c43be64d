"""Cause chains on small hand-made problems: each late or early order names what held it.

Two crimpers, two crimp operators; steps hold a crimper and an operator for 60 minutes. The
floor events reach the engine as its triggers (a breakdown, a late delivery, absences) and the
chain is computed from the plan, its resource check and what the engine was told.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud.plant import Order, Plant, parse_orders, parse_plant
from cloud.replan import DeliveryLate, Engine, ResourceBack, ResourceLost
from cloud.scheduler.causes import Circumstances, Loss, explain
from cloud.scheduler.service import plan_orders, schedule_document

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _plant() -> Plant:
    always = {"id": "c", "shifts": [{"days": DAYS, "start": "00:00", "end": "24:00"}]}
    holds = [{"group": "crimpers"}, {"group": "crimp-ops"}]
    return parse_plant(
        {
            "site": "plant1", "timezone": "UTC", "slot_minutes": 5, "calendars": [always],
            "resources": [
                {"id": "crimp-01", "kind": "machine", "calendar": "c"},
                {"id": "crimp-02", "kind": "machine", "calendar": "c"},
                {"id": "OP-ANNA", "kind": "operator", "calendar": "c", "skills": ["crimp"]},
                {"id": "OP-BEN", "kind": "operator", "calendar": "c", "skills": ["crimp"]},
            ],
            "groups": [
                {"id": "crimpers", "kind": "machine", "members": ["crimp-01", "crimp-02"]},
                {"id": "crimp-ops", "kind": "operator", "skill": "crimp"},
            ],
            "materials": [{"id": "terminal-b"}],
            "products": [
                {"id": "P", "steps": [{"id": "crimp", "setup_min": 60, "holds": holds}]},
                {"id": "Q", "steps": [
                    {"id": "crimp", "setup_min": 60, "holds": holds, "materials": ["terminal-b"]},
                ]},
            ],
            "planning": {"improve_seconds": 0.01, "improve_iterations": 1},
        }
    )  # fmt: skip


def _orders(plant: Plant, *due_min: int, product: str = "P") -> list[Order]:
    rows: list[dict[str, Any]] = [
        {"id": f"O-{n}", "product": product, "quantity": 1,
         "due": (NOW + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for n, m in enumerate(due_min, start=1)
    ]  # fmt: skip
    return parse_orders({"orders": rows}, plant)


def _late(eng: Engine, now: datetime) -> dict[str, Any]:
    return {oid: c for oid, c in eng.causes(now).items() if c.status == "late"}


@pytest.mark.parametrize("broken_at", [0, 25])
def test_a_breakdown_is_the_cause_of_the_order_it_makes_late(broken_at: int) -> None:
    plant = _plant()
    eng = Engine(plant, _orders(plant, 120, 120, 180, 180), NOW, frozen=timedelta(0))
    assert eng.causes(NOW) == {}  # all on time, two per crimper
    at = NOW + timedelta(minutes=broken_at)
    eng.apply([ResourceLost("crimp-02", at, reason="breakdown")], at)
    lates = _late(eng, at).values()
    assert lates
    for late in lates:  # every order it makes late names it first
        first = late.primary
        assert first is not None and (first.kind, first.resource, first.step) == (
            "breakdown", "crimp-02", "crimp",
        )  # fmt: skip
        assert first.event == f"breakdown at crimp-02 since {at:%H:%M}"
        assert first.start == at and first.end is None
        assert "until further notice" in first.text
        # The other crimper is held by other orders: the chain says so too.
        capacity = [c for c in late.causes if c.kind == "capacity"]
        assert capacity and capacity[0].orders and late.order not in capacity[0].orders
        assert f"crimp-01 busy with {capacity[0].orders[0]}" in capacity[0].event
        assert late.summary.startswith(first.text)
    # Repaired: the breakdown is no cause any more.
    back = at + timedelta(minutes=5)
    eng.apply([ResourceBack("crimp-02", back)], back)
    assert all(c.kind != "breakdown" for chain in eng.causes(back).values() for c in chain.causes)


def test_a_late_delivery_is_named_by_its_delivery() -> None:
    plant = _plant()
    eng = Engine(plant, _orders(plant, 90, product="Q"), NOW, frozen=timedelta(0))
    ready = NOW + timedelta(minutes=75)
    eng.apply([DeliveryLate("terminal-b", ready, "D-2002")], NOW)
    (late,) = _late(eng, NOW).values()
    assert late.tardiness_min == 45
    first = late.primary
    assert first is not None and (first.kind, first.material) == ("delivery", "terminal-b")
    assert first.event == "delivery D-2002 ready 09:15"
    assert (
        first.text == "crimp: blocked by material terminal-b to 09:15 (delivery D-2002 ready 09:15)"
    )


def test_no_qualified_operator_present_names_the_skill() -> None:
    plant = _plant()
    eng = Engine(plant, _orders(plant, 90), NOW, frozen=timedelta(0))
    end = NOW + timedelta(hours=3)
    eng.apply([ResourceLost(op, NOW, end, reason="absent") for op in ("OP-ANNA", "OP-BEN")], NOW)
    (late,) = _late(eng, NOW).values()
    first = late.primary
    assert first is not None and (first.kind, first.group) == ("absent", "crimp-ops")
    assert first.event == "no operator with skill crimp present: OP-ANNA, OP-BEN absent"
    assert (first.start, first.end) == (NOW, end)


def test_one_absent_operator_and_the_other_busy() -> None:
    plant = _plant()
    eng = Engine(plant, _orders(plant, 90, 90), NOW, frozen=timedelta(0))
    eng.apply([ResourceLost("OP-ANNA", NOW, NOW + timedelta(hours=8), reason="absent")], NOW)
    (late,) = _late(eng, NOW).values()
    kinds = {c.kind: c for c in late.causes}
    assert kinds["absent"].resource == "OP-ANNA"
    assert kinds["absent"].event == "OP-ANNA absent since 08:00"
    assert kinds["absent"].text.startswith("crimp: blocked by OP-ANNA from 08:00 to 16:00 (")
    assert "OP-BEN busy with" in kinds["capacity"].event


def test_an_early_order_is_early_for_the_capacity_gap_without_any_floor_event() -> None:
    plant = _plant()
    result = plan_orders(plant, _orders(plant, 120, 120, 120), NOW, improve_s=0.01, improve_iters=1)
    chains = explain(result.model, result.plan, result.check, now=NOW)
    (early,) = chains.values()
    assert (early.status, early.earliness_min) == ("early", 60)
    # Both crimpers and both crimp operators are taken by the other two orders then.
    assert {c.group for c in early.causes} == {"crimpers", "crimp-ops"}
    for cause in early.causes:
        assert cause.kind == "capacity"
        assert set(cause.orders) == {"O-1", "O-2", "O-3"} - {early.order}
        assert f"capacity gap at {cause.group} " in cause.event
    # `taktline plan`'s schedule document carries the chain too.
    doc = schedule_document(result)
    row = next(o for o in doc["orders"] if o["order"] == early.order)
    assert row["cause"] == early.summary and row["causes"][0]["kind"] == "capacity"


def test_a_loss_is_matched_to_the_closed_slots_it_explains() -> None:
    plant = _plant()
    result = plan_orders(plant, _orders(plant, 60, 60), NOW, improve_s=0.01, improve_iters=1)
    # told, but outside the window the plan wanted: not a cause there
    later = Loss("crimp-02", NOW + timedelta(hours=5), None, "breakdown")
    circ = Circumstances(losses={"crimp-02": [later]})
    assert circ.loss_at("crimp-02", NOW, NOW + timedelta(hours=1)) is None
    assert explain(result.model, result.plan, result.check, circ, now=NOW) == {}


def test_the_chain_fits_its_schemas_and_every_kind_is_documented() -> None:
    import json
    from pathlib import Path
    from typing import get_args

    import jsonschema
    import yaml

    from cloud.replan import Replanner
    from cloud.replan.triggers import LostReason
    from cloud.scheduler.causes import RANK
    from contract.downlink import GapReport
    from taktline.clock import FakeClock

    docs = Path(__file__).resolve().parents[2] / "docs"
    schedule = json.loads((docs / "schemas/schedule.schema.json").read_text())
    gaps = json.loads((docs / "schemas/gap-report.schema.json").read_text())
    openapi = yaml.safe_load((docs / "openapi.yaml").read_text())
    kinds = set(RANK)
    assert set(schedule["$defs"]["cause"]["properties"]["kind"]["enum"]) == kinds
    assert set(gaps["$defs"]["cause"]["properties"]["kind"]["enum"]) == kinds
    assert set(openapi["components"]["schemas"]["Cause"]["properties"]["kind"]["enum"]) == kinds
    assert set(get_args(LostReason)) <= kinds  # every reason a resource is lost for
    plant = _plant()
    eng = Engine(plant, _orders(plant, 120, 120, 180, 180), NOW, frozen=timedelta(0))
    replanner = Replanner(eng, clock=FakeClock(NOW), improve=False)
    replanner.replan([ResourceLost("crimp-02", NOW, reason="breakdown")])
    document = replanner.document()
    assert any(o.get("causes") for o in document["orders"])
    jsonschema.validate(document, schedule)
    report = replanner.gap_report
    assert report["orders"] and all(o["causes"] for o in report["orders"])
    message = GapReport("plant1", 1, "2026-11-23T08:00:00Z", report["digest"],
                        tuple(report["gaps"]), tuple(report["orders"]))  # fmt: skip
    jsonschema.validate(json.loads(message.encode()), gaps)


def test_steps_running_late_and_a_late_transport_are_named() -> None:
    from cloud.replan import MaterialLate, StepLate, StepStarted

    plant = _plant()
    eng = Engine(plant, _orders(plant, 60, 60, 120, 120), NOW, frozen=timedelta(0))
    eng.apply([StepStarted(o, "crimp", NOW) for o in ("O-1", "O-2")], NOW)
    now, end = NOW + timedelta(minutes=30), NOW + timedelta(minutes=90)
    eng.apply([StepLate(o, "crimp", end) for o in ("O-1", "O-2")], now)
    chains = eng.causes(now)
    assert {o for o, c in chains.items() if c.status == "late"} == {"O-3", "O-4"}
    events = {c.event for c in chains["O-3"].causes if c.kind == "step_late"}
    assert "O-1/crimp running late on crimp-01, expected to end 09:30" in events
    assert "O-2/crimp running late on crimp-02, expected to end 09:30" in events
    eng.apply([MaterialLate("O-3", "crimp", "terminal-b", NOW + timedelta(minutes=150))], now)
    o3 = eng.causes(now)["O-3"]
    assert o3.tardiness_min == 90
    first = o3.primary
    assert first is not None and (first.kind, first.material) == ("transport", "terminal-b")
    assert first.event == "transport of terminal-b to the line ready 10:30"
