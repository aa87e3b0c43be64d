"""The report's default period: the last completed shift of the plant's calendars, where data is.

A shift is one occurrence of a calendar's shift window (local wall-clock times in the plant's
time zone, a shift on a holiday left out; two back-to-back shifts stay two). The calendars are
those of the plant's machines (all calendars when no machine names one). `default_period(plant,
now, first, last)` answers the newest shift that ended by `now` and holds some of the log's data
([first, last]: when the cloud took its oldest and newest events, `Reports.data_span`), searched
back 14 days from `now`, or from the newest event when that is older (a log of last month still
has a default); its start is moved up to the log's first event (before it nothing was recorded,
which is no downtime). When no completed shift holds data (a plant that started within the
current shift, as the demo does), it answers the current shift so far, from its start or the
first event to `now`. No plant, no calendar or no data: the last 24 hours to `now`. Planned time
within the period (breaks and closures out) is `planned.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cloud.plant import DAYS, Plant

__all__ = ["LOOK_BACK", "Period", "default_period", "shifts_between"]

#: How far back the last completed shift with data is looked for.
LOOK_BACK: Final = timedelta(days=14)


@dataclass(frozen=True)
class Period:
    """A report period and why it was chosen (`rule`: last_shift, current_shift or last_24h)."""

    start: datetime
    end: datetime
    rule: str
    calendar: str | None = None
    shift_start: datetime | None = None
    shift_end: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times in UTC, `Z`)."""
        return {
            "from": _iso(self.start),
            "to": _iso(self.end),
            "rule": self.rule,
            "calendar": self.calendar,
            "shift_start": _iso(self.shift_start) if self.shift_start else None,
            "shift_end": _iso(self.shift_end) if self.shift_end else None,
        }


def _calendars(plant: Plant) -> list[str]:
    used = {r.calendar for r in plant.resources if r.kind == "machine" and r.calendar}
    named = sorted(c for c in used if c in plant.calendars)
    return named or sorted(plant.calendars)


def shifts_between(
    plant: Plant, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str]]:
    """Every shift (start, end, calendar id) of the machines' calendars overlapping [start, end).

    Sorted by end, then start; each shift on its own, even when the next one starts as it ends.
    """
    tz = plant.tz
    found: set[tuple[datetime, datetime, str]] = set()
    for cid in _calendars(plant):
        calendar = plant.calendars[cid]
        day = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        while day <= last:
            if day not in calendar.holidays:
                for window in calendar.shifts:
                    if DAYS[day.weekday()] not in window.days:
                        continue
                    a = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
                    next_day = window.end <= window.start
                    b_day = day + timedelta(days=1) if next_day else day
                    b = datetime.combine(b_day, window.end, tzinfo=tz).astimezone(UTC)
                    if b > a and b > start and a < end:
                        found.add((a, b, cid))
            day += timedelta(days=1)
    return sorted(found, key=lambda s: (s[1], s[0], s[2]))


def default_period(
    plant: Plant | None, now: datetime, first: datetime | None, last: datetime | None
) -> Period:
    """The report's default period at `now`, the log's data lying in [first, last]."""
    fallback = Period(now - timedelta(days=1), now, "last_24h")
    if plant is None or not plant.calendars or first is None or last is None:
        return fallback
    # A shift that holds data starts by `last`, and no shift is longer than a day or so: the
    # search ends soon after the newest event, however long ago it was.
    until = min(now, last + timedelta(days=2))
    shifts = shifts_between(plant, until - LOOK_BACK, until + timedelta(seconds=1))
    done = [s for s in shifts if s[1] <= now and s[1] > first and s[0] <= last]
    if done:
        a, b, cid = done[-1]
        return Period(max(a, first), b, "last_shift", cid, a, b)
    running = [s for s in shifts if s[0] <= now < s[1]]
    if running:
        a, b, cid = max(running, key=lambda s: s[0])
        start = max(a, first)
        if start < now:
            return Period(start, now, "current_shift", cid, a, b)
    return fallback


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
