"""Benchmark: classic job shops (Fisher & Thompson, Lawrence) as a due-date sanity check.

Every job gets the proven optimal makespan as its due date (tardiness weight 1, earliness 0) and
goes through the same kernel as a plant: backward construction, then the improvement phase.
A scheduler that meets every due date has found an optimal schedule. Prints the total
tardiness and the makespan reached per instance, then one JSON line.

    python bench/jobshop_makespan.py [--instances ../shared/benchmarks/jobshop_makespan]
        [--time 2] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from cloud.scheduler.backward import NO_DUE, Problem, plan_backward
from cloud.scheduler.improve import improve_plan


def read(path: Path) -> list[list[tuple[int, int]]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    n, _ = int(rows[0][0]), int(rows[0][1])
    jobs = []
    for row in rows[1 : n + 1]:
        v = [int(x) for x in row]
        jobs.append([(v[i], v[i + 1]) for i in range(0, len(v), 2)])
    return jobs


def to_problem(jobs: list[list[tuple[int, int]]], due: int) -> Problem:
    ops = [op for job in jobs for op in job]
    s = len(ops)
    m = 1 + max(mach for mach, _ in ops)
    dur = np.array([d for _, d in ops], dtype=np.int64)
    order_ptr = np.r_[0, np.cumsum([len(j) for j in jobs])].astype(np.int64)
    due_arr = np.full(s, NO_DUE, dtype=np.int64)
    due_arr[order_ptr[1:] - 1] = due
    horizon = int(due + dur.sum() + 1)
    return Problem(
        open_=np.ones((m, horizon), dtype=np.bool_),
        open_span=np.ones((m, horizon), dtype=np.bool_),
        order_ptr=order_ptr,
        dur=dur,
        due=due_arr,
        release=np.zeros(s, dtype=np.int64),
        transfer=np.zeros(s, dtype=np.int64),
        span=np.zeros(s, dtype=np.bool_),
        req_ptr=np.arange(s + 1, dtype=np.int64),
        req_off=np.zeros(s, dtype=np.int64),
        req_len=dur.copy(),
        cand_ptr=np.arange(s + 1, dtype=np.int64),
        cand_res=np.array([mach for mach, _ in ops], dtype=np.int64),
        w_early=np.zeros(s),
        w_tardy=np.ones(s),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=Path, default=Path("../shared/benchmarks/jobshop_makespan"))
    ap.add_argument("--time", type=float, default=2.0, help="improvement budget per instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="ft06 only, short budget")
    args = ap.parse_args(argv)
    with (args.instances / "optimal_makespans.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    if args.quick:
        rows = [r for r in rows if r["instance"] == "ft06"]
        args.time = min(args.time, 0.3)
    results = {}
    for row in rows:
        name = row["instance"]
        opt = int(row["optimal_makespan_ub"])
        jobs = read(args.instances / f"{name}.txt")
        p = to_problem(jobs, opt)
        t0 = time.perf_counter()
        plan = plan_backward(p)
        imp = improve_plan(p, plan, seed=args.seed, max_iters=10**9, time_s=args.time)
        elapsed = time.perf_counter() - t0
        end = imp.start + p.dur
        first = int(imp.start.min())
        tardiness = int(np.maximum(end[p.order_ptr[1:] - 1] - opt, 0).sum())
        makespan = int(end.max()) - min(first, 0)
        results[name] = tardiness
        print(
            f"{name:6s} optimum {opt:5d}  total tardiness {tardiness:6d}"
            f"  (construction {imp.cost_before:7.0f})  makespan {makespan:5d}  {elapsed:5.2f}s",
            flush=True,
        )
    summary = {
        "instances": len(results),
        "total_tardiness": sum(results.values()),
        "met_all_due_dates": sum(1 for v in results.values() if v == 0),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
