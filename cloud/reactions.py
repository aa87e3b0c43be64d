"""What the cloud does when the floor changes: stack lights, and triggers for the replanner.

After every ingest round (`committed`, called on the ingest thread once the round is folded into
the status) the stations the round touched are looked at again:

- each station's stack light follows its machine's state (`cloud.stack_lights`);
- a machine stopped for breakdown or maintenance is a lost resource for the plan
  (`ResourceLost`), and the same machine running again (or its stop explained otherwise) is
  back (`ResourceBack`);
- when the round carried lorry events, each delivery whose material-ready time slipped past the
  time the material is needed becomes a `DeliveryLate` per material (once per new ready time);
- real progress (the paper's resource plan updated from the floor): a job ticket read to start or
  end a job step is `StepStarted` / `StepEnded` for the order and step the ticket stands for (the
  plant model's tag directory), and while a step runs its counts give its expected end
  (`elapsed / done * remaining`): later than planned, it is a `StepLate` (told again only when the
  expectation moves by a minute or more; the replanner ignores small delays);
- operators' leave records (master data, `plant_changed`): each new one is the operator lost for
  its window (`ResourceLost(..., reason="absent")`), a withdrawn one brings the operator back;
- operators' presence (`cloud.status.labour.presence`, the Labour page's rule): an operator on
  shift not badged in by shift start + the plant's grace (and not on leave) is
  `ResourceLost(..., reason="absent")` until the shift ends; a badge read at a station or the
  rest zone during that shift brings them back (`ResourceBack`); and whenever the set of
  operators here (present or on break) changes, it is told (`OperatorsPresent`): the plan
  prefers them when it places steps. Looked at after every round
  (event time), at start (so a restarted cloud, whose status comes from the log, tells the
  replanner the same) and on the cloud's clock (`tick`, every `CloudSettings.floor_tick_s`), so
  an absence is noticed on time on a quiet floor too;
- tools (`cloud.tool_availability`): a tool past its service limit is out until a service is
  recorded (`tool_service`); a tool the plan needs soon (`tooling.lookahead_min`) at a machine other
  than where it is waits for its transfer from the crib or that machine (`tool_transfer`); one
  last seen by one gate reader only, with no transfer time known, is `tool_missing` until read
  again. Checked after every round that moved, counted or serviced a tool, on the floor clock's
  tick, else at most every `tool_check_every` of event time.

At start (`catch_up`) the same rules run over the restored status, so a restarted cloud plans
from the floor as it is: ongoing breakdowns, steps started and ended, late deliveries.

Station ids are the plant model's resource ids unless `resource_of` maps them. A lost machine is
out "until further notice" (every later job moves off it) unless the plant gives a
`repair_estimate` (its mean time to repair): then it is planned back after that long, and its
running again brings it back at once either way. The replanner coalesces bursts, so a flapping
stop costs one replan, not many.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from cloud.stack_lights import StackLights
from cloud.status import STOPPED, ResourceStatus
from cloud.store import LogRecord
from cloud.tool_availability import ToolWatch

__all__ = ["FloorReactions", "TriggerSink"]

log = logging.getLogger(__name__)

#: Stop reasons that take the machine out of the plan; other stops are the plan's own business.
LOSING_REASONS: Final = frozenset({"breakdown", "maintenance"})
_LORRY_EVENTS: Final = frozenset({"gps.position", "gps.fix", "package.read"})
_RETELL: Final = timedelta(minutes=1)
#: Events after which the tools are looked at again at once (not only every `tool_check_every`).
_TOOL_EVENTS: Final = frozenset({"tool.gate", "tool.read", "correction"})


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
        jobs_of: Callable[[str], Iterable[Any]] | None = None,
    ) -> None:
        self.status = status
        self.lights = lights
        self.replanner = replanner
        self.resource_of = resource_of
        self.repair_estimate = repair_estimate
        self._lost: dict[str, str] = {}  # station -> the losing reason the plan was told
        self._late: dict[tuple[str, str], str] = {}  # (delivery, material) -> ready time told
        self._told_late: dict[tuple[str, str], datetime] = {}  # (order, step) -> expected end
        self._leave: set[tuple[str, datetime, datetime]] = set()  # leave windows told
        self._absent: dict[str, datetime] = {}  # operator -> start of the shift told absent
        self._here: frozenset[str] | None = None  # operators told present (or on break)
        self.tool_check_every = timedelta(seconds=10)
        self._tools_checked: datetime | None = None
        self._jobs_of: Callable[[str], Iterable[Any]] = jobs_of or (lambda resource: ())
        self.tools = ToolWatch(status, self._submit, lambda r: self._jobs_of(r))
        self._tools_lock = threading.Lock()  # ingest's thread and the corrections' (web) thread
        self.triggers = 0
        #: Ingest's rounds, the clock's ticks and master-data changes come on different threads.
        self._lock = threading.RLock()

    def committed(self, records: Iterable[LogRecord]) -> None:
        """Looks at what one ingest round changed (ingest's thread, after the status fold)."""
        with self._lock:
            self._committed(list(records))

    def tick(self, now: datetime) -> None:
        """The clock moved on (the cloud's floor clock): absences and missing tools now.

        Presence depends on the time as well as on events: an operator who does not badge in
        produces no event at all, so without the tick the absence would be noticed only at the
        floor's next event.
        """
        if self.replanner is None:
            return
        with self._lock:
            self._tools(now)
            self._presence(now)

    def _committed(self, records: list[LogRecord]) -> None:
        stations: set[str] = set()
        counted: dict[str, str] = {}
        lorry = tooled = False
        tickets: list[LogRecord] = []
        latest = ""
        for record in records:
            latest = max(latest, record.corrected_time)
            tooled = tooled or record.type in _TOOL_EVENTS
            if record.station:
                stations.add(record.station)
                if record.type == "machine.signal":
                    counted[record.station] = record.corrected_time
            if record.type in _LORRY_EVENTS:
                lorry = True
            elif record.type == "job.ticket":
                tickets.append(record)
        for station in sorted(stations):
            self._station(station)
        if self.replanner is None:
            return
        for record in tickets:
            self._ticket(record)
        for station, latest in sorted(counted.items()):
            self._progress(station, latest)
        if lorry:
            self._deliveries()
        if latest:
            mounted = any(
                (m := self.status.machines.get(s)) is not None and m.tool for s in counted
            )
            self._tools(_utc(latest), force=tooled or mounted)
            self._presence(_utc(latest))

    def tools_changed(self, now: datetime) -> None:
        """A tool's facts changed outside an ingest round (a correction): looks at them now."""
        if self.replanner is not None:
            self._tools(now, force=True)

    def catch_up(self) -> None:
        """At start: what the restored status already knows, told to the replanner and lights.

        A restarted cloud must not plan blind until the next event: machines already broken
        down or in maintenance are lost, job steps started or ended are real progress, and
        deliveries already late are late (leave records come from `plant_changed`).
        """
        with self._lock:
            self._catch_up()

    def _catch_up(self) -> None:
        for station in sorted(self.status.machines):
            self._station(station)
        if self.replanner is None:
            return
        from cloud.replan import StepEnded, StepStarted

        for job in sorted(self.status.jobs.values(), key=lambda j: j.started):
            entry = self.status.master.ticket(job.ticket)
            if entry is None or not entry.ref or not entry.step:
                continue
            self._submit(StepStarted(entry.ref, entry.step, _utc(job.started)))
            if job.ended is not None:
                self._submit(StepEnded(entry.ref, entry.step, _utc(job.ended)))
        self._deliveries()
        if self.status.latest is not None:
            self._presence(_utc(self.status.latest))
            self._tools(_utc(self.status.latest), force=True)

    def plant_changed(self, plant: Any) -> None:
        """The master data changed: leave records become lost (or returned) operators."""
        if self.replanner is None:
            return
        with self._lock:
            self._plant_changed(plant)

    def _plant_changed(self, plant: Any) -> None:
        from cloud.replan import ResourceBack, ResourceLost

        windows = {(leave.operator, leave.start, leave.end) for leave in plant.leave}
        for operator, start, end in sorted(windows - self._leave):
            self._submit(ResourceLost(operator, start, end, reason="absent"))
        for operator, start, _end in sorted(self._leave - windows):
            self._submit(ResourceBack(operator, start))
        self._leave = windows

    def _presence(self, now: datetime) -> None:
        from cloud.replan import OperatorsPresent, ResourceBack, ResourceLost

        master = self.status.master
        if master.plant is None:
            return
        grace = timedelta(minutes=master.plant.absent_grace_min)
        badges = {e.ref: tag for tag, e in master.tags.items() if e.kind == "badge"}
        here: set[str] = set()
        for operator in master.resources.values():
            if operator.kind != "operator":
                continue
            tag = badges.get(operator.id)
            person = self.status.people.get(tag) if tag is not None else None
            shown = master.presence(operator, person, now, self.status.settle)
            if shown in ("present", "on_break"):
                here.add(operator.id)
            told = self._absent.get(operator.id)
            shift = master.shift_of(operator, now)
            if shown == "absent" and shift is not None and told != shift.start:
                self._absent[operator.id] = shift.start
                self._submit(
                    ResourceLost(operator.id, shift.start + grace, shift.end, reason="absent")
                )
            elif told is not None and shown in ("present", "on_break"):
                del self._absent[operator.id]
                seen = person.last_seen if person is not None else None
                self._submit(ResourceBack(operator.id, _utc(seen) if seen else now))
            elif told is not None and shift is None:
                del self._absent[operator.id]  # the shift is over: its window ended with it
        if frozenset(here) != self._here:
            self._here = frozenset(here)
            self._submit(OperatorsPresent(self._here, now))

    def _tools(self, now: datetime, *, force: bool = False) -> None:
        with self._tools_lock:
            checked = self._tools_checked
            if not force and checked is not None and now - checked < self.tool_check_every:
                return
            self._tools_checked = now
            self.tools.check(now)

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

    def _ticket(self, record: LogRecord) -> None:
        from cloud.replan import StepEnded, StepStarted

        event = record.event if record.event is not None else json.loads(record.body)
        entry = self.status.master.ticket(event["payload"]["tag"])
        if entry is None or not entry.ref or not entry.step:
            return  # a ticket the tag directory does not place: the status shows it as it is
        at = _utc(record.corrected_time)
        if event["payload"]["action"] == "start":
            self._submit(StepStarted(entry.ref, entry.step, at))
        else:
            self._told_late.pop((entry.ref, entry.step), None)
            self._submit(StepEnded(entry.ref, entry.step, at))

    def _progress(self, station: str, latest: str) -> None:
        from cloud.replan import StepLate

        machine = self.status.machines.get(station)
        job = self.status.jobs.get(machine.job) if machine is not None and machine.job else None
        entry = self.status.master.ticket(job.ticket) if job is not None else None
        if job is None or entry is None or not entry.quantity or not entry.ref:
            return
        done = job.good + job.scrap if job.good + job.scrap else job.cycles
        if not 0 < done < entry.quantity:
            return
        started, now = _utc(job.started), _utc(latest)
        expected = now + (now - started) / done * (entry.quantity - done)
        key = (entry.ref, entry.step)
        told = self._told_late.get(key)
        if told is None or abs(expected - told) >= _RETELL:
            self._told_late[key] = expected
            self._submit(StepLate(entry.ref, entry.step, expected))

    def _deliveries(self) -> None:
        from cloud.replan import DeliveryLate

        view = self.status.snapshot().get("deliveries", {}).get("deliveries", {})
        for name, delivery in view.items():
            if not delivery.get("late") or not delivery.get("ready"):
                continue
            for material in delivery.get("materials", []):
                if self._late.get((name, material)) != delivery["ready"]:
                    self._late[(name, material)] = delivery["ready"]
                    self._submit(DeliveryLate(material, _utc(delivery["ready"]), name))

    def _submit(self, trigger: Any) -> None:
        assert self.replanner is not None
        log.info("replan trigger: %s", trigger)
        self.triggers += 1
        self.replanner.submit(trigger)
