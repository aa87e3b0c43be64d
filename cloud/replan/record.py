"""The planning events the intake and the planners write: the plan's inputs kept in the log.

`PlanningRecorder` turns what the ERP and the planners say — orders created, changed (pending or
decided), cancelled; pins; manual mode; learned standard times accepted; an orders file imported —
into `plan.*` events (`contract.planning`) of the cloud's own source `cloud-planning`, committed and
folded into the status's planning ledger (`cloud.status.planning`) before anything acts on them. The
desk and the replanner record first and act second, so what the log holds is what the plan was told;
a restart folds the same events and plans from there.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from cloud.plant import Order, order_to_json
from cloud.recorder import CloudRecorder
from cloud.status import ResourceStatus
from cloud.status.planning import PlanningLedger
from cloud.store import EventLog
from contract.planning import PLANNING_SOURCE
from taktline.clock import Clock, utc_iso

__all__ = ["OrderFact", "PlanningRecorder"]

Action = Literal["created", "pending", "changed"]


def _text(moment: datetime) -> str:
    """The contract's UTC form, without a fraction when there is none (as the API shows it)."""
    return utc_iso(moment) if moment.microsecond else f"{utc_iso(moment)[:19]}Z"


class OrderFact:
    """One order event to record: what the intake did with `order`."""

    __slots__ = ("action", "by", "decision", "order", "source", "submitted_by")

    def __init__(
        self,
        action: Action,
        order: Order,
        by: str,
        source: str,
        decision: Literal["new", "adjust"] | None = None,
        submitted_by: str | None = None,
    ) -> None:
        self.action = action
        self.order = order
        self.by = by
        self.source = source
        self.decision = decision
        self.submitted_by = submitted_by

    def payload(self) -> dict[str, Any]:
        """The `plan.order` payload."""
        return {
            "action": self.action,
            "order": order_to_json(self.order),
            "by": self.by,
            "source": self.source[:100],
            "decision": self.decision,
            "submitted_by": self.submitted_by,
        }


class PlanningRecorder:
    """Writes `plan.*` events to the log (one transaction per call) and folds them."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        *,
        clock: Clock | None = None,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self._recorder = CloudRecorder(
            event_log, status, PLANNING_SOURCE, clock=clock, write_lock=write_lock
        )
        self.status = status

    @property
    def ledger(self) -> PlanningLedger:
        """The planning state folded from the log."""
        return self.status.planning

    def orders(
        self, facts: Sequence[OrderFact], cancels: Sequence[tuple[str, str, str]] = ()
    ) -> None:
        """Records order facts and cancellations `(order, by, source)`, all or none."""
        items: list[tuple[str, dict[str, Any], str | None]] = [
            ("plan.order", fact.payload(), None) for fact in facts
        ]
        items += [
            ("plan.cancel", {"order": oid, "by": by, "source": source[:100]}, None)
            for oid, by, source in cancels
        ]
        self._recorder.record_many(items)

    def pin(
        self, order: str, step: str, start: datetime, resources: Sequence[str], by: str
    ) -> None:
        """Records a planner's manual move."""
        payload = {
            "order": order,
            "step": step,
            "start": _text(start),
            "resources": list(resources),
            "by": by,
        }
        self._recorder.record("plan.pin", payload)

    def maintenance(self, resource: str, start: datetime, minutes: int, by: str) -> None:
        """Records maintenance a planner planned: `resource` out from `start` for `minutes`."""
        payload = {"resource": resource, "start": _text(start), "minutes": minutes, "by": by}
        self._recorder.record("plan.maintenance", payload)

    def manual(self, on: bool, by: str) -> None:
        """Records manual mode switched on or off."""
        self._recorder.record("plan.manual", {"on": on, "by": by})

    def times(self, times: Sequence[tuple[str, str, str, float | None]], by: str) -> None:
        """Records accepted learned times `(product, step, station, seconds per unit or None)`."""
        items = [
            {"product": product, "step": step, "station": station, "per_unit_s": per_unit}
            for product, step, station, per_unit in times
        ]
        self._recorder.record("plan.times", {"times": items, "by": by})

    def imported(self, file: str, digest: str, orders: int, by: str) -> None:
        """Records that the orders file with `digest` was imported."""
        payload = {"file": file, "digest": digest, "orders": orders, "by": by}
        self._recorder.record("plan.import", payload)
