"""Tools (crimp applicators, test adapters): in the tool centre, in delivery, or on a machine.

A tool passing the crib gate outwards (`tool.gate` "out") is in delivery; inwards ("in") it is
back in the crib; a read only one gate reader saw ("unpaired") is shown as such, with that
reader, and the location is left as it was (never guessed). A tool read at a station
(`tool.read`) is on that machine, and the tool it replaced there goes back to "in delivery".
Usage counts are the machine's cycles while the tool is mounted: in total and since mounting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ["CRIB", "DELIVERY", "MACHINE", "UNKNOWN", "ToolState"]

CRIB: Final = "crib"
DELIVERY: Final = "delivery"
MACHINE: Final = "machine"
UNKNOWN: Final = "unknown"


@dataclass
class ToolState:
    """One tool tag's place and usage."""

    tag: str
    place: str = UNKNOWN
    station: str | None = None
    since: str | None = None
    cycles: int = 0
    cycles_mounted: int = 0
    unpaired_reader: str | None = None
    unpaired_at: str | None = None

    def move(self, place: str, station: str | None, at: str) -> None:
        """Puts the tool somewhere; clears an earlier unpaired gate read."""
        if place != self.place or station != self.station:
            self.cycles_mounted = 0
        self.place, self.station, self.since = place, station, at
        self.unpaired_reader = self.unpaired_at = None

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
        }
