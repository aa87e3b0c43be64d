"""Scenarios: nothing changed is the live plan; a breakdown scenario is the real replan after that
breakdown; every kind of change plans, and names the plan does not know are refused."""

from __future__ import annotations

import copy
import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from cloud.plant import Plant, load_orders, load_plant
from cloud.replan import Engine, Replanner, ResourceLost
from cloud.whatif import Scenario, ScenarioInvalid, plan_digest, run_scenarios
from demo.plant_model import write_master_data
from taktline.clock import FakeClock

START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _plant_and_orders(folder: Path) -> tuple[Plant, list]:  # type: ignore[type-arg]
    plant_path, orders_path = write_master_data(folder, START)
    # an iteration budget that binds long before the clock: the same plan on any machine load
    plant = dataclasses.replace(
        load_plant(plant_path), improve_seconds=60.0, improve_iterations=300
    )
    return plant, load_orders(orders_path, plant)


def _scenarios(raw: object) -> list[Scenario]:
    return msgspec.convert(raw, list[Scenario])


def test_no_change_is_the_live_plan_and_a_breakdown_is_the_real_replan(tmp_path: Path) -> None:
    plant, orders = _plant_and_orders(tmp_path)
    now = START + timedelta(minutes=5)
    live = Replanner(Engine(plant, orders, now), improve=True, clock=FakeClock(now))
    live.engine.improve(now)
    before = plan_digest(live.engine)
    kept = copy.deepcopy(live.engine)
    down = {"kind": "machine_down", "resource": "crimp-02", "hours": 2, "start": now.isoformat()}
    same, broken = run_scenarios(
        live.engine,
        _scenarios([{"name": "as planned"}, {"name": "crimp-02 down", "changes": [down]}]),
        now,
    )
    assert same.digest == before  # nothing changed: the live plan itself
    assert plan_digest(live.engine) == before  # and the live plan was not touched
    # the real replan after the same breakdown, through the replanner's own path
    live.replan([ResourceLost("crimp-02", now, now + timedelta(hours=2))])
    assert broken.digest == plan_digest(live.engine) != before
    assert broken.kpis["weighted_cost"] >= same.kpis["weighted_cost"] - 1e-6
    assert plan_digest(kept) == before


def test_every_kind_of_change_plans_and_moves_the_figures(tmp_path: Path) -> None:
    plant, orders = _plant_and_orders(tmp_path)
    now = START + timedelta(minutes=5)
    base = Engine(plant, orders, now)
    first = orders[0]
    supplier = next(m.supplier for m in plant.materials.values() if m.supplier)
    material = next(iter(plant.materials))
    operator = next(r.id for r in plant.resources if r.kind == "operator")
    calendar = next(iter(plant.calendars))
    due = (first.due + timedelta(hours=3)).isoformat()
    raw = [
        {"name": "base"},
        {"name": "rush", "changes": [{"kind": "rush_order", "order": "RUSH-1",
                                     "product": first.product, "quantity": 40,
                                     "due": (now + timedelta(hours=2)).isoformat()}]},
        {"name": "cancel", "changes": [{"kind": "cancel_order", "order": first.id}]},
        {"name": "split", "changes": [{"kind": "split_order", "order": first.id, "lots": 3}]},
        {"name": "later", "changes": [{"kind": "due_date", "order": first.id, "due": due}]},
        {"name": "more", "changes": [{"kind": "quantity", "order": first.id, "quantity": 400}]},
        {"name": "supplier", "changes": [{"kind": "supplier_delayed", "supplier": supplier,
                                         "hours": 6}]},
        {"name": "material", "changes": [{"kind": "material_delayed", "material": material,
                                         "hours": 1}]},
        {"name": "absent", "changes": [{"kind": "operator_absent", "operator": operator,
                                       "hours": 8}]},
        {"name": "closed", "changes": [{"kind": "shift_cancelled", "calendar": calendar,
                                       "start": now.isoformat(),
                                       "end": (now + timedelta(hours=4)).isoformat()}]},
    ]  # fmt: skip
    results = {r.name: r for r in run_scenarios(base, _scenarios(raw), now, improve=False)}
    n = results["base"].kpis["orders"]
    assert results["rush"].kpis["orders"] == n + 1
    assert results["cancel"].kpis["orders"] == n - 1
    assert results["split"].kpis["orders"] == n + 2
    assert results["more"].kpis["weighted_cost"] != results["base"].kpis["weighted_cost"]
    assert results["supplier"].kpis["tardiness_min"] > results["base"].kpis["tardiness_min"]
    assert results["closed"].kpis["tardiness_min"] >= results["base"].kpis["tardiness_min"]
    assert len({r.digest for r in results.values()}) >= 8  # each change moves the plan
    for result in results.values():
        figures = result.kpis
        assert 0 <= figures["on_time_pct"] <= 100 and figures["wip"] >= 0
        assert 0 <= figures["utilisation"] <= 1.0 + 1e-9
    late = results["supplier"].late_orders
    assert late and all(o["cause"] for o in late)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "machine_down", "resource": "crimp-9", "hours": 1}, "'crimp-9' is not in"),
        ({"kind": "machine_down", "resource": "OP-ANNA", "hours": 1}, "is not a machine"),
        ({"kind": "operator_absent", "operator": "crimp-01", "hours": 1}, "is not an operator"),
        ({"kind": "cancel_order", "order": "H-999"}, "order 'H-999' is not in the plan"),
        ({"kind": "supplier_delayed", "supplier": "nobody", "hours": 1}, "no material of"),
        ({"kind": "split_order", "order": "H-101", "lots": 50}, "cannot be split"),
    ],
)
def test_a_change_the_plan_does_not_know_is_refused_before_planning(
    tmp_path: Path, change: dict[str, object], words: str
) -> None:
    plant, orders = _plant_and_orders(tmp_path)
    base = Engine(plant, [dataclasses.replace(o, quantity=10) for o in orders], START)
    with pytest.raises(ScenarioInvalid, match=words):
        run_scenarios(base, _scenarios([{"name": "x", "changes": [change]}]), START)


def test_the_wire_type_refuses_what_it_cannot_mean() -> None:
    for bad in (
        {"name": "x", "changes": [{"kind": "machine_down", "resource": "m", "hours": 0}]},
        {"name": "x", "changes": [{"kind": "machine_down", "resource": "m", "hours": 1e9}]},
        {"name": "x", "changes": [{"kind": "teleport", "resource": "m"}]},
        {"name": "x", "changes": [{"kind": "due_date", "order": "o", "due": "2026-12-07T06:00"}]},
        {"name": "", "changes": []},
        {"name": "x", "extra": 1},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, Scenario)


def test_the_command_compares_scenarios_and_refuses_bad_ones_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from taktline.cli import main

    plant, orders = write_master_data(tmp_path, START)
    scenarios = tmp_path / "scenarios.json"
    scenarios.write_text(
        json.dumps(
            {
                "scenarios": [
                    {
                        "name": "crimp-02 down",
                        "changes": [{"kind": "machine_down", "resource": "crimp-02", "hours": 2}],
                    }
                ]
            }
        )
    )
    args = ["whatif", "--plant", str(plant), "--orders", str(orders), "--now", START.isoformat()]
    assert main([*args, "--scenarios", str(scenarios), "--no-improve"]) == 0
    out = capsys.readouterr().out
    assert "1 scenario(s) beside the base plan" in out
    assert re.search(r"^base\s+100\s", out, re.M) and re.search(r"^crimp-02 down\s", out, re.M)
    assert main([*args, "--scenarios", str(scenarios), "--no-improve", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in shown["scenarios"]] == ["base", "crimp-02 down"]
    scenarios.write_text(json.dumps([{"name": "x", "changes": [{"kind": "cancel_order",
                                                                "order": "NOPE"}]}]))  # fmt: skip
    assert main([*args, "--scenarios", str(scenarios)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "taktline whatif: order 'NOPE' is not in the plan"
