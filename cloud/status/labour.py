"""Operators: working at a machine, idle, on break, expected, absent, off shift or on leave.

The fold keeps, per badge tag, where the operator was last seen: at a station (a badge read
there taps in; a second read at the same station taps out), in a rest zone (`rest.read`; the
next tap in at a station ends the rest) or nowhere since a tap out. Presence is derived when
shown (and by `cloud.reactions` for the plan) from those facts, the master data and the clock —
one rule, `presence`, so the Labour page and the plan agree and a restarted cloud, whose status
is rebuilt from the log, decides the same:

- `on_leave`: a leave record covers the moment;
- `off_shift`: no shift of the operator's calendar covers the moment (and not at a station);
- `present`: badged at a station (or tapped out since) during this shift — a read up to
  `EARLY` before the shift starts counts for it; `on_break` when the last read was a rest zone;
- `expected`: on shift, not badged yet, within the plant's grace (`planning.absent_grace_min`);
- `absent`: on shift, not badged by shift start + grace, no leave.

After a restart (`Settle`), an absence that fell due while the cloud was down — shift start +
grace later than the newest event the log held, and not later than the start — stays `expected`
for a settle time after the start: badge reads the agents kept in their outboxes meanwhile are
still on their way, and the plan should not move the operator's work out and back again.

An operator working a machine their skills do not cover is flagged there (see
`cloud.status.master.StatusMaster.qualified`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cloud.plant import Plant

__all__ = ["EARLY", "OperatorState", "Settle", "Shift", "presence", "shift_at"]

#: A badge read this long before a shift starts counts as arriving for it.
EARLY: Final = timedelta(hours=1)
_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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


@dataclass(frozen=True)
class Shift:
    """One shift of an operator's calendar, UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Settle:
    """A (re)started cloud's settle time for absences that fell due while it was down.

    Attributes:
        known: The newest event time the log held at the start (None: an empty log).
        started: When the cloud started.
        until: Absences due in (`known`, `started`] are judged from this time on.
    """

    known: datetime | None
    started: datetime
    until: datetime

    def holds(self, due: datetime, now: datetime) -> bool:
        """Whether an absence due at `due` waits at `now` (agents may still be catching up)."""
        return now < self.until and due <= self.started and (self.known is None or due > self.known)


def shift_at(plant: Plant, calendar: str, now: datetime) -> Shift | None:
    """The shift of `calendar` that covers `now` (None: off shift, a holiday or unknown)."""
    cal = plant.calendars.get(calendar)
    if cal is None:
        return None
    tz = plant.tz
    local = now.astimezone(tz).date()
    for day in (local - timedelta(days=1), local):
        if day in cal.holidays:
            continue
        for window in cal.shifts:
            if _DAYS[day.weekday()] not in window.days:
                continue
            start = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
            end_day = day if window.end > window.start else day + timedelta(days=1)
            end = datetime.combine(end_day, window.end, tzinfo=tz).astimezone(UTC)
            if start <= now < end:
                return Shift(start, end)
    return None


def presence(
    person: OperatorState | None,
    shift: Shift | None,
    now: datetime,
    grace: timedelta,
    *,
    on_leave: bool = False,
    settle: Settle | None = None,
) -> str:
    """The one presence rule (see the module text): what the page shows and the plan uses."""
    if on_leave:
        return "on_leave"
    seen = _when(person.last_seen) if person is not None and person.last_seen else None
    if shift is None:
        return "present" if person is not None and person.station is not None else "off_shift"
    if person is not None and seen is not None and seen >= shift.start - EARLY:
        return "on_break" if person.activity == "rest" else "present"
    due = shift.start + grace
    if now < due or (settle is not None and settle.holds(due, now)):
        return "expected"
    return "absent"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
