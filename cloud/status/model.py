"""The resource status: every event folded, in log order, into machines, people, tools, lorries.

`ResourceStatus.apply` takes one committed event and its corrected time; folding the same log
always gives the same state (`rebuild`), which is why the fold keeps raw tags and never reads a
clock: event time is used inside the fold (a late, older lorry position does not move the lorry
back), and the master data (`StatusMaster`: names, skills, leave, needs, standards) is applied
when the state is shown (`snapshot`), against the newest event time unless told the time.
Hand corrections (`correction` events) change the state as the fact would have and are listed
with who, when and why. The planning events (`plan.*`: orders, decisions, pins, manual mode) fold
into `planning` (`cloud.status.planning`), so a snapshot keeps the planning state too.
Thread-safe; waiters are woken on every change (`wait_change`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from cloud.status.deliveries import ArrivalAdjuster, DeliveryState, LorryState
from cloud.status.jobs import SAMPLES, CycleSample, JobStep, seconds_between
from cloud.status.kanban import KANBAN_TYPES, KanbanLedger, render_kanban
from cloud.status.labour import OperatorState, Settle
from cloud.status.learned import LearnedTime, learned_times
from cloud.status.logistics import LOGISTICS_TYPES, LogisticsLedger, render_logistics
from cloud.status.machines import MachineState
from cloud.status.master import StatusMaster
from cloud.status.planning import AcceptedTime, PlanningLedger
from cloud.status.tooling import CRIB, DELIVERY, MACHINE, ToolState
from cloud.status.view import render, render_machine
from contract.fields import parse_time
from taktline.clock import utc_iso

__all__ = ["AgentState", "FoldFailed", "ResourceStatus"]

log_ = logging.getLogger(__name__)

CORRECTIONS_KEPT: Final = 500
#: Count events remembered by key, so a `void` correction can take their counts back.
COUNTS_KEPT: Final = 20_000


class FoldFailed(ValueError):
    """Folding an event raised: the event is dead-lettered by ingest and skipped by a rebuild."""


class AgentState:
    """One agent's link and buffer, from its status messages and heartbeats."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.online = False
        self.since: str | None = None
        self.outbox_depth: int | None = None
        self.outbox_oldest_age_s: float | None = None
        self.alarms: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "online": self.online,
            "since": self.since,
            "outbox_depth": self.outbox_depth,
            "outbox_oldest_age_s": self.outbox_oldest_age_s,
            "alarms": list(self.alarms),
        }


class ResourceStatus:
    """Machines, operators, tools, deliveries, jobs and agents; `apply()` in log order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._master = StatusMaster()
        self._adjusters: tuple[ArrivalAdjuster, ...] = ()
        self.version = 0
        self.machines: dict[str, MachineState] = {}
        self.people: dict[str, OperatorState] = {}
        self.tools: dict[str, ToolState] = {}
        self.lorries: dict[str, LorryState] = {}
        self.deliveries: dict[str, DeliveryState] = {}
        self.jobs: dict[str, JobStep] = {}
        self.samples: dict[str, deque[CycleSample]] = {}
        self.corrections: deque[dict[str, Any]] = deque(maxlen=CORRECTIONS_KEPT)
        self.counts: dict[tuple[str, int], tuple[str, str, int, str | None]] = {}
        self.agents: dict[str, AgentState] = {}
        #: The planning state (orders, decisions, pins, manual mode) from the `plan.*` events.
        self.planning = PlanningLedger()
        #: Kanban cards, smart bins and loop settings (`cloud.status.kanban`).
        self.kanban = KanbanLedger()
        #: Call-offs and AGV transports (`cloud.status.logistics`).
        self.logistics = LogisticsLedger()
        self.latest: str | None = None
        #: After a restart: absences that fell due while the cloud was down wait (`Settle`).
        self.settle: Settle | None = None
        self.applied = 0
        self.position = 0
        #: Events whose fold raised (dead-lettered at ingest, skipped by a rebuild).
        self.fold_failures = 0

    # --- pickling (snapshots): the fold's state only, never the plug-ins or the condition -------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_changed", "_master", "_adjusters"):
            state.pop(key)
        state["settle"] = None  # a start's, not the fold's
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("kanban", KanbanLedger())  # a snapshot from before kanban
        self.__dict__.setdefault("logistics", LogisticsLedger())
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._master = StatusMaster()
        self._adjusters = ()
        self.settle = None

    # --- configuration -------------------------------------------------------------------------

    def set_master(
        self,
        master: StatusMaster,
        adjusters: tuple[ArrivalAdjuster, ...] | None = None,
    ) -> None:
        """Uses new master data (and arrival plug-ins) from the next snapshot on."""
        with self._lock:
            self._master = master
            if adjusters is not None:
                self._adjusters = adjusters
            self._bump()

    @property
    def master(self) -> StatusMaster:
        """The master data the status is shown against."""
        return self._master

    def _bump(self) -> None:
        self.version += 1
        self._changed.notify_all()

    def wait_change(self, version: int, timeout: float) -> int:
        """Blocks until the status's version passes `version` or `timeout`; returns the version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version, timeout)
            return self.version

    # --- the fold ------------------------------------------------------------------------------

    def _machine(self, station: str) -> MachineState:
        machine = self.machines.get(station)
        if machine is None:
            machine = self.machines[station] = MachineState(station)
        return machine

    def _person(self, tag: str) -> OperatorState:
        person = self.people.get(tag)
        if person is None:
            person = self.people[tag] = OperatorState(tag)
        return person

    def _tool(self, tag: str) -> ToolState:
        tool = self.tools.get(tag)
        if tool is None:
            tool = self.tools[tag] = ToolState(tag)
        return tool

    def apply(self, event: Mapping[str, Any], corrected_time: str, position: int = 0) -> str | None:
        """Folds one event; returns a one-line description of the change, if any.

        Raises:
            FoldFailed: the fold raised (a bug, or an event no rule foresaw). What it changed
                before it raised stays: a rebuild of the same log does the same, so the state
                is still exactly a function of the log.
        """
        with self._lock:
            self.applied += 1
            self.position = max(self.position, position)
            if self.latest is None or corrected_time > self.latest:
                self.latest = corrected_time
            try:
                change = self._fold(event, corrected_time)
            except Exception as exc:
                self.fold_failures += 1
                raise FoldFailed(f"fold of {event.get('type')!r} failed: {exc!r}") from exc
            finally:
                self._bump()
            return change

    def _fold(self, event: Mapping[str, Any], at: str) -> str | None:
        kind = event["type"]
        payload = event["payload"]
        station = event.get("station")
        if kind == "machine.signal":
            return self._signal(event, self._machine(station or event["source"]), payload, at)
        if kind == "agent.heartbeat":
            agent = self.agents.setdefault(event["agent"], AgentState(event["agent"]))
            agent.outbox_depth = payload["outbox_depth"]
            agent.outbox_oldest_age_s = payload["outbox_oldest_age_s"]
            return None
        if kind == "agent.alarm":
            agent = self.agents.setdefault(event["agent"], AgentState(event["agent"]))
            agent.alarms = [*agent.alarms[-9:], f"{at} {payload['alarm']}: {payload['detail']}"]
            return f"agent {event['agent']} alarm {payload['alarm']}: {payload['detail']}"
        if kind == "rest.read":
            return self._rest(payload["tag"], event["source"], at)
        if kind == "tool.gate":
            return self._gate(payload, at)
        if kind in ("gps.position", "gps.fix", "package.read"):
            return self._lorry(kind, event["agent"], payload, at)
        if kind == "correction":
            return self._correction(payload, at)
        if kind.startswith("plan."):
            return self.planning.apply(kind, payload, at)
        if kind in KANBAN_TYPES:
            return self.kanban.apply(event, at)
        if kind in LOGISTICS_TYPES:
            return self.logistics.apply(kind, payload, at)
        if station is None:
            return None
        machine = self._machine(station)
        machine.last_event = at
        machine.agent = event["agent"]
        if kind == "badge.read":
            return self._badge(machine, payload["tag"], at)
        if kind == "tool.read":
            return self._mount(machine, payload["tag"], at)
        if kind == "job.ticket":
            return self._ticket(machine, payload["tag"], payload["action"], at)
        if kind == "machine.stop_reason":
            if machine.running or not machine.give_reason(payload["reason"], at):
                return f"{station}: stop reason {payload['reason']} while not stopped (ignored)"
            return f"{station}: stopped for {payload['reason']}"
        return None

    def _signal(
        self, event: Mapping[str, Any], machine: MachineState, payload: Mapping[str, Any], at: str
    ) -> str | None:
        machine.last_event = at
        machine.agent = event["agent"]
        signal = payload["signal"]
        if signal == "run":
            machine.running = payload["on"]
            state = machine.settle(at)
            return f"{machine.station}: {state}" if state else None
        self._count(machine, signal, payload["count"])
        if len(self.counts) >= COUNTS_KEPT:
            del self.counts[next(iter(self.counts))]  # the oldest: voids reach back this far
        self.counts[(event["instance"], event["seq"])] = (
            machine.station,
            signal,
            payload["count"],
            machine.job,
        )
        return None

    def _count(
        self, machine: MachineState, signal: str, count: int, job: str | None = None
    ) -> None:
        step = self.jobs.get(job or machine.job or "")
        if signal in ("cycle", "cycles"):
            machine.cycles += count
            if step is not None:
                step.cycles += count
            if machine.tool is not None:
                self._tool(machine.tool).count(count)
        elif signal == "good":
            machine.good += count
            if step is not None:
                step.good += count
        elif signal == "scrap":
            machine.scrap += count
            if step is not None:
                step.scrap += count

    def _badge(self, machine: MachineState, tag: str, at: str) -> str:
        # A badge read toggles: tap in at a machine, tap again to leave; tapping in elsewhere
        # moves the operator there (a forgotten badge-out).
        person = self._person(tag)
        person.last_seen = at
        if person.station == machine.station:
            self._leave_station(person, at)
            return f"{machine.station}: operator {tag} out"
        self._leave_station(person, at)
        person.station, person.rest_zone, person.since = machine.station, None, at
        machine.operators.append(tag)
        return f"{machine.station}: operator {tag} in"

    def _leave_station(self, person: OperatorState, at: str) -> None:
        if person.station is not None:
            machine = self.machines.get(person.station)
            if machine is not None and person.tag in machine.operators:
                machine.operators.remove(person.tag)
            person.station, person.since = None, at

    def _rest(self, tag: str, zone: str, at: str) -> str:
        person = self._person(tag)
        person.last_seen = at
        self._leave_station(person, at)
        person.rest_zone, person.since = zone, at
        return f"operator {tag} at rest ({zone})"

    def _mount(self, machine: MachineState, tag: str, at: str) -> str:
        if machine.tool is not None and machine.tool != tag:
            self._tool(machine.tool).move(DELIVERY, None, at)
        tool = self._tool(tag)
        if tool.place == MACHINE and tool.station not in (None, machine.station):
            other = self.machines.get(tool.station or "")
            if other is not None and other.tool == tag:
                other.tool = None
        tool.move(MACHINE, machine.station, at)
        machine.tool = tag
        return f"{machine.station}: tool {tag} on the machine"

    def _unmount(self, tag: str) -> None:
        tool = self.tools.get(tag)
        if tool is not None and tool.station is not None:
            machine = self.machines.get(tool.station)
            if machine is not None and machine.tool == tag:
                machine.tool = None

    def _gate(self, payload: Mapping[str, Any], at: str) -> str:
        tag, direction = payload["tag"], payload["direction"]
        tool = self._tool(tag)
        if direction == "unpaired":
            tool.unpaired_reader, tool.unpaired_at = payload["readers"][0], at
            return f"tool {tag}: unpaired read at {payload['readers'][0]}"
        self._unmount(tag)
        tool.move(DELIVERY if direction == "out" else CRIB, None, at)
        return f"tool {tag}: {'out of' if direction == 'out' else 'back in'} the crib"

    def _ticket(self, machine: MachineState, tag: str, action: str, at: str) -> str | None:
        if action == "start":
            if machine.job is not None and machine.job != tag:
                self._end_job(machine, machine.job, at)
            self.jobs[tag] = JobStep(tag, machine.station, at)
            machine.job = tag
            state = machine.settle(at)
            return f"{machine.station}: job {tag} started" + (f", {state}" if state else "")
        if machine.job == tag:
            self._end_job(machine, tag, at)
            machine.job = None
            machine.settle(at)
            return f"{machine.station}: job {tag} ended"
        return None

    def _end_job(self, machine: MachineState, tag: str, at: str) -> None:
        step = self.jobs.get(tag)
        if step is None or step.ended is not None:
            return
        step.ended = at
        samples = self.samples.setdefault(machine.station, deque(maxlen=SAMPLES))
        samples.append(
            CycleSample(tag, machine.station, seconds_between(step.started, at), step.cycles)
        )

    def _lorry(self, kind: str, agent: str, payload: Mapping[str, Any], at: str) -> str | None:
        lorry = self.lorries.get(agent)
        if lorry is None:
            lorry = self.lorries[agent] = LorryState(agent)
        if kind == "gps.position":
            if lorry.position_at is not None and at < lorry.position_at:
                return None  # an older position, arrived late: the lorry does not move back
            lorry.observe(payload["lat"], payload["lon"], payload["speed_mps"], at)
            if lorry.fix_at is None or at >= lorry.fix_at:
                lorry.fix = payload["fix"]
            return None
        if kind == "gps.fix":
            if lorry.fix_at is None or at >= lorry.fix_at:
                lorry.fix, lorry.fix_at = payload["fix"], at
            return f"lorry {agent}: fix {payload['fix']}"
        name = payload["delivery"] or lorry.delivery or f"{agent}-unassigned"
        delivery = self.deliveries.get(name)
        if delivery is None:
            delivery = self.deliveries[name] = DeliveryState(name, agent)
        lorry.delivery = name
        line = payload["manifest"]
        if line is None:
            delivery.unknown_packages += 1
        else:
            delivery.lines[payload["tag"]] = dict(line)
        if payload["stage"] == "load":
            delivery.loaded_at = delivery.loaded_at or at
            return None
        delivery.unloaded.add(payload["tag"])
        if delivery.arrived_at is None or at < delivery.arrived_at:
            delivery.arrived_at = at
        return f"delivery {name}: package {payload['tag']} unloaded"

    def _correction(self, payload: Mapping[str, Any], at: str) -> str:
        kind, station, tag, value = (
            payload["correction"],
            payload["station"],
            payload["tag"],
            payload["value"],
        )
        when = utc_iso(parse_time(payload["at"], "payload.at"))
        effect = "applied"
        if kind == "badge_out" and tag is not None:
            person = self._person(tag)
            if station is None or person.station == station:
                self._leave_station(person, when)
            else:
                effect = f"no effect: {tag} is not at {station}"
        elif kind == "stop_reason" and station is not None:
            if not self._machine(station).give_reason(value, when, payload["by"]):
                effect = f"no effect: {station} was not stopped at {when}"
        elif kind == "tool_service" and tag is not None:
            self._tool(tag).service(when, payload["by"])
        elif kind == "tool_location" and tag is not None:
            self._unmount(tag)
            if value == CRIB:
                self._tool(tag).move(CRIB, None, when)
            else:
                machine = self._machine(value)
                self._mount(machine, tag, when)
        elif kind in ("cycles", "good", "scrap") and station is not None:
            self._count(self._machine(station), kind, value, self._job_at(station, when))
        elif kind == "void":
            effect = self._void(tuple(payload["voids"]))
        self.corrections.append(
            {
                "correction": kind,
                "by": payload["by"],
                "reason": payload["reason"],
                "at": when,
                "recorded": at,
                "station": station,
                "tag": tag,
                "value": value,
                "voids": payload["voids"],
                "effect": effect,
            }
        )
        return f"correction {kind} by {payload['by']}: {effect}"

    def _job_at(self, station: str, when: str) -> str | None:
        for step in self.jobs.values():
            if step.station == station and step.started <= when and (step.ended or "~") > when:
                return step.ticket
        return None

    def _void(self, key: tuple[Any, ...]) -> str:
        # Counts can be taken back exactly; other voided facts are listed for a person to
        # correct with the specific correction (a badge-out, a tool location).
        found = self.counts.pop((str(key[0]), int(key[1])), None)
        if found is None:
            return "listed only: not a count event this status remembers"
        station, signal, count, job = found
        machine = self._machine(station)
        step = self.jobs.get(job or "")
        if signal == "cycle":
            machine.cycles -= count
            if step is not None:
                step.cycles -= count
        elif signal == "good":
            machine.good -= count
            if step is not None:
                step.good -= count
        else:
            machine.scrap -= count
            if step is not None:
                step.scrap -= count
        return f"{count} {signal} taken back at {station}"

    def set_online(self, agent: str, online: bool, at: str) -> None:
        """Records an agent's retained status (online, or offline by its will)."""
        with self._lock:
            state = self.agents.setdefault(agent, AgentState(agent))
            state.online = online
            state.since = at
            self._bump()

    def rebuild(self, log: Iterable[tuple[int, Mapping[str, Any], str]]) -> int:
        """Folds a whole log (from `EventLog.replay()`); returns how many events were applied.

        An event whose fold fails is skipped as ingest skipped it (it is a dead letter there).
        """
        count = 0
        for position, event, corrected in log:
            try:
                self.apply(event, corrected, position)
            except FoldFailed as exc:
                log_.warning("log position %d skipped: %s", position, exc)
            count += 1
        return count

    # --- showing -------------------------------------------------------------------------------

    def snapshot(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-ready copy of the whole status, shown against the master data at `now`.

        `now` defaults to the newest event time, so the same log always shows the same.
        """
        with self._lock:
            return render(self, now)

    def learned_times(self, jobs: int, min_jobs: int) -> list[LearnedTime]:
        """Learned standard times by the rule (`cloud.status.learned`), read under the lock."""
        with self._lock:
            return learned_times(self, jobs=jobs, min_jobs=min_jobs)

    def accepted_times(self) -> dict[tuple[str, str, str], AcceptedTime]:
        """The learned times planners accepted, (product, step, station) -> time, a copy."""
        with self._lock:
            return dict(self.planning.times)

    def kanban_view(self, now: datetime | None = None) -> dict[str, Any]:
        """The kanban loops, bins, signals and lost cards at `now` (default: newest event)."""
        with self._lock:
            if now is None and self.latest is not None:
                now = datetime.fromisoformat(self.latest)
            return render_kanban(self.kanban, self._master, now)

    def station_names(self) -> list[str]:
        """Every station a machine event named."""
        with self._lock:
            return list(self.machines)

    def machine_facts(self, station: str) -> dict[str, Any] | None:
        """One machine as it is now (no timeline), with its agent's link; None: no event named it.

        `online` is True while no status message of the agent was seen.
        """
        with self._lock:
            machine = self.machines.get(station)
            if machine is None:
                return None
            facts = machine.to_dict()
            agent = self.agents.get(machine.agent) if machine.agent else None
            seen = agent is not None and agent.since is not None
            facts["online"] = agent.online if agent is not None and seen else True
            return facts

    def logistics_view(self) -> dict[str, Any]:
        """The suppliers' current call-offs and the AGV transports (`cloud.status.logistics`)."""
        with self._lock:
            return render_logistics(self.logistics)

    def machine(self, station: str) -> dict[str, Any] | None:
        """One machine in detail, with its state timeline; None when no one knows it."""
        with self._lock:
            return render_machine(self, station)
