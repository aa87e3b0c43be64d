"""The replanning loop's input: typed triggers, one class per thing that can change on the floor.

The real-time status model (and the ERP intake, and a planner) turn what they see into these
triggers and hand them to `Replanner.submit`; the replanner never looks at raw shop-floor events
itself. Times are aware UTC datetimes; `until=None` means "until further notice".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cloud.plant import Order

__all__ = [
    "DeliveryLate",
    "MaterialLate",
    "OperatorsPresent",
    "OrderCancelled",
    "OrderChanged",
    "OrderCreated",
    "ResourceBack",
    "ResourceLost",
    "StepEnded",
    "StepLate",
    "StepStarted",
    "TimesChanged",
    "Trigger",
]

LostReason = Literal[
    "breakdown", "stop", "absent", "tool_missing", "tool_transfer", "tool_service", "maintenance"
]


@dataclass(frozen=True, slots=True)
class ResourceLost:
    """A machine stopped or broke down, an operator is absent, a tool is not where it is needed."""

    resource: str
    at: datetime
    until: datetime | None = None
    reason: LostReason = "breakdown"


@dataclass(frozen=True, slots=True)
class ResourceBack:
    """A machine is back in service, an operator is back, a missing tool turned up."""

    resource: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OperatorsPresent:
    """Who is here now (present or on break, by the presence rule): preferred when planning.

    Moves nothing by itself: steps placed from now on (re-placed after a breakdown, an absence,
    a change) take an operator who is here before one who is not, each in the group's order.
    """

    operators: frozenset[str]
    at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryLate:
    """A material's ready time slipped (a late lorry): steps needing it cannot start before.

    `delivery` names the delivery that made it late (empty: not known), for the why.
    """

    material: str
    ready: datetime
    delivery: str = ""


@dataclass(frozen=True, slots=True)
class MaterialLate:
    """A step's material reaches its point of use no earlier than `ready`: it cannot start before.

    A failed or late transport to the line (`cloud.transport`).
    """

    order: str
    step: str
    material: str
    ready: datetime


@dataclass(frozen=True, slots=True)
class StepLate:
    """A running job step will end at `expected_end`, later than planned.

    The replanner ignores it while the delay is below its `late_threshold`.
    """

    order: str
    step: str
    expected_end: datetime


@dataclass(frozen=True, slots=True)
class StepStarted:
    """Real progress: a job step actually started at `at` (it stays there from now on)."""

    order: str
    step: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StepEnded:
    """Real progress: a job step actually ended at `at`.

    Later than planned, it holds its resources until then and its successor starts after it
    (as `StepLate`); earlier than planned, the freed time is used at the next replan.
    """

    order: str
    step: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderCreated:
    """A new order from the ERP (file drop or REST)."""

    order: Order


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """An order's due date, quantity or product changed; `decision` says how to apply it.

    `new`: a new schedule, the old one does not start; `adjust`: started (and frozen) steps stay,
    the rest is re-placed step by step.
    """

    order: Order
    decision: Literal["new", "adjust"]


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """An order was cancelled: it frees its resources."""

    order: str


@dataclass(frozen=True, slots=True)
class TimesChanged:
    """The seconds per unit the plan takes for product steps changed (learned standard times).

    `times` holds every `(product, step, seconds per unit)` that differs from the master data;
    a step not named is planned with its standard again.
    """

    times: tuple[tuple[str, str, float], ...]


Trigger = (
    ResourceLost
    | ResourceBack
    | DeliveryLate
    | MaterialLate
    | StepLate
    | StepStarted
    | StepEnded
    | OrderCreated
    | OrderChanged
    | OrderCancelled
    | OperatorsPresent
    | TimesChanged
)
