"""Incremental replanning: what stays, what moves, and the kernel calls that move it.

The engine holds the plant, the live orders, what is known to be lost (breakdowns, absences)
and real progress (actual starts), plus the current `Model` and `Plan` with the kernel's state.
Steps already started stay where they are; steps starting inside the frozen window (from now)
stay too unless a resource they hold is lost. Both are *pinned*: for the duration of a kernel call
a pinned step's release and due slot are its start (weights zero) and its planned resource is
first among its candidates, so the placement rule can only put it back where it was.

Two paths: a resource lost, a late step, a late delivery or a moved start go through the kernel's
incremental `replan` (close the resource, release the orders that held it, place them again:
milliseconds); orders created / changed / cancelled and a resource back rebuild the model from
now with every pin carried over. Both may then run the improvement phase within the plant's
budget (`Plant.improve_seconds`), again with all pins in force.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from cloud.plant import Material, Order, Plant, Window
from cloud.replan.circumstances import note
from cloud.replan.errors import UnknownOrder
from cloud.replan.times import with_times
from cloud.replan.triggers import (
    DeliveryLate,
    MaterialLate,
    OperatorsPresent,
    OrderCancelled,
    OrderChanged,
    OrderCreated,
    ResourceBack,
    ResourceLost,
    StepEnded,
    StepLate,
    StepStarted,
    TimesChanged,
    Trigger,
)
from cloud.scheduler._kernel import Kernel
from cloud.scheduler.arrays import Model, build
from cloud.scheduler.backward import Plan, plan_backward, release_and_close, step_costs
from cloud.scheduler.batch import ScenarioJob, plan_one
from cloud.scheduler.calendar import slot_of
from cloud.scheduler.causes import Circumstances, OrderCauses, explain
from cloud.scheduler.check import Check, check_plan
from cloud.scheduler.improve import improve_plan
from cloud.scheduler.problem import jit_sequence

__all__ = ["Engine", "Outcome", "construct"]

log = logging.getLogger(__name__)

I64 = NDArray[np.int64]
Pin = tuple[datetime, tuple[str, ...]]  # start, resource per requirement


@dataclass
class Outcome:
    """What one replan did."""

    path: str  # "fast" or "full"
    orders_moved: int
    seconds: float
    cost_before_improvement: float = 0.0
    cost_after_improvement: float = 0.0
    improve_seconds: float = 0.0


_R = TypeVar("_R")


def construct(steps: Generator[ScenarioJob, Plan, _R]) -> _R:
    """Runs a construction that hands its kernel job out (`Engine.apply_steps`), the single way."""
    try:
        job = next(steps)
        while True:
            try:
                plan = plan_one(job, with_busy=job.with_busy)
            except Exception as failed:
                # raised where the construction waits, so its own cleanup (pins) runs first
                job = steps.throw(failed)
                continue
            job = steps.send(plan)
    except StopIteration as done:
        value: _R = done.value
        return value


class Engine:
    """The current plan and the rules for changing it (see the module docstring)."""

    def __init__(
        self,
        plant: Plant,
        orders: Iterable[Order],
        now: datetime,
        *,
        frozen: timedelta = timedelta(minutes=30),
        seed: int = 0,
    ) -> None:
        self.plant = plant
        self.orders: dict[str, Order] = {o.id: o for o in orders}
        self.frozen = frozen
        self.seed = seed
        self.down: dict[str, list[Window]] = {}
        #: operators lost as absent (leave or not badged in), for the gap report
        self.absent: dict[str, list[Window]] = {}
        self.actual_start: dict[tuple[str, str], datetime] = {}
        self.actual_end: dict[tuple[str, str], datetime] = {}
        self.floors: dict[tuple[str, str], datetime] = {}
        self.manual: dict[tuple[str, str], Pin] = {}
        #: Operators here now (`OperatorsPresent`); None: no one told yet, the groups' order.
        self.present: frozenset[str] | None = None
        #: learned standard times in use: (product, step, seconds per unit) (`cloud.replan.times`)
        self.times: tuple[tuple[str, str, float], ...] = ()
        #: the floor events behind the plan, for the why (`cloud.replan.circumstances`)
        self.circumstances = Circumstances()
        self.model: Model
        self.plan: Plan
        self.rebuilt = True
        self._rebuild(now, {})

    # --- reading the plan --------------------------------------------------------------------

    def slot(self, moment: datetime, *, up: bool = False) -> int:
        """Slot of `moment` in the current model."""
        return slot_of(moment, self.model.origin, self.plant.slot_minutes, up=up)

    def cost(self) -> float:
        """Total weighted earliness + tardiness of the current plan."""
        e, t = step_costs(self.model.problem, self.plan.start)
        return float(e.sum() + t.sum())

    def check(self) -> Check:
        """The resource check of the current plan (gaps)."""
        return check_plan(self.model, self._busy())

    def causes(self, now: datetime, check: Check | None = None) -> dict[str, OrderCauses]:
        """The cause chain of every order off its due date (`cloud.scheduler.causes`)."""
        check = check or self.check()
        return explain(self.model, self._busy(), check, self.circumstances, now=now)

    def step_index(self, order: str, step: str) -> int:
        """Index of `order`'s `step` in the current model."""
        for o, od in enumerate(self.model.orders):
            if od.id == order:
                p = self.model.problem
                for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
                    if self.model.steps[s][1].id == step:
                        return s
        raise UnknownOrder(f"{order}/{step} is not in the plan")

    # --- applying triggers -------------------------------------------------------------------

    def apply(self, triggers: list[Trigger], now: datetime, *, restore: bool = False) -> Outcome:
        """Applies a burst of triggers with one replan (fast path when every one allows it).

        With `restore` (a cloud starting from its event log) the plan is rebuilt from now with
        only real progress and manual moves pinned: the plan before the restart is not known,
        so nothing is frozen by it. A progress trigger for an order the plan does not hold (a
        cancelled order's ticket) is logged and skipped.
        """
        return construct(self.apply_steps(triggers, now, restore=restore))

    def apply_steps(
        self, triggers: list[Trigger], now: datetime, *, restore: bool = False
    ) -> Generator[ScenarioJob, Plan, Outcome]:
        """`apply`, handing its kernel construction out: yields the job, is sent its plan.

        Many engines' constructions can so be run in one batched call
        (`cloud.scheduler.batch.plan_scenarios`, as `cloud.whatif.run` does); `construct` runs
        one the single way.
        """
        t0 = time.perf_counter()
        needs_full = restore
        drop_pins: set[str] = set()
        closures: list[tuple[int, int, int]] = []
        again: set[int] = set()
        res_index = {r.id: i for i, r in enumerate(self.plant.resources)}
        for trig in triggers:
            note(self.circumstances, trig)
            if isinstance(trig, ResourceLost):
                window = Window(trig.at, trig.until or datetime.max.replace(tzinfo=trig.at.tzinfo))
                self.down.setdefault(trig.resource, []).append(window)
                if trig.reason == "absent":
                    self.absent.setdefault(trig.resource, []).append(window)
                r = res_index.get(trig.resource)
                if r is not None:
                    a = max(self.slot(trig.at), self.slot(now))
                    b = (
                        self.model.problem.n_slots
                        if trig.until is None
                        else self.slot(trig.until, up=True)
                    )
                    a = max(a, self._started_end_on(r, now))
                    if b > a:
                        closures.append((r, a, b))
            elif isinstance(trig, ResourceBack):
                self.down[trig.resource] = [
                    Window(w.start, min(w.end, trig.at))
                    for w in self.down.get(trig.resource, [])
                    if w.start < trig.at
                ]
                self.absent[trig.resource] = [
                    Window(w.start, min(w.end, trig.at))
                    for w in self.absent.get(trig.resource, [])
                    if w.start < trig.at
                ]
                needs_full = True
            elif isinstance(trig, DeliveryLate):
                mats = dict(self.plant.materials)
                known = mats.get(trig.material)  # keeps its supplier, point of use, need
                mats[trig.material] = (
                    Material(trig.material, trig.ready)
                    if known is None
                    else dataclasses.replace(known, ready=trig.ready)
                )
                self.plant = dataclasses.replace(self.plant, materials=mats)
                for o, step in self.model.steps:
                    if trig.material in step.materials:
                        self.floors[(self.model.orders[o].id, step.id)] = trig.ready
                        again.add(o)
            elif isinstance(trig, MaterialLate):
                if self._knows(trig):
                    s = self.step_index(trig.order, trig.step)
                    self.floors[(trig.order, trig.step)] = trig.ready
                    again.add(int(self.model.problem.step_order()[s]))
            elif isinstance(trig, StepLate | StepEnded | StepStarted) and not self._knows(trig):
                log.debug("%s: no such step in the plan; ignored", trig)
            elif isinstance(trig, StepLate | StepEnded):
                expected_end = trig.expected_end if isinstance(trig, StepLate) else trig.at
                if isinstance(trig, StepEnded):
                    self.actual_end[(trig.order, trig.step)] = trig.at
                s = self.step_index(trig.order, trig.step)
                p = self.model.problem
                end = int(self.plan.start[s] + p.dur[s])
                new_end = self.slot(expected_end, up=True)
                if new_end > end:
                    for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                        if self.plan.res[q] >= 0:
                            closures.append((int(self.plan.res[q]), end, new_end))
                    o = int(p.step_order()[s])
                    later = self.model.steps[s + 1 : int(p.order_ptr[o + 1])]
                    if later:
                        self.floors[(trig.order, later[0][1].id)] = expected_end + timedelta(
                            minutes=self.model.steps[s][1].transfer_min
                        )
                    again.add(o)
            elif isinstance(trig, StepStarted):
                self.actual_start[(trig.order, trig.step)] = trig.at
                s = self.step_index(trig.order, trig.step)
                if self.slot(trig.at) != int(self.plan.start[s]):
                    again.add(int(self.model.problem.step_order()[s]))
            elif isinstance(trig, OrderCreated):
                self.orders[trig.order.id] = trig.order
                needs_full = True
            elif isinstance(trig, OrderChanged):
                self.orders[trig.order.id] = trig.order
                if trig.decision == "new":
                    drop_pins.add(trig.order.id)
                needs_full = True
            elif isinstance(trig, OperatorsPresent):
                self.present = trig.operators
                self._prefer_present()
            elif isinstance(trig, TimesChanged):
                self.times = trig.times
                needs_full = True
            elif isinstance(trig, OrderCancelled):
                if self.orders.pop(trig.order, None) is None:
                    raise UnknownOrder(f"order {trig.order!r} is not in the plan")
                drop_pins.add(trig.order)
                needs_full = True
        if all(isinstance(trig, OperatorsPresent) for trig in triggers) and not restore:
            return Outcome("fast", 0, time.perf_counter() - t0)  # a preference, nothing moved
        if needs_full:
            pins = self._pins(now, closures, progress_only=restore)
            moved = yield from self._rebuild_steps(now, pins, drop_pins)
            return Outcome("full", moved, time.perf_counter() - t0)
        moved = yield from self._fast(now, closures, again)
        return Outcome("fast", moved, time.perf_counter() - t0)

    def improve(self, now: datetime, seconds: float | None = None) -> Outcome:
        """Runs the improvement phase on the current plan with every pin in force."""
        t0 = time.perf_counter()
        p = self.model.problem
        before = self.cost()
        pins = self._pin_steps(self._pins(now, []))
        undo = self._apply_pins(pins, self.slot(now))
        try:
            imp = improve_plan(
                p,
                self.plan,
                seed=self.seed,
                max_iters=self.plant.improve_iterations,
                time_s=self.plant.improve_seconds if seconds is None else seconds,
            )
            kept = all(int(imp.start[s]) == slot for s, (slot, _) in pins.items())
            if imp.plan is not None:
                self.plan = imp.plan
            elif kept and imp.cost_after < imp.cost_before - 1e-9:
                fixed = Plan(
                    imp.start, imp.res, self.plan.forward, self.plan.unplaced, self.plan.busy
                )
                self.plan = plan_backward(p, np.zeros(0, dtype=np.int64), fixed=fixed)
        finally:
            undo()
        after = self.cost()
        return Outcome("improve", 0, time.perf_counter() - t0, before, after, imp.seconds)

    # --- the two paths -----------------------------------------------------------------------

    def _fast(
        self, now: datetime, closures: list[tuple[int, int, int]], again: set[int]
    ) -> Generator[ScenarioJob, Plan, int]:
        p = self.model.problem
        step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
        a = self.plan.start[step_of_req] + p.req_off
        hit = np.zeros(p.n_orders, dtype=np.bool_)
        so = p.step_order()
        for r, x, y in closures:
            mask = (self.plan.res == r) & (a < y) & (a + p.req_len > x)
            hit[so[step_of_req[mask]]] = True
        hit[list(again)] = True
        orders = np.flatnonzero(hit).astype(np.int64)
        pins = {s: v for s, v in self._pin_steps(self._pins(now, closures)).items() if hit[so[s]]}
        undo = self._apply_pins(pins, self.slot(now), orders)
        try:
            state = release_and_close(self.plan, orders, closures)
            job = ScenarioJob(p, orders, state=state, previous=self.plan, with_busy=False)
            self.plan = yield job
        finally:
            undo()
        self.rebuilt = False
        return int(orders.shape[0])

    def _prefer_present(self) -> None:
        """Puts the operators here first among each requirement's candidates (stable).

        The kernel takes the first candidate that fits, so a step placed from now on gets an
        operator who is here before one who is expected or absent; machines and tools keep
        their order. Steps already placed stay where they are.
        """
        if self.present is None:
            return
        p = self.model.problem
        resources = self.plant.resources
        away = np.fromiter(
            (r.kind == "operator" and r.id not in self.present for r in resources),
            dtype=np.bool_,
            count=len(resources),
        )
        if not away.any() or p.cand_res.shape[0] == 0:
            return
        req = np.repeat(np.arange(p.cand_ptr.shape[0] - 1), np.diff(p.cand_ptr))
        order = np.lexsort((np.arange(p.cand_res.shape[0]), away[p.cand_res], req))
        p.cand_res[:] = p.cand_res[order]

    def _rebuild(
        self, now: datetime, pins: dict[tuple[str, str], Pin], drop: set[str] | None = None
    ) -> int:
        return construct(self._rebuild_steps(now, pins, drop))

    def _rebuild_steps(
        self, now: datetime, pins: dict[tuple[str, str], Pin], drop: set[str] | None = None
    ) -> Generator[ScenarioJob, Plan, int]:
        pins = {k: v for k, v in pins.items() if k[0] not in (drop or set())}
        resources = tuple(
            dataclasses.replace(r, unavailable=(*r.unavailable, *self.down.get(r.id, ())))
            if self.down.get(r.id)
            else r
            for r in self.plant.resources
        )
        plant = with_times(dataclasses.replace(self.plant, resources=resources), self.times)
        # the model starts early enough to hold every pinned step (started ones began before now)
        origin = min([now, *(v[0] for v in pins.values())])
        model = build(plant, list(self.orders.values()), origin)
        self.model = model
        self.model.plant = self.plant  # resource ids and kinds; downtime lives in the arrays
        self._prefer_present()
        p = model.problem
        seq = jit_sequence(p, np.array([o.priority for o in model.orders], dtype=np.int64))
        by_step = self._pin_steps(pins)
        undo = self._apply_pins(by_step, self.slot(now))
        try:
            self.plan = yield ScenarioJob(p, seq)
        finally:
            undo(kernel=self.plan.state)
        self.rebuilt = True
        return p.n_orders

    # --- pins --------------------------------------------------------------------------------

    def _started_end_on(self, r: int, now: datetime) -> int:
        """End of the latest step already started on resource `r` (it keeps the resource)."""
        p = self.model.problem
        now_slot = self.slot(now)
        step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
        st = self.plan.start[step_of_req]
        mask = (self.plan.res == r) & (st >= 0) & (st <= now_slot)
        ends = st[mask] + p.req_off[mask] + p.req_len[mask]
        return int(ends.max(initial=now_slot))

    def _knows(self, trig: StepLate | StepEnded | StepStarted | MaterialLate) -> bool:
        try:
            self.step_index(trig.order, trig.step)
        except UnknownOrder:
            return False
        return True

    def _pins(
        self, now: datetime, lost: list[tuple[int, int, int]], *, progress_only: bool = False
    ) -> dict[tuple[str, str], Pin]:
        """Steps that stay: started, manual, or in the frozen window on no lost resource.

        With `progress_only`, only started and manually moved steps stay (a restart).
        """
        model, plan = self.model, self.plan
        p = model.problem
        now_slot = self.slot(now)
        frozen_end = self.slot(now + self.frozen)
        res_ids = [r.id for r in model.plant.resources]
        out: dict[tuple[str, str], Pin] = {}
        first = p.order_ptr[:-1]
        cands = np.flatnonzero((plan.start[first] >= 0) & (plan.start[first] < frozen_end))
        started_orders = {k[0] for k in (*self.actual_start, *self.manual)}
        extra = [o for o, od in enumerate(model.orders) if od.id in started_orders]
        for o in sorted({*cands.tolist(), *extra}):
            oid = model.orders[o].id
            prefix = True  # automatic pins form a prefix of the routing; manual ones need not
            prev: tuple[str, str] | None = None
            for s in range(int(p.order_ptr[o]), int(p.order_ptr[o + 1])):
                st = int(plan.start[s])
                key = (oid, model.steps[s][1].id)
                qs = range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))
                held = tuple(res_ids[int(plan.res[q])] if plan.res[q] >= 0 else "" for q in qs)
                # real progress overrides the plan: a step cannot have started before its
                # predecessor ended, nor while the predecessor is known to be still running
                floor = self.floors.get(key)
                consistent = (floor is None or model.time_of(st) >= floor) and not (
                    prev in self.actual_start and prev not in self.actual_end
                )
                if key in self.manual:
                    out[key] = self.manual[key]
                elif not prefix:
                    continue
                elif key in self.actual_start:
                    out[key] = (self.actual_start[key], held)
                elif (
                    not progress_only
                    and consistent
                    and (
                        (0 <= st <= now_slot)
                        or (
                            0 <= st < frozen_end
                            and not any(
                                plan.res[q] == r
                                and st + p.req_off[q] < b
                                and st + p.req_off[q] + p.req_len[q] > a
                                for q in qs
                                for r, a, b in lost
                            )
                        )
                    )
                ):
                    out[key] = (model.time_of(st), held)
                else:
                    prefix = False
                prev = key
        return out

    def _pin_steps(
        self, pins: dict[tuple[str, str], Pin]
    ) -> dict[int, tuple[int, tuple[str, ...]]]:
        """Pins by step index of the current model."""
        model = self.model
        index = {(model.orders[o].id, step.id): s for s, (o, step) in enumerate(model.steps)}
        return {index[k]: (self.slot(v[0]), v[1]) for k, v in pins.items() if k in index}

    def _apply_pins(
        self, pins: dict[int, tuple[int, tuple[str, ...]]], now_slot: int, orders: I64 | None = None
    ) -> Callable[..., None]:
        """Pins steps in the problem arrays and floors every other step at now; returns undo."""
        p = self.model.problem
        saved = (
            p.release.copy(),
            p.due.copy(),
            p.w_early.copy(),
            p.w_tardy.copy(),
            p.cand_res.copy(),
        )
        res_index = {r.id: i for i, r in enumerate(self.model.plant.resources)}
        rel = np.maximum(p.release, now_slot)
        index = (
            {(self.model.orders[o].id, step.id): s for s, (o, step) in enumerate(self.model.steps)}
            if self.floors
            else {}
        )
        for key, moment in self.floors.items():
            s = index.get(key)
            if s is not None:
                rel[s] = max(int(rel[s]), self.slot(moment, up=True))
        for s, (slot, held) in pins.items():
            rel[s] = slot
            p.due[s] = slot + p.dur[s]
            p.w_early[s] = 0.0
            p.w_tardy[s] = 0.0
            for q, rid in zip(range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])), held, strict=False):
                r = res_index.get(rid)
                c0, c1 = int(p.cand_ptr[q]), int(p.cand_ptr[q + 1])
                seg = p.cand_res[c0:c1].tolist()
                if r is not None and r in seg:
                    seg.remove(r)
                    p.cand_res[c0:c1] = [r, *seg]
        counts = np.diff(p.order_ptr)
        pinned = np.zeros(p.n_steps, dtype=np.bool_)
        pinned[list(pins)] = True
        for level in range(1, int(counts.max(initial=0))):
            at = p.order_ptr[:-1][counts > level] + level
            at = at[~pinned[at]]
            rel[at] = np.maximum(rel[at], rel[at - 1] + p.dur[at - 1] + p.transfer[at - 1])
        p.release[:] = rel
        current: Plan | None = getattr(self, "plan", None)  # None while the first plan is built
        state = None if current is None else current.state
        if state is not None:
            state.row_res = p.cand_res.astype(np.int64)

        def undo(kernel: Kernel | None = None) -> None:
            p.release[:], p.due[:], p.w_early[:], p.w_tardy[:], p.cand_res[:] = saved
            for k in (state, kernel, self.plan.state):
                if k is not None:
                    k.row_res = p.cand_res.astype(np.int64)

        del orders
        return undo

    def _busy(self) -> Plan:
        k = self.plan.state
        p = self.model.problem
        if k is not None:
            self.plan.busy = k.blk[: p.n_res, : p.n_slots] & p.open_
        return self.plan
