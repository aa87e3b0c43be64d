"""The plant model and orders to kernel arrays, and the kernel's plan back to a schedule.

`build` turns a `Plant`, its orders and "now" into a `Problem` plus the index maps needed to read
the plan back. Orders that cannot be planned (a product without a routing, a group nobody
provides, a step longer than any calendar window of its resources) are left out with a
`PlanningError` naming the order, the step and the resource group; the rest is planned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from cloud.plant import Order, Plant, Step
from cloud.scheduler.backward import NO_DUE, Plan, Problem, step_costs
from cloud.scheduler.calendar import floor_to_slot, resource_masks, slot_of

__all__ = ["Model", "PlanningError", "build", "longest_runs", "order_summary"]

I64 = NDArray[np.int64]

#: slots planned after the latest due date (room for orders placed forward)
_DAYS_AFTER_DUE = 7


@dataclass(frozen=True)
class PlanningError:
    """An order (or one of its steps) that could not be planned, and why."""

    order: str
    step: str
    resource: str
    message: str

    def __str__(self) -> str:
        where = "/".join(x for x in (self.order, self.step, self.resource) if x)
        return f"{where}: {self.message}"


@dataclass
class Model:
    """A `Problem` with the names behind its indices."""

    plant: Plant
    origin: datetime
    problem: Problem
    orders: list[Order]
    steps: list[tuple[int, Step]]
    req_group: list[str]
    errors: list[PlanningError]

    def time_of(self, slot: int) -> datetime:
        """UTC time at the start of `slot`."""
        return self.origin + timedelta(minutes=slot * self.plant.slot_minutes)


def longest_runs(mask: NDArray[np.bool_]) -> I64:
    """Length of the longest run of True in each row."""
    r, t = mask.shape
    padded = np.zeros((r, t + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows_up, up = np.nonzero(edges == 1)
    _, down = np.nonzero(edges == -1)
    out = np.zeros(r, dtype=np.int64)
    np.maximum.at(out, rows_up, down - up)
    return out


def _within_horizon(
    plant: Plant, orders: list[Order], origin: datetime, errors: list[PlanningError]
) -> list[Order]:
    """The orders whose dates lie within the planning horizon of `origin`; the rest as errors.

    The kernel's arrays are as long as the span to the latest due date: that span, never an
    input's date, bounds what the planner allocates.
    """
    horizon = timedelta(days=plant.horizon_days)
    kept = []
    for order in orders:
        dates = [order.due, *(s.due for s in order.steps.values())]
        if order.release is not None:
            dates.append(order.release)
        outside = [d for d in dates if abs(d - origin) > horizon]  # never origin ± horizon:
        # an origin near datetime's own limits (a pin at year 1) would overflow
        if outside:
            errors.append(
                PlanningError(
                    order.id,
                    "",
                    "",
                    f"{outside[0].isoformat()} lies outside the planning horizon of"
                    f" {plant.horizon_days} days from {origin.isoformat()}",
                )
            )
        else:
            kept.append(order)
    return kept


def build(plant: Plant, orders: list[Order], now: datetime) -> Model:
    """Maps the plant and its orders onto kernel arrays from `now` on (slot 0 = now)."""
    slot = plant.slot_minutes
    origin = floor_to_slot(now, slot)
    errors: list[PlanningError] = []
    orders = _within_horizon(plant, orders, origin, errors)
    last_due = max((o.due for o in orders), default=origin)
    span = max(last_due - origin, timedelta(0)) + timedelta(days=_DAYS_AFTER_DUE)
    n_slots = max(1, math.ceil(span / timedelta(minutes=slot)))
    open_, open_span = resource_masks(plant, origin, n_slots)
    run_plain = longest_runs(open_)
    run_span = longest_runs(open_span)
    res_index = {r.id: i for i, r in enumerate(plant.resources)}

    def slots(minutes: float) -> int:
        return math.ceil(minutes / slot - 1e-9)

    kept: list[Order] = []
    steps: list[tuple[int, Step]] = []
    order_ptr = [0]
    dur: list[int] = []
    due: list[int] = []
    release: list[int] = []
    transfer: list[int] = []
    spans: list[bool] = []
    w_early: list[float] = []
    w_tardy: list[float] = []
    req_ptr = [0]
    req_off: list[int] = []
    req_len: list[int] = []
    req_group: list[str] = []
    cand_ptr = [0]
    cand_res: list[int] = []
    for order in orders:
        product = plant.products.get(order.product)
        if product is None or not product.steps:
            errors.append(
                PlanningError(order.id, "", "", f"product {order.product!r} has no routing")
            )
            continue
        problems: list[PlanningError] = []
        rows = []
        for k, step in enumerate(product.steps):
            d = max(1, slots(step.minutes(order.quantity)))
            runs = run_span if step.spans_breaks else run_plain
            reqs = []
            for hold in step.holds:
                group = plant.groups.get(hold.group)
                members = [res_index[m] for m in group.members] if group else []
                a = int(hold.start_min // slot)
                b = d if hold.end_min is None else min(d, slots(hold.end_min))
                length = max(1, b - a)
                if not members:
                    problems.append(
                        PlanningError(order.id, step.id, hold.group, "no resource provides it")
                    )
                elif max(int(runs[m]) for m in members) < a + length:
                    problems.append(
                        PlanningError(
                            order.id,
                            step.id,
                            hold.group,
                            f"step needs {a + length} min of {slot} min slots in one piece;"
                            " longer than any calendar window of the group",
                        )
                    )
                reqs.append((a, length, members, hold.group))
            own = order.steps.get(step.id)
            is_last = k == len(product.steps) - 1
            if own is not None:
                sdue, we, wt = own.due, own.earliness_weight, own.tardiness_weight
            elif is_last:
                sdue, we, wt = order.due, order.earliness_weight, order.tardiness_weight
            else:
                sdue, we, wt = None, 0.0, 0.0
            ready = [order.release] if order.release else []
            for m in step.materials:
                mat = plant.materials.get(m)
                if mat is not None and mat.ready is not None:
                    ready.append(mat.ready)
            rel = max([0, *(slot_of(t, origin, slot, up=True) for t in ready)])
            rows.append((k, step, d, sdue, we, wt, rel, reqs))
        if problems:
            errors.extend(problems)
            continue
        kept.append(order)
        for k, step, d, sdue, we, wt, rel, reqs in rows:
            steps.append((len(kept) - 1, step))
            dur.append(d)
            due.append(int(NO_DUE) if sdue is None else slot_of(sdue, origin, slot))
            release.append(rel)
            transfer.append(slots(step.transfer_min))
            spans.append(step.spans_breaks)
            w_early.append(we * slot)
            w_tardy.append(wt * slot)
            for a, length, members, gname in reqs:
                req_off.append(a)
                req_len.append(length)
                req_group.append(gname)
                cand_res.extend(members)
                cand_ptr.append(len(cand_res))
            req_ptr.append(len(req_off))
            del k
        order_ptr.append(len(dur))

    def arr(x: list[int]) -> I64:
        return np.array(x, dtype=np.int64)

    problem = Problem(
        open_=open_,
        open_span=open_span,
        order_ptr=arr(order_ptr),
        dur=arr(dur),
        due=arr(due),
        release=arr(release),
        transfer=arr(transfer),
        span=np.array(spans, dtype=np.bool_),
        req_ptr=arr(req_ptr),
        req_off=arr(req_off),
        req_len=arr(req_len),
        cand_ptr=arr(cand_ptr),
        cand_res=arr(cand_res),
        w_early=np.array(w_early, dtype=np.float64),
        w_tardy=np.array(w_tardy, dtype=np.float64),
    )
    return Model(plant, origin, problem, kept, steps, req_group, errors)


def order_summary(model: Model, plan: Plan) -> list[dict[str, object]]:
    """Per order: status (on_time, early, late, unplanned), end, due, earliness and tardiness."""
    p = model.problem
    e, t = step_costs(p, plan.start)
    out: list[dict[str, object]] = []
    slot = model.plant.slot_minutes
    for o, order in enumerate(model.orders):
        s0, s1 = int(p.order_ptr[o]), int(p.order_ptr[o + 1])
        last = s1 - 1
        if plan.unplaced[o] or plan.start[s0:s1].min() < 0:
            status, end_slot = "unplanned", None
        else:
            end_slot = int(plan.start[last] + p.dur[last])
            due = int(p.due[last])
            status = "on_time" if end_slot == due else ("early" if end_slot < due else "late")
        early = sum(
            max(0, int(p.due[s] - plan.start[s] - p.dur[s]))
            for s in range(s0, s1)
            if p.due[s] < NO_DUE and plan.start[s] >= 0
        )
        late = sum(
            max(0, int(plan.start[s] + p.dur[s] - p.due[s]))
            for s in range(s0, s1)
            if p.due[s] < NO_DUE and plan.start[s] >= 0
        )
        out.append(
            {
                "order": order.id,
                "status": status,
                "end": None if end_slot is None else model.time_of(end_slot),
                "due": order.due,
                "earliness_min": early * slot,
                "tardiness_min": late * slot,
                "cost": float(e[s0:s1].sum() + t[s0:s1].sum()),
            }
        )
    return out
