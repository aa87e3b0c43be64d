"""The floor events the plan is made under, kept from the triggers for the why of late orders.

The engine applies what a trigger changes to the plan; this keeps *why*, for the cause chains of
`cloud.scheduler.causes`: each lost resource with its reason and since when (a breakdown since
10:42, an operator absent for the rest of the shift), each late delivery with the delivery that
made it late, each late transport to the line, each step running late. A resource back ends its
losses then, as it does in the engine. A restarted cloud gets the same triggers again from the
floor reactions' catch-up (`cloud.reactions`), so nothing here needs a snapshot of its own.
"""

from __future__ import annotations

from typing import Final

from cloud.replan.triggers import (
    DeliveryLate,
    MaterialLate,
    ResourceBack,
    ResourceLost,
    StepEnded,
    StepLate,
    Trigger,
)
from cloud.scheduler.causes import Circumstances, LateDelivery, LateTransport, Loss

__all__ = ["LOSSES_KEPT", "note"]

#: Losses kept per resource (the newest): enough for a shift's flapping, bounded all the same.
LOSSES_KEPT: Final = 64


def note(circumstances: Circumstances, trigger: Trigger) -> None:
    """Keeps what `trigger` says about the floor (other triggers leave it as it is)."""
    c = circumstances
    if isinstance(trigger, ResourceLost):
        losses = c.losses.setdefault(trigger.resource, [])
        losses.append(Loss(trigger.resource, trigger.at, trigger.until, trigger.reason))
        del losses[:-LOSSES_KEPT]
    elif isinstance(trigger, ResourceBack):
        c.losses[trigger.resource] = [
            Loss(
                x.resource,
                x.start,
                trigger.at if x.end is None else min(x.end, trigger.at),
                x.reason,
            )
            for x in c.losses.get(trigger.resource, [])
            if x.start < trigger.at
        ]
    elif isinstance(trigger, DeliveryLate):
        c.deliveries[trigger.material] = LateDelivery(
            trigger.material, trigger.ready, trigger.delivery
        )
    elif isinstance(trigger, MaterialLate):
        c.transports[(trigger.order, trigger.step)] = LateTransport(
            trigger.order, trigger.step, trigger.material, trigger.ready
        )
    elif isinstance(trigger, StepLate):
        c.running_late[(trigger.order, trigger.step)] = trigger.expected_end
    elif isinstance(trigger, StepEnded):
        c.running_late.pop((trigger.order, trigger.step), None)
