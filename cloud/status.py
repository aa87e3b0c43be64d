"""The live resource status: a projection folded from the event log, in log order.

This first version answers what the walking skeleton needs: which operator is at which machine,
whether each machine runs, its cycle count and the tool last read there, and which agents are
online. Folding the same log always gives the same state, so a restarted cloud rebuilds it with
`rebuild()`; events are folded in arrival (log) order and use their corrected time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AgentState", "MachineState", "ResourceStatus"]


@dataclass
class MachineState:
    """One station's machine, as the events say."""

    station: str
    running: bool | None = None
    since: str | None = None
    cycles: int = 0
    operators: list[str] = field(default_factory=list)
    tool: str | None = None
    last_event: str | None = None


@dataclass
class AgentState:
    """One agent's link and buffer, from its status messages and heartbeats."""

    agent: str
    online: bool = False
    since: str | None = None
    outbox_depth: int | None = None
    outbox_oldest_age_s: float | None = None
    alarms: list[str] = field(default_factory=list)


class ResourceStatus:
    """Machines, operators and agents; thread-safe; `apply()` one event at a time, in log order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.machines: dict[str, MachineState] = {}
        self.operator_at: dict[str, str] = {}
        self.agents: dict[str, AgentState] = {}
        self.applied = 0
        self.position = 0

    def _machine(self, station: str) -> MachineState:
        machine = self.machines.get(station)
        if machine is None:
            machine = self.machines[station] = MachineState(station)
        return machine

    def apply(self, event: Mapping[str, Any], corrected_time: str, position: int = 0) -> str | None:
        """Folds one event; returns a one-line description of the change, if any."""
        with self._lock:
            self.applied += 1
            self.position = max(self.position, position)
            kind = event["type"]
            payload = event["payload"]
            station = event.get("station")
            if kind == "agent.heartbeat":
                agent = self.agents.setdefault(event["agent"], AgentState(event["agent"]))
                agent.outbox_depth = payload["outbox_depth"]
                agent.outbox_oldest_age_s = payload["outbox_oldest_age_s"]
                return None
            if kind == "agent.alarm":
                agent = self.agents.setdefault(event["agent"], AgentState(event["agent"]))
                agent.alarms = [
                    *agent.alarms[-9:],
                    f"{corrected_time} {payload['alarm']}: {payload['detail']}",
                ]
                return f"agent {event['agent']} alarm {payload['alarm']}: {payload['detail']}"
            if station is None:
                return None
            machine = self._machine(station)
            machine.last_event = corrected_time
            if kind == "badge.read":
                return self._badge(machine, payload["tag"], corrected_time)
            if kind == "tool.read":
                machine.tool = payload["tag"]
                return f"{station}: tool {payload['tag']} at the machine"
            if kind == "machine.signal" and payload["signal"] == "run":
                if machine.running == payload["on"]:
                    return None
                machine.running = payload["on"]
                machine.since = corrected_time
                return f"{station}: {'RUNNING' if machine.running else 'stopped'}"
            if kind == "machine.signal" and payload["signal"] == "cycle":
                machine.cycles += payload["count"]
                return None
            return None

    def _badge(self, machine: MachineState, operator: str, at: str) -> str:
        # A badge read toggles: tap in at a machine, tap again to leave; tapping in elsewhere
        # moves the operator there (a forgotten badge-out).
        current = self.operator_at.get(operator)
        if current == machine.station:
            del self.operator_at[operator]
            machine.operators.remove(operator)
            return f"{machine.station}: operator {operator} out"
        if current is not None:
            self.machines[current].operators.remove(operator)
        self.operator_at[operator] = machine.station
        machine.operators.append(operator)
        return f"{machine.station}: operator {operator} in"

    def set_online(self, agent: str, online: bool, at: str) -> None:
        """Records an agent's retained status (online, or offline by its will)."""
        with self._lock:
            state = self.agents.setdefault(agent, AgentState(agent))
            state.online = online
            state.since = at

    def rebuild(self, log: Iterable[tuple[int, Mapping[str, Any], str]]) -> int:
        """Folds a whole log (from `EventLog.replay()`); returns how many events were applied."""
        count = 0
        for position, event, corrected in log:
            self.apply(event, corrected, position)
            count += 1
        return count

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the whole status."""
        with self._lock:
            return {
                "position": self.position,
                "applied": self.applied,
                "machines": {
                    k: {
                        "running": m.running,
                        "since": m.since,
                        "cycles": m.cycles,
                        "operators": list(m.operators),
                        "tool": m.tool,
                        "last_event": m.last_event,
                    }
                    for k, m in sorted(self.machines.items())
                },
                "operators": dict(sorted(self.operator_at.items())),
                "agents": {
                    k: {
                        "online": a.online,
                        "since": a.since,
                        "outbox_depth": a.outbox_depth,
                        "outbox_oldest_age_s": a.outbox_oldest_age_s,
                        "alarms": list(a.alarms),
                    }
                    for k, a in sorted(self.agents.items())
                },
            }
