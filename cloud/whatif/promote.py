"""Promoting a scenario: its order changes become the planner's decisions on the live plan.

What a planner decides is orders: due dates, quantities, a rush order, a cancellation, a split.
Those changes of a scenario are applied through the order desk as the promoting planner's own
decisions (`OrderDesk.promote`: recorded as `plan.order` / `plan.cancel` events with `by` the
planner and `source` `whatif:NAME`, before they act), so the log keeps who promoted what, when,
and a restart plans with them. A machine down, an absence, a late supplier or a cancelled shift
is not a planner's decision but the floor's or the master data's (maintenance windows, leave and
closures are edited there): a scenario holding one is refused whole, naming it
(`NotPromotable`).
"""

from __future__ import annotations

from datetime import datetime

from cloud.errors import CloudError
from cloud.plant import Order
from cloud.replan.engine import Engine
from cloud.replan.triggers import OrderCancelled, OrderChanged, OrderCreated
from cloud.whatif.changes import apply_changes, kind_of
from cloud.whatif.run import Scenario

__all__ = ["NotPromotable", "order_changes"]


class NotPromotable(CloudError, ValueError):
    """A scenario holds changes that are not a planner's to decide."""


def order_changes(
    engine: Engine, scenario: Scenario, now: datetime
) -> tuple[list[Order], list[Order], list[str]]:
    """(created, changed, cancelled) of `scenario` on a copy of the live `engine`.

    Raises `ScenarioInvalid` for a change the plan does not know and `NotPromotable` for a
    floor change; nothing is applied either way.
    """
    floor = [kind_of(c) for c in scenario.changes if kind_of(c) not in _ORDER_KINDS]
    if floor:
        raise NotPromotable(
            f"scenario {scenario.name!r} changes the floor ({', '.join(floor)}), not only orders: "
            "only order changes are a planner's to promote; maintenance, leave and closures are "
            "master data"
        )
    if not scenario.changes:
        raise NotPromotable(f"scenario {scenario.name!r} changes nothing")
    created: list[Order] = []
    changed: list[Order] = []
    cancels: list[str] = []
    for trigger in apply_changes(engine, list(scenario.changes), now):
        if isinstance(trigger, OrderCreated):
            created.append(trigger.order)
        elif isinstance(trigger, OrderChanged):
            changed.append(trigger.order)
        elif isinstance(trigger, OrderCancelled):
            cancels.append(trigger.order)
    return created, changed, cancels


_ORDER_KINDS = frozenset({"due_date", "quantity", "rush_order", "cancel_order", "split_order"})
