"""Learned standard times: the actual time per unit of each product step on each machine.

The rule (`docs/status.md`, "Learned standard times"): a finished job step (its ticket started
and ended at one station, `cloud.status.jobs.CycleSample`) with at least one cycle gives one
sample, its seconds per unit = (ended - started - the step's standard setup) / cycles, never
below 0. Per (product, step, station) the last `jobs` samples (default `LEARN_JOBS`) are taken;
with m their median and MAD the median of |x - m|, a sample is an outlier when
|x - m| > `OUTLIER_K` x max(1.4826 x MAD, `REL_FLOOR` x m) — the MAD scaled to a standard
deviation, with a floor of 10 % of the median so that a run of near-equal samples does not make
every small difference an outlier. The learned time is the median of the samples kept, offered
once at least `min_jobs` (default `LEARN_MIN_JOBS`) are kept.

This module only measures; whether the plan uses the result is the plant's setting
(`Plant.learned_times`) and the planners' acceptance (`cloud.replan.times`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from cloud.status.model import ResourceStatus

__all__ = [
    "LEARN_JOBS",
    "LEARN_MIN_JOBS",
    "OUTLIER_K",
    "REL_FLOOR",
    "Learned",
    "LearnedTime",
    "learn",
    "learned_times",
]

#: Samples (finished jobs) per product step and machine the rule looks at, newest first.
LEARN_JOBS: Final = 20
#: Samples that must remain after dropping outliers before a learned time is offered.
LEARN_MIN_JOBS: Final = 3
#: How many robust standard deviations from the median make an outlier.
OUTLIER_K: Final = 3.0
#: The robust spread's floor, as a share of the median.
REL_FLOOR: Final = 0.1
#: MAD -> standard deviation for normally distributed samples.
_MAD_TO_SD: Final = 1.4826


@dataclass(frozen=True)
class Learned:
    """The rule's result over one set of samples."""

    seconds: float | None  # the median of the kept samples; None: too few kept
    kept: int
    dropped: int


def learn(
    values: Sequence[float], *, jobs: int = LEARN_JOBS, min_jobs: int = LEARN_MIN_JOBS
) -> Learned:
    """The learned seconds per unit of the newest `jobs` of `values` (oldest first)."""
    recent = list(values[-jobs:]) if jobs > 0 else []
    if not recent:
        return Learned(None, 0, 0)
    m = statistics.median(recent)
    mad = statistics.median(abs(x - m) for x in recent)
    limit = OUTLIER_K * max(_MAD_TO_SD * mad, REL_FLOOR * m)
    kept = [x for x in recent if abs(x - m) <= limit]
    dropped = len(recent) - len(kept)
    if len(kept) < max(min_jobs, 1):
        return Learned(None, len(kept), dropped)
    return Learned(statistics.median(kept), len(kept), dropped)


@dataclass(frozen=True)
class LearnedTime:
    """One product step on one station: its standard and what the rule learned."""

    product: str
    step: str
    station: str
    standard_s: float  # the master data's seconds per unit
    learned: Learned

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (seconds rounded to milliseconds)."""
        s = self.learned.seconds
        return {
            "product": self.product,
            "step": self.step,
            "station": self.station,
            "standard_s": round(self.standard_s, 3),
            "learned_s": None if s is None else round(s, 3),
            "jobs": self.learned.kept,
            "dropped": self.learned.dropped,
        }


def learned_times(
    status: ResourceStatus, *, jobs: int = LEARN_JOBS, min_jobs: int = LEARN_MIN_JOBS
) -> list[LearnedTime]:
    """Every (product, step, station) with finished jobs, by the rule, sorted by key."""
    master = status.master
    plant = master.plant
    if plant is None:
        return []
    values: dict[tuple[str, str, str], list[float]] = {}
    standard: dict[tuple[str, str, str], float] = {}
    for station, samples in status.samples.items():
        for sample in _finished(samples):
            entry = master.ticket(sample.ticket)
            product = plant.products.get(entry.product) if entry is not None else None
            if entry is None or product is None:
                continue
            step = next((s for s in product.steps if s.id == entry.step), None)
            if step is None:
                continue
            key = (product.id, step.id, station)
            per_unit = max(sample.seconds - step.setup_min * 60, 0.0) / sample.cycles
            values.setdefault(key, []).append(per_unit)
            standard[key] = step.per_unit_min * 60
    return [
        LearnedTime(*key, standard[key], learn(xs, jobs=jobs, min_jobs=min_jobs))
        for key, xs in sorted(values.items())
    ]


def _finished(samples: Iterable[Any]) -> Iterable[Any]:
    return (s for s in samples if s.cycles > 0)
