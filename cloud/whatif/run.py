"""Scenarios planned beside the live plan: a copy of the plan's engine, the changes, the figures.

A scenario starts from a base — the live replanner's engine now (`Replanner.engine_copy`), or the
engine rebuilt from the event log at a past moment (`engine_at` over `cloud.timetravel`), or one
built from a plant and orders files — takes its changes as the replanner's own triggers
(`cloud.whatif.changes`) and replans a copy exactly as the replanner would: `Engine.apply` and
then, when the replanner improves, `Engine.improve` with the same seed and budget. The
constructions of all scenarios run in one batched kernel call (`Engine.apply_steps` hands each
out; `cloud.scheduler.batch` plans them along a scenario axis, each equal to its single call).
So a scenario that changes nothing is the live plan itself, and a breakdown scenario is the
plan the real breakdown would give. Nothing here touches the live plan or the log; promoting a
scenario is the planners' act (`cloud.whatif.promote`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec

from cloud.plant import Plant
from cloud.replan.engine import Engine, Outcome
from cloud.replan.restore import restore_planning
from cloud.replan.triggers import Trigger
from cloud.scheduler.backward import Plan
from cloud.scheduler.batch import ScenarioJob, plan_scenarios
from cloud.status import ResourceStatus
from cloud.whatif.changes import Change, apply_changes
from cloud.whatif.kpis import kpis

__all__ = ["Scenario", "ScenarioResult", "engine_at", "plan_digest", "run_scenarios"]


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A named set of changes (none: the base plan itself)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    changes: Annotated[list[Change], msgspec.Meta(max_length=100)] = []


@dataclass
class ScenarioResult:
    """One scenario planned: its figures, its late orders, how long it took."""

    name: str
    kpis: dict[str, Any]
    late_orders: list[dict[str, Any]] = field(default_factory=list)
    digest: str = ""
    seconds: float = 0.0
    engine: Engine | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (without the engine)."""
        return {
            "name": self.name,
            "kpis": self.kpis,
            "late_orders": self.late_orders,
            "digest": self.digest,
            "seconds": round(self.seconds, 4),
        }


def plan_digest(engine: Engine) -> str:
    """Identifies a plan: every step's start slot and resources (equal plans, equal digests)."""
    digest = hashlib.sha256(engine.model.origin.isoformat().encode())
    digest.update(engine.plan.start.tobytes())
    digest.update(engine.plan.res.tobytes())
    return digest.hexdigest()[:16]


def _late_orders(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    from cloud.scheduler.arrays import order_summary

    causes = engine.causes(now)
    out = []
    for row in order_summary(engine.model, engine.plan):
        if row["status"] in ("late", "unplanned"):
            oid = str(row["order"])
            cause = causes.get(oid)
            out.append(
                {
                    "order": oid,
                    "status": row["status"],
                    "tardiness_min": row["tardiness_min"],
                    "cause": cause.to_dict().get("cause", "") if cause is not None else "",
                }
            )
    return out


def run_scenarios(
    base: Engine,
    scenarios: list[Scenario],
    now: datetime,
    *,
    improve: bool = True,
    keep_engines: bool = False,
) -> list[ScenarioResult]:
    """Plans each scenario on its own copy of `base` (left untouched); results in order.

    The constructions of all scenarios run in one batched kernel call
    (`cloud.scheduler.batch.plan_scenarios`: the plan each would get alone, scenario by
    scenario); the improvement phase then runs per scenario, as the replanner runs it. A
    scenario's `seconds` are its improvement plus its share of the batched construction.

    Raises `ScenarioInvalid` (before planning any) when a change does not fit the plan.
    """
    prepared: list[tuple[Scenario, Engine, list[Trigger]]] = []
    for scenario in scenarios:
        engine = copy.deepcopy(base)
        prepared.append((scenario, engine, apply_changes(engine, list(scenario.changes), now)))
    shared = _construct_together(
        [engine.apply_steps(triggers, now) for _, engine, triggers in prepared if triggers]
    )
    results = []
    for scenario, engine, triggers in prepared:
        began = time.perf_counter()
        if triggers and improve:
            engine.improve(now)
        results.append(
            ScenarioResult(
                scenario.name,
                kpis(engine, max(0, engine.slot(now))),
                _late_orders(engine, now),
                plan_digest(engine),
                time.perf_counter() - began + (shared if triggers else 0.0),
                engine if keep_engines else None,
            )
        )
    return results


def _construct_together(runs: list[Generator[ScenarioJob, Plan, Outcome]]) -> float:
    """Drives engines' `apply_steps` with their kernel jobs batched; seconds per run."""
    began = time.perf_counter()
    try:
        pending: dict[int, ScenarioJob] = {}
        for i, run in enumerate(runs):
            with contextlib.suppress(StopIteration):
                pending[i] = next(run)
        while pending:
            order = sorted(pending)
            plans = plan_scenarios([pending[i] for i in order], keep_state=True)
            pending = {}
            for i, plan in zip(order, plans, strict=True):
                with contextlib.suppress(StopIteration):
                    pending[i] = runs[i].send(plan)
    finally:
        for run in runs:
            run.close()  # a run left waiting (another one raised) undoes its pins
    return (time.perf_counter() - began) / max(1, len(runs))


class _Collector:
    def __init__(self) -> None:
        self.triggers: list[Trigger] = []

    def submit(self, trigger: Any) -> None:
        self.triggers.append(trigger)


def engine_at(
    status: ResourceStatus,
    plant: Plant,
    now: datetime,
    *,
    frozen: timedelta = timedelta(minutes=30),
    improve: bool = True,
    repair_estimate: timedelta | None = None,
) -> Engine:
    """The planner's engine as a cloud starting from `status` at `now` builds it.

    The orders, pins and times of the planning state (`restore_planning`), and the floor as the
    status knows it — breakdowns, progress, late deliveries, leave, absences — told as a
    restarting cloud tells them (`FloorReactions.catch_up`, with the cloud's `repair_estimate`:
    a broken machine planned back after that long; None: until further notice), then improved
    as the replanner does.
    """
    from cloud.reactions import FloorReactions
    from cloud.status import StatusMaster

    status.set_master(StatusMaster.of(plant))
    restored = restore_planning(status.planning, plant)
    engine = Engine(plant, restored.orders, now, frozen=frozen)
    engine.manual.update(restored.pins)
    sink = _Collector()
    reactions = FloorReactions(status, replanner=sink, repair_estimate=repair_estimate)
    reactions.plant_changed(plant)
    reactions.catch_up()
    engine.apply(sink.triggers, now, restore=True)
    if improve:
        engine.improve(now)
    return engine
