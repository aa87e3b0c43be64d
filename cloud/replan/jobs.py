"""Per-resource job lists of a plan, kept up to date incrementally between replans.

A replan usually moves a handful of orders; rebuilding every station's list from 10,000+ steps
would cost more than the replan itself. `JobBook.update` compares the new plan with the last one
it saw, recomputes only the orders whose steps moved, and names the resources whose lists
changed (`dirty`), which is all the publisher has to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

import numpy as np
from numpy.typing import NDArray

from cloud.scheduler.arrays import Model
from cloud.scheduler.backward import Plan

__all__ = ["Job", "JobBook"]

I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Job:
    """One job step as a resource sees it (times are contract UTC strings)."""

    order: str
    step: str
    start: str
    end: str
    product: str
    quantity: int
    operators: tuple[str, ...]
    tools: tuple[str, ...]
    #: the machines the step holds (resource ids): where its tools must be
    machines: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """`order/step`, how a schedule's `changed` names a job."""
        return f"{self.order}/{self.step}"


class JobBook:
    """Jobs per resource id (`jobs[resource][key]`), updated from successive plans."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Job]] = {}
        self.dirty: set[str] = set()
        self._by_order: dict[str, list[tuple[str, str]]] = {}
        self._start: I64 | None = None
        self._res: I64 | None = None
        self._model: Model | None = None

    def update(self, model: Model, plan: Plan, *, full: bool = False) -> set[str]:
        """Takes `plan` in; returns (and adds to `dirty`) the resources whose jobs changed.

        Args:
            model: the model the plan belongs to.
            plan: the new plan.
            full: the model was rebuilt (indices changed): recompute every order.
        """
        p = model.problem
        same = (
            not full
            and self._model is model
            and self._start is not None
            and self._res is not None
            and self._start.shape == plan.start.shape
        )
        if same:
            assert self._start is not None and self._res is not None
            moved = self._start != plan.start
            q_moved = self._res != plan.res
            step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
            moved[step_of_req[q_moved]] = True
            orders = np.unique(p.step_order()[moved]).tolist()
        else:
            orders = list(range(p.n_orders))
            live = {o.id for o in model.orders}
            for oid in [x for x in self._by_order if x not in live]:
                self._drop(oid)
        for o in orders:
            self._order(model, plan, int(o))
        self._start, self._res, self._model = plan.start.copy(), plan.res.copy(), model
        return self.dirty

    def _drop(self, oid: str) -> None:
        for res_id, key in self._by_order.pop(oid, []):
            self.jobs.get(res_id, {}).pop(key, None)
            self.dirty.add(res_id)

    def _order(self, model: Model, plan: Plan, o: int) -> None:
        p = model.problem
        plant = model.plant
        order = model.orders[o]
        self._drop(order.id)
        entries: list[tuple[str, str]] = []
        minute = np.timedelta64(plant.slot_minutes, "m")
        origin = np.datetime64(model.origin.astimezone(UTC).replace(tzinfo=None), "m")
        for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
            st = int(plan.start[s])
            if st < 0:
                continue
            step = model.steps[s][1]
            qs = range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))
            held = [plant.resources[int(plan.res[q])] for q in qs if plan.res[q] >= 0]
            operators = tuple(r.id for r in held if r.kind == "operator")
            tools = tuple(r.id for r in held if r.kind == "tool")
            machines = tuple(r.id for r in held if r.kind == "machine")
            for q in qs:
                r = int(plan.res[q])
                if r < 0:
                    continue
                a = st + int(p.req_off[q])
                b = a + int(p.req_len[q])
                times = np.datetime_as_string(origin + np.array([a, b]) * minute, unit="s")
                job = Job(
                    order.id,
                    step.id,
                    f"{times[0]}Z",
                    f"{times[1]}Z",
                    order.product,
                    order.quantity,
                    operators,
                    tools,
                    machines,
                )
                res_id = plant.resources[r].id
                self.jobs.setdefault(res_id, {})[job.key] = job
                entries.append((res_id, job.key))
                self.dirty.add(res_id)
        self._by_order[order.id] = entries
