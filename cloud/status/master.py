"""The master data as the status pages need it: names for tags, skills, leave, needs, standards.

`StatusMaster` is built from the plant model (`cloud.plant.Plant`) and answers the questions
the status asks when it is shown, never while folding: the fold keeps raw tags and stations, so
a changed plant model changes what is shown without changing what was folded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cloud.plant import Leave, Logistics, Plant, Resource, TagEntry
from cloud.status.labour import OperatorState, Settle, Shift, presence, shift_at

__all__ = ["StatusMaster"]


@dataclass(frozen=True)
class StatusMaster:
    """Look-ups over one plant model (empty: every tag shown as itself)."""

    plant: Plant | None = None
    machines: dict[str, Resource] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    tags: dict[str, TagEntry] = field(default_factory=dict)
    #: material -> when the line needs it (the plant model, overridden by the plan's needs)
    needs: dict[str, datetime] = field(default_factory=dict)
    #: material -> the plan's demand in product units per minute (sizes the kanban loops)
    demand: dict[str, float] = field(default_factory=dict)
    #: material -> the demand forecast's product units per minute over the next day
    forecast: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        plant: Plant | None,
        needs: dict[str, datetime] | None = None,
        demand: dict[str, float] | None = None,
        forecast: dict[str, float] | None = None,
    ) -> StatusMaster:
        """The look-ups of `plant`; `needs` (from the plan) override the materials' own."""
        if plant is None:
            return cls(
                needs=dict(needs or {}), demand=dict(demand or {}), forecast=dict(forecast or {})
            )
        machines = {(r.station or r.id): r for r in plant.resources if r.kind == "machine"}
        wanted = {m.id: m.needed for m in plant.materials.values() if m.needed is not None}
        wanted.update(needs or {})
        return cls(
            plant=plant,
            machines=machines,
            resources={r.id: r for r in plant.resources},
            tags=dict(plant.tags),
            needs=wanted,
            demand=dict(demand or {}),
            forecast=dict(forecast or {}),
        )

    @property
    def logistics(self) -> Logistics:
        """The plant's logistics constants (defaults without a plant)."""
        return self.plant.logistics if self.plant is not None else Logistics()

    @property
    def leave(self) -> tuple[Leave, ...]:
        """Every leave record."""
        return self.plant.leave if self.plant is not None else ()

    def operator_of(self, tag: str) -> Resource | None:
        """The operator whose badge `tag` is."""
        entry = self.tags.get(tag)
        if entry is None or entry.kind != "badge":
            return None
        return self.resources.get(entry.ref)

    def badge_of(self, operator: str) -> str | None:
        """The badge tag of an operator id."""
        for entry in self.tags.values():
            if entry.kind == "badge" and entry.ref == operator:
                return entry.tag
        return None

    def tool_of(self, tag: str) -> Resource | None:
        """The tool whose tag `tag` is."""
        entry = self.tags.get(tag)
        if entry is None or entry.kind != "tool":
            return None
        return self.resources.get(entry.ref)

    def ticket(self, tag: str) -> TagEntry | None:
        """The job step a ticket tag stands for."""
        entry = self.tags.get(tag)
        return entry if entry is not None and entry.kind == "ticket" else None

    def qualified(self, operator_tag: str, station: str, ticket: str | None) -> bool | None:
        """Whether the badge's operator may run `station` (and the ticket's step); None: unknown.

        The machine's `operator_skills` (any one suffices) and, when the step running there
        holds an operator group, membership of that group.
        """
        operator = self.operator_of(operator_tag)
        machine = self.machines.get(station)
        if operator is None or machine is None:
            return None
        if machine.operator_skills and not set(machine.operator_skills) & set(operator.skills):
            return False
        entry = self.ticket(ticket) if ticket else None
        plant = self.plant
        if entry is None or plant is None or entry.product not in plant.products:
            return True
        for step in plant.products[entry.product].steps:
            if step.id != entry.step:
                continue
            for hold in step.holds:
                group = plant.groups.get(hold.group)
                if group is not None and group.kind == "operator":
                    return operator.id in group.members
        return True

    def on_leave(self, operator: str, now: datetime) -> Leave | None:
        """The leave record covering `now` for an operator id, if any."""
        for record in self.leave:
            if record.operator == operator and record.start <= now < record.end:
                return record
        return None

    def presence(
        self,
        operator: Resource,
        person: OperatorState | None,
        now: datetime,
        settle: Settle | None = None,
    ) -> str:
        """The one presence rule (`cloud.status.labour.presence`) for an operator resource."""
        plant = self.plant
        shift = shift_at(plant, operator.calendar, now) if plant is not None else None
        grace = timedelta(minutes=plant.absent_grace_min if plant is not None else 15.0)
        leave = self.on_leave(operator.id, now) is not None
        return presence(person, shift, now, grace, on_leave=leave, settle=settle)

    def shift_of(self, operator: Resource, now: datetime) -> Shift | None:
        """The operator's shift covering `now`, if any."""
        return shift_at(self.plant, operator.calendar, now) if self.plant is not None else None

    def standard_s(self, ticket: str) -> tuple[str | None, float | None]:
        """The ticket's process step and its standard seconds per unit (None when unknown)."""
        entry = self.ticket(ticket)
        plant = self.plant
        if entry is None or plant is None:
            return None, None
        product = plant.products.get(entry.product)
        for step in product.steps if product else ():
            if step.id == entry.step:
                return entry.step, step.per_unit_min * 60
        return entry.step or None, None

    def supplier_of(self, lorry: str) -> str | None:
        """The supplier whose lorry (agent id) `lorry` is, if the plant model says."""
        if self.plant is None:
            return None
        return next((s.id for s in self.plant.suppliers.values() if lorry in s.lorries), None)

    def lorry_name(self, lorry: str) -> str:
        """A lorry as people know it: its name in the plant model, else its supplier's and its id.

        Without a name: "ACME Cables lorry lorry-12"; a lorry of no supplier: its id.
        """
        if self.plant is not None:
            for supplier in self.plant.suppliers.values():
                if lorry in supplier.lorries:
                    named = supplier.lorry_names.get(lorry)
                    return named or f"{supplier.name or supplier.id} lorry {lorry}"
        return lorry

    def handling(self, lorry: str) -> tuple[float, float, float] | None:
        """A lorry's supplier's own (unload, inspect, shelve) minutes, if it has them."""
        if self.plant is None:
            return None
        base = self.plant.logistics
        for supplier in self.plant.suppliers.values():
            if lorry in supplier.lorries:
                return (
                    base.unload_min if supplier.unload_min is None else supplier.unload_min,
                    base.inspect_min if supplier.inspect_min is None else supplier.inspect_min,
                    base.shelve_min if supplier.shelve_min is None else supplier.shelve_min,
                )
        return None
