"""The report's figures: time buckets, counts, cycle times and OEE per machine and per process.

Within planned time (`planned.py`) each machine's time is running, stopped (by reason: its
downtime), idle (no job allocated) or without data (before its first state); running time
outside planned time is kept apart. Availability = running time in planned time / planned time;
performance = (ideal cycle time x total count) / running time (all of it in the period), summed
per job step when the standards differ; quality = good / (good + scrap); OEE is their product.
A factor whose inputs are missing (no planned time or no state known in it, no running time,
no standard time for some counted units, no good or scrap counts) is unknown (None), and so is
OEE — never a made-up number. Planned time without data counts as not running. A process sums
its machines' times and counts, then computes the same ratios.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cloud.report.fold import MachineTrack
from cloud.report.planned import Intervals, overlap
from cloud.status import OEE_LOSS, RUNNING, STOPPED, UNEXPLAINED

__all__ = ["Totals", "finish", "pareto", "weighted_median"]


@dataclass
class Totals:
    """Seconds and counts of one machine, or summed over a process's machines."""

    period_s: float = 0.0
    planned_s: float = 0.0
    run_s: float = 0.0
    run_total_s: float = 0.0
    idle_s: float = 0.0
    down: dict[str, float] = field(default_factory=dict)
    stops: Counter[str] = field(default_factory=Counter)
    cycles: int = 0
    good: int = 0
    scrap: int = 0
    total: int = 0
    ideal_s: float = 0.0
    unknown_units: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)
    machines: int = 1

    def __add__(self, other: Totals) -> Totals:
        down = dict(self.down)
        for reason, seconds in other.down.items():
            down[reason] = down.get(reason, 0.0) + seconds
        return Totals(
            self.period_s + other.period_s, self.planned_s + other.planned_s,
            self.run_s + other.run_s, self.run_total_s + other.run_total_s,
            self.idle_s + other.idle_s, down, self.stops + other.stops,
            self.cycles + other.cycles, self.good + other.good, self.scrap + other.scrap,
            self.total + other.total, self.ideal_s + other.ideal_s,
            self.unknown_units + other.unknown_units, self.samples + other.samples,
            self.machines + other.machines,
        )  # fmt: skip


def machine_totals(
    track: MachineTrack,
    start: float,
    end: float,
    planned: Intervals,
    standard: Any,
) -> Totals:
    """A machine's totals; `standard(ticket)` gives seconds per unit of a job step, or None."""
    totals = Totals(period_s=end - start, planned_s=sum(b - a for a, b in planned))
    segments = list(track.segments)
    for index, segment in enumerate(segments):
        a = max(segment.start, start)
        b = min(segments[index + 1].start if index + 1 < len(segments) else end, end)
        if b <= a:
            continue
        inside = overlap(a, b, planned)
        if segment.state == RUNNING:
            totals.run_total_s += b - a
            totals.run_s += inside
        elif segment.state == STOPPED and inside > 0:
            reason = segment.reason or UNEXPLAINED
            totals.down[reason] = totals.down.get(reason, 0.0) + inside
            totals.stops[reason] += 1
        else:
            totals.idle_s += inside
    counts = [sum(tally[i] for tally in track.counts.values()) for i in range(3)]
    totals.cycles, totals.good, totals.scrap = counts
    # The total count is the machine's cycles; a machine that counts no cycles but good and
    # scrap (a test station, say) makes good + scrap units.
    by_cycles = totals.cycles > 0
    for ticket, (cycles, good, scrap) in track.counts.items():
        units = cycles if by_cycles else good + scrap
        if units <= 0:
            continue
        per_unit = standard(ticket)
        if per_unit is None:
            totals.unknown_units += units
        else:
            totals.ideal_s += per_unit * units
    totals.total = totals.cycles if by_cycles else totals.good + totals.scrap
    totals.samples = sorted(track.samples.values())
    return totals


def weighted_median(samples: list[tuple[float, int]]) -> float | None:
    """The median of values each repeated `weight` times (mean of the middle two when even)."""
    ordered = sorted((v, w) for v, w in samples if w > 0)
    count = sum(w for _, w in ordered)
    if count == 0:
        return None
    wanted = [(count - 1) // 2, count // 2]
    found: list[float] = []
    seen = 0
    for value, weight in ordered:
        while wanted and wanted[0] < seen + weight:
            found.append(value)
            wanted.pop(0)
        seen += weight
    return (found[0] + found[1]) / 2


def pareto(down: dict[str, float], stops: Counter[str]) -> list[dict[str, Any]]:
    """Downtime by reason, longest first (ties by name), with share and cumulative share."""
    total = sum(down.values())
    rows: list[dict[str, Any]] = []
    cumulative = 0.0
    for rank, (reason, seconds) in enumerate(
        sorted(down.items(), key=lambda item: (-item[1], item[0])), start=1
    ):
        cumulative += seconds
        rows.append(
            {
                "rank": rank,
                "reason": reason,
                "loss": OEE_LOSS.get(reason, "availability"),
                "minutes": round(seconds / 60, 3),
                "stops": stops[reason],
                "share": round(seconds / total, 4) if total else None,
                "cumulative_share": round(cumulative / total, 4) if total else None,
            }
        )
    return rows


def _ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom > 0 else None


def finish(totals: Totals) -> dict[str, Any]:
    """The figures of one row (machine or process), JSON-ready; None where unknown."""
    notes: list[str] = []
    downtime = sum(totals.down.values())
    known = totals.run_s + downtime + totals.idle_s
    availability = _ratio(totals.run_s, totals.planned_s) if known > 0 else None
    if totals.planned_s <= 0:
        notes.append("no planned time in the period")
    elif availability is None:
        notes.append("no state known in planned time")
    performance: float | None = None
    standard_s: float | None = None
    if totals.unknown_units:
        notes.append(f"no standard time known for {totals.unknown_units} counted units")
    elif totals.total > 0:
        standard_s = totals.ideal_s / totals.total
        performance = _ratio(totals.ideal_s, totals.run_total_s)
        if performance is None:
            notes.append("counts but no running time")
    elif totals.run_total_s > 0:
        performance = 0.0  # it ran and made nothing
    else:
        notes.append("no running time and no counts")
    quality = _ratio(totals.good, totals.good + totals.scrap)
    if quality is None:
        notes.append("no good or scrap counts")
    oee: float | None = None
    if availability is not None and performance is not None and quality is not None:
        oee = availability * performance * quality
    average = _ratio(totals.run_total_s, totals.total)
    no_data = max(0.0, totals.planned_s - known)
    return {
        "period_min": _minutes(totals.period_s),
        "planned_min": _minutes(totals.planned_s),
        "run_min": _minutes(totals.run_s),
        "run_total_min": _minutes(totals.run_total_s),
        "downtime_min": _minutes(downtime),
        "idle_min": _minutes(totals.idle_s),
        "no_data_min": _minutes(no_data),
        "stops": sum(totals.stops.values()),
        "cycles": totals.cycles,
        "good": totals.good,
        "scrap": totals.scrap,
        "total_count": totals.total,
        "avg_cycle_s": _round(average, 3),
        "median_cycle_s": _round(weighted_median(totals.samples), 3),
        "standard_s": _round(standard_s, 3),
        "cycle_ratio": _round(average / standard_s if average and standard_s else None, 4),
        "utilisation": _round(_ratio(totals.run_total_s, totals.period_s), 4),
        "availability": _round(availability, 4),
        "performance": _round(performance, 4),
        "quality": _round(quality, 4),
        "oee": _round(oee, 4),
        "notes": "; ".join(notes),
        "downtime": pareto(totals.down, totals.stops),
    }


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 3)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
