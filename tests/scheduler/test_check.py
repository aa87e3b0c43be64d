import argparse
import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

from cloud.plant import Order, Plant, parse_orders, parse_plant
from cloud.scheduler.service import plan_orders

from .test_plant import minimal_plant

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday 06:00 in Berlin


def two_orders_one_machine(**plant_extra: object) -> tuple[Plant, list[Order]]:
    plant = parse_plant(minimal_plant(**plant_extra))
    orders = parse_orders(
        {
            "orders": [
                {"id": "A", "product": "P", "quantity": 60, "due": "2026-03-02T08:00:00Z"},
                {"id": "B", "product": "P", "quantity": 60, "due": "2026-03-02T08:00:00Z"},
            ]
        },
        plant,
    )
    return plant, orders


def test_gap_names_group_slots_and_orders() -> None:
    plant, orders = two_orders_one_machine()
    result = plan_orders(plant, orders, NOW, improve_s=0.1, improve_iters=5)
    starts = sorted(int(s) for s in result.plan.start)
    assert starts[1] - starts[0] == 60  # one after the other on the only machine
    gaps = [g for g in result.check.gaps if g.group == "g"]
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.shortfall == 1
    assert gap.end_slot - gap.start_slot == 60
    assert gap.orders == ["B"]
    assert gap.earliness_slots == 60
    (blocked,) = result.check.blocked
    assert blocked.order == "B" and blocked.groups == ("g",) and blocked.moved_slots == -60


def test_overlapping_groups_are_pooled() -> None:
    plant, orders = two_orders_one_machine(
        resources=[{"id": "OP", "kind": "operator", "calendar": "day", "skills": ["a", "b"]}],
        groups=[
            {"id": "g", "kind": "operator", "skill": "a"},
            {"id": "h", "kind": "operator", "skill": "b"},
        ],
        products=[
            {"id": "P", "steps": [{"id": "s", "per_unit_min": 1, "holds": [{"group": "g"}]}]},
            {"id": "Q", "steps": [{"id": "s", "per_unit_min": 1, "holds": [{"group": "h"}]}]},
        ],
    )
    orders[1] = dataclasses.replace(orders[1], product="Q")
    result = plan_orders(plant, orders, NOW, improve_s=0.1, improve_iters=5)
    # each group alone has its one operator; together they need two at once
    assert not [g for g in result.check.gaps if g.group in ("g", "h")]
    pooled = [g for g in result.check.gaps if g.group == "g+h"]
    assert pooled and pooled[0].shortfall == 1


def test_every_plan_option_is_documented() -> None:
    from cloud.scheduler import cli

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scheduler.md").read_text()
    for action in parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert re.search(re.escape(flag) + r"\b", doc), f"{flag} not in docs/scheduler.md"
