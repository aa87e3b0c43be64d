"""Benchmark: the JIT job shop of Baptiste, Flamini & Sourd (2008), 72 public instances.

Every job is an order, every operation a step with its own due date and earliness / tardiness
costs on one machine; the instance goes through the same kernel as a plant (backward construction,
then the improvement phase). Prints per instance our cost, the gap to `best_known_min` and the
time, then one JSON summary line. `--cpsat SECONDS` also runs OR-Tools CP-SAT (bench-only extra)
on the same instances for comparison.

    python bench/jit_jobshop.py --instances ../shared/benchmarks/jit_jobshop_baptiste2008 \
        --solutions /tmp/jit_solutions [--time 2.2] [--budget 2000 | --iters N] [--cpsat 10]
        [--quick]

Budget: the iteration budget (timing solves) binds, so the same seed gives the same plans on
any machine; `--time` is only a cap (a cut is logged and counted in the summary). By default
an instance on m machines gets `round(budget * (10 / m) ** 0.9)` iterations: a timing solve
costs about that much less with fewer machines (measured CPU time per solve: 0.16-0.20 ms on 2
machines, 0.35-0.39 ms on 5, 0.69-0.96 ms on 10), so every size gets about the same time;
`--iters N` gives every instance N.
Each line prints wall and CPU seconds (CPU time is what a quiet machine's wall time would be).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cloud.scheduler.backward import NO_DUE, Problem, plan_backward
from cloud.scheduler.improve import improve_plan


@dataclass
class Instance:
    """One JIT job-shop instance: per job, its operations (machine, p, due, alpha, beta)."""

    name: str
    n_machines: int
    jobs: list[list[tuple[int, int, int, float, float]]]


def read_instance(path: Path, name: str) -> Instance:
    lines = path.read_text().splitlines()
    n, m = (int(x) for x in lines[0].split())
    jobs = []
    for line in lines[1 : n + 1]:
        ops = []
        for chunk in line.split("\t\t"):
            f = chunk.split()
            if len(f) == 5:
                ops.append((int(f[0]), int(f[1]), int(f[2]), float(f[3]), float(f[4])))
        jobs.append(ops)
    return Instance(name, m, jobs)


def to_problem(inst: Instance) -> Problem:
    ops = [op for job in inst.jobs for op in job]
    counts = [len(job) for job in inst.jobs]
    s = len(ops)
    dur = np.array([o[1] for o in ops], dtype=np.int64)
    due = np.array([o[2] for o in ops], dtype=np.int64)
    horizon = int(due[due < NO_DUE].max(initial=0) + dur.sum() + 1)
    return Problem(
        open_=np.ones((inst.n_machines, horizon), dtype=np.bool_),
        open_span=np.ones((inst.n_machines, horizon), dtype=np.bool_),
        order_ptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
        dur=dur,
        due=np.minimum(due, NO_DUE),
        release=np.zeros(s, dtype=np.int64),
        transfer=np.zeros(s, dtype=np.int64),
        span=np.zeros(s, dtype=np.bool_),
        req_ptr=np.arange(s + 1, dtype=np.int64),
        req_off=np.zeros(s, dtype=np.int64),
        req_len=dur.copy(),
        cand_ptr=np.arange(s + 1, dtype=np.int64),
        cand_res=np.array([o[0] for o in ops], dtype=np.int64),
        w_early=np.array([o[3] for o in ops]),
        w_tardy=np.array([o[4] for o in ops]),
    )


def evaluate(inst: Instance, starts: list[list[int]]) -> float:
    """Checks feasibility independently of the kernel and returns the JIT cost."""
    cost = 0.0
    by_machine: dict[int, list[tuple[int, int]]] = {}
    for job, st in zip(inst.jobs, starts, strict=True):
        prev_end = 0
        for (mach, p, d, a, b), s in zip(job, st, strict=True):
            if s < prev_end:
                raise ValueError(f"{inst.name}: job order violated at start {s}")
            prev_end = s + p
            cost += a * max(0, d - prev_end) + b * max(0, prev_end - d)
            by_machine.setdefault(mach, []).append((s, s + p))
    for mach, iv in by_machine.items():
        iv.sort()
        for (_, e0), (s1, _) in itertools.pairwise(iv):
            if s1 < e0:
                raise ValueError(f"{inst.name}: machine {mach} overlaps at {s1}")
    return cost


def scaled_budget(budget: int, machines: int) -> int:
    """Iterations for an instance on `machines` machines: `budget` at 10, more on fewer."""
    scale: float = (10 / max(machines, 1)) ** 0.9
    return max(1, round(budget * scale))


def solve(
    inst: Instance, time_s: float, seed: int, iters: int = 10**9
) -> tuple[list[list[int]], str]:
    """Our start times per job and operation, and what stopped the improvement."""
    p = to_problem(inst)
    plan = plan_backward(p)
    imp = improve_plan(p, plan, seed=seed, max_iters=iters, time_s=time_s)
    out, k = [], 0
    for job in inst.jobs:
        out.append([int(x) for x in imp.start[k : k + len(job)]])
        k += len(job)
    return out, imp.stopped_by


def solve_cpsat(
    inst: Instance, seconds: float, hint: list[list[int]] | None = None, workers: int = 2
) -> float:
    """CP-SAT's best cost in `seconds` (nan if none); `hint`: start times to begin from.

    Operations with both weights zero (no due date of their own) add no cost term.
    """
    try:
        from ortools.sat.python import cp_model
    except ImportError:
        sys.exit("--cpsat needs OR-Tools: pip install 'taktline[bench]' (or: pip install ortools)")
    model = cp_model.CpModel()
    horizon = sum(p for job in inst.jobs for _, p, *_ in job) + max(
        d for job in inst.jobs for _, _, d, a, b in job if a or b
    )
    if hint is not None:
        horizon = max(horizon, max(s + op[1] for job, st in zip(inst.jobs, hint, strict=True)
                                   for op, s in zip(job, st, strict=True)))  # fmt: skip
    scale = 100
    terms = []
    by_m: dict[int, list[Any]] = {}
    for j, job in enumerate(inst.jobs):
        prev = None
        for k, (mach, p, d, a, b) in enumerate(job):
            s = model.new_int_var(0, horizon, f"s{j}_{k}")
            e = model.new_int_var(0, horizon, f"e{j}_{k}")
            model.add(e == s + p)
            by_m.setdefault(mach, []).append(model.new_interval_var(s, p, e, f"i{j}_{k}"))
            if hint is not None:
                model.add_hint(s, hint[j][k])
            if prev is not None:
                model.add(s >= prev)
            prev = e
            if a == 0 and b == 0:
                continue
            er = model.new_int_var(0, horizon, "")
            ta = model.new_int_var(0, horizon, "")
            model.add(er >= d - e)
            model.add(ta >= e - d)
            terms.append(round(a * scale) * er + round(b * scale) * ta)
    for ivs in by_m.values():
        model.add_no_overlap(ivs)
    model.minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return float("nan")
    return float(solver.objective_value) / scale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--instances", type=Path, default=Path("../shared/benchmarks/jit_jobshop_baptiste2008")
    )
    ap.add_argument("--solutions", type=Path, default=None)
    ap.add_argument("--time", type=float, default=2.2, help="wall-clock cap per instance (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--budget",
        type=int,
        default=2000,
        help="iteration budget on 10 machines, scaled by machine count (deterministic)",
    )
    ap.add_argument("--iters", type=int, default=None, help="the same iteration budget for all")
    ap.add_argument("--cpsat", type=float, default=None, metavar="SECONDS")
    ap.add_argument("--quick", action="store_true", help="two small instances, short budget")
    ap.add_argument("--only", default=None, help="substring of instance names to run")
    args = ap.parse_args(argv)
    with (args.instances / "best_known.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    if args.quick:
        rows = [r for r in rows if r["file"] == "test1_10x2.txt"][:2]
        args.time = min(args.time, 0.3)
        args.budget = min(args.budget, 200)
    if args.only:
        rows = [r for r in rows if args.only in r["instance"]]
    gaps, times, cpus = [], [], []
    cut = 0
    cp_gaps: list[float] = []
    cp_times: list[float] = []
    ratios: list[float] = []
    for row in rows:
        inst = read_instance(args.instances / row["folder"] / row["file"], row["instance"])
        iters = args.iters or scaled_budget(args.budget, inst.n_machines)
        t0, c0 = time.perf_counter(), time.process_time()
        starts, stop = solve(inst, args.time, args.seed, iters)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        cpus.append(cpu)
        cut += stop == "time"
        cost = evaluate(inst, starts)
        best = float(row["best_known_min"])
        gap = 100.0 * (cost - best) / best
        gaps.append(gap)
        times.append(elapsed)
        if args.solutions is not None:
            out = args.solutions / row["folder"] / (Path(row["file"]).stem + ".json")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({"starts": starts}))
        line = (
            f"{row['instance']:24s} cost {cost:10.2f}  best {best:10.2f}"
            f"  gap {gap:7.2f}%  {elapsed:5.2f}s cpu {cpu:5.2f}s  {iters:5d} it"
        )
        if args.cpsat is not None:
            t1 = time.perf_counter()
            c2 = solve_cpsat(inst, args.cpsat)
            t2 = time.perf_counter() - t1
            g2 = 100.0 * (c2 - best) / best
            ratio = cost / c2 if c2 > 0 else float("nan")
            cp_gaps.append(g2)
            cp_times.append(t2)
            ratios.append(ratio)
            line += f"  | cpsat {c2:10.2f} gap {g2:7.1f}%  {t2:5.2f}s  ours/cpsat {ratio:5.3f}"
        print(line, flush=True)
    summary = {
        "instances": len(gaps),
        "mean_gap_pct": round(float(np.mean(gaps)), 2),
        "max_gap_pct": round(float(np.max(gaps)), 2),
        "max_time_s": round(float(np.max(times)), 3),
        "mean_time_s": round(float(np.mean(times)), 3),
        "max_cpu_s": round(float(np.max(cpus)), 3),
        "mean_cpu_s": round(float(np.mean(cpus)), 3),
        "cut_by_time": cut,
    }
    if cp_gaps:
        summary["cpsat_seconds"] = args.cpsat
        summary["cpsat_mean_gap_pct"] = round(float(np.nanmean(cp_gaps)), 2)
        summary["cpsat_max_time_s"] = round(float(np.max(cp_times)), 3)
        summary["mean_ratio_ours_to_cpsat"] = round(float(np.nanmean(ratios)), 3)
        summary["instances_ours_better_or_equal"] = int(sum(r <= 1.0 + 1e-9 for r in ratios))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
