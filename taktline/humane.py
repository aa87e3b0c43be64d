"""Durations, numbers and times written for people: "4 min", "1 h 20 min", "1,250", "06:40 CET".

Shared by the cloud (the andon board's texts, cloud/andon/board.py), the demo's console and
summary, and mirrored in the browser by `cloud/web/static/time.js` (the same rules, so the pages
and the API say the same). Pure: values in, text out; no clock, no locale settings (the shop
floor reads the same text everywhere: 24-hour clock, thin grouping by commas).
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Final

__all__ = ["duration", "local_time", "rounded"]

_MINUTE: Final = 60
_HOUR: Final = 3600
_DAY: Final = 86400


def duration(seconds: float) -> str:
    """A duration as people say it: "40 s", "4 min", "1 h 20 min", "2 d 3 h".

    Rounded down to the unit shown (a stop of 4 min 50 s is "down 4 min" until it is 5): at most
    two units, the second one only when it is not zero. A negative or unknown duration is "0 s".
    """
    if not math.isfinite(seconds) or seconds < 0:
        return "0 s"
    whole = int(seconds)
    if whole < _MINUTE:
        return f"{whole} s"
    if whole < _HOUR:
        return f"{whole // _MINUTE} min"
    if whole < _DAY:
        hours, minutes = divmod(whole // _MINUTE, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(whole // _HOUR, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def rounded(value: float, digits: int = 3) -> str:
    """A number rounded for people: `digits` significant digits, thousands grouped by commas.

    1234.567 -> "1,235" (whole numbers keep every digit), 0.03456 -> "0.0346", 12.5 -> "12.5",
    an integer value drops its ".0"; NaN and infinities are "—".
    """
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    places = max(0, digits - 1 - magnitude)
    number = round(value, places)
    if places == 0 or number == int(number):
        return f"{round(number):,}"
    return f"{number:,.{places}f}".rstrip("0").rstrip(".")


def local_time(
    moment: datetime,
    zone: tzinfo,
    *,
    date: bool = False,
    seconds: bool = False,
    label: bool = True,
) -> str:
    """`moment` on the plant's clock: "06:40 CET".

    Args:
        moment: An aware time.
        zone: The plant's time zone.
        date: Write the date first ("2026-03-23 06:40 CET").
        seconds: Write the seconds too ("06:40:05 CET").
        label: Write the zone's abbreviation (off where a whole text is on one clock).
    """
    local = moment.astimezone(zone)
    shown = local.strftime(("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M"))
    abbreviation = local.strftime("%Z") if label else ""
    return f"{shown} {abbreviation}".rstrip()
