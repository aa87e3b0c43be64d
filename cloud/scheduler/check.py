"""Resource requirement by time, the resource plan, and the resource check's gap list.

The requirement is what every order needs per resource group and slot if each were placed in the
ideal JIT plan (right-aligned to its due dates, capacity unlimited); the resource plan is the
capacity calendars and status leave (members open per group and slot). The check looks at every
step the plan could not put where the ideal plan does, finds which group blocked it there and in
which slots, and how far it moved; aggregated by group and run of slots, that is the gap list.
Groups that share members (an operator qualified for several processes) are also checked as one
pool, so no resource is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cloud.plant import Plant
from cloud.scheduler.arrays import Model
from cloud.scheduler.backward import Plan, ideal_starts

__all__ = ["Blocked", "Check", "Gap", "check_plan", "group_unit", "shortfall_text"]

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Blocked:
    """A step the plan moved away from its ideal position, and what stood in the way."""

    order: str
    step: str
    groups: tuple[str, ...]
    ideal_slot: int
    planned_slot: int

    @property
    def moved_slots(self) -> int:
        """Slots moved (negative: earlier than ideal, i.e. earliness caused)."""
        return self.planned_slot - self.ideal_slot


@dataclass
class Gap:
    """A run of slots where a group (or a pool of overlapping groups) is short."""

    group: str
    start_slot: int
    end_slot: int
    shortfall: int
    orders: list[str] = field(default_factory=list)
    earliness_slots: int = 0
    tardiness_slots: int = 0


@dataclass
class Check:
    """Result of the resource check."""

    groups: list[str]
    requirement: I64
    capacity: I64
    blocked: list[Blocked]
    gaps: list[Gap]


def group_unit(plant: Plant, group: str) -> str:
    """What a group's shortfall counts: "machine", "operator", "tool" (its members' kind).

    A pool's label joins its groups with "+"; its unit is theirs when they share one kind, else
    "resource".
    """
    kinds = {plant.groups[g].kind for g in group.split("+") if g in plant.groups}
    return kinds.pop() if len(kinds) == 1 else "resource"


def shortfall_text(plant: Plant, group: str, shortfall: int) -> str:
    """A gap's shortfall with its unit: "1 machine", "2 operators"."""
    unit = group_unit(plant, group)
    return f"{shortfall} {unit}{'' if shortfall == 1 else 's'}"


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def _pools(members: list[set[int]]) -> list[list[int]]:
    """Groups joined into pools where they share members (union-find)."""
    parent = list(range(len(members)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[int, int] = {}
    for g, ms in enumerate(members):
        for m in ms:
            if m in owner:
                parent[find(g)] = find(owner[m])
            else:
                owner[m] = g
    pools: dict[int, list[int]] = {}
    for g in range(len(members)):
        pools.setdefault(find(g), []).append(g)
    return [v for v in pools.values() if len(v) > 1]


def check_plan(model: Model, plan: Plan) -> Check:
    """Computes requirement, capacity, blocked steps and the gap list of a plan."""
    p = model.problem
    t_slots = p.n_slots
    names = sorted(set(model.req_group))
    gidx = {g: i for i, g in enumerate(names)}
    n_g = len(names)
    step_of_req = np.repeat(np.arange(p.n_steps, dtype=np.int64), np.diff(p.req_ptr))
    ideal = ideal_starts(p)
    q_group = np.array([gidx[g] for g in model.req_group], dtype=np.int64)
    a = np.clip(ideal[step_of_req] + p.req_off, 0, t_slots)
    b = np.clip(ideal[step_of_req] + p.req_off + p.req_len, 0, t_slots)
    diff = np.zeros((max(n_g, 1), t_slots + 1), dtype=np.int64)
    np.add.at(diff, (q_group, a), 1)
    np.add.at(diff, (q_group, b), -1)
    requirement = np.cumsum(diff[:, :t_slots], axis=1)[:n_g]
    members: list[set[int]] = [set() for _ in names]
    for q in range(q_group.shape[0]):
        members[int(q_group[q])].update(p.cand_res[p.cand_ptr[q] : p.cand_ptr[q + 1]].tolist())
    capacity = np.zeros((n_g, t_slots), dtype=np.int64)
    for g, ms in enumerate(members):
        if ms:
            capacity[g] = p.open_[sorted(ms)].sum(axis=0)
    # which group blocked each moved step at its ideal position
    usage = plan.busy.copy()
    blocked: list[Blocked] = []
    for s in np.flatnonzero((plan.start >= 0) & (plan.start != ideal)).tolist():
        o, step = model.steps[s]
        cal = p.open_span if p.span[s] else p.open_
        qs = range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))
        for q in qs:  # the step's own holds do not block it
            r, x = int(plan.res[q]), int(plan.start[s] + p.req_off[q])
            usage[r, x : x + int(p.req_len[q])] = False
        culprits = []
        for q in qs:
            x0 = int(ideal[s] + p.req_off[q])
            x1 = x0 + int(p.req_len[q])
            cands = p.cand_res[p.cand_ptr[q] : p.cand_ptr[q + 1]]
            if x0 < 0 or x1 > t_slots:
                culprits.append("(horizon)" if x1 > t_slots else "(now or release)")
                continue
            free = (cal[cands, x0:x1] & ~usage[cands, x0:x1]).all(axis=1)
            if not free.any():
                culprits.append(model.req_group[q])
        for q in qs:
            r, x = int(plan.res[q]), int(plan.start[s] + p.req_off[q])
            usage[r, x : x + int(p.req_len[q])] = True
        if int(ideal[s]) < int(p.release[s]):
            culprits.append("(now or release)")
        blocked.append(
            Blocked(
                order=model.orders[o].id,
                step=step.id,
                groups=tuple(dict.fromkeys(culprits)) or ("(precedence)",),
                ideal_slot=int(ideal[s]),
                planned_slot=int(plan.start[s]),
            )
        )
    gaps: list[Gap] = []
    short = requirement - capacity
    by_group: dict[str, list[Blocked]] = {}
    for blk in blocked:
        for gname in blk.groups:
            by_group.setdefault(gname, []).append(blk)
    for g, name in enumerate(names):
        for x0, x1 in _runs(short[g] > 0):
            gap = Gap(name, x0, x1, int(short[g, x0:x1].max()))
            for blk in by_group.get(name, []):
                if x0 - p.dur.max() <= blk.ideal_slot < x1:
                    if blk.order not in gap.orders:
                        gap.orders.append(blk.order)
                    gap.earliness_slots += max(0, -blk.moved_slots)
                    gap.tardiness_slots += max(0, blk.moved_slots)
            gaps.append(gap)
    for pool in _pools(members):
        union = sorted(set().union(*(members[g] for g in pool)))
        pool_short = requirement[pool].sum(axis=0) - p.open_[union].sum(axis=0)
        label = "+".join(names[g] for g in pool)
        for x0, x1 in _runs(pool_short > 0):
            gaps.append(Gap(label, x0, x1, int(pool_short[x0:x1].max())))
    return Check(names, requirement, capacity, blocked, gaps)
