"""What the cloud does when the floor changes: stack lights, and triggers for the replanner.

After every ingest round (`committed`, called on the ingest thread once the round is folded into
the status) the stations the round touched are looked at again:

- each station's stack light follows its machine's state (`cloud.stack_lights`);
- a machine stopped for breakdown or maintenance is a lost resource for the plan
  (`ResourceLost`), and the same machine running again (or its stop explained otherwise) is
  back (`ResourceBack`);
- when the round carried lorry events, each delivery whose material-ready time slipped past the
  time the material is needed becomes a `DeliveryLate` per material (once per new ready time).

Station ids are the plant model's resource ids unless `resource_of` maps them. A lost machine is
out "until further notice" (every later job moves off it) unless the plant gives a
`repair_estimate` (its mean time to repair): then it is planned back after that long, and its
running again brings it back at once either way. The replanner coalesces bursts, so a flapping
stop costs one replan, not many.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from cloud.stack_lights import StackLights
from cloud.status import STOPPED, ResourceStatus
from cloud.store import LogRecord

__all__ = ["FloorReactions", "TriggerSink"]

log = logging.getLogger(__name__)

#: Stop reasons that take the machine out of the plan; other stops are the plan's own business.
LOSING_REASONS: Final = frozenset({"breakdown", "maintenance"})
_LORRY_EVENTS: Final = frozenset({"gps.position", "gps.fix", "package.read"})


class TriggerSink(Protocol):
    """Where triggers go (`cloud.replan.Replanner` is one)."""

    def submit(self, trigger: Any) -> None:
        """Queues one trigger."""
        ...


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FloorReactions:
    """Turns committed rounds into stack-light commands and replan triggers."""

    def __init__(
        self,
        status: ResourceStatus,
        *,
        lights: StackLights | None = None,
        replanner: TriggerSink | None = None,
        resource_of: Callable[[str], str | None] = lambda station: station,
        repair_estimate: timedelta | None = None,
    ) -> None:
        self.status = status
        self.lights = lights
        self.replanner = replanner
        self.resource_of = resource_of
        self.repair_estimate = repair_estimate
        self._lost: dict[str, str] = {}  # station -> the losing reason the plan was told
        self._late: dict[tuple[str, str], str] = {}  # (delivery, material) -> ready time told
        self.triggers = 0

    def committed(self, records: Iterable[LogRecord]) -> None:
        """Looks at what one ingest round changed (ingest's thread, after the status fold)."""
        stations: set[str] = set()
        lorry = False
        for record in records:
            if record.station:
                stations.add(record.station)
            if record.type in _LORRY_EVENTS:
                lorry = True
        for station in sorted(stations):
            self._station(station)
        if lorry and self.replanner is not None:
            self._deliveries()

    def _station(self, station: str) -> None:
        machine = self.status.machines.get(station)
        if machine is None:
            return
        state, reason = machine.state, machine.stop_reason
        if self.lights is not None:
            self.lights.update(station, state, reason)
        if self.replanner is None:
            return
        resource = self.resource_of(station)
        if resource is None:
            return
        from cloud.replan import ResourceBack, ResourceLost

        losing = state == STOPPED and reason in LOSING_REASONS
        told = self._lost.get(station)
        at = _utc(machine.since) if machine.since else None
        if losing and told != reason and at is not None:
            self._lost[station] = str(reason)
            until = at + self.repair_estimate if self.repair_estimate is not None else None
            self._submit(ResourceLost(resource, at, until, reason=reason))  # type: ignore[arg-type]
        elif not losing and told is not None and at is not None:
            del self._lost[station]
            self._submit(ResourceBack(resource, at))

    def _deliveries(self) -> None:
        from cloud.replan import DeliveryLate

        view = self.status.snapshot().get("deliveries", {}).get("deliveries", {})
        for name, delivery in view.items():
            if not delivery.get("late") or not delivery.get("ready"):
                continue
            for material in delivery.get("materials", []):
                if self._late.get((name, material)) != delivery["ready"]:
                    self._late[(name, material)] = delivery["ready"]
                    self._submit(DeliveryLate(material, _utc(delivery["ready"])))

    def _submit(self, trigger: Any) -> None:
        assert self.replanner is not None
        log.info("replan trigger: %s", trigger)
        self.triggers += 1
        self.replanner.submit(trigger)
