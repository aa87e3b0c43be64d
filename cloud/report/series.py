"""The report's cycle-time series: actual against standard seconds per cycle over the period.

Each cycle sample of the fold (seconds of running per cycle, counted at a time on a job step)
falls into a time bucket; the bucket width is the first of 5, 10, 15, 30 minutes, 1, 2, 4, 8
hours or a day that cuts the period into at most 48 buckets (buckets start at multiples of the
width from the period's start). Per bucket with samples: the cycle-weighted mean actual seconds
per cycle, the cycle-weighted mean standard of the samples whose job step has one (None when
none has), and the cycles. Empty buckets are left out: the chart draws no line through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["BUCKET_MIN", "Sample", "bucket_minutes", "cycle_series"]

#: The bucket widths, in minutes, smallest first.
BUCKET_MIN: Final = (5, 10, 15, 30, 60, 120, 240, 480, 1440)
MAX_BUCKETS: Final = 48


@dataclass(frozen=True)
class Sample:
    """One cycle sample: when (epoch s), seconds per cycle, cycles, the standard or None."""

    at: float
    per_cycle_s: float
    cycles: int
    standard_s: float | None


def bucket_minutes(start: float, end: float) -> int:
    """The bucket width in minutes for the period [start, end) (epoch seconds)."""
    span_min = max(0.0, end - start) / 60
    for width in BUCKET_MIN:
        if span_min / width <= MAX_BUCKETS:
            return width
    return BUCKET_MIN[-1]


def cycle_series(samples: list[Sample], start: float, end: float) -> dict[str, Any]:
    """{"bucket_min": width, "points": [{"at", "actual_s", "standard_s", "cycles"}, ...]}."""
    width = bucket_minutes(start, end)
    step = width * 60.0
    sums: dict[int, list[float]] = {}
    for sample in samples:
        if not start <= sample.at < end or sample.cycles <= 0:
            continue
        index = int((sample.at - start) // step)
        row = sums.setdefault(index, [0.0, 0.0, 0.0, 0.0])
        row[0] += sample.per_cycle_s * sample.cycles
        row[1] += sample.cycles
        if sample.standard_s is not None:
            row[2] += sample.standard_s * sample.cycles
            row[3] += sample.cycles
    points = [
        {
            "at": _iso(start + index * step),
            "actual_s": round(row[0] / row[1], 3),
            "standard_s": round(row[2] / row[3], 3) if row[3] else None,
            "cycles": int(row[1]),
        }
        for index, row in sorted(sums.items())
    ]
    return {"bucket_min": width, "points": points}


def _iso(moment: float) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")
