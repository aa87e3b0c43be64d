"""The figures a planner compares scenarios by, read off one plan and its resource check.

- `on_time_pct`: orders whose last step ends by its due date (on time or early), of all orders;
- `late`, `unplanned`: orders ending after their due date, orders the plan could not place;
- `tardiness_min`, `earliness_min`: minutes late and early summed over the steps with a due
  date (`order_summary`); `weighted_cost`: the plan's objective, weighted earliness plus
  tardiness (`step_costs`) — what the scheduler minimises;
- `wip`: the average number of orders in progress (first step started, last not ended) from
  now to the end of the plan (Little's law: the sum of the orders' flow times over the span);
- `utilisation`: per resource group, slots required over slots the group can work from now to
  the end of the plan (the resource check's two arrays), and over all groups;
- `gaps`, `shortfall_slot_units`: the check's shortage runs, and their size summed over slots.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cloud.replan.engine import Engine
from cloud.scheduler.arrays import order_summary
from cloud.scheduler.backward import step_costs

__all__ = ["kpis"]


def kpis(engine: Engine, now_slot: int) -> dict[str, Any]:
    """The scenario figures of `engine`'s current plan, from slot `now_slot` on."""
    model, plan = engine.model, engine.plan
    p = model.problem
    rows = order_summary(model, plan)
    n = len(rows)
    late = sum(1 for r in rows if r["status"] == "late")
    unplanned = sum(1 for r in rows if r["status"] == "unplanned")
    on_time = sum(1 for r in rows if r["status"] in ("on_time", "early"))
    e, t = step_costs(p, plan.start)
    starts, ends = [], []
    for o in range(n):
        s0, s1 = int(p.order_ptr[o]), int(p.order_ptr[o + 1])
        if plan.unplaced[o] or plan.start[s0:s1].min() < 0:
            continue
        starts.append(int(plan.start[s0:s1].min()))
        ends.append(int((plan.start[s0:s1] + p.dur[s0:s1]).max()))
    horizon_end = max([now_slot + 1, *ends])
    span = horizon_end - now_slot
    flow = sum(max(0, end - max(start, now_slot)) for start, end in zip(starts, ends, strict=True))
    check = engine.check()
    window = slice(now_slot, horizon_end)
    required = check.requirement[:, window].sum(axis=1)
    capacity = check.capacity[:, window].sum(axis=1)
    by_group = {
        group: round(float(required[g]) / float(capacity[g]), 4)
        for g, group in enumerate(check.groups)
        if capacity[g] > 0
    }
    total_capacity = float(capacity.sum())
    return {
        "orders": n,
        "on_time_pct": round(100.0 * on_time / n, 2) if n else 100.0,
        "late": late,
        "unplanned": unplanned,
        "tardiness_min": int(sum(int(r["tardiness_min"]) for r in rows)),  # type: ignore[call-overload]
        "earliness_min": int(sum(int(r["earliness_min"]) for r in rows)),  # type: ignore[call-overload]
        "weighted_cost": round(float(np.sum(e) + np.sum(t)), 3),
        "wip": round(flow / span, 3),
        "utilisation": round(float(required.sum()) / total_capacity, 4) if total_capacity else 0.0,
        "utilisation_by_group": by_group,
        "gaps": len(check.gaps),
        "shortfall_slot_units": int(
            sum(g.shortfall * (g.end_slot - g.start_slot) for g in check.gaps)
        ),
        "plan_end": model.time_of(horizon_end).isoformat(),
    }
