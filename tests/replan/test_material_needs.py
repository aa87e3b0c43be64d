"""The plan's material needs: when each material is first needed, from the planned steps."""

from __future__ import annotations

from cloud.plant import Order, Plant
from cloud.replan import Engine, Replanner
from tests.replan.conftest import NOW


def test_each_material_is_needed_at_the_earliest_step_using_it(
    harness: tuple[Plant, list[Order]],
) -> None:
    plant, orders = harness
    replanner = Replanner(Engine(plant, orders, NOW))
    replanner.book.update(replanner.engine.model, replanner.engine.plan, full=True)
    needs = replanner.material_needs()
    used = {m for p in plant.products.values() for s in p.steps for m in s.materials}
    assert needs and set(needs) <= used
    for material, needed in needs.items():
        starts = [
            job.start
            for per in replanner.book.jobs.values()
            for job in per.values()
            if material
            in next(s for s in plant.products[job.product].steps if s.id == job.step).materials
        ]
        assert needed.strftime("%Y-%m-%dT%H:%M:%SZ") == min(starts)
