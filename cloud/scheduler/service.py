"""One planning run: plant and orders to a checked plan, and the plan as a schedule document.

Used by `taktline plan` and by the replanning loop: build the arrays, construct backward,
improve within a budget, run the resource check, and write the schedule
(`docs/schemas/schedule.schema.json`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloud.plant import Order, Plant
from cloud.scheduler.arrays import Model, build, order_summary
from cloud.scheduler.backward import Plan, plan_backward, step_costs
from cloud.scheduler.causes import OrderCauses, explain
from cloud.scheduler.check import Check, check_plan, shortfall_text
from cloud.scheduler.improve import Improvement, improve_plan
from cloud.scheduler.problem import jit_sequence

__all__ = ["PlanResult", "plan_orders", "schedule_document", "summary_lines"]


@dataclass
class PlanResult:
    """Everything one planning run produced."""

    model: Model
    plan: Plan
    improvement: Improvement
    check: Check
    seconds: float


def plan_orders(
    plant: Plant,
    orders: list[Order],
    now: datetime,
    *,
    seed: int = 0,
    improve_s: float = 1.0,
    improve_iters: int = 10_000,
    progress: Callable[[float], None] | None = None,
) -> PlanResult:
    """Plans `orders` on `plant` from `now`: construction, improvement, resource check."""
    import numpy as np

    t0 = time.perf_counter()
    model = build(plant, orders, now)
    p = model.problem
    # higher priority first; among equals, most earliness cost per slot first
    seq = jit_sequence(p, np.array([o.priority for o in model.orders], dtype=np.int64))
    plan = plan_backward(p, seq)
    imp = improve_plan(
        p, plan, seed=seed, max_iters=improve_iters, time_s=improve_s, progress=progress
    )
    plan.start, plan.res = imp.start, imp.res
    # rebuild the busy map from the improved starts and resources
    busy = np.zeros_like(plan.busy)
    step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
    for q in np.flatnonzero(plan.res >= 0).tolist():
        a = int(plan.start[step_of_req[q]] + p.req_off[q])
        busy[int(plan.res[q]), a : a + int(p.req_len[q])] = True
    plan.busy = busy
    check = check_plan(model, plan)
    return PlanResult(model, plan, imp, check, time.perf_counter() - t0)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_document(
    result: PlanResult, causes: Mapping[str, OrderCauses] | None = None
) -> dict[str, Any]:
    """The schedule as JSON-ready data (see `docs/schemas/schedule.schema.json`).

    Every order off its due date carries its cause chain (`cloud.scheduler.causes`): `causes`
    from the replanner, which knows the floor events; else computed from the plan alone.
    """
    model, plan = result.model, result.plan
    p = model.problem
    plant = model.plant
    slot = plant.slot_minutes
    per_order = order_summary(model, plan)
    if causes is None:
        causes = explain(model, plan, result.check, summary=per_order)
    orders_out: list[dict[str, Any]] = []
    per_res: dict[str, list[dict[str, Any]]] = {r.id: [] for r in plant.resources}
    for o, row in enumerate(per_order):
        steps_out: list[dict[str, Any]] = []
        for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
            step = model.steps[s][1]
            if plan.start[s] < 0:
                steps_out.append({"step": step.id, "start": None, "end": None, "resources": []})
                continue
            holds = []
            for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                res_id = plant.resources[int(plan.res[q])].id
                a = int(plan.start[s] + p.req_off[q])
                b = a + int(p.req_len[q])
                holds.append(
                    {
                        "group": model.req_group[q],
                        "resource": res_id,
                        "start": _iso(model.time_of(a)),
                        "end": _iso(model.time_of(b)),
                    }
                )
                per_res[res_id].append(
                    {
                        "order": row["order"],
                        "step": step.id,
                        "start": _iso(model.time_of(a)),
                        "end": _iso(model.time_of(b)),
                    }
                )
            steps_out.append(
                {
                    "step": step.id,
                    "start": _iso(model.time_of(int(plan.start[s]))),
                    "end": _iso(model.time_of(int(plan.start[s] + p.dur[s]))),
                    "resources": holds,
                }
            )
        orders_out.append(
            {
                "order": row["order"],
                "status": row["status"],
                "due": _iso(row["due"]),  # type: ignore[arg-type]
                "end": _iso(row["end"]),  # type: ignore[arg-type]
                "earliness_min": row["earliness_min"],
                "tardiness_min": row["tardiness_min"],
                "steps": steps_out,
            }
        )
        why = causes.get(str(row["order"]))
        if why is not None:
            orders_out[-1].update(why.to_dict())
    for rows in per_res.values():
        rows.sort(key=lambda x: str(x["start"]))
    gaps = [
        {
            "group": g.group,
            "start": _iso(model.time_of(g.start_slot)),
            "end": _iso(model.time_of(g.end_slot)),
            "shortfall": g.shortfall,
            "orders": g.orders,
            "earliness_min": g.earliness_slots * slot,
            "tardiness_min": g.tardiness_slots * slot,
        }
        for g in result.check.gaps
    ]
    blocked = [
        {
            "order": b.order,
            "step": b.step,
            "blocked_by": list(b.groups),
            "ideal_start": _iso(model.time_of(b.ideal_slot)),
            "planned_start": _iso(model.time_of(b.planned_slot)),
            "moved_min": b.moved_slots * slot,
        }
        for b in result.check.blocked
    ]
    return {
        "site": plant.site,
        "origin": _iso(model.origin),
        "slot_minutes": slot,
        "summary": _summary(result, per_order),
        "orders": orders_out,
        "resources": per_res,
        "gaps": gaps,
        "blocked": blocked,
        "errors": [
            {"order": e.order, "step": e.step, "resource": e.resource, "message": e.message}
            for e in model.errors
        ],
    }


def _summary(result: PlanResult, per_order: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {k: 0 for k in ("on_time", "early", "late", "unplanned")}
    for row in per_order:
        counts[str(row["status"])] += 1
    e, t = step_costs(result.model.problem, result.plan.start)
    return {
        "orders": len(per_order),
        **counts,
        "not_planned": len({e.order for e in result.model.errors}),
        "earliness_min": sum(int(r["earliness_min"]) for r in per_order),
        "tardiness_min": sum(int(r["tardiness_min"]) for r in per_order),
        "weighted_cost": round(float(e.sum() + t.sum()), 3),
        "cost_before_improvement": round(result.improvement.cost_before, 3),
        "improvement_iterations": result.improvement.iterations,
        "improvement_stopped_by": result.improvement.stopped_by,
        "gaps": len(result.check.gaps),
        "seconds": round(result.seconds, 3),
    }


#: Gaps the summary prints (the rest are counted, and all are in the schedule document).
SUMMARY_GAPS = 10


def summary_lines(result: PlanResult) -> list[str]:
    """Human-readable summary of a planning run."""
    s = _summary(result, order_summary(result.model, result.plan))
    lines = [
        f"{s['orders']} orders planned: {s['on_time']} on time, {s['early']} early, "
        f"{s['late']} late, {s['unplanned']} unplaced; {s['not_planned']} could not be planned",
        f"total earliness {s['earliness_min']} min, tardiness {s['tardiness_min']} min; "
        f"weighted cost {s['weighted_cost']} (construction {s['cost_before_improvement']})",
        f"{s['gaps']} gap(s) in the resource check; planned in {s['seconds']} s",
        f"improvement: {s['improvement_iterations']} iterations, stopped by "
        f"{s['improvement_stopped_by']}"
        + (
            " (wall-clock cap: plan depends on machine load)"
            if result.improvement.cut_by_time
            else ""
        ),
    ]
    for g in result.check.gaps[:SUMMARY_GAPS]:
        short = shortfall_text(result.model.plant, g.group, g.shortfall)
        lines.append(
            f"  gap {g.group}: short {short} from "
            f"{_iso(result.model.time_of(g.start_slot))} to "
            f"{_iso(result.model.time_of(g.end_slot))}; orders {', '.join(g.orders) or '-'}"
        )
    if len(result.check.gaps) > SUMMARY_GAPS:
        left = len(result.check.gaps) - SUMMARY_GAPS
        lines.append(f"  ... and {left} more gap(s): the schedule document (--out) has them all")
    for err in result.model.errors:
        lines.append(f"  not planned: {err}")
    return lines
