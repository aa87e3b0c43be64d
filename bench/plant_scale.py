"""Benchmark: the scheduler on a synthetic harness plant at full scale.

300 resources (120 machines in 12 groups, 60 applicators in 6 groups, 120 operators with two of
six skills each, so operator groups overlap), 2,000 orders of 6 steps, two weeks at 1-minute
slots, two shifts with breaks in Europe/Berlin. Measures the backward construction, the
improvement phase separately, and replans after breakdowns of loaded machines (a different
machine each time; the schedule must change), beside the plain-Python bisect reference of the
same placement rule run in the same process (it must give the same construction).

    python bench/plant_scale.py [--quick] [--orders N] [--replans K] [--departures]
        [--improve-iters N] [--improve-s S]

The improvement runs with the plant defaults of the replanning loop (`planning.improve_iterations`
10,000, `planning.improve_seconds` 1 s); the bench prints weighted E+T of the construction alone
and after the improvement, and which stop ended it (iterations, or the time cap).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from cloud.plant import parse_orders, parse_plant
from cloud.scheduler.arrays import build
from cloud.scheduler.backward import Plan, plan_backward, replan, step_costs
from cloud.scheduler.improve import improve_plan
from cloud.scheduler.reference import plan_reference

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday 06:00 in Berlin
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def synthetic_plant(
    seed: int, n_orders: int, departures: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cal = {
        "id": "two-shift",
        "shifts": [
            {"days": WEEKDAYS, "start": "06:00", "end": "14:00"},
            {"days": WEEKDAYS, "start": "14:00", "end": "22:00"},
        ],
        "breaks": [
            {"days": WEEKDAYS, "start": "10:00", "end": "10:15"},
            {"days": WEEKDAYS, "start": "18:00", "end": "18:15"},
        ],
    }
    resources: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for g in range(12):
        ids = [f"M{g:02d}-{i}" for i in range(10)]
        resources += [{"id": x, "kind": "machine", "calendar": "two-shift"} for x in ids]
        groups.append({"id": f"machines-{g:02d}", "kind": "machine", "members": ids})
    for g in range(6):
        ids = [f"T{g}-{i}" for i in range(10)]
        resources += [
            {"id": x, "kind": "tool", "calendar": "two-shift", "skills": [f"tool-{g}"]} for x in ids
        ]
        groups.append({"id": f"tools-{g}", "kind": "tool", "skill": f"tool-{g}"})
    for i in range(120):
        skills = [f"skill-{i % 6}", f"skill-{(i // 6 + i) % 6}"]
        resources.append(
            {"id": f"OP{i:03d}", "kind": "operator", "calendar": "two-shift", "skills": skills}
        )
    groups += [{"id": f"ops-{s}", "kind": "operator", "skill": f"skill-{s}"} for s in range(6)]
    products = []
    for k in range(20):
        steps = []
        for j in range(6):
            holds: list[dict[str, Any]] = [{"group": f"machines-{int(rng.integers(12)):02d}"}]
            if rng.random() < 0.5:
                holds.append({"group": f"tools-{int(rng.integers(6))}", "end_min": 20})
            if rng.random() < 0.5:
                holds.append({"group": f"ops-{int(rng.integers(6))}", "end_min": 15})
            steps.append(
                {
                    "id": f"s{j}",
                    "setup_min": int(rng.integers(10, 20)),
                    "per_unit_min": round(float(rng.uniform(0.2, 0.6)), 2),
                    "holds": holds,
                    "transfer_min": int(rng.integers(0, 30)),
                }
            )
        products.append({"id": f"P{k:02d}", "steps": steps})
    plant = {
        "site": "synthetic",
        "timezone": "Europe/Berlin",
        "slot_minutes": 1,
        "calendars": [cal],
        "resources": resources,
        "groups": groups,
        "products": products,
    }
    orders = []
    day0 = NOW
    for o in range(n_orders):
        day = int(rng.integers(3, 12))  # working days from Monday
        week, wd = divmod(day, 5)
        if departures:
            # lorries leave at fixed times (09:45, 13:30, 17:45, 21:30 local): dues bunch up
            minute = int(rng.choice([225, 450, 705, 930]))
        else:
            minute = int(rng.integers(120, 960))
        due = day0 + timedelta(days=7 * week + wd, minutes=minute)
        orders.append(
            {
                "id": f"SO{o:05d}",
                "product": f"P{int(rng.integers(20)):02d}",
                "quantity": int(rng.integers(20, 110)),
                "due": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                # inventory costs differ by product value; lateness costs more
                "earliness_weight": round(float(rng.uniform(0.2, 2.0)), 2),
                "tardiness_weight": 5,
            }
        )
    return plant, {"orders": orders}


def cost(p: Any, start: Any) -> float:
    e, t = step_costs(p, start)
    return float(e.sum() + t.sum())


def breakdown_replan(
    p: Any, plan: Plan, machine: int, at: int, length: int
) -> tuple[float, Plan, int]:
    """Closes `machine` for [at, at+length) and re-places the orders that held it then."""
    t0 = time.perf_counter()
    step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
    a = plan.start[step_of_req] + p.req_off
    hit = (plan.res == machine) & (a < at + length) & (a + p.req_len > at)
    orders = np.unique(p.step_order()[step_of_req[hit]])
    new = replan(plan, orders, [(machine, at, at + length)])
    return time.perf_counter() - t0, new, int(orders.shape[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (same plant size)")
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--replans", type=int, default=5)
    ap.add_argument(
        "--improve-s", type=float, default=1.0, help="improvement cap (planning.improve_seconds)"
    )
    ap.add_argument(
        "--improve-iters",
        type=int,
        default=10_000,
        help="improvement iteration budget (planning.improve_iterations; the plant default)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--departures",
        action="store_true",
        help="due dates at four lorry departures a day (congested) instead of spread out",
    )
    args = ap.parse_args(argv)
    reps = 1 if args.quick else 3
    plant_doc, orders_doc = synthetic_plant(args.seed, args.orders, args.departures)
    t0 = time.perf_counter()
    plant = parse_plant(plant_doc)
    orders = parse_orders(orders_doc, plant)
    model = build(plant, orders, NOW)
    p = model.problem
    build_s = time.perf_counter() - t0
    print(
        f"plant: {p.n_res} resources, {p.n_orders} orders, {p.n_steps} steps, "
        f"{p.n_slots} slots; model built in {build_s:.2f} s"
    )
    plan_backward(p)  # warm-up (imports, caches)
    kernel = []
    for _ in range(reps):
        t = time.perf_counter()
        plan = plan_backward(p)
        kernel.append(time.perf_counter() - t)
    ref = []
    for _ in range(reps):
        t = time.perf_counter()
        rplan = plan_reference(p)
        ref.append(time.perf_counter() - t)
    same = bool(
        np.array_equal(plan.start, rplan.start)
        and np.array_equal(plan.res, rplan.res)
        and np.array_equal(plan.forward, rplan.forward)
    )
    full_s, ref_s = min(kernel), min(ref)
    print(
        f"construction: numpy kernel {full_s:.3f} s, bisect reference {ref_s:.3f} s, "
        f"speedup {ref_s / full_s:.2f}x, same construction: {same}"
    )
    print(
        f"orders placed forward (late): {int(plan.forward.sum())}, "
        f"unplaced: {int(plan.unplaced.sum())}, weighted E+T {cost(p, plan.start):.0f}"
    )
    imp = improve_plan(p, plan, seed=args.seed, max_iters=args.improve_iters, time_s=args.improve_s)
    removed = imp.cost_before - imp.cost_after
    share = 100.0 * removed / imp.cost_before if imp.cost_before > 0 else 0.0
    print(
        f"weighted E+T on the shift calendar: construction alone {imp.cost_before:.0f}, "
        f"after improvement {imp.cost_after:.0f} (removed {removed:.0f}, {share:.1f} %)"
    )
    print(
        f"improvement: {imp.seconds:.3f} s, {imp.iterations} of {args.improve_iters} "
        f"iterations, stopped by {imp.stopped_by}"
        + (f" (the {args.improve_s} s cap cut it)" if imp.cut_by_time else "")
    )
    # breakdowns: a different loaded machine each time, 4 hours from the start of a held window
    rng = np.random.default_rng(args.seed + 1)
    step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
    machines = [i for i, r in enumerate(plant.resources) if r.kind == "machine"]
    loaded = [m for m in machines if (plan.res == m).sum() > 5]
    picks = rng.choice(loaded, size=min(args.replans, len(loaded)), replace=False)
    times = []
    current = imp.plan if imp.plan is not None else plan
    for m in picks.tolist():
        q = int(rng.choice(np.flatnonzero(current.res == m)))
        at = int(current.start[step_of_req[q]] + p.req_off[q])
        sec, new, n_aff = breakdown_replan(p, current, m, at, 240)
        step_of_req = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))
        moved = (new.start != current.start) | np.bincount(
            step_of_req, weights=new.res != current.res, minlength=p.n_steps
        ).astype(bool)
        changed = int(moved.sum())
        if changed == 0:
            print(f"replan after breakdown of {plant.resources[m].id}: schedule did not change")
            return 1
        print(
            f"replan after breakdown of {plant.resources[m].id} at slot {at}: "
            f"{sec * 1000:.1f} ms, {n_aff} orders re-placed, {changed} steps moved"
        )
        times.append(sec)
        current = new
    summary = {
        "full_plan_s": round(full_s, 4),
        "reference_s": round(ref_s, 4),
        "improve_s": round(imp.seconds, 4),
        "construction_et": round(imp.cost_before, 1),
        "improved_et": round(imp.cost_after, 1),
        "improve_removed": round(removed, 1),
        "improve_iterations": imp.iterations,
        "improve_stopped_by": imp.stopped_by,
        "replan_ms": round(1000 * float(np.median(times)), 2),
        "replan_max_ms": round(1000 * float(np.max(times)), 2),
        "speedup": round(ref_s / full_s, 3),
        "same_construction": same,
    }
    print(json.dumps(summary))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
