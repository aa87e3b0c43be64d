"""Benchmark family: JIT flow shops of Taillard sizes, ours beside CP-SAT in the same run.

Generator (documented, seeded): n jobs visit machines 0..m-1 in that order; processing times
p_ij ~ U{1..99} (Taillard 1993, "Benchmarks for basic scheduling problems"); one due date per
job, on its last operation, by tardiness factor T and range R (Potts & Van Wassenhove 1982):
d_j ~ U{floor(P (1 - T - R/2)) .. floor(P (1 - T + R/2))} with P Taillard's lower bound on the
makespan (the larger of the longest job and, over machines, the least head + the machine's load
+ the least tail), and never below job j's own total processing time; earliness weight
a_j ~ U{1..10}, tardiness weight b_j ~ U{1..15}. Sizes n x m in 20x5, 20x10, 50x5, 50x10
(`--sizes`), (T, R) in (0.2, 0.6) and (0.4, 0.2); instance k from
`numpy.random.default_rng([seed, n, m, round(10 T), round(10 R), k])`.
Cost: sum over jobs of a_j * earliness + b_j * tardiness of the last operation; operations may
start at time 0 or later, any order on a machine (not only permutation schedules).

Ours: every job an order, every operation a step on its machine, through `plan_backward` and
`improve_plan` (the timing-LP search: this is a multi-resource problem), iteration budget
`--iters`, wall cap `--time`. CP-SAT (OR-Tools, `--cpsat SECONDS`, 2 workers) solves the same
model (`jit_jobshop.solve_cpsat`); the gap is ours against the better of the two, per instance.

    python bench/jit_flowshop.py [--quick] [--sizes 20x5,20x10] [--per 2] [--iters 2000]
        [--time 2] [--cpsat 60]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jit_jobshop

sys.path.pop(0)

from cloud.scheduler.problem import NO_DUE

#: (tardiness factor T, due-date range R) pairs generated per size
FACTORS = ((0.2, 0.6), (0.4, 0.2))


def makespan_bound(p: np.ndarray) -> int:
    """Taillard's lower bound on the makespan of the flow shop with times p (n x m)."""
    m = p.shape[1]
    head = np.cumsum(p, axis=1) - p  # time before machine k
    tail = p[:, ::-1].cumsum(axis=1)[:, ::-1] - p  # time after machine k
    machine = max(int(head[:, k].min() + p[:, k].sum() + tail[:, k].min()) for k in range(m))
    return max(machine, int(p.sum(axis=1).max()))


def generate(n: int, m: int, t: float, r: float, k: int, seed: int = 0) -> jit_jobshop.Instance:
    """Instance k of size n x m with factors (T, R) (see the module docstring)."""
    rng = np.random.default_rng([seed, n, m, round(10 * t), round(10 * r), k])
    p = rng.integers(1, 100, size=(n, m))
    big_p = makespan_bound(p)
    lo = int(np.floor(big_p * (1 - t - r / 2)))
    hi = int(np.floor(big_p * (1 - t + r / 2)))
    due = np.maximum(rng.integers(max(lo, 0), max(hi, 0) + 1, size=n), p.sum(axis=1))
    a = rng.integers(1, 11, size=n)
    b = rng.integers(1, 16, size=n)
    jobs = []
    for j in range(n):
        ops: list[tuple[int, int, int, float, float]] = [
            (i, int(p[j, i]), int(NO_DUE), 0.0, 0.0) for i in range(m - 1)
        ]
        ops.append((m - 1, int(p[j, m - 1]), int(due[j]), float(a[j]), float(b[j])))
        jobs.append(ops)
    return jit_jobshop.Instance(f"fs{n}x{m}_T{t:.1f}_R{r:.1f}_{k}", m, jobs)


def run(
    sizes: list[tuple[int, int]], per: int, iters: int, time_s: float, cpsat: float | None,
    seed: int = 0,
) -> dict[str, object]:  # fmt: skip
    """Runs the family; prints a line per instance and returns the family's summary."""
    gaps, times, cp_gaps, cp_times, better = [], [], [], [], 0
    for (n, m), (t, r), k in itertools.product(sizes, FACTORS, range(per)):
        inst = generate(n, m, t, r, k, seed)
        t0 = time.perf_counter()
        starts, _ = jit_jobshop.solve(inst, time_s, seed, iters)
        elapsed = time.perf_counter() - t0
        ours = jit_jobshop.evaluate(inst, starts)
        times.append(elapsed)
        line = f"{inst.name:22s} ours {ours:9.0f} {elapsed:5.2f}s"
        best = ours
        if cpsat is not None:
            t1 = time.perf_counter()
            theirs = jit_jobshop.solve_cpsat(inst, cpsat)
            cp_times.append(time.perf_counter() - t1)
            best = min(ours, theirs) if theirs == theirs else ours
            cp_gap = 100.0 * (theirs - best) / best if best > 0 else 0.0
            cp_gaps.append(cp_gap)
            better += ours <= theirs + 1e-9
            line += f" | cpsat {theirs:9.0f} {cp_times[-1]:5.2f}s gap {cp_gap:6.1f}%"
        gap = 100.0 * (ours - best) / best if best > 0 else 0.0
        gaps.append(gap)
        print(line + f" | ours gap {gap:6.1f}%", flush=True)
    out: dict[str, object] = {
        "family": "jit_flowshop",
        "instances": len(gaps),
        "iters": iters,
        "time_cap_s": time_s,
        "mean_time_s": round(float(np.mean(times)), 3),
        "max_time_s": round(float(np.max(times)), 3),
    }
    if cpsat is not None:
        out.update(
            cpsat_seconds=cpsat,
            mean_gap_pct=round(float(np.mean(gaps)), 2),
            max_gap_pct=round(float(np.max(gaps)), 2),
            cpsat_mean_gap_pct=round(float(np.mean(cp_gaps)), 2),
            cpsat_max_gap_pct=round(float(np.max(cp_gaps)), 2),
            cpsat_mean_time_s=round(float(np.mean(cp_times)), 3),
            ours_better_or_equal=better,
        )
    return out


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'20x5,50x10' -> [(20, 5), (50, 10)]."""
    return [(int(a), int(b)) for a, b in (s.split("x") for s in text.split(","))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20x5,20x10,50x5,50x10")
    ap.add_argument("--per", type=int, default=2, help="instances per size and (T, R)")
    ap.add_argument("--iters", type=int, default=2000, help="our iteration budget")
    ap.add_argument("--time", type=float, default=2.0, help="our wall-clock cap (s)")
    ap.add_argument("--cpsat", type=float, default=None, metavar="SECONDS")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20x5 and 20x10, one per (T, R)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.per = "20x5,20x10", 1
    summary = run(parse_sizes(args.sizes), args.per, args.iters, args.time, args.cpsat, args.seed)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
