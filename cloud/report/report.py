"""The resource status report over a period: build it from the event log and the plant model.

`build_report(log_entries, plant, start, end)` folds the whole log (`EventLog.replay()`) for the
period [start, end) and returns a `Report`: one row per machine (plant-model machines by station,
plus every station seen in events), one per process, and the plant's downtime Pareto. A
machine's process is the step id of the product steps whose machine groups hold it (several
joined with "+"; "unassigned" when none does or the plant model does not know it). A count's
ideal cycle time is the standard (`per_unit_min`) of the job step running when it was counted
(its ticket in the tag directory); counts made with no known step take the machine's own
standard when every step it serves has the same one. `Reports` binds a log and the current plant
model for the web interface. Same log, same plant, same period: the same report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cloud.errors import CloudError
from cloud.plant import Plant, Resource
from cloud.report.figures import Totals, finish, machine_totals, pareto
from cloud.report.fold import PeriodFold, epoch
from cloud.report.planned import planned_intervals
from cloud.report.series import Sample, cycle_series
from cloud.report.shift import Period, default_period
from cloud.status import StatusMaster
from cloud.store import EventLog

__all__ = [
    "UNASSIGNED",
    "PeriodInvalid",
    "Report",
    "Reports",
    "build_report",
    "log_span",
    "machine_processes",
    "parse_moment",
]

UNASSIGNED = "unassigned"


class PeriodInvalid(CloudError, ValueError):
    """A report period is missing, unreadable, or ends before it starts."""


#: The range a report period may lie in.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)


def parse_moment(text: str | None, name: str) -> datetime:
    """An ISO 8601 time (`Z` or an offset; without one it is UTC)."""
    if not text:
        raise PeriodInvalid(f"{name} is required (an ISO 8601 time such as 2026-03-23T06:00Z)")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError as exc:
        raise PeriodInvalid(f"{name} is not an ISO 8601 time: {text!r}") from exc
    except OverflowError as exc:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise PeriodInvalid(f"{name} is out of range: {text!r}") from exc
    if not EARLIEST <= moment <= LATEST:
        # The fold walks calendars and shifts around the period: near year 1 or 9999 that
        # arithmetic overflows, and no plant has data there.
        raise PeriodInvalid(
            f"{name} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}: {text!r}"
        )
    return moment


def machine_processes(plant: Plant | None) -> tuple[dict[str, str], dict[str, float | None]]:
    """(station -> process, station -> the machine's own standard seconds per unit or None)."""
    if plant is None:
        return {}, {}
    station_of = {r.id: (r.station or r.id) for r in plant.resources if r.kind == "machine"}
    steps: dict[str, set[str]] = {s: set() for s in station_of.values()}
    standards: dict[str, set[float]] = {s: set() for s in station_of.values()}
    for product in plant.products.values():
        for step in product.steps:
            for hold in step.holds:
                group = plant.groups.get(hold.group)
                if group is None or group.kind != "machine":
                    continue
                for member in group.members:
                    station = station_of.get(member)
                    if station is not None:
                        steps[station].add(step.id)
                        standards[station].add(step.per_unit_min * 60)
    processes = {s: "+".join(sorted(ids)) or UNASSIGNED for s, ids in steps.items()}
    own = {s: (next(iter(v)) if len(v) == 1 else None) for s, v in standards.items()}
    return processes, own


@dataclass
class Report:
    """A finished report: JSON-ready rows per machine and process, and the plant's Pareto."""

    start: datetime
    end: datetime
    events: int
    position: int
    machines: list[dict[str, Any]]
    processes: list[dict[str, Any]]
    downtime: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "from": _iso(self.start),
            "to": _iso(self.end),
            "events_folded": self.events,
            "position": self.position,
            "machines": self.machines,
            "processes": self.processes,
            "downtime": self.downtime,
        }


def build_report(
    entries: Iterable[tuple[int, Mapping[str, Any], str]],
    plant: Plant | None,
    start: datetime,
    end: datetime,
) -> Report:
    """Folds the log entries and computes the report for [start, end)."""
    if end <= start:
        raise PeriodInvalid(f"the period ends ({_iso(end)}) before it starts ({_iso(start)})")
    a, b = start.timestamp(), end.timestamp()
    fold = PeriodFold(a, b).fold(entries)
    master = StatusMaster.of(plant)
    processes, own = machine_processes(plant)
    resources: dict[str, Resource] = dict(master.machines)
    stations = sorted(set(fold.machines) | set(resources))
    rows: list[dict[str, Any]] = []
    by_process: dict[str, Totals] = {}
    process_samples: dict[str, list[Sample]] = {}
    plant_totals: Totals | None = None
    for station in sorted(stations):
        track = fold.machine(station)
        resource = resources.get(station)
        planned, basis = planned_intervals(plant, resource, a, b)

        def standard(ticket: str | None, station: str = station) -> float | None:
            per_unit = master.standard_s(ticket)[1] if ticket else None
            return per_unit if per_unit is not None else own.get(station)

        totals = machine_totals(track, a, b, planned, standard)
        process = processes.get(station, UNASSIGNED)
        samples = [
            Sample(when, track.samples[key][0], track.samples[key][1], standard(ticket))
            for key, (when, ticket) in track.sampled.items()
            if key in track.samples
        ]
        process_samples.setdefault(process, []).extend(samples)
        row = {
            "station": station,
            "name": (resource.name or resource.id) if resource else station,
            "process": process,
            "planned_basis": basis,
            **finish(totals),
        }
        rows.append(row)
        known = by_process.get(process)
        by_process[process] = totals if known is None else known + totals
        plant_totals = totals if plant_totals is None else plant_totals + totals
    process_rows = [
        {
            "process": name,
            "machines": totals.machines,
            **finish(totals),
            "cycle_series": cycle_series(process_samples.get(name, []), a, b),
        }
        for name, totals in sorted(by_process.items())
    ]
    downtime = pareto(plant_totals.down, plant_totals.stops) if plant_totals else []
    return Report(start, end, fold.events, fold.position, rows, process_rows, downtime)


class Reports:
    """Reports over one event log against the current plant model (for the web interface)."""

    def __init__(self, log: EventLog, plant: Callable[[], Plant | None]) -> None:
        self.log = log
        self._plant = plant

    def build(self, start: datetime, end: datetime) -> Report:
        """The report for [start, end), folded from the log now."""
        return build_report(self.log.replay(), self._plant(), start, end)

    def default_period(self, now: datetime) -> Period:
        """The default period at `now` (`shift.default_period`) over the log's data span."""
        plant = self._plant()
        if plant is None or not plant.calendars:
            return default_period(None, now, None, None)
        return default_period(plant, now, *self.data_span())

    def data_span(self) -> tuple[datetime | None, datetime | None]:
        """When the cloud took the log's oldest and newest events (None, None: an empty log).

        Two indexed look-ups; with archives the oldest is before any kept event (the epoch
        stands for it); when the newest event is archived too, a pass over the log.
        """
        log = self.log
        newest = log.last_position()
        if newest == 0:
            return None, None
        first, last = log.received_at(log.first_position()), log.received_at(newest)
        if first is None or last is None:
            return log_span(log.replay())
        oldest = EARLIEST if log.archives() else _moment(first)
        return oldest, _moment(last)


def log_span(
    entries: Iterable[tuple[int, Mapping[str, Any], str]],
) -> tuple[datetime | None, datetime | None]:
    """The oldest and newest (corrected) event times of the log entries; None when empty."""
    first: str | None = None
    last: str | None = None
    low = high = 0.0
    for _, _, corrected in entries:
        moment = epoch(corrected)
        if first is None or moment < low:
            first, low = corrected, moment
        if last is None or moment > high:
            last, high = corrected, moment
    if first is None or last is None:
        return None, None
    return datetime.fromtimestamp(low, UTC), datetime.fromtimestamp(high, UTC)


def _moment(text: str) -> datetime:
    return datetime.fromtimestamp(epoch(text), UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
