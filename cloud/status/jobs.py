"""Job steps on machines: start and end from job tickets, counts while running, cycle times.

A job ticket's tag identifies one job step (an order's process step; the tag directory in the
master data says which). `job.ticket` start at a station allocates the step to that machine;
end releases it. Cycle, good and scrap counts at a station while a step is allocated there are
that step's. When a step ends, its actual time per cycle joins the rolling samples of its
machine (`SAMPLES` most recent); the per-process statistics are grouped when shown, since the
process of a ticket is master data that may change after the events.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

__all__ = ["SAMPLES", "CycleSample", "JobStep", "rolling", "seconds_between"]

SAMPLES: Final = 50


def seconds_between(start: str, end: str) -> float:
    """Seconds from one contract timestamp to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@dataclass
class JobStep:
    """One job ticket's step on a machine."""

    ticket: str
    station: str
    started: str
    ended: str | None = None
    cycles: int = 0
    good: int = 0
    scrap: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "ticket": self.ticket,
            "station": self.station,
            "started": self.started,
            "ended": self.ended,
            "cycles": self.cycles,
            "good": self.good,
            "scrap": self.scrap,
        }


class CycleSample(NamedTuple):
    """One finished step: how long it took and how many cycles it made."""

    ticket: str
    station: str
    seconds: float
    cycles: int

    @property
    def per_cycle_s(self) -> float | None:
        """Actual seconds per cycle (None without cycles)."""
        return self.seconds / self.cycles if self.cycles else None


def rolling(samples: Iterable[CycleSample]) -> dict[str, Any]:
    """Count, mean, min, max and standard deviation of seconds per cycle."""
    values = [s.per_cycle_s for s in samples if s.per_cycle_s is not None]
    if not values:
        return {"n": 0, "mean_s": None, "min_s": None, "max_s": None, "stdev_s": None}
    return {
        "n": len(values),
        "mean_s": round(statistics.fmean(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
        "stdev_s": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
    }
