"""Benchmark: the Plan page's Gantt of the 2,000-order plan in headless Chromium, beside the old.

The synthetic plant of `bench/plant_scale.py` (300 resources, 2,000 orders of 6 steps) is planned
once with the clock two hours into the plan's first work; the floor has started the steps planned
before then (ended those planned to end before) and a busy machine broke down half an hour ago,
so the chart has progress and a down block to draw. The cloud's web server serves it (pages open to
anonymous viewers, as on a wall display) and `bench/ui_render.mjs` drives Debian's Chromium
(playwright-core of tests/browser) against it twice: with today's Gantt (`cloud/web/static/
gantt.js` and `gantt_data.js`, a canvas) and with the one it replaced, kept in
`bench/fixtures/gantt_before.js/.css` and served in place of plan.js/plan.css (gantt*.js empty).
Same server, same plan, same window (24 h).

* first render: navigation start to the chart drawn and the next frame painted (includes fetching
  the plan), the median of `--runs` page loads;
* pan frame: today's, one step of a drag (the window moved by 24 px, rows by 6 px) drawn and the
  canvas flushed by a read-back; the old one's pan is its ▶ / ◀ button (the page fetched and
  built again for the next window) up to its next painted frame. p95 over `--pans` frames.

Targets (issue 23): first render <= 1 s, pan p95 <= 50 ms.

    python bench/ui_render.py [--smoke] [--orders N] [--pans N] [--runs N]

Last line: a JSON object with the figures. `--smoke` (200 orders, few frames) is what
tests/browser/test_plan_gantt.py runs to keep this script working.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plant_scale import NOW, synthetic_plant

from cloud.plant import parse_orders, parse_plant
from cloud.replan import Engine, Replanner
from cloud.replan.triggers import ResourceLost, StepEnded, StepStarted, Trigger
from cloud.status import ResourceStatus, StatusMaster
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from taktline.clock import FakeClock

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "ui_render.mjs"
FIXTURES = HERE / "fixtures"
BROWSER = HERE.parent / "tests" / "browser"
TARGET_FIRST_MS = 1000.0
TARGET_PAN_MS = 50.0


def planned(orders: int, seed: int) -> tuple[Replanner, ResourceStatus]:
    """The plan two hours into its first work: steps begun and ended, a machine broken down."""
    plant_doc, orders_doc = synthetic_plant(seed, orders)
    plant = parse_plant(plant_doc)
    clock = FakeClock(NOW)
    replanner = Replanner(Engine(plant, parse_orders(orders_doc, plant), NOW), clock=clock,
                          improve=False)  # fmt: skip
    document = replanner.document()
    steps = [
        (row["order"], step) for row in document["orders"] for step in row["steps"] if step["start"]
    ]
    # just-in-time: the work starts days after NOW; "now" is two hours into it
    now = min(_time(step["start"]) for _, step in steps) + timedelta(hours=2)
    clock.set_wall(now)
    floor: list[Trigger] = []
    held: dict[str, int] = {}
    for order, step in steps:
        start = _time(step["start"])
        if start < now:
            floor.append(StepStarted(order, step["step"], start))
            if _time(step["end"]) <= now:
                floor.append(StepEnded(order, step["step"], _time(step["end"])))
        elif start < now + timedelta(hours=24):
            for hold in step["resources"]:
                held[hold["resource"]] = held.get(hold["resource"], 0) + 1
    # one of the machines on the first screen, the busiest of the next day
    machine = max((r for r in held if r.startswith(("M00-", "M01-"))), key=lambda r: held[r])
    floor.append(ResourceLost(machine, now - timedelta(minutes=30), reason="breakdown"))
    replanner.engine.apply(floor, now)
    status = ResourceStatus()
    status.set_master(StatusMaster.of(plant))
    return replanner, status


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _p95(values: list[float]) -> float:
    return round(float(np.percentile(np.array(values), 95)), 1) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="200 orders, 1 run, 10 pan frames")
    ap.add_argument("--orders", type=int, default=None, help="orders (default 2000)")
    ap.add_argument("--pans", type=int, default=None, help="pan frames (default 120)")
    ap.add_argument("--runs", type=int, default=None, help="page loads per Gantt (default 3)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    orders = args.orders or (200 if args.smoke else 2000)
    pans = args.pans or (10 if args.smoke else 120)
    runs = args.runs or (1 if args.smoke else 3)
    node = shutil.which("node")
    if node is None or not (BROWSER / "node_modules" / "playwright-core").exists():
        print("needs Node.js and playwright-core (cd tests/browser && npm ci)", file=sys.stderr)
        return 2

    began = time.monotonic()
    replanner, status = planned(orders, args.seed)
    print(f"plant: 300 resources, {orders} orders, planned with progress in "
          f"{time.monotonic() - began:.1f} s")  # fmt: skip
    web = WebServer(
        status.snapshot, lambda n: [], port=0, status=status, replanner=replanner,
        auth=WebAuth(public_read=True),
    ).start()  # fmt: skip
    try:
        done = subprocess.run(
            [node, str(DRIVER), web.url, str(FIXTURES), str(pans), str(runs)],
            capture_output=True, text=True, timeout=900, check=False,
            env={**os.environ, "CHROMIUM": os.environ.get("CHROMIUM", "/usr/bin/chromium")},
        )  # fmt: skip
    finally:
        web.stop()
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["errors"]:
        print("page errors:", *result["errors"], sep="\n  ", file=sys.stderr)
        return 1
    first = {v: round(float(np.median(result[v]["first"])), 1) for v in ("after", "before")}
    pan = {v: _p95(result[v]["pan"]) for v in ("after", "before")}
    info, old = result["after"]["info"], result["before"]["info"]
    print(f"\n{orders} orders, {info['bars']:,} bars in the plan; {info['drawn']:,} drawn in a "
          f"{info['span_h']:g} h window (the old Gantt: {old['drawn']:,} DOM bars)")  # fmt: skip
    print(f"{'':<22}{'today':>10}{'before':>10}{'ratio':>8}{'target':>10}")
    for label, ours, theirs, target in (
        ("first render (ms)", first["after"], first["before"], TARGET_FIRST_MS),
        ("pan frame p95 (ms)", pan["after"], pan["before"], TARGET_PAN_MS),
    ):
        print(f"{label:<22}{ours:>10}{theirs:>10}{theirs / max(ours, 0.1):>7.1f}x{target:>10g}")
    summary = {
        "orders": orders,
        "first_render_ms": first["after"],
        "first_render_before_ms": first["before"],
        "pan_p95_ms": pan["after"],
        "pan_p95_before_ms": pan["before"],
        "first_render_ratio": round(first["before"] / max(first["after"], 0.1), 2),
        "pan_ratio": round(pan["before"] / max(pan["after"], 0.1), 1),
        "pan_frames": len(result["after"]["pan"]),
        "meets_targets": first["after"] <= TARGET_FIRST_MS and pan["after"] <= TARGET_PAN_MS,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
