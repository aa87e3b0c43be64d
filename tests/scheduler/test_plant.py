import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from cloud.plant import PlantInvalid, load_orders, load_plant, parse_orders, parse_plant
from cloud.scheduler.calendar import resource_masks

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def minimal_plant(**extra: object) -> dict[str, object]:
    plant: dict[str, object] = {
        "site": "t",
        "timezone": "Europe/Berlin",
        "calendars": [
            {
                "id": "day",
                "shifts": [
                    {
                        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        "start": "06:00",
                        "end": "14:00",
                    }
                ],
                "breaks": [
                    {
                        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        "start": "10:00",
                        "end": "10:30",
                    }
                ],
            }
        ],
        "resources": [{"id": "M1", "kind": "machine", "calendar": "day"}],
        "groups": [{"id": "g", "kind": "machine", "members": ["M1"]}],
        "products": [
            {"id": "P", "steps": [{"id": "s", "per_unit_min": 1, "holds": [{"group": "g"}]}]}
        ],
    }
    plant.update(extra)
    return plant


def test_example_plant_loads() -> None:
    plant = load_plant(EXAMPLES / "harness_plant.json")
    orders = load_orders(EXAMPLES / "harness_orders.json", plant)
    assert len(plant.resources) == 14
    assert plant.groups["crimp-operators"].members == ("OP-ANNA", "OP-BEN")
    assert len(orders) == 7


def test_errors_name_the_offending_item() -> None:
    data = minimal_plant(
        resources=[
            {"id": "M1", "kind": "machine", "calendar": "night"},
            {"id": "M1", "kind": "robot", "calendar": "day"},
        ],
        groups=[{"id": "g", "kind": "machine", "members": ["M1", "M9"]}],
        products=[
            {"id": "P", "steps": [{"id": "crimp", "per_unit_min": -1, "holds": [{"group": "x"}]}]}
        ],
    )
    with pytest.raises(PlantInvalid) as info:
        parse_plant(data)
    text = "\n".join(info.value.errors)
    assert "resources[0] ('M1').calendar: unknown calendar 'night'" in text
    assert "duplicate resource id 'M1'" in text
    assert "resources[1] ('M1').kind" in text
    assert "unknown resource 'M9'" in text
    assert "products[0] ('P').steps[0] ('crimp').per_unit_min" in text
    assert "steps[0] ('crimp').holds[0].group: unknown resource group 'x'" in text


def test_order_errors() -> None:
    plant = parse_plant(minimal_plant())
    with pytest.raises(PlantInvalid) as info:
        parse_orders(
            {
                "orders": [
                    {"id": "O1", "product": "P", "quantity": 0, "due": "2026-01-01T10:00"},
                    {
                        "id": "O2",
                        "product": "P",
                        "quantity": 1,
                        "due": "2026-01-01T10:00Z",
                        "steps": {"nope": {"due": "2026-01-01T09:00Z"}},
                    },
                ]
            },
            plant,
        )
    text = "\n".join(info.value.errors)
    assert "orders[0] ('O1').quantity" in text
    assert "orders[0] ('O1').due: must be UTC" in text
    assert "orders[1] ('O2').steps.nope: product 'P' has no step 'nope'" in text


@pytest.mark.parametrize(
    ("day", "utc_start"),
    [("2026-03-27", 5), ("2026-03-30", 4), ("2026-10-23", 4), ("2026-10-26", 5)],
)
def test_shifts_follow_daylight_saving_time(day: str, utc_start: int) -> None:
    plant = parse_plant(minimal_plant())
    origin = datetime.fromisoformat(day).replace(tzinfo=UTC)
    open_, open_span = resource_masks(plant, origin, 24 * 60)
    first = int(np.flatnonzero(open_span[0])[0])
    assert first == utc_start * 60  # 06:00 Berlin in UTC
    assert open_span[0].sum() == 8 * 60
    assert open_[0].sum() == 8 * 60 - 30  # the break


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(PlantInvalid, match="not valid JSON"):
        load_plant(bad)
    bad.write_text(json.dumps([1]))
    with pytest.raises(PlantInvalid, match="must be a JSON object"):
        load_plant(bad)


def test_planning_budget() -> None:
    assert parse_plant(minimal_plant()).improve_seconds == 1.0
    plant = parse_plant(minimal_plant(planning={"improve_seconds": 0.25, "improve_iterations": 9}))
    assert (plant.improve_seconds, plant.improve_iterations) == (0.25, 9)
    with pytest.raises(PlantInvalid, match=r"plant.planning.improve_seconds: must be a number"):
        parse_plant(minimal_plant(planning={"improve_seconds": -1}))
