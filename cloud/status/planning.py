"""The planning state, folded from the `plan.*` events: what a restart must keep of the plan.

The ERP's orders (created, changed, cancelled), the changes waiting for a planner's decision, the
planners' pins (manual moves), planned maintenance and manual mode, the learned standard times
planners accepted, the orders files already imported, and the audit of who did what. It is part
of the resource status (`ResourceStatus.planning`), so it is snapshotted and restored with it by
the same fold code;
`cloud.replan` reads it at start and plans from there (`docs/replan.md`, "What a restart keeps").
Orders are kept as their JSON objects (`docs/schemas/orders.schema.json`); the planner parses them
against the plant model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "AUDIT_KEPT",
    "AcceptedTime",
    "AuditRecord",
    "MaintenanceRecord",
    "PendingRecord",
    "PinRecord",
    "PlanningLedger",
]

#: Audit entries kept in memory (the log keeps them all).
AUDIT_KEPT: Final = 10_000
#: Planned maintenance windows kept (the newest; the log keeps them all).
MAINTENANCE_KEPT: Final = 1000


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, when (`when` is when the cloud recorded it)."""

    who: str
    when: str
    what: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingRecord:
    """A change of a known order waiting for a planner's decision."""

    order: dict[str, Any]
    received: str
    source: str
    submitted_by: str


@dataclass(frozen=True)
class PinRecord:
    """A planner's manual move: the step starts at `start` on `resources`."""

    start: str
    resources: tuple[str, ...]
    by: str


@dataclass(frozen=True)
class MaintenanceRecord:
    """Maintenance a planner planned: `resource` out from `start` for `minutes`."""

    resource: str
    start: str
    minutes: int
    by: str
    at: str


@dataclass(frozen=True)
class AcceptedTime:
    """A learned standard time a planner accepted: seconds per unit, by whom, when recorded."""

    per_unit_s: float
    by: str
    at: str


class PlanningLedger:
    """Orders, pending changes, pins, manual mode, imported files and the audit, in log order."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, PendingRecord] = {}
        self.pins: dict[tuple[str, str], PinRecord] = {}
        self.manual: str | None = None
        self.imported: dict[str, str] = {}  # digest -> file name
        #: (product, step, station) -> the accepted learned time (absent: the standard)
        self.times: dict[tuple[str, str, str], AcceptedTime] = {}
        #: planned maintenance, in the order recorded (`plan.maintenance`)
        self.maintenance: list[MaintenanceRecord] = []
        self.audit: deque[AuditRecord] = deque(maxlen=AUDIT_KEPT)
        self.events = 0

    def apply(self, kind: str, payload: Mapping[str, Any], at: str) -> str | None:
        """Folds one `plan.*` event recorded at `at`; returns a one-line description."""
        self.events += 1
        by = str(payload["by"])
        if kind == "plan.order":
            return self._order(payload, by, at)
        if kind == "plan.cancel":
            oid = str(payload["order"])
            self.orders.pop(oid, None)
            self.pending.pop(oid, None)
            self._drop_pins(oid)
            self._audit(by, at, "cancel_order", order=oid, source=payload["source"])
            return f"order {oid} cancelled by {by}"
        if kind == "plan.pin":
            key = (str(payload["order"]), str(payload["step"]))
            self.pins[key] = PinRecord(str(payload["start"]), tuple(payload["resources"]), by)
            self._audit(by, at, "move_step", order=key[0], step=key[1], start=payload["start"])
            return f"{key[0]}/{key[1]} pinned at {payload['start']} by {by}"
        if kind == "plan.manual":
            self.manual = by if payload["on"] else None
            self._audit(by, at, "manual_mode_on" if payload["on"] else "manual_mode_off")
            return f"manual mode {'on' if payload['on'] else 'off'} by {by}"
        if kind == "plan.times":
            for item in payload["times"]:
                at_station = (str(item["product"]), str(item["step"]), str(item["station"]))
                if item["per_unit_s"] is None:
                    self.times.pop(at_station, None)
                else:
                    self.times[at_station] = AcceptedTime(float(item["per_unit_s"]), by, at)
            self._audit(by, at, "learned_times_accepted", times=len(payload["times"]))
            return f"{len(payload['times'])} learned standard time(s) accepted by {by}"
        if kind == "plan.maintenance":
            record = MaintenanceRecord(
                str(payload["resource"]), str(payload["start"]), int(payload["minutes"]), by, at
            )
            self.maintenance = [*self.maintenance[-(MAINTENANCE_KEPT - 1) :], record]
            self._audit(
                by, at, "maintenance_planned", resource=record.resource, start=record.start,
                minutes=record.minutes,
            )  # fmt: skip
            return f"maintenance of {record.resource} planned by {by} from {record.start}"
        if kind == "plan.import":
            self.imported[str(payload["digest"])] = str(payload["file"])
            self._audit(
                by, at, "orders_file_imported", file=payload["file"], orders=payload["orders"]
            )
            return f"orders file {payload['file']} imported"
        return None

    def _order(self, payload: Mapping[str, Any], by: str, at: str) -> str:
        order = dict(payload["order"])
        oid = str(order["id"])
        action = payload["action"]
        if action == "created":
            self.orders[oid] = order
            self._audit(by, at, "order_created", order=oid, source=payload["source"])
            return f"order {oid} created"
        if action == "pending":
            self.pending[oid] = PendingRecord(order, at, str(payload["source"]), by)
            self._audit(by, at, "order_change_pending", order=oid, source=payload["source"])
            return f"order {oid} changed: waits for a planner's decision"
        decision = str(payload["decision"])
        self.orders[oid] = order
        self.pending.pop(oid, None)
        if decision == "new":
            self._drop_pins(oid)
        self._audit(
            by, at, f"order_change_{decision}", order=oid, submitted_by=payload["submitted_by"]
        )
        return f"order {oid} changed ({decision}) by {by}"

    def _drop_pins(self, order: str) -> None:
        for key in [k for k in self.pins if k[0] == order]:
            del self.pins[key]

    def _audit(self, who: str, when: str, what: str, **detail: Any) -> None:
        self.audit.append(AuditRecord(who, when, what, detail))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (counts, manual mode, pending ids) for the status view."""
        return {
            "orders": len(self.orders),
            "pending": sorted(self.pending),
            "pins": len(self.pins),
            "manual": self.manual,
            "imported": len(self.imported),
            "times": len(self.times),
        }
