"""Which production orders each delivery feeds, from the plan: for the Deliveries page.

A delivery's manifest names the supplier's orders (`PO-77`) and its materials; what a planner
needs is the production orders waiting for it. `delivery_feeds` adds to each delivery row of the
status the plan's job steps that use one of its materials and have not ended — the order, the
step, the material and when the step starts (when the material is needed) — earliest first, and
`margin_min`, the minutes from the material being ready to the step's start (negative: ready
after the step should start; about zero: the plan waits for this delivery). It reads the plan
(`Replanner.jobs_snapshot`) and the plant's products; it decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cloud.plant import Plant
from cloud.replan.jobs import Job

__all__ = ["delivery_feeds"]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def delivery_feeds(
    deliveries: Mapping[str, dict[str, Any]],
    jobs: Mapping[str, Mapping[str, Job]],
    plant: Plant,
    now: datetime,
) -> None:
    """Adds `feeds` (the production order steps using its materials) to each delivery row.

    Args:
        deliveries: the status's delivery rows (`materials`, `ready`), changed in place.
        jobs: the plan's jobs per resource (`Replanner.jobs_snapshot`).
        plant: the plant model (which product step uses which material).
        now: steps that ended before this are left out.
    """
    uses: dict[str, list[Job]] = {}
    seen: set[str] = set()
    for per in jobs.values():
        for job in per.values():
            if job.key in seen or _utc(job.end) <= now:
                continue
            seen.add(job.key)
            product = plant.products.get(job.product)
            step = next((s for s in product.steps if s.id == job.step), None) if product else None
            for material in step.materials if step else ():
                uses.setdefault(material, []).append(job)
    for row in deliveries.values():
        ready = _utc(row["ready"]) if row.get("ready") else None
        feeds = [
            {
                "order": job.order,
                "step": job.step,
                "material": material,
                "start": job.start,
                "margin_min": None
                if ready is None
                else round((_utc(job.start) - ready).total_seconds() / 60),
            }
            for material in row.get("materials", [])
            for job in uses.get(material, [])
        ]
        row["feeds"] = sorted(feeds, key=lambda f: (f["start"], f["order"], f["material"]))
