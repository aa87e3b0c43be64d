"""Planned time: when a machine is meant to work, from its calendar in the plant model.

A machine's planned time within a period is its calendar's shifts (local wall-clock times in the
plant's time zone, DST-aware, a shift on a holiday left out — the holiday is the shift's start
day, as the scheduler reads it) minus breaks, the calendar's closures and the machine's own
`unavailable` windows, cut to the period. A machine the plant model does not know, or a report
without a plant model, is planned for the whole period. Intervals are (start, end) in epoch
seconds, sorted and disjoint.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cloud.plant import DAYS, Calendar, Plant, Resource, WeeklyWindow

__all__ = ["Intervals", "overlap", "planned_intervals", "subtract", "union"]

Intervals = list[tuple[float, float]]


def union(spans: Iterable[tuple[float, float]]) -> Intervals:
    """The spans merged into sorted, disjoint intervals (empty ones dropped)."""
    out: Intervals = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract(base: Intervals, cut: Intervals) -> Intervals:
    """`base` without `cut` (both sorted and disjoint)."""
    out: Intervals = []
    for start, end in base:
        pieces = [(start, end)]
        for c0, c1 in cut:
            pieces = [
                part
                for s, e in pieces
                for part in ((s, min(e, c0)), (max(s, c1), e))
                if part[1] > part[0]
            ]
        out.extend(pieces)
    return union(out)


def overlap(start: float, end: float, intervals: Intervals) -> float:
    """Seconds of [start, end) that fall inside the sorted, disjoint `intervals`."""
    total = 0.0
    index = max(0, bisect_right(intervals, (start, float("inf"))) - 1)
    while index < len(intervals) and intervals[index][0] < end:
        a, b = intervals[index]
        total += max(0.0, min(end, b) - max(start, a))
        index += 1
    return total


def _weekly(
    windows: tuple[WeeklyWindow, ...], cal: Calendar, plant: Plant, start: float, end: float
) -> Intervals:
    tz = plant.tz
    first = datetime.fromtimestamp(start, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, tz).date()
    spans: list[tuple[float, float]] = []
    day = first
    while day <= last:
        if day not in cal.holidays:
            name = DAYS[day.weekday()]
            for window in windows:
                if name not in window.days:
                    continue
                a = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
                end_day = day if window.end > window.start else day + timedelta(days=1)
                b = datetime.combine(end_day, window.end, tzinfo=tz).astimezone(UTC)
                spans.append((a.timestamp(), b.timestamp()))
        day += timedelta(days=1)
    return union(spans)


def planned_intervals(
    plant: Plant | None, resource: Resource | None, start: float, end: float
) -> tuple[Intervals, str]:
    """(planned intervals within [start, end), basis): basis "calendar" or "period"."""
    calendar = plant.calendars.get(resource.calendar) if plant and resource else None
    if plant is None or resource is None or calendar is None:
        return ([(start, end)] if end > start else []), "period"
    shifts = _weekly(calendar.shifts, calendar, plant, start, end)
    blocked = _weekly(calendar.breaks, calendar, plant, start, end)
    blocked = union(
        [
            *blocked,
            *((w.start.timestamp(), w.end.timestamp()) for w in calendar.closures),
            *((w.start.timestamp(), w.end.timestamp()) for w in resource.unavailable),
        ]
    )
    open_ = subtract(shifts, blocked)
    return subtract(open_, [(float("-inf"), start), (end, float("inf"))]), "calendar"
