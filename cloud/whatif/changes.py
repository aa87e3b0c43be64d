"""What a scenario changes, as a wire type and as the replanner's triggers.

One msgspec type per kind of change (`Change`, tagged by `kind`): the type is the schema of the
`POST /api/whatif` body and of `taktline whatif --scenarios FILE`, and `to_triggers` turns each
into the same triggers the floor would send the replanner (`cloud.replan.triggers`): a machine
down is the `ResourceLost` a breakdown is, so a breakdown scenario plans exactly as the real
replan after that breakdown would. A change naming a resource, order, material or supplier the
plan does not know is refused with the offending value (`ScenarioInvalid`), before anything is
planned. Times carry their offset; hours are bounded (at most two weeks).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Annotated, Final

import msgspec

from cloud.errors import CloudError
from cloud.plant import Calendar, Order, Window
from cloud.replan.engine import Engine
from cloud.replan.triggers import (
    DeliveryLate,
    OrderCancelled,
    OrderChanged,
    OrderCreated,
    ResourceLost,
    TimesChanged,
    Trigger,
)

__all__ = [
    "Change",
    "DueDateMoved",
    "MachineDown",
    "MaterialDelayed",
    "OperatorAbsent",
    "OrderCancel",
    "OrderSplit",
    "QuantityChanged",
    "RushOrder",
    "ScenarioInvalid",
    "ShiftCancelled",
    "SupplierDelayed",
    "apply_changes",
    "kind_of",
]

MAX_HOURS: Final = 14 * 24.0
Hours = Annotated[float, msgspec.Meta(gt=0, le=MAX_HOURS)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Moment = Annotated[datetime, msgspec.Meta(tz=True)]


class ScenarioInvalid(CloudError, ValueError):
    """A scenario's change names something the plan does not know, or cannot be applied."""


class _Change(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind"):
    """One change of a scenario; its `kind` tag names which (the subclasses)."""


class MachineDown(_Change, frozen=True, tag="machine_down"):
    """A machine (any resource) out for `hours` from `start` (default: the scenario's now)."""

    resource: Name
    hours: Hours
    start: Moment | None = None


class OperatorAbsent(_Change, frozen=True, tag="operator_absent"):
    """An operator absent for `hours` from `start` (default: now)."""

    operator: Name
    hours: Hours
    start: Moment | None = None


class MaterialDelayed(_Change, frozen=True, tag="material_delayed"):
    """A material ready `hours` later than the plan has it (a late lorry, a late delivery)."""

    material: Name
    hours: Hours


class SupplierDelayed(_Change, frozen=True, tag="supplier_delayed"):
    """Every material of one supplier ready `hours` later than the plan has it."""

    supplier: Name
    hours: Hours


class DueDateMoved(_Change, frozen=True, tag="due_date"):
    """An order's due date moved (step due dates it sets move with it)."""

    order: Name
    due: Moment


class QuantityChanged(_Change, frozen=True, tag="quantity"):
    """An order's quantity changed."""

    order: Name
    quantity: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]


class RushOrder(_Change, frozen=True, tag="rush_order"):
    """A new order; `priority` above the others' by default."""

    order: Name
    product: Name
    quantity: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
    due: Moment
    priority: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 1


class OrderCancel(_Change, frozen=True, tag="cancel_order"):
    """An order cancelled."""

    order: Name


class OrderSplit(_Change, frozen=True, tag="split_order"):
    """An order split into `lots` orders of (nearly) equal quantity, same due date."""

    order: Name
    lots: Annotated[int, msgspec.Meta(ge=2, le=50)]


class ShiftCancelled(_Change, frozen=True, tag="shift_cancelled"):
    """A calendar closed from `start` to `end` (a cancelled shift, a closure)."""

    calendar: Name
    start: Moment
    end: Moment


Change = (
    MachineDown
    | OperatorAbsent
    | MaterialDelayed
    | SupplierDelayed
    | DueDateMoved
    | QuantityChanged
    | RushOrder
    | OrderCancel
    | OrderSplit
    | ShiftCancelled
)


def kind_of(change: Change) -> str:
    """The `kind` tag of a change (`machine_down`, ...)."""
    return str(type(change).__struct_config__.tag)


def _order(engine: Engine, oid: str) -> Order:
    order = engine.orders.get(oid)
    if order is None:
        raise ScenarioInvalid(f"order {oid!r} is not in the plan")
    return order


def _triggers(engine: Engine, change: Change, now: datetime) -> list[Trigger]:
    plant = engine.plant
    if isinstance(change, MachineDown | OperatorAbsent):
        rid = change.resource if isinstance(change, MachineDown) else change.operator
        resource = next((r for r in plant.resources if r.id == rid), None)
        if resource is None:
            raise ScenarioInvalid(f"resource {rid!r} is not in the plant model")
        operator = isinstance(change, OperatorAbsent)
        if operator != (resource.kind == "operator"):
            kind = "an operator" if operator else "a machine"
            raise ScenarioInvalid(f"{rid!r} is not {kind} but {resource.kind!r}")
        start = change.start or now
        until = start + timedelta(hours=change.hours)
        return [ResourceLost(rid, start, until, reason="absent" if operator else "breakdown")]
    if isinstance(change, MaterialDelayed | SupplierDelayed):
        if isinstance(change, MaterialDelayed):
            if change.material not in plant.materials:
                raise ScenarioInvalid(f"material {change.material!r} is not in the plant model")
            materials = [plant.materials[change.material]]
        else:
            materials = [m for m in plant.materials.values() if m.supplier == change.supplier]
            if not materials:
                raise ScenarioInvalid(f"no material of supplier {change.supplier!r}")
        late = timedelta(hours=change.hours)
        label = (
            f"of {change.supplier}, {change.hours:g} h late (what-if)"
            if isinstance(change, SupplierDelayed)
            else ""
        )
        return [DeliveryLate(m.id, max(m.ready or now, now) + late, label) for m in materials]
    if isinstance(change, DueDateMoved):
        order = _order(engine, change.order)
        shift = change.due - order.due
        steps = {k: dataclasses.replace(v, due=v.due + shift) for k, v in order.steps.items()}
        moved = dataclasses.replace(order, due=change.due, steps=steps)
        return [OrderChanged(moved, "adjust")]
    if isinstance(change, QuantityChanged):
        order = _order(engine, change.order)
        return [OrderChanged(dataclasses.replace(order, quantity=change.quantity), "adjust")]
    if isinstance(change, RushOrder):
        if change.order in engine.orders:
            raise ScenarioInvalid(f"order {change.order!r} is already in the plan")
        if change.product not in plant.products:
            raise ScenarioInvalid(f"product {change.product!r} is not in the plant model")
        rush = Order(
            change.order, change.product, change.quantity, change.due, now, change.priority
        )
        return [OrderCreated(rush)]
    if isinstance(change, OrderCancel):
        _order(engine, change.order)
        return [OrderCancelled(change.order)]
    if isinstance(change, OrderSplit):
        order = _order(engine, change.order)
        if change.lots > order.quantity:
            raise ScenarioInvalid(
                f"order {order.id!r} of {order.quantity} cannot be split into {change.lots} lots"
            )
        size, extra = divmod(order.quantity, change.lots)
        lots: list[Trigger] = [OrderCancelled(order.id)]
        for k in range(change.lots):
            lot = dataclasses.replace(
                order, id=f"{order.id}.{k + 1}", quantity=size + (1 if k < extra else 0)
            )
            lots.append(OrderCreated(lot))
        return lots
    assert isinstance(change, ShiftCancelled)
    calendar = plant.calendars.get(change.calendar)
    if calendar is None:
        raise ScenarioInvalid(f"calendar {change.calendar!r} is not in the plant model")
    if change.end <= change.start:
        raise ScenarioInvalid(f"shift_cancelled: end {change.end} is not after {change.start}")
    closed = Calendar(
        calendar.id,
        calendar.shifts,
        calendar.breaks,
        calendar.holidays,
        (*calendar.closures, Window(change.start, change.end, "what-if")),
    )
    engine.plant = dataclasses.replace(plant, calendars={**plant.calendars, calendar.id: closed})
    return [TimesChanged(engine.times)]  # the model is rebuilt on the changed calendar


def apply_changes(engine: Engine, changes: list[Change], now: datetime) -> list[Trigger]:
    """The triggers of `changes` on `engine` (a calendar change updates its plant)."""
    triggers: list[Trigger] = []
    for change in changes:
        triggers.extend(_triggers(engine, change, now))
    return triggers
