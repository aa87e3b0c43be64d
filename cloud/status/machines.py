"""Machine states: RUNNING, IDLE or STOPPED with a stop reason, and a timeline of each.

A machine is RUNNING while its run input is on; otherwise it is STOPPED when a job is allocated
to it (a job ticket started there and not ended) and IDLE when none is. A stop's reason is
UNEXPLAINED until an operator presses a stop-reason button (`machine.stop_reason`) or a
supervisor corrects it; each reason carries its OEE loss category. Whether the machine's agent
is online is a separate flag (kept by the model from the agent's will and heartbeats), never a
state. The timeline keeps the recent segments (state, reason, start) of each machine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "IDLE",
    "OEE_LOSS",
    "RUNNING",
    "STOPPED",
    "UNEXPLAINED",
    "MachineState",
    "Segment",
]

RUNNING: Final = "RUNNING"
IDLE: Final = "IDLE"
STOPPED: Final = "STOPPED"
UNEXPLAINED: Final = "unexplained"
#: Stop reason -> OEE loss category. "other" counts against availability: the machine stood
#: while it had work, whatever the cause; only a quality stop is a quality loss. An unexplained
#: stop is an availability loss too, shown as unexplained until someone names its reason.
OEE_LOSS: Final[dict[str, str]] = {
    "breakdown": "availability",
    "changeover": "availability",
    "maintenance": "availability",
    "material_shortage": "availability",
    "quality": "quality",
    "other": "availability",
    UNEXPLAINED: "availability",
}
TIMELINE_LENGTH: Final = 200


@dataclass
class Segment:
    """One stretch of a machine's timeline: a state from `start` until the next segment."""

    state: str
    start: str
    reason: str | None = None
    corrected_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "state": self.state,
            "start": self.start,
            "reason": self.reason,
            "loss": OEE_LOSS.get(self.reason) if self.reason else None,
            "corrected_by": self.corrected_by,
        }


@dataclass
class MachineState:
    """One station's machine, as the events say."""

    station: str
    running: bool | None = None
    since: str | None = None
    job: str | None = None
    cycles: int = 0
    good: int = 0
    scrap: int = 0
    operators: list[str] = field(default_factory=list)
    tool: str | None = None
    last_event: str | None = None
    agent: str | None = None
    timeline: deque[Segment] = field(default_factory=lambda: deque(maxlen=TIMELINE_LENGTH))

    @property
    def state(self) -> str:
        """RUNNING, STOPPED (a job is allocated) or IDLE (none is)."""
        if self.running:
            return RUNNING
        return STOPPED if self.job is not None else IDLE

    @property
    def stop_reason(self) -> str | None:
        """The current stop's reason (UNEXPLAINED until given); None unless STOPPED."""
        if self.state != STOPPED or not self.timeline:
            return None
        return self.timeline[-1].reason or UNEXPLAINED

    def settle(self, at: str) -> str | None:
        """Starts a new timeline segment if the state changed; returns the new state if so."""
        state = self.state
        if self.timeline and self.timeline[-1].state == state:
            return None
        reason = UNEXPLAINED if state == STOPPED else None
        self.timeline.append(Segment(state, at, reason))
        self.since = at
        return state

    def give_reason(self, reason: str, at: str, by: str | None = None) -> bool:
        """Names the reason of the stop covering `at`; False when no stop covers it."""
        for index in range(len(self.timeline) - 1, -1, -1):
            segment = self.timeline[index]
            if segment.start <= at:
                if segment.state != STOPPED:
                    return False
                segment.reason = reason
                segment.corrected_by = by
                return True
        return False

    def to_dict(self, timeline: bool = False) -> dict[str, Any]:
        """JSON-ready; with the timeline when asked (the overview leaves it out)."""
        reason = self.stop_reason
        out: dict[str, Any] = {
            "station": self.station,
            "state": self.state,
            "running": self.running,
            "since": self.since,
            "stop_reason": reason,
            "loss": OEE_LOSS.get(reason) if reason else None,
            "job": self.job,
            "cycles": self.cycles,
            "good": self.good,
            "scrap": self.scrap,
            "operators": list(self.operators),
            "tool": self.tool,
            "last_event": self.last_event,
            "agent": self.agent,
        }
        if timeline:
            out["timeline"] = [segment.to_dict() for segment in self.timeline]
        return out
