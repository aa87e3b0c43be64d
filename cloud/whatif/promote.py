"""Promoting a scenario: its planner's changes become decisions on the live plan.

What a planner decides is orders — due dates, quantities, a rush order, a cancellation, a split —
and planned maintenance: a machine taken down for a while (an early warning acted on). The order
changes go through the order desk as the promoting planner's own decisions
(`OrderDesk.promote`: `plan.order` / `plan.cancel` events with `by` the planner and `source`
`whatif:NAME`); a `machine_down` becomes planned maintenance (`Replanner.plan_maintenance`: a
`plan.maintenance` event, then the machine out for that window). Both are in the log before they
act, so the log keeps who promoted what, when, and a restart plans with them. An absence, a late
supplier or a cancelled shift is not a planner's decision but the floor's or the master data's
(leave and closures are edited there): a scenario holding one is refused whole, naming it
(`NotPromotable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cloud.errors import CloudError
from cloud.plant import Order
from cloud.replan.engine import Engine
from cloud.replan.triggers import OrderCancelled, OrderChanged, OrderCreated, ResourceLost
from cloud.whatif.changes import apply_changes, kind_of
from cloud.whatif.run import Scenario

__all__ = ["NotPromotable", "Promotion", "promotion"]


class NotPromotable(CloudError, ValueError):
    """A scenario holds changes that are not a planner's to decide."""


@dataclass
class Promotion:
    """What promoting a scenario does: orders created, changed, cancelled; maintenance planned."""

    created: list[Order] = field(default_factory=list)
    changed: list[Order] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    #: (machine, start, minutes)
    maintenance: list[tuple[str, datetime, int]] = field(default_factory=list)


def promotion(engine: Engine, scenario: Scenario, now: datetime) -> Promotion:
    """What promoting `scenario` does on (a copy of) the live `engine`.

    Raises `ScenarioInvalid` for a change the plan does not know and `NotPromotable` for a
    change that is not a planner's; nothing is applied either way.
    """
    kinds = [kind_of(c) for c in scenario.changes]
    floor = [k for k in kinds if k not in _ORDER_KINDS and k != "machine_down"]
    if floor:
        raise NotPromotable(
            f"scenario {scenario.name!r} changes the floor ({', '.join(floor)}): only order "
            "changes and planned maintenance (machine_down) are a planner's to promote; leave "
            "and closures are master data"
        )
    if not scenario.changes:
        raise NotPromotable(f"scenario {scenario.name!r} changes nothing")
    out = Promotion()
    for trigger in apply_changes(engine, list(scenario.changes), now):
        if isinstance(trigger, OrderCreated):
            out.created.append(trigger.order)
        elif isinstance(trigger, OrderChanged):
            out.changed.append(trigger.order)
        elif isinstance(trigger, OrderCancelled):
            out.cancels.append(trigger.order)
        elif isinstance(trigger, ResourceLost) and trigger.until is not None:
            minutes = max(1, round((trigger.until - trigger.at).total_seconds() / 60))
            out.maintenance.append((trigger.resource, trigger.at, minutes))
    return out


_ORDER_KINDS = frozenset({"due_date", "quantity", "rush_order", "cancel_order", "split_order"})
