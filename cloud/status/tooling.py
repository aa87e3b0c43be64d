"""Tools (crimp applicators, test adapters): in the tool centre, in delivery, or on a machine.

A tool passing the crib gate outwards (`tool.gate` "out") is in delivery; inwards ("in") it is
back in the crib; a read only one gate reader saw ("unpaired") is shown as such, with that
reader, and the location is left as it was (never guessed). A tool read at a station
(`tool.read`) is on that machine, and the tool it replaced there goes back to "in delivery".
Usage counts are the machine's cycles while the tool is mounted: in total and since mounting.

Tool life: the cycles and the hours on a machine since the last service (a `tool_service`
correction; before any, since the tool was first seen), against the tool's `service_cycles` and
`service_hours` in the plant model. `life()` says how much of the nearer limit is used, and
whether that is `ok`, `warn` (from the plant's `tooling.warn_at`) or `due` (at or past a limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

__all__ = ["CRIB", "DELIVERY", "DUE", "MACHINE", "OK", "UNKNOWN", "WARN", "ToolState", "life"]

CRIB: Final = "crib"
DELIVERY: Final = "delivery"
MACHINE: Final = "machine"
UNKNOWN: Final = "unknown"
OK: Final = "ok"
WARN: Final = "warn"
DUE: Final = "due"


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _hours(start: str, end: str) -> float:
    return max(0.0, (_t(end) - _t(start)).total_seconds() / 3600)


@dataclass
class ToolState:
    """One tool tag's place, usage and service."""

    tag: str
    place: str = UNKNOWN
    station: str | None = None
    since: str | None = None
    cycles: int = 0
    cycles_mounted: int = 0
    unpaired_reader: str | None = None
    unpaired_at: str | None = None
    #: since the last service: cycles, and hours on a machine before the current mounting
    cycles_since_service: int = 0
    hours_before: float = 0.0
    #: when the current mounting started counting hours (a service restarts it)
    counting_from: str | None = None
    serviced_at: str | None = None
    serviced_by: str | None = None

    def move(self, place: str, station: str | None, at: str) -> None:
        """Puts the tool somewhere; clears an earlier unpaired gate read."""
        if place != self.place or station != self.station:
            self.cycles_mounted = 0
            if self.counting_from is not None:
                self.hours_before += _hours(self.counting_from, at)
            self.counting_from = at if place == MACHINE else None
        self.place, self.station, self.since = place, station, at
        self.unpaired_reader = self.unpaired_at = None

    def count(self, cycles: int) -> None:
        """The machine it is mounted on made `cycles` more cycles."""
        self.cycles += cycles
        self.cycles_mounted += cycles
        self.cycles_since_service += cycles

    def service(self, at: str, by: str) -> None:
        """A service was recorded at `at`: its life counts from zero again."""
        self.cycles_since_service, self.hours_before = 0, 0.0
        if self.counting_from is not None:
            self.counting_from = at
        self.serviced_at, self.serviced_by = at, by

    def hours_since_service(self, now: str | None) -> float:
        """Hours on a machine since the last service, up to `now` (event time)."""
        running = (
            _hours(self.counting_from, now)
            if self.counting_from is not None and now is not None
            else 0.0
        )
        return self.hours_before + running

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "tag": self.tag,
            "place": self.place,
            "station": self.station,
            "since": self.since,
            "cycles": self.cycles,
            "cycles_mounted": self.cycles_mounted,
            "unpaired_reader": self.unpaired_reader,
            "unpaired_at": self.unpaired_at,
            "cycles_since_service": self.cycles_since_service,
            "serviced_at": self.serviced_at,
            "serviced_by": self.serviced_by,
        }


def life(
    tool: ToolState | None,
    limit_cycles: int | None,
    limit_hours: float | None,
    warn_at: float,
    now: str | None,
) -> dict[str, Any]:
    """A tool's life against its service limits: the used share of the nearer one and its state.

    `state` is None for a tool without limits; `due` from 100 % of either limit, `warn` from
    `warn_at`.
    """
    cycles = tool.cycles_since_service if tool is not None else 0
    hours = tool.hours_since_service(now) if tool is not None else 0.0
    shares = []
    if limit_cycles:
        shares.append(cycles / limit_cycles)
    if limit_hours:
        shares.append(hours / limit_hours)
    used = max(shares) if shares else None
    state = None
    if used is not None:
        state = DUE if used >= 1.0 else WARN if used >= warn_at else OK
    return {
        "cycles_since_service": cycles,
        "hours_since_service": round(hours, 3),
        "limit_cycles": limit_cycles,
        "limit_hours": limit_hours,
        "used": None if used is None else round(used, 4),
        "state": state,
    }
