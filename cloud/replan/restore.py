"""What the planner takes back from the event log at start: orders, pins, decisions, maintenance.

The planning ledger (`cloud.status.planning`, folded from the `plan.*` events) holds the orders
as JSON; here they are read against the current plant model, with the pins, the pending changes
and manual mode, in the shapes the engine, the desk and the replanner keep. An order
the plant model no longer fits (its product removed) is left out and named, never a failed start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cloud.plant import Order, Plant, PlantInvalid, parse_orders
from cloud.replan.intake import PendingChange
from cloud.status.planning import PlanningLedger

__all__ = ["RestoredPlanning", "restore_planning"]

log = logging.getLogger(__name__)


@dataclass
class RestoredPlanning:
    """The planning state in the planner's own types."""

    orders: list[Order] = field(default_factory=list)
    pins: dict[tuple[str, str], tuple[datetime, tuple[str, ...]]] = field(default_factory=dict)
    pending: dict[str, PendingChange] = field(default_factory=dict)
    manual: str | None = None
    #: Planned maintenance: (machine, start, end), the plant model's machines only.
    maintenance: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    #: Orders in the log the plant model no longer fits, with the reason.
    skipped: dict[str, str] = field(default_factory=dict)


def _order(data: dict[str, object], plant: Plant) -> Order:
    return parse_orders({"orders": [data]}, plant)[0]


def restore_planning(ledger: PlanningLedger, plant: Plant) -> RestoredPlanning:
    """Reads the ledger against `plant`."""
    out = RestoredPlanning(manual=ledger.manual)
    for oid, data in ledger.orders.items():
        try:
            out.orders.append(_order(data, plant))
        except PlantInvalid as exc:
            out.skipped[oid] = "; ".join(exc.errors)
    for oid, change in ledger.pending.items():
        try:
            order = _order(change.order, plant)
        except PlantInvalid as exc:
            out.skipped.setdefault(oid, "; ".join(exc.errors))
            continue
        out.pending[oid] = PendingChange(order, change.received, change.source, change.submitted_by)
    machines = {r.id for r in plant.resources if r.kind == "machine"}
    for record in ledger.maintenance:
        if record.resource in machines:
            start = datetime.fromisoformat(record.start.replace("Z", "+00:00"))
            out.maintenance.append(
                (record.resource, start, start + timedelta(minutes=record.minutes))
            )
    live = {o.id for o in out.orders}
    for (oid, step), pin in ledger.pins.items():
        if oid in live:
            start = datetime.fromisoformat(pin.start.replace("Z", "+00:00"))
            out.pins[(oid, step)] = (start, pin.resources)
    for oid, reason in out.skipped.items():
        log.error("order %s from the event log is not planned: %s", oid, reason)
    return out
