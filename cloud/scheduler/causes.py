"""Why an order is late or early: the resource check's blocked steps as cause chains.

For every order the plan makes late, early or leaves unplaced, each of its steps that the plan
moved away from its ideal JIT position in that direction (`check.Blocked`) is looked at in its
ideal holding windows: what stood in the way there, resource by resource, and the floor event
behind it. A resource closed in the window is matched against the `Circumstances` the replanner
was told (a loss with its reason — breakdown, maintenance, absence, a missing tool — or a step
running late on it), else it is its calendar; a resource busy there is held by other orders (a
group capacity gap, named when the check found one). A step that could not start earlier is
held by its materials' ready times (a late delivery, named by its delivery), a late transport,
its predecessor running late, the order's release, or "now". The chain is the list of causes in
routing order; the *primary* cause is the first floor event (a loss, a delivery, a transport, a
step running late), else the first capacity gap, else the rest (`RANK`).

Pure: model, plan, check and circumstances in, `OrderCauses` out; no I/O, no clock. Times in
the texts are UTC, `HH:MM` (with the date when it is not the day of `now`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from cloud.scheduler.arrays import Model, order_summary
from cloud.scheduler.backward import Plan
from cloud.scheduler.calendar import slot_of
from cloud.scheduler.check import Check, Gap

__all__ = [
    "RANK",
    "Cause",
    "Circumstances",
    "LateDelivery",
    "LateTransport",
    "Loss",
    "OrderCauses",
    "explain",
]

I64 = NDArray[np.int64]

#: Kinds of cause, most telling first: the primary cause of an order is the first of the best rank.
RANK: Final = {
    "breakdown": 0,
    "maintenance": 0,
    "stop": 0,
    "tool_missing": 0,
    "tool_transfer": 0,
    "tool_service": 0,
    "absent": 0,
    "delivery": 0,
    "transport": 0,
    "step_late": 0,
    "capacity": 1,
    "release": 2,
    "now": 3,
    "calendar": 4,
    "horizon": 5,
}

_LOSS_TEXT: Final = {
    "breakdown": "breakdown at {r} since {t}",
    "maintenance": "maintenance at {r} since {t}",
    "stop": "{r} stopped since {t}",
    "tool_missing": "tool {r} missing since {t}",
    "tool_transfer": "tool {r} on its way since {t}",
    "tool_service": "tool {r} in service since {t}",
    "absent": "{r} absent since {t}",
}
_NAMED: Final = 5  # orders named in a capacity cause


@dataclass(frozen=True)
class Loss:
    """A resource lost from `start` to `end` (None: until further notice), and why."""

    resource: str
    start: datetime
    end: datetime | None
    reason: str


@dataclass(frozen=True)
class LateDelivery:
    """A material ready no earlier than `ready`, because of `delivery` (empty: not known)."""

    material: str
    ready: datetime
    delivery: str = ""


@dataclass(frozen=True)
class LateTransport:
    """A step's material reaches its point of use no earlier than `ready`."""

    order: str
    step: str
    material: str
    ready: datetime


@dataclass
class Circumstances:
    """The floor events the plan was made under, kept for the why (see `cloud.replan`)."""

    losses: dict[str, list[Loss]] = field(default_factory=dict)
    deliveries: dict[str, LateDelivery] = field(default_factory=dict)
    transports: dict[tuple[str, str], LateTransport] = field(default_factory=dict)
    #: (order, step) running late: its expected end
    running_late: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def loss_at(self, resource: str, a: datetime, b: datetime) -> Loss | None:
        """The newest loss of `resource` overlapping [a, b), if any."""
        for loss in reversed(self.losses.get(resource, ())):
            if loss.start < b and (loss.end is None or a < loss.end):
                return loss
        return None


@dataclass(frozen=True)
class Cause:
    """One link of a cause chain: a step blocked by a resource (or group) because of an event."""

    step: str
    kind: str
    event: str
    group: str | None = None
    resource: str | None = None
    material: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    orders: tuple[str, ...] = ()
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (`docs/schemas/schedule.schema.json`, `$defs/cause`)."""
        return {
            "step": self.step,
            "kind": self.kind,
            "group": self.group,
            "resource": self.resource,
            "material": self.material,
            "from": _iso(self.start),
            "until": _iso(self.end),
            "orders": list(self.orders),
            "event": self.event,
            "text": self.text,
        }


@dataclass(frozen=True)
class OrderCauses:
    """An order off its due date and its cause chain (routing order)."""

    order: str
    status: str
    earliness_min: int
    tardiness_min: int
    causes: tuple[Cause, ...]

    @property
    def primary(self) -> Cause | None:
        """The most telling cause (`RANK`; the first in routing order among equals)."""
        if not self.causes:
            return None
        return min(self.causes, key=lambda c: RANK.get(c.kind, len(RANK)))

    @property
    def summary(self) -> str:
        """One line: the primary cause's text, and how many more there are."""
        first = self.primary
        if first is None:
            return "no single cause found (the improvement phase placed it so)"
        more = len(self.causes) - 1
        return first.text + (f" (+{more} more)" if more else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary and the chain."""
        return {"cause": self.summary, "causes": [c.to_dict() for c in self.causes]}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Explainer:
    """The state of one `explain` call (indices built once, on first need)."""

    def __init__(
        self, model: Model, plan: Plan, check: Check, circ: Circumstances, now: datetime
    ) -> None:
        self.model, self.plan, self.check, self.circ, self.now = model, plan, check, circ, now
        p = model.problem
        self.p = p
        self.res_ids = [r.id for r in model.plant.resources]
        self.index = {(model.orders[o].id, st.id): s for s, (o, st) in enumerate(model.steps)}
        self.step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
        self.now_slot = slot_of(now, model.origin, model.plant.slot_minutes)
        self._holders: tuple[I64, I64, I64, I64, I64] | None = None
        self._late_on: dict[int, list[tuple[str, str, datetime]]] | None = None
        self._gaps: dict[str, list[Gap]] | None = None

    # --- texts ---------------------------------------------------------------------------------

    def hhmm(self, moment: datetime) -> str:
        """UTC HH:MM, with the date when it is not today."""
        if moment.date() == self.now.date():
            return moment.strftime("%H:%M")
        return moment.strftime("%Y-%m-%d %H:%M")

    def cause(self, step: str, kind: str, event: str, blocker: str, **kw: Any) -> Cause:
        start, end = kw.get("start"), kw.get("end")
        text = f"{step}: blocked by {blocker}"
        if start is not None:
            text += f" from {self.hhmm(start)}"
        if end is not None:
            text += f" to {self.hhmm(end)}"
        elif start is not None and kind in _LOSS_TEXT:
            text += " until further notice"
        return Cause(step, kind, event, text=f"{text} ({event})", **kw)

    # --- indices -------------------------------------------------------------------------------

    def holders(self, r: int, a: int, b: int) -> list[str]:
        """Orders whose holds on resource `r` overlap slots [a, b)."""
        if self._holders is None:
            p, plan = self.p, self.plan
            st = plan.start[self.step_of_req]
            ok = (plan.res >= 0) & (st >= 0)
            q = np.flatnonzero(ok)
            res = plan.res[q]
            by = np.argsort(res, kind="stable")
            q, res = q[by], res[by]
            qa = st[q] + p.req_off[q]
            ptr = np.searchsorted(res, np.arange(p.n_res + 1, dtype=np.int64))
            orders = p.step_order()[self.step_of_req[q]]
            self._holders = (ptr, qa, qa + p.req_len[q], orders, q)
        ptr, qa, qb, orders, _ = self._holders
        lo, hi = int(ptr[r]), int(ptr[r + 1])
        hit = (qa[lo:hi] < b) & (qb[lo:hi] > a)
        return list(dict.fromkeys(self.model.orders[int(o)].id for o in orders[lo:hi][hit]))

    def late_on(self, r: int) -> list[tuple[str, str, datetime]]:
        """Steps running late that hold resource `r`: (order, step, expected end)."""
        if self._late_on is None:
            self._late_on = {}
            p = self.p
            for (order, step), end in self.circ.running_late.items():
                s = self.index.get((order, step))
                if s is None:
                    continue
                for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
                    if self.plan.res[q] >= 0:
                        self._late_on.setdefault(int(self.plan.res[q]), []).append(
                            (order, step, end)
                        )
        return self._late_on.get(r, [])

    # --- one step ------------------------------------------------------------------------------

    def releases(self, s: int, ideal: int) -> list[Cause]:
        """What kept step `s` from starting at its ideal slot (materials, transport, now...)."""
        model, circ = self.model, self.circ
        o, step = model.steps[s]
        order = model.orders[o]
        slot = model.plant.slot_minutes
        at = model.time_of(ideal)
        out: list[Cause] = []
        for m in step.materials:
            mat = model.plant.materials.get(m)
            late = circ.deliveries.get(m)  # the newest word on it: the model may predate it
            ready = late.ready if late is not None else mat.ready if mat is not None else None
            if ready is None or ready <= at:
                continue
            if late is not None and late.delivery:
                event = f"delivery {late.delivery} ready {self.hhmm(ready)}"
            else:
                event = f"material {m} ready {self.hhmm(ready)}"
            out.append(
                self.cause(step.id, "delivery", event, f"material {m}", material=m, end=ready)
            )
        tr = circ.transports.get((order.id, step.id))
        if tr is not None and tr.ready > at:
            event = f"transport of {tr.material} to the line ready {self.hhmm(tr.ready)}"
            out.append(
                self.cause(
                    step.id, "transport", event, f"material {tr.material}",
                    material=tr.material, end=tr.ready,
                )
            )  # fmt: skip
        k = s - int(self.p.order_ptr[o])
        if k > 0:
            prev = model.steps[s - 1][1].id
            expected = circ.running_late.get((order.id, prev))
            if expected is not None and expected > at:
                event = f"{order.id}/{prev} running late, expected to end {self.hhmm(expected)}"
                out.append(self.cause(step.id, "step_late", event, f"step {prev}", end=expected))
        if order.release is not None and slot_of(order.release, model.origin, slot) > ideal:
            event = f"order {order.id} released {self.hhmm(order.release)}"
            out.append(self.cause(step.id, "release", event, "the order's release"))
        if ideal < self.now_slot and not out:
            event = "too little time before the due date: work cannot start before now"
            out.append(self.cause(step.id, "now", event, "now"))
        return out

    def group(self, s: int, q: int, ideal: int) -> list[Cause]:
        """What stood in the way of requirement `q` of step `s` at its ideal window."""
        model, p, plan = self.model, self.p, self.plan
        step = model.steps[s][1]
        g = model.req_group[q]
        x0 = ideal + int(p.req_off[q])
        x1 = x0 + int(p.req_len[q])
        t_slots = p.n_slots
        if x0 < 0 or x1 > t_slots:
            return []
        cal = p.open_span if p.span[s] else p.open_
        own = np.zeros(p.n_res, dtype=np.bool_)
        own_rows: dict[int, tuple[int, int]] = {}
        for q2 in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
            r2 = int(plan.res[q2])
            if r2 >= 0:
                own[r2] = True
                a2 = int(plan.start[s] + p.req_off[q2])
                own_rows[r2] = (a2, a2 + int(p.req_len[q2]))
        cands = p.cand_res[p.cand_ptr[q] : p.cand_ptr[q + 1]].tolist()
        t0, t1 = model.time_of(x0), model.time_of(x1)
        lost: list[tuple[str, Loss]] = []
        late: list[tuple[str, tuple[str, str, datetime]]] = []
        closed: list[str] = []
        busy: dict[str, list[str]] = {}
        for r in dict.fromkeys(int(c) for c in cands):
            rid = self.res_ids[r]
            row = cal[r, x0:x1]
            if not row.all():
                c = x0 + int(np.argmin(row))
                loss = self.circ.loss_at(rid, model.time_of(c), t1)  # any loss closing it here
                if loss is not None:
                    lost.append((rid, loss))
                    continue
                running = self.late_on(r)
                if running:
                    late.append((rid, running[0]))
                    continue
                closed.append(rid)
            taken = plan.busy[r, x0:x1] & row
            if own[r]:
                a2, b2 = own_rows[r]
                taken = taken.copy()
                lo, hi = max(a2, x0) - x0, min(b2, x1) - x0
                if hi > lo:
                    taken[lo:hi] = False
            if taken.any():
                others = [
                    o for o in self.holders(r, x0, x1) if o != model.orders[model.steps[s][0]].id
                ]
                if others:  # held by the order's own other steps only: that is precedence
                    busy[rid] = others
        out: list[Cause] = []
        gdef = model.plant.groups.get(g)
        n_cands = len(set(cands))
        if (
            gdef is not None
            and gdef.kind == "operator"
            and lost
            and len(lost) == n_cands
            and all(loss.reason == "absent" for _, loss in lost)
        ):
            who = ", ".join(rid for rid, _ in lost)
            skill = gdef.skill or g
            event = f"no operator with skill {skill} present: {who} absent"
            starts = [loss.start for _, loss in lost]
            ends = [loss.end for _, loss in lost]
            end = None if any(e is None for e in ends) else min(e for e in ends if e is not None)
            out.append(
                self.cause(
                    step.id, "absent", event, f"group {g}", group=g, start=max(starts), end=end
                )
            )
        else:
            for rid, loss in lost:
                event = _LOSS_TEXT.get(loss.reason, "{r} lost (" + loss.reason + ") since {t}")
                text = event.format(r=rid, t=self.hhmm(loss.start))
                out.append(
                    self.cause(
                        step.id, loss.reason, text, rid, group=g, resource=rid,
                        start=loss.start, end=loss.end,
                    )
                )  # fmt: skip
        for rid, (o2, st2, end) in late:
            event = f"{o2}/{st2} running late on {rid}, expected to end {self.hhmm(end)}"
            out.append(self.cause(step.id, "step_late", event, rid, group=g, resource=rid, end=end))
        if busy:
            orders = list(dict.fromkeys(o for os in busy.values() for o in os))
            parts = [
                f"{rid} busy with {', '.join(os[:_NAMED])}"
                + (f" (+{len(os) - _NAMED})" if len(os) > _NAMED else "")
                for rid, os in busy.items()
            ]
            event = f"group {g} full: {'; '.join(parts)}"
            gap = self.gap(g, x0, x1)
            if gap:
                event += f"; {gap}"
            out.append(
                self.cause(
                    step.id, "capacity", event, f"group {g}", group=g,
                    start=t0, end=t1, orders=tuple(orders),
                )
            )  # fmt: skip
        if not out and closed:
            event = f"{', '.join(closed)} not working then (calendar)"
            out.append(
                self.cause(step.id, "calendar", event, f"group {g}", group=g, start=t0, end=t1)
            )
        return out

    def gap(self, g: str, x0: int, x1: int) -> str:
        """The check's capacity gap at group `g` (or its pool) overlapping [x0, x1), as text."""
        if self._gaps is None:
            self._gaps = {}
            for each in self.check.gaps:  # a group's own gaps, then its pools', in check order
                for name in each.group.split("+"):
                    self._gaps.setdefault(name, []).append(each)
        for gap in self._gaps.get(g, ()):
            if gap.start_slot < x1 and x0 < gap.end_slot:
                a = self.hhmm(self.model.time_of(gap.start_slot))
                b = self.hhmm(self.model.time_of(gap.end_slot))
                return f"capacity gap at {gap.group} {a}-{b}, short {gap.shortfall}"
        return ""

    def step_causes(self, s: int, ideal: int, culprits: Sequence[str]) -> list[Cause]:
        """Causes of one moved step, routing-wise: its releases, then its groups."""
        p = self.p
        out = self.releases(s, ideal) if int(self.plan.start[s]) > ideal else []
        for q in range(int(p.req_ptr[s]), int(p.req_ptr[s + 1])):
            if self.model.req_group[q] in culprits:
                out += self.group(s, q, ideal)
        return out


def explain(
    model: Model,
    plan: Plan,
    check: Check,
    circumstances: Circumstances | None = None,
    *,
    now: datetime | None = None,
    summary: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, OrderCauses]:
    """The cause chain of every order the plan makes early or late or leaves unplaced.

    Args:
        model: the model the plan was made on.
        plan: the plan, with its busy map.
        check: the plan's resource check (`check_plan`).
        circumstances: the floor events the plan was made under (none: calendars and capacity
            only, as for `taktline plan`).
        now: when the plan was made (default: the model's origin).
        summary: `order_summary(model, plan)` when the caller has it already.

    Returns:
        By order id, for the early, late and unplanned orders only.
    """
    circ = circumstances if circumstances is not None else Circumstances()
    rows: Sequence[Mapping[str, Any]] = (
        summary if summary is not None else order_summary(model, plan)
    )
    ex = _Explainer(model, plan, check, circ, now or model.origin)
    off = {str(r["order"]): r for r in rows if r["status"] in ("early", "late", "unplanned")}
    chains: dict[str, list[Cause]] = {oid: [] for oid in off}
    for blk in check.blocked:
        row = off.get(blk.order)
        if row is None:
            continue
        moved = blk.moved_slots
        if (row["status"] == "late" and moved <= 0) or (row["status"] == "early" and moved >= 0):
            continue
        s = ex.index.get((blk.order, blk.step))
        if s is not None:
            chains[blk.order] += ex.step_causes(s, blk.ideal_slot, blk.groups)
    out: dict[str, OrderCauses] = {}
    for oid, row in off.items():
        causes = chains[oid]
        if row["status"] == "unplanned":
            event = "not placed within the planning horizon"
            horizon = model.time_of(model.problem.n_slots)
            causes.append(ex.cause("", "horizon", event, "the horizon", end=horizon))
        out[oid] = OrderCauses(
            oid,
            str(row["status"]),
            int(row["earliness_min"]),
            int(row["tardiness_min"]),
            tuple(causes),
        )
    return out
