"""The forecast where the plant uses it: expected orders after the order book, and a kanban loop
sized by the forecast where the plan's demand is smaller."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from cloud.forecast.demand import forecast_products, material_forecast
from cloud.plant import KanbanLoop
from cloud.status import StatusMaster
from cloud.status.kanban import KanbanLedger, render_kanban
from tests.floor.test_presence_plan import PLANT

TODAY = date(2026, 6, 1)


def _history(product: str, per_day: int, days: int, book_days: int) -> list[dict[str, object]]:
    """An order a day for `days` days up to TODAY, and `book_days` known ones from TODAY on."""
    start = datetime(2026, 6, 1, 10, tzinfo=UTC) - timedelta(days=days)
    return [
        {"id": f"{product}-{n}", "product": product, "quantity": per_day,
         "due": (start + timedelta(days=n)).isoformat()}
        for n in range(days + book_days)
    ]  # fmt: skip


def test_expected_orders_begin_after_the_order_book() -> None:
    orders = _history("HARNESS-DOOR", 100, 60, book_days=3)
    forecasts = forecast_products(orders, "UTC", TODAY)
    door = forecasts["HARNESS-DOOR"]
    assert door.days_of_history == 60 and door.daily[0] == 100
    days = [e["day"] for e in door.expected]
    assert days[0] == (TODAY + timedelta(days=3)).isoformat()  # after the three known days
    assert all(e["forecast"] is True and e["quantity"] == 100 for e in door.expected)
    assert forecast_products(_history("X", 5, 10, 0), "UTC", TODAY) == {}  # too short a history


def test_a_loop_is_sized_by_the_forecast_when_the_plan_uses_less() -> None:
    product = next(p for p in PLANT.products.values() if any(s.materials for s in p.steps))
    material = next(m for s in product.steps for m in s.materials)
    orders = _history(product.id, 1440, 30, 0)  # a unit a minute, every day
    rates = material_forecast(forecast_products(orders, "UTC", TODAY), PLANT)
    assert abs(rates[material] - 1.0) < 1e-6
    loop = KanbanLoop(
        id="L1", material=material, container_qty=60, lead_time_min=60.0, cards=("C1", "C2")
    )
    plant = dataclasses.replace(PLANT, kanban={"L1": loop})
    plan_only = StatusMaster.of(plant, {}, {material: 0.25})
    both = StatusMaster.of(plant, {}, {material: 0.25}, rates)
    by_plan = render_kanban(KanbanLedger(), plan_only, None)["loops"]["L1"]
    by_both = render_kanban(KanbanLedger(), both, None)["loops"]["L1"]
    assert by_plan["sized_by"] == "plan" and by_plan["forecast_per_h"] is None
    assert by_both["sized_by"] == "forecast" and by_both["forecast_per_h"] == 60.0
    assert by_both["recommended"] > by_plan["recommended"]
