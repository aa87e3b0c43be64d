"""A product's demand per day, from the orders the event log holds.

The planning ledger (`cloud.status.planning`, folded from the `plan.*` events) keeps every order
the ERP sent and planners changed, cancelled ones removed. Demand is an order's quantity on the
day it is due, in the plant's time zone; days without orders are zeros, so intermittent demand
reads as what it is. The series runs from the first day with an order to `until` (default: the
last one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["daily_demand"]


def daily_demand(
    orders: Iterable[Mapping[str, Any]], timezone: str = "UTC", until: date | None = None
) -> tuple[date, dict[str, list[float]]]:
    """(first day, product -> quantity due per day from it), every product on the same days."""
    zone = ZoneInfo(timezone)
    per_day: dict[tuple[str, date], float] = {}
    for order in orders:
        due = datetime.fromisoformat(str(order["due"]).replace("Z", "+00:00")).astimezone(zone)
        key = (str(order["product"]), due.date())
        per_day[key] = per_day.get(key, 0.0) + float(order["quantity"])
    if not per_day:
        return (until or date.today()), {}
    first = min(day for _, day in per_day)
    last = until or max(day for _, day in per_day)
    days = (last - first).days + 1
    series: dict[str, list[float]] = {}
    for product in sorted({p for p, _ in per_day}):
        series[product] = [
            per_day.get((product, first + timedelta(days=n)), 0.0) for n in range(days)
        ]
    return first, series
