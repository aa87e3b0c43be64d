"""Operators: working at a machine, idle, at rest, absent or on leave.

The fold keeps, per badge tag, where the operator was last seen: at a station (a badge read
there taps in; a second read at the same station taps out), in a rest zone (`rest.read`; the
next tap in at a station ends the rest) or nowhere since a tap out. The status is derived when
shown, against the master data: `working` at a station, `rest`, `idle` (seen, at no station and
not resting), `on_leave` (a leave record covers the moment) or `absent` (not seen within
`ABSENT_AFTER_S` and no leave record). An operator working a machine their skills do not cover
is flagged there (see `cloud.status.master.StatusMaster.qualified`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["ABSENT_AFTER_S", "OperatorState"]

#: Someone last seen longer ago than this (a shift and a half) counts as absent again.
ABSENT_AFTER_S: Final = 12 * 3600.0


@dataclass
class OperatorState:
    """Where one badge was last seen."""

    tag: str
    station: str | None = None
    rest_zone: str | None = None
    since: str | None = None
    last_seen: str | None = None

    @property
    def activity(self) -> str:
        """working, rest or idle (absence and leave need the clock and master data)."""
        if self.station is not None:
            return "working"
        if self.rest_zone is not None:
            return "rest"
        return "idle"
