"""Calendars to slot arrays: shifts, breaks, holidays and closures in local time, DST-aware.

Local wall-clock windows are converted day by day through the plant's time zone (so a shift on
the night the clocks change is an hour shorter or longer, as on the floor), then to UTC slots
from the plan's origin. Working windows round inwards to whole slots, blocking windows outwards.
The loops run over days and windows, never over slots.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from cloud.plant import DAYS, Calendar, Plant, WeeklyWindow

__all__ = ["closed_windows", "floor_to_slot", "resource_masks", "slot_of", "window_slots"]

B = NDArray[np.bool_]


def floor_to_slot(moment: datetime, slot_minutes: int) -> datetime:
    """`moment` rounded down to a whole slot (slots are aligned to UTC midnight)."""
    moment = moment.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = (moment - midnight) // timedelta(minutes=slot_minutes)
    return midnight + timedelta(minutes=minutes * slot_minutes)


def slot_of(moment: datetime, origin: datetime, slot_minutes: int, *, up: bool = False) -> int:
    """Slot index of `moment` from `origin` (rounded down, or up with `up`)."""
    x = (moment - origin) / timedelta(minutes=slot_minutes)
    return math.ceil(x - 1e-9) if up else math.floor(x + 1e-9)


def window_slots(
    start: datetime, end: datetime, origin: datetime, slot_minutes: int, *, inner: bool
) -> tuple[int, int]:
    """Slots [a, b) of a window: whole slots inside it (`inner`) or every slot it touches."""
    if inner:
        return slot_of(start, origin, slot_minutes, up=True), slot_of(end, origin, slot_minutes)
    return slot_of(start, origin, slot_minutes), slot_of(end, origin, slot_minutes, up=True)


def _weekly(
    windows: tuple[WeeklyWindow, ...],
    cal: Calendar,
    plant: Plant,
    origin: datetime,
    n_slots: int,
    inner: bool,
) -> B:
    mask = np.zeros(n_slots, dtype=np.bool_)
    tz = plant.tz
    first = origin.astimezone(tz).date() - timedelta(days=1)
    n_days = n_slots * plant.slot_minutes // 1440 + 3
    holidays = set(cal.holidays)
    for i in range(n_days):
        day = first + timedelta(days=i)
        if day in holidays:
            continue
        name = DAYS[day.weekday()]
        for w in windows:
            if name not in w.days:
                continue
            start = datetime.combine(day, w.start, tzinfo=tz).astimezone(UTC)
            end_day = day if w.end > w.start else day + timedelta(days=1)
            end = datetime.combine(end_day, w.end, tzinfo=tz).astimezone(UTC)
            a, b = window_slots(start, end, origin, plant.slot_minutes, inner=inner)
            mask[max(a, 0) : max(min(b, n_slots), 0)] = True
    return mask


def resource_masks(plant: Plant, origin: datetime, n_slots: int) -> tuple[B, B]:
    """Open slots per resource: (for ordinary steps, for steps that may span breaks)."""
    cal_open: dict[str, tuple[B, B]] = {}
    for cid, cal in plant.calendars.items():
        shifts = _weekly(cal.shifts, cal, plant, origin, n_slots, inner=True)
        breaks = _weekly(cal.breaks, cal, plant, origin, n_slots, inner=False)
        for w in cal.closures:
            a, b = window_slots(w.start, w.end, origin, plant.slot_minutes, inner=False)
            shifts[max(a, 0) : max(min(b, n_slots), 0)] = False
        cal_open[cid] = (shifts & ~breaks, shifts)
    r = len(plant.resources)
    open_ = np.zeros((r, n_slots), dtype=np.bool_)
    open_span = np.zeros((r, n_slots), dtype=np.bool_)
    for i, res in enumerate(plant.resources):
        plain, span = cal_open[res.calendar]
        open_[i] = plain
        open_span[i] = span
        for w in res.unavailable:
            a, b = window_slots(w.start, w.end, origin, plant.slot_minutes, inner=False)
            open_[i, max(a, 0) : max(min(b, n_slots), 0)] = False
            open_span[i, max(a, 0) : max(min(b, n_slots), 0)] = False
    return open_, open_span


def closed_windows(
    plant: Plant, calendar: Calendar, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """When `calendar` does not work within [start, end): off shift, breaks, holidays, closures.

    The complement of the open slots `resource_masks` plans on (whole slots from `start`, which is
    rounded down to a slot), as UTC windows in time order; for the Plan page's Gantt.
    """
    origin = floor_to_slot(start, plant.slot_minutes)
    n_slots = max(0, slot_of(end, origin, plant.slot_minutes, up=True))
    shifts = _weekly(calendar.shifts, calendar, plant, origin, n_slots, inner=True)
    breaks = _weekly(calendar.breaks, calendar, plant, origin, n_slots, inner=False)
    for w in calendar.closures:
        a, b = window_slots(w.start, w.end, origin, plant.slot_minutes, inner=False)
        shifts[max(a, 0) : max(min(b, n_slots), 0)] = False
    closed = np.concatenate(([False], ~(shifts & ~breaks), [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(closed))
    step = timedelta(minutes=plant.slot_minutes)
    return [
        (origin + int(a) * step, origin + int(b) * step)
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]
