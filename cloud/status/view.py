"""The status as shown: the folded state joined with the master data, JSON-ready.

Called under the status's lock by `ResourceStatus.snapshot`. Everything that needs a clock or
master data is decided here — absence, leave, skills, ETAs, lateness, standard times — so the
fold stays a pure function of the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cloud.status.deliveries import estimate
from cloud.status.jobs import CycleSample, JobStep, rolling, seconds_between
from cloud.status.kanban import render_kanban
from cloud.status.labour import OperatorState
from cloud.status.logistics import match_delivery
from cloud.status.machines import MachineState
from cloud.status.tooling import life

if TYPE_CHECKING:
    from cloud.status.model import ResourceStatus

__all__ = ["render", "render_machine"]


def render(status: ResourceStatus, now: datetime | None) -> dict[str, Any]:
    """The whole status at `now` (default: the newest event time)."""
    master = status.master
    if now is None and status.latest is not None:
        now = datetime.fromisoformat(status.latest)
    # In line order: the plant model's machines as it lists them, then the others by station.
    line = list(master.machines) + sorted(set(status.machines) - set(master.machines))
    machines = {name: _machine_view(status, name) for name in line}
    return {
        "position": status.position,
        "applied": status.applied,
        "now": _iso(now) if now else None,
        "machines": machines,
        "operators": {
            tag: person.station
            for tag, person in sorted(status.people.items())
            if person.station is not None
        },
        "labour": _labour(status, now),
        "tools": _tools(status, now),
        "deliveries": _deliveries(status),
        "jobs": _jobs(status),
        "cycle_times": _cycle_times(status),
        "corrections": list(status.corrections)[-100:],
        "agents": {k: a.to_dict() for k, a in sorted(status.agents.items())},
        "kanban": render_kanban(status.kanban, master, now),
    }


def _machine_view(status: ResourceStatus, name: str) -> dict[str, Any]:
    master = status.master
    machine = status.machines.get(name) or MachineState(name)
    view = machine.to_dict()
    resource = master.machines.get(name)
    view["name"] = (resource.name or resource.id) if resource else name
    agent = status.agents.get(machine.agent or "")
    # OFFLINE is a flag beside the state: the agent's will or status says so.
    view["online"] = None if agent is None else agent.online
    view["operator_names"] = [_operator_name(master, tag) for tag in machine.operators]
    view["unskilled"] = [
        tag for tag in machine.operators if master.qualified(tag, name, machine.job) is False
    ]
    view["tool_name"] = _tool_name(master, machine.tool) if machine.tool else None
    step = master.ticket(machine.job) if machine.job else None
    view["job_step"] = {"order": step.ref, "step": step.step} if step else None
    return view


def render_machine(status: ResourceStatus, station: str) -> dict[str, Any] | None:
    """One machine with its state timeline, jobs, cycle times and corrections; None: unknown."""
    machine = status.machines.get(station)
    if machine is None and station not in status.master.machines:
        return None
    master = status.master
    view = _machine_view(status, station)
    resource = master.machines.get(station)
    view["resource"] = resource.id if resource else None
    view["timeline"] = [s.to_dict() for s in machine.timeline] if machine else []
    view["jobs"] = [_job(master, j) for j in status.jobs.values() if j.station == station]
    samples = status.samples.get(station) or ()
    view["cycle_time"] = {**rolling(samples), **_standard(master, samples)}
    view["corrections"] = [c for c in status.corrections if c["station"] == station]
    return view


def _job(master: Any, job: JobStep) -> dict[str, Any]:
    """A job step with its order and step (the tag directory) and its standard per unit."""
    out = job.to_dict()
    entry = master.ticket(job.ticket)
    out["order"] = entry.ref if entry else None
    out["step"] = (entry.step or None) if entry else None
    out["standard_s"] = master.standard_s(job.ticket)[1]
    out["per_cycle_s"] = (
        round(seconds_between(job.started, job.ended) / job.cycles, 3)
        if job.ended and job.cycles
        else None
    )
    return out


def _standard(master: Any, samples: Iterable[CycleSample]) -> dict[str, Any]:
    """The samples' standard seconds per unit (cycle-weighted, where known) and actual / it."""
    known = [(master.standard_s(s.ticket)[1], s) for s in samples if s.cycles]
    weighted = [(per_unit, s) for per_unit, s in known if per_unit is not None]
    cycles = sum(s.cycles for _, s in weighted)
    if not cycles:
        return {"standard_s": None, "ratio": None}
    standard = sum(per_unit * s.cycles for per_unit, s in weighted) / cycles
    actual = sum(s.seconds for _, s in weighted) / cycles
    return {"standard_s": round(standard, 3), "ratio": round(actual / standard, 4)}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _operator_name(master: Any, tag: str) -> str:
    operator = master.operator_of(tag)
    return str(operator.name or operator.id) if operator is not None else tag


def _tool_name(master: Any, tag: str) -> str:
    tool = master.tool_of(tag)
    return str(tool.name or tool.id) if tool is not None else tag


def _labour(status: ResourceStatus, now: datetime | None) -> dict[str, Any]:
    master = status.master
    out: dict[str, Any] = {}
    known = {tag: tag for tag in status.people}
    for tag, entry in master.tags.items():
        if entry.kind == "badge":
            known[tag] = tag
    for tag in sorted(known):
        person = status.people.get(tag)
        operator = master.operator_of(tag)
        leave = master.on_leave(operator.id, now) if operator is not None and now else None
        shown = (
            master.presence(operator, person, now, status.settle)
            if operator is not None and now
            else None
        )
        station = person.station if person else None
        job = status.machines[station].job if station in status.machines else None
        out[tag] = {
            "operator": operator.id if operator else None,
            "name": _operator_name(master, tag),
            "status": _status(person, shown),
            "presence": shown,
            "station": station,
            "rest_zone": person.rest_zone if person else None,
            "since": person.since if person else None,
            "last_seen": person.last_seen if person else None,
            "leave": leave.kind if leave else None,
            "skills": list(operator.skills) if operator else [],
            "unskilled": bool(station and master.qualified(tag, station, job) is False),
        }
    # Operators of the plant model without a badge cannot be seen: expected, absent or on leave.
    badged = {entry.ref for entry in master.tags.values() if entry.kind == "badge"}
    for resource in master.resources.values():
        if resource.kind != "operator" or resource.id in badged:
            continue
        leave = master.on_leave(resource.id, now) if now else None
        shown = master.presence(resource, None, now, status.settle) if now else None
        out[resource.id] = {
            "operator": resource.id,
            "name": resource.name or resource.id,
            "status": _status(None, shown),
            "presence": shown,
            "station": None,
            "rest_zone": None,
            "since": None,
            "last_seen": None,
            "leave": leave.kind if leave else None,
            "skills": list(resource.skills),
            "unskilled": False,
        }
    return out


def _status(person: OperatorState | None, shown: str | None) -> str:
    """What they do when here (working, rest, idle), else the presence (absent, on_leave...)."""
    if shown in (None, "present", "on_break", "off_shift") and person is not None:
        return person.activity
    return str(shown) if shown is not None else "absent"


def _tools(status: ResourceStatus, now: datetime | None) -> dict[str, Any]:
    master = status.master
    warn_at = master.plant.tooling.warn_at if master.plant is not None else 0.9
    stamp = _iso(now) if now else None
    out: dict[str, Any] = {}
    tags = set(status.tools) | {t for t, e in master.tags.items() if e.kind == "tool"}
    for tag in sorted(tags):
        tool = status.tools.get(tag)
        view = tool.to_dict() if tool else {"tag": tag, "place": "unknown", "cycles": 0}
        resource = master.tool_of(tag)
        view["tool"] = resource.id if resource else None
        view["name"] = _tool_name(master, tag)
        view["tool_type"] = resource.tool_type if resource else None
        limits = (resource.service_cycles, resource.service_hours) if resource else (None, None)
        view["life"] = life(tool, *limits, warn_at, stamp)
        out[tag] = view
    return out


def _deliveries(status: ResourceStatus) -> dict[str, Any]:
    master = status.master
    out: dict[str, Any] = {}
    for name, delivery in sorted(status.deliveries.items()):
        needs = [master.needs[m] for m in delivery.materials if m in master.needs]
        shown = estimate(
            delivery,
            status.lorries.get(delivery.lorry),
            master.logistics,
            min(needs) if needs else None,
            status._adjusters,
            master.handling(delivery.lorry),
        )
        calloff = status.logistics.calloffs.get(master.supplier_of(delivery.lorry) or "")
        out[name] = match_delivery(shown, delivery.loaded_at, calloff)
        out[name]["lorry_name"] = master.lorry_name(delivery.lorry)
    lorries = {}
    for name, lorry in sorted(status.lorries.items()):
        lorries[name] = {
            "fix": lorry.fix,
            "lat": lorry.lat,
            "lon": lorry.lon,
            "speed_mps": lorry.speed_mps,
            "at": lorry.position_at,
            "delivery": lorry.delivery,
        }
    return {"deliveries": out, "lorries": lorries}


def _jobs(status: ResourceStatus) -> dict[str, Any]:
    master = status.master
    out: dict[str, Any] = {}
    for tag, step in sorted(status.jobs.items()):
        view = step.to_dict()
        entry = master.ticket(tag)
        view["order"] = entry.ref if entry else None
        view["step"] = entry.step if entry else None
        view["quantity"] = entry.quantity if entry and entry.quantity else None
        out[tag] = view
    return out


def _cycle_times(status: ResourceStatus) -> dict[str, Any]:
    master = status.master
    by_process: dict[str, list[CycleSample]] = defaultdict(list)
    standard: dict[str, float | None] = {}
    machines: dict[str, Any] = {}
    for station, samples in sorted(status.samples.items()):
        machines[station] = rolling(samples)
        for sample in samples:
            process, per_unit = master.standard_s(sample.ticket)
            key = process or "unknown"
            by_process[key].append(sample)
            if per_unit is not None:
                standard[key] = per_unit
    processes = {}
    for key, grouped in sorted(by_process.items()):
        stats = rolling(grouped)
        stats["standard_s"] = standard.get(key)
        mean = stats["mean_s"]
        std = stats["standard_s"]
        stats["ratio"] = round(mean / std, 3) if mean is not None and std else None
        processes[key] = stats
    running = {}
    for tag, step in status.jobs.items():
        if step.ended is None and status.latest is not None:
            running[tag] = round(seconds_between(step.started, status.latest), 1)
    return {"processes": processes, "machines": machines, "running_s": running}
