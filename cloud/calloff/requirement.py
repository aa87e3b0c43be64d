"""The material requirement by time: what each point of use needs, when, from the plan.

Every planned step that uses materials (`Step.materials`) needs each of them at its planned
start, `order quantity x Material.per_unit` of it, at the material's point of use (or, when the
plant model names none, at the station of the machine the step runs on). `needs_of` reads that
from the replanner's job book (`cloud.replan.jobs`); `buckets` sums it per material, point of use
and time bucket (the supplier's `bucket_min`, aligned to midnight UTC); `sequences` lists, for
just-in-sequence materials (`Material.jis`), the orders in the order the line uses them. Pure
functions of the plan and the plant: the same plan gives the same requirement, so a call-off
changes only when the requirement does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.plant import Plant
from cloud.replan.jobs import Job

__all__ = ["Bucket", "Need", "buckets", "needs_of", "sequences"]


@dataclass(frozen=True, slots=True)
class Need:
    """One step's need of one material."""

    material: str
    point_of_use: str
    order: str
    step: str
    product: str
    needed: datetime
    quantity: float


@dataclass(frozen=True, slots=True)
class Bucket:
    """A material's requirement at a point of use in [start, end)."""

    material: str
    point_of_use: str
    start: datetime
    end: datetime
    quantity: float


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def needs_of(plant: Plant, jobs: Mapping[str, Mapping[str, Job]]) -> list[Need]:
    """Each planned step's material needs, from the job book's jobs by resource.

    A step is listed once per resource it holds; its machine's job gives the start and the
    station (the earliest job when it holds no machine).
    """
    kinds = {r.id: r for r in plant.resources}
    steps: dict[str, tuple[Job, str]] = {}
    for resource, per in jobs.items():
        res = kinds.get(resource)
        for key, job in per.items():
            known = steps.get(key)
            machine = res is not None and res.kind == "machine"
            station = (res.station or res.id) if res is not None and machine else ""
            if (
                known is None
                or (machine and not known[1])
                or (not known[1] and not machine and job.start < known[0].start)
            ):
                steps[key] = (job, station)
    out: list[Need] = []
    for job, station in steps.values():
        product = plant.products.get(job.product)
        step = next((s for s in product.steps if s.id == job.step), None) if product else None
        if step is None:
            continue
        for mid in step.materials:
            material = plant.materials.get(mid)
            if material is None:
                continue
            out.append(
                Need(
                    material=mid,
                    point_of_use=material.point_of_use or station or job.step,
                    order=job.order,
                    step=job.step,
                    product=job.product,
                    needed=_when(job.start),
                    quantity=round(job.quantity * material.per_unit, 6),
                )
            )
    out.sort(key=lambda n: (n.needed, n.material, n.point_of_use, n.order, n.step))
    return out


def _bucket_start(moment: datetime, minutes: float) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    size = timedelta(minutes=minutes)
    return day + size * ((moment - day) // size)


def buckets(plant: Plant, needs: Iterable[Need]) -> list[Bucket]:
    """The requirement per material, point of use and the supplier's time bucket, by time."""
    sums: dict[tuple[str, str, datetime], float] = {}
    sizes: dict[tuple[str, str, datetime], float] = {}
    for need in needs:
        material = plant.materials[need.material]
        supplier = plant.suppliers.get(material.supplier)
        size = supplier.bucket_min if supplier is not None else 60.0
        start = _bucket_start(need.needed, size)
        key = (need.material, need.point_of_use, start)
        sums[key] = sums.get(key, 0.0) + need.quantity
        sizes[key] = size
    return [
        Bucket(m, p, start, start + timedelta(minutes=sizes[(m, p, start)]), round(q, 6))
        for (m, p, start), q in sorted(sums.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1]))
    ]


def sequences(plant: Plant, needs: Iterable[Need]) -> dict[tuple[str, str], list[Need]]:
    """For each just-in-sequence material and point of use, its needs in line order."""
    out: dict[tuple[str, str], list[Need]] = {}
    for need in needs:
        if plant.materials[need.material].jis:
            out.setdefault((need.material, need.point_of_use), []).append(need)
    for items in out.values():
        items.sort(key=lambda n: (n.needed, n.order, n.step))
    return out
