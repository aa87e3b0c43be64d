"""Benchmark: call-offs after a replan, beside the replan itself, on the synthetic full-scale plant.

The plant of bench/plant_scale.py (300 resources, 2,000 orders of 6 steps) with a material on
every step (20 products x 6 steps = 120 materials from 8 suppliers, every fourth just in
sequence). The reference is what every replan costs anyway: a breakdown of a machine through
`Replanner.replan` (the engine's fast path, the job book, the plan document and gap report).
Measured beside it, what the cloud adds per replan for call-offs: the requirement by time from
the job book (`needs_of`), every supplier's call-off body and digest (`content`, `digest`), and
the issue of the ones that changed (recorded in a SQLite event log and folded) — the part that
runs in the replanner's `on_replan`. Prints the ratio and a final JSON line.

    python bench/calloffs.py [--quick] [--orders N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plant_scale import NOW, synthetic_plant

from cloud.calloff import CallOffs, content, digest, needs_of
from cloud.plant import parse_orders, parse_plant
from cloud.recorder import CloudRecorder
from cloud.replan import Engine, Replanner, ResourceLost
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract.logistics import LOGISTICS_SOURCE
from taktline.clock import FakeClock

SUPPLIERS = 8


def with_materials(plant: dict[str, Any]) -> dict[str, Any]:
    """Every step uses a material of its own; materials spread over `SUPPLIERS` suppliers."""
    materials = []
    for k, product in enumerate(plant["products"]):
        for j, step in enumerate(product["steps"]):
            n = k * 6 + j
            step["materials"] = [f"M{n:03d}"]
            materials.append(
                {"id": f"M{n:03d}", "supplier": f"S{n % SUPPLIERS}", "jis": n % 4 == 0,
                 "per_unit": 1 + n % 3}
            )  # fmt: skip
    plant["materials"] = materials
    plant["suppliers"] = [{"id": f"S{i}", "bucket_min": 60} for i in range(SUPPLIERS)]
    return plant


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 replans instead of 10")
    ap.add_argument("--orders", type=int, default=2000)
    args = ap.parse_args(argv)
    replans = 3 if args.quick else 10
    plant_doc, orders_doc = synthetic_plant(0, args.orders)
    plant = parse_plant(with_materials(plant_doc))
    orders = parse_orders(orders_doc, plant)
    clock = FakeClock(NOW)
    replanner = Replanner(Engine(plant, orders, NOW), clock=clock, improve=False)
    replanner.book.update(replanner.engine.model, replanner.engine.plan, full=True)
    machines = [r.id for r in plant.resources if r.kind == "machine"]
    with tempfile.TemporaryDirectory() as folder:
        log = EventLog(Path(folder) / "cloud.db")
        status = ResourceStatus()
        calloffs = CallOffs(CloudRecorder(log, status, LOGISTICS_SOURCE, clock=clock),
                            lambda: plant, "synthetic")  # fmt: skip
        first = calloffs.issue(needs_of(plant, replanner.jobs_snapshot()))
        replan_s: list[float] = []
        needs_s: list[float] = []
        bodies_s: list[float] = []
        issue_s: list[float] = []
        issued = 0
        for k in range(replans):
            trigger = ResourceLost(machines[(k * 7) % len(machines)], NOW + timedelta(hours=2))
            t0 = time.perf_counter()
            replanner.replan([trigger])
            t1 = time.perf_counter()
            jobs = replanner.jobs_snapshot()
            needs = needs_of(plant, jobs)
            t2 = time.perf_counter()
            for supplier in plant.suppliers:
                digest(content(plant, supplier, needs))
            t3 = time.perf_counter()
            issued += len(calloffs.issue(needs))
            t4 = time.perf_counter()
            replan_s.append(t1 - t0)
            needs_s.append(t2 - t1)
            bodies_s.append(t3 - t2)
            issue_s.append(t4 - t3)
        log.close()
    median = sorted
    r = median(replan_s)[len(replan_s) // 2]
    n = median(needs_s)[len(needs_s) // 2]
    b = median(bodies_s)[len(bodies_s) // 2]
    i = median(issue_s)[len(issue_s) // 2]
    steps = sum(len(per) for per in jobs.values())
    print(
        f"plant: {len(plant.resources)} resources, {len(orders)} orders, {len(plant.materials)} "
        f"materials from {SUPPLIERS} suppliers; {len(needs)} needs, {len(first)} first call-offs "
        f"({sum(len(d['lines']) for d in first)} lines, "
        f"{sum(len(d['sequence']) for d in first)} in sequence); {steps} job entries"
    )
    print(
        f"reference: a breakdown through the replanner (engine, job book, plan document, gap "
        f"report): {r * 1000:.1f} ms (median)"
    )
    print(
        f"call-offs: requirement {n * 1000:.1f} ms + bodies and digests {b * 1000:.1f} ms; issue "
        f"(again, and record the {issued} changed of {replans * SUPPLIERS}) {i * 1000:.1f} ms"
    )
    print(f"ratio: call-offs (issue) / replan = {i / r:.2f}")
    print(
        json.dumps(
            {
                "bench": "calloffs",
                "orders": len(orders),
                "replan_ms": round(r * 1000, 2),
                "requirement_ms": round(n * 1000, 2),
                "bodies_ms": round(b * 1000, 2),
                "issue_ms": round(i * 1000, 2),
                "issued_changed": issued,
                "ratio_issue_to_replan": round(i / r, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
