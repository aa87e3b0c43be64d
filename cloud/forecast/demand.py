"""The forecast where the plant uses it: expected orders, and the kanban loops' demand.

Per product, the daily demand series of the order history (`history.daily_demand`) is fitted
(`select.fit`) and forecast `horizon_days` ahead. Days after the last day with a known order
(the order book's end) up to the horizon are the *expected orders*: forecast quantities, marked
`forecast: true`, never planned or published as orders — a planner sees the demand coming that
the ERP has not sent yet. A material's forecast demand is the products' forecast units per day
that use it over the next day, per minute (the plan's demand is per minute over 24 h too, so the
two compare): the kanban loops are sized by the larger of the two (`docs/kanban.md`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cloud.forecast.history import daily_demand
from cloud.forecast.select import fit, predict
from cloud.plant import Plant

__all__ = ["ProductForecast", "forecast_products", "material_forecast"]

MIN_DAYS = 14


@dataclass
class ProductForecast:
    """One product's forecast from `start` (the day after its history)."""

    product: str
    kind: str
    method: str
    params: dict[str, float]
    days_of_history: int
    start: date
    daily: list[float] = field(default_factory=list)
    expected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "product": self.product,
            "kind": self.kind,
            "method": self.method,
            "params": self.params,
            "days_of_history": self.days_of_history,
            "from": self.start.isoformat(),
            "daily": [round(v, 2) for v in self.daily],
            "expected_orders": self.expected,
        }


def forecast_products(
    orders: Iterable[Mapping[str, Any]],
    timezone: str,
    today: date,
    *,
    horizon_days: int = 14,
    period: int = 7,
) -> dict[str, ProductForecast]:
    """Each product's forecast with its expected orders (products with too short a history out).

    The history runs up to `today` (orders due later are the known order book, not history).
    """
    book = [dict(o) for o in orders]
    _, history = daily_demand(
        [o for o in book if _day(o, timezone) < today], timezone, today - timedelta(days=1)
    )
    last_known: dict[str, date] = {}
    for order in book:
        day = _day(order, timezone)
        product = str(order["product"])
        last_known[product] = max(last_known.get(product, day), day)
    out: dict[str, ProductForecast] = {}
    for product, series in history.items():
        if len(series) < MIN_DAYS:
            continue
        fitted = fit(series, period)
        daily = [max(0.0, float(v)) for v in predict(fitted, series, horizon_days)]
        forecast = ProductForecast(
            product, fitted.kind, fitted.method, fitted.params, len(series), today, daily
        )
        book_end = last_known.get(product, today - timedelta(days=1))
        for n, quantity in enumerate(daily):
            day = today + timedelta(days=n)
            if day > book_end and quantity >= 0.5:
                forecast.expected.append(
                    {"day": day.isoformat(), "quantity": round(quantity), "forecast": True}
                )
        out[product] = forecast
    return out


def material_forecast(forecasts: Mapping[str, ProductForecast], plant: Plant) -> dict[str, float]:
    """Material -> forecast product units per minute over the next day (as the plan's demand)."""
    rates: dict[str, float] = {}
    for product, forecast in forecasts.items():
        known = plant.products.get(product)
        if known is None or not forecast.daily:
            continue
        per_minute = forecast.daily[0] / 1440.0
        for material in {m for step in known.steps for m in step.materials}:
            rates[material] = rates.get(material, 0.0) + per_minute
    return rates


def _day(order: Mapping[str, Any], timezone: str) -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    due = datetime.fromisoformat(str(order["due"]).replace("Z", "+00:00"))
    return due.astimezone(ZoneInfo(timezone)).date()
