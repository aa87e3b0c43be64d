"""Learned standard times for the plan: what is offered, what a planner accepted, what is planned.

The status measures (`cloud.status.learned`: per product step and station, the robust median of
the last jobs' seconds per unit). The plant setting `planning.learned_times` says what the plan
takes: `accept` (the default) — the times planners accepted (`POST /api/plan/times`, recorded as
a `plan.times` event before the plan changes, so a restart keeps them); `auto` — every learned
time as soon as the rule offers it. The kernel gives a step one duration whatever machine it
runs on, so a product step's planning time is the largest time in use over its stations (the
plan holds whichever machine it picks long enough for the slowest one measured); a step without
one keeps the master data's standard. `StandardTimes.update` tells the replanner
(`TimesChanged`) whenever that set changes: after an acceptance, after an ingest round that
ended a job (auto), and at start.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cloud.errors import CloudError
from cloud.plant import Plant
from cloud.replan.record import PlanningRecorder
from cloud.replan.triggers import TimesChanged
from cloud.status import ResourceStatus
from cloud.status.learned import LearnedTime
from cloud.store import LogRecord

if TYPE_CHECKING:
    from cloud.replan.replanner import Replanner

__all__ = ["NothingToAccept", "StandardTimes", "planning_times", "with_times"]

Key = tuple[str, str, str]  # product, step, station


class NothingToAccept(CloudError, ValueError):
    """An acceptance named a product step and station without a learned time to accept."""


def planning_times(in_use: Mapping[Key, float]) -> tuple[tuple[str, str, float], ...]:
    """Per product step, the largest seconds per unit in use over its stations, sorted."""
    out: dict[tuple[str, str], float] = {}
    for (product, step, _station), seconds in in_use.items():
        out[(product, step)] = max(out.get((product, step), 0.0), seconds)
    return tuple((product, step, s) for (product, step), s in sorted(out.items()))


def with_times(plant: Plant, times: Iterable[tuple[str, str, float]]) -> Plant:
    """`plant` with the named product steps' `per_unit_min` replaced (seconds -> minutes)."""
    by_product: dict[str, dict[str, float]] = {}
    for product, step, seconds in times:
        by_product.setdefault(product, {})[step] = seconds / 60
    if not by_product:
        return plant
    products = dict(plant.products)
    for pid, steps in by_product.items():
        known = products.get(pid)
        if known is None:
            continue
        products[pid] = dataclasses.replace(
            known,
            steps=tuple(
                dataclasses.replace(s, per_unit_min=steps[s.id]) if s.id in steps else s
                for s in known.steps
            ),
        )
    return dataclasses.replace(plant, products=products)


class StandardTimes:
    """Offers learned times, records acceptances, and keeps the plan's times current."""

    def __init__(
        self,
        status: ResourceStatus,
        replanner: Replanner,
        recorder: PlanningRecorder | None = None,
    ) -> None:
        self.status = status
        self.replanner = replanner
        self.recorder = recorder
        self._told: tuple[tuple[str, str, float], ...] = ()
        self._lock = threading.RLock()

    @property
    def mode(self) -> str:
        """The plant's `planning.learned_times` (`accept` or `auto`)."""
        plant = self.status.master.plant
        return plant.learned_times if plant is not None else "accept"

    def offered(self) -> list[LearnedTime]:
        """The rule's result for every product step and station with finished jobs."""
        plant = self.status.master.plant
        if plant is None:
            return []
        return self.status.learned_times(plant.learned_jobs, plant.learned_min_jobs)

    def in_use(self, offered: Sequence[LearnedTime] | None = None) -> dict[Key, float]:
        """(product, step, station) -> the seconds per unit the plan takes (by the mode)."""
        if self.mode == "auto":
            rows = self.offered() if offered is None else offered
            return {
                (t.product, t.step, t.station): t.learned.seconds
                for t in rows
                if t.learned.seconds is not None
            }
        return {key: a.per_unit_s for key, a in self.status.accepted_times().items()}

    def view(self) -> dict[str, Any]:
        """What `GET /api/plan/times` answers: the mode and standard vs learned vs planned."""
        with self._lock:
            offered = self.offered()
            accepted = self.status.accepted_times()
            used = self.in_use(offered)
            planned = {(p, s): x for p, s, x in planning_times(used)}
            rows: dict[Key, dict[str, Any]] = {}
            for t in offered:
                rows[(t.product, t.step, t.station)] = t.to_dict()
            for key in accepted.keys() - rows.keys():
                product, step, station = key
                rows[key] = {
                    "product": product,
                    "step": step,
                    "station": station,
                    "standard_s": self._standard_s(product, step),
                    "learned_s": None,
                    "jobs": 0,
                    "dropped": 0,
                }
            for key, row in rows.items():
                a = accepted.get(key)
                row["accepted_s"] = round(a.per_unit_s, 3) if a is not None else None
                row["accepted_by"] = a.by if a is not None else None
                row["in_use_s"] = round(used[key], 3) if key in used else None
                plan = planned.get(key[:2])
                row["plan_s"] = round(plan, 3) if plan is not None else row["standard_s"]
            return {"mode": self.mode, "times": [rows[k] for k in sorted(rows)]}

    def _standard_s(self, product: str, step: str) -> float | None:
        plant = self.status.master.plant
        found = plant.products.get(product) if plant is not None else None
        for s in found.steps if found is not None else ():
            if s.id == step:
                return round(s.per_unit_min * 60, 3)
        return None

    def accept(self, selection: Sequence[Mapping[str, Any]] | None, user: str) -> list[Key]:
        """Records the planner's acceptance, then replans with it; returns what was accepted.

        `selection` lists `{product, step, station}` (the offered learned time is accepted),
        with `per_unit_s` a chosen value or `None` to go back to the standard; `None` accepts
        every offered learned time.

        Raises:
            NothingToAccept: nothing offered, or a named entry has no learned time.
        """
        with self._lock:
            offered = {
                (t.product, t.step, t.station): t.learned.seconds
                for t in self.offered()
                if t.learned.seconds is not None
            }
            items: list[tuple[str, str, str, float | None]] = []
            if selection is None:
                items = [(*key, round(s, 3)) for key, s in sorted(offered.items())]
            for entry in selection or ():
                key = (str(entry["product"]), str(entry["step"]), str(entry["station"]))
                if self._standard_s(key[0], key[1]) is None:
                    raise NothingToAccept(f"no product step {key[0]}/{key[1]} in the plant model")
                if "per_unit_s" in entry:
                    value = entry["per_unit_s"]
                    items.append((*key, None if value is None else float(value)))
                elif key in offered:
                    items.append((*key, round(offered[key], 3)))
                else:
                    raise NothingToAccept(f"no learned time is offered for {'/'.join(key)}")
            if not items:
                raise NothingToAccept("no learned time is offered yet")
            if self.recorder is not None:
                self.recorder.times(items, user)  # in the log first, then in the plan
            else:
                self.status.planning.apply(
                    "plan.times",
                    {
                        "times": [
                            {"product": p, "step": s, "station": st, "per_unit_s": x}
                            for p, s, st, x in items
                        ],
                        "by": user,
                    },
                    self.status.latest or "",
                )
            self.replanner._record(user, "learned_times_accepted", times=len(items))
            self.update()
            return [item[:3] for item in items]

    def update(self) -> bool:
        """Tells the replanner the plan's times when they changed; True when it did."""
        with self._lock:
            times = planning_times(self.in_use())
            if times == self._told:
                return False
            self._told = times
        self.replanner.submit(TimesChanged(times))
        return True

    def committed(self, records: Iterable[LogRecord]) -> None:
        """After an ingest round (auto mode): a job ended may change a learned time."""
        if self.mode == "auto" and any(r.type == "job.ticket" for r in records):
            self.update()
