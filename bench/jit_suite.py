"""Benchmark family: single-machine common-due-date instances, ours beside a reference.

Generator (documented, seeded; after Biskup & Feldmann 2001, "Benchmarks for scheduling on a
single machine against restrictive and unrestrictive common due dates", Comput. Oper. Res. 28):
for n orders, processing times p_j ~ U{1..20}, earliness weights a_j ~ U{1..10}, tardiness
weights b_j ~ U{1..15} (integers, asymmetric), one common due date d = floor(h * sum p) with
tightness h in {0.2, 0.4, 0.6, 0.8}; no order may start before time 0. Instance k of size n and
tightness h is drawn from `numpy.random.default_rng([seed, n, round(10 * h), k])`, so every
instance can be rebuilt from (seed, n, h, k).
Cost: sum over j of a_j * max(0, d - C_j) + b_j * max(0, C_j - d).

Ours: each order is a one-step order on one machine open around the clock, through the same
public entry points as `bench/jit_jobshop.py` (`plan_backward`, then `improve_plan` with a seed,
an iteration budget and a wall-clock cap).

Reference: for n <= 12 the exact optimum, by enumerating V-shaped sequences (jobs completing by d
in non-increasing p/a, at most one straddling job, jobs starting at or after d in non-decreasing
p/b; no idle time — the classic dominance properties) with the optimal start of each sequence.
For larger n the best known value: the best of a plain V-shape local search (flip an order
between the early and tardy side, interchange one early with one tardy order; first improvement
until none is left), a run of ours with 20 times the iteration budget and another seed, and,
with `--cpsat S`, OR-Tools CP-SAT for S seconds hinted with our plan; labelled "best known" and
never called a bound. CP-SAT's own gap to that value is printed beside ours. Prints per instance
and per size mean / max gap and time, then one JSON summary line.

`--flowshop` also runs the flow-shop family (`bench/jit_flowshop.py`, CP-SAT beside it with
`--cpsat`), `--jobshop` the 72 JIT job-shop instances of `../shared/benchmarks/`
(`bench/jit_jobshop.py`); their summaries go into the final JSON line under "flowshop" and
"jobshop".

    python bench/jit_suite.py [--quick] [--sizes 10,12,20,50,100] [--per 2] [--iters 1000]
        [--cpsat S] [--flowshop] [--jobshop]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cloud.scheduler.backward import Problem, plan_backward
from cloud.scheduler.improve import improve_plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jit_flowshop
import jit_jobshop

sys.path.pop(0)

I64 = NDArray[np.int64]
TIGHTNESS = (0.2, 0.4, 0.6, 0.8)
#: largest n the exact reference enumerates
EXACT_MAX = 12


@dataclass
class CddInstance:
    """One common-due-date instance."""

    name: str
    p: I64
    a: I64
    b: I64
    d: int


def generate(n: int, h: float, k: int, seed: int = 0) -> CddInstance:
    """Instance k of size n and tightness h (see the module docstring)."""
    rng = np.random.default_rng([seed, n, round(10 * h), k])
    p = rng.integers(1, 21, size=n).astype(np.int64)
    a = rng.integers(1, 11, size=n).astype(np.int64)
    b = rng.integers(1, 16, size=n).astype(np.int64)
    return CddInstance(f"cdd{n}_h{h:.1f}_{k}", p, a, b, int(np.floor(h * int(p.sum()))))


def cost_of(inst: CddInstance, start: I64) -> int:
    """Checks feasibility (no overlap, no start before 0) and returns the E+T cost."""
    if (start < 0).any():
        raise ValueError(f"{inst.name}: an order starts before time 0")
    order = np.argsort(start, kind="stable")
    s, e = start[order], (start + inst.p)[order]
    if (s[1:] < e[:-1]).any():
        raise ValueError(f"{inst.name}: orders overlap")
    c = start + inst.p
    return int((inst.a * np.maximum(inst.d - c, 0) + inst.b * np.maximum(c - inst.d, 0)).sum())


def sequence_costs(inst: CddInstance, seqs: I64) -> NDArray[np.float64]:
    """Best cost of every row of `seqs` (job sequences, no idle time, start time chosen optimally).

    For a fixed sequence the cost is convex piecewise linear in the start time t >= 0, with
    breakpoints where some job completes exactly at d; so the optimum is t = 0 or one of those.
    """
    p, a, b = inst.p[seqs], inst.a[seqs], inst.b[seqs]
    comp = np.cumsum(p, axis=1)  # completion offsets from the start
    t = np.concatenate([np.zeros((seqs.shape[0], 1)), inst.d - comp], axis=1)
    t = np.maximum(t, 0)  # candidates (duplicates are harmless)
    c = t[:, :, None] + comp[:, None, :]
    cost = (
        a[:, None, :] * np.maximum(inst.d - c, 0) + b[:, None, :] * np.maximum(c - inst.d, 0)
    ).sum(axis=2)
    out: NDArray[np.float64] = cost.min(axis=1)
    return out


def _v_sequence(inst: CddInstance, early: list[int], tardy: list[int], mid: list[int]) -> list[int]:
    e = sorted(early, key=lambda j: (-inst.p[j] / inst.a[j], j))
    t = sorted(tardy, key=lambda j: (inst.p[j] / inst.b[j], j))
    return e + mid + t


def exact(inst: CddInstance) -> tuple[int, list[int]]:
    """Optimum over all V-shaped sequences with at most one straddling job (n <= EXACT_MAX)."""
    n = inst.p.shape[0]
    seqs: list[list[int]] = []
    for mid in [None, *range(n)]:
        rest = [j for j in range(n) if j != mid]
        for mask in range(1 << len(rest)):
            early = [j for i, j in enumerate(rest) if mask >> i & 1]
            tardy = [j for i, j in enumerate(rest) if not mask >> i & 1]
            seqs.append(_v_sequence(inst, early, tardy, [] if mid is None else [mid]))
    arr = np.array(seqs, dtype=np.int64)
    best, best_seq = np.inf, arr[0]
    for chunk in range(0, arr.shape[0], 4096):
        c = sequence_costs(inst, arr[chunk : chunk + 4096])
        i = int(np.argmin(c))
        if c[i] < best:
            best, best_seq = float(c[i]), arr[chunk + i]
    return round(best), best_seq.tolist()


def vshape_search(inst: CddInstance) -> int:
    """V-shape local search: flips between the sides, then early/tardy interchanges."""
    n = inst.p.shape[0]
    side = np.zeros(n, dtype=np.bool_)  # True: early side
    # start: the largest b/a orders early while they fit before d
    for j in np.argsort(-(inst.b / inst.a), kind="stable").tolist():
        if inst.p[side].sum() + inst.p[j] <= inst.d:
            side[j] = True

    def value(s: NDArray[np.bool_]) -> float:
        e = np.flatnonzero(s).tolist()
        t = np.flatnonzero(~s).tolist()
        return _linear_cost(inst, np.array(_v_sequence(inst, e, t, []), dtype=np.int64))

    cur = value(side)
    improved = True
    while improved:
        improved = False
        for j in range(n):
            side[j] = ~side[j]
            v = value(side)
            if v < cur - 1e-9:
                cur, improved = v, True
            else:
                side[j] = ~side[j]
        if improved:
            continue
        for i, j in itertools.product(
            np.flatnonzero(side).tolist(), np.flatnonzero(~side).tolist()
        ):
            side[i], side[j] = False, True
            v = value(side)
            if v < cur - 1e-9:
                cur, improved = v, True
                break
            side[i], side[j] = True, False
    return round(cur)


def _linear_cost(inst: CddInstance, seq: I64) -> float:
    """`sequence_costs` for one sequence in O(n): every breakpoint's cost from prefix sums."""
    p, a, b = inst.p[seq], inst.a[seq], inst.b[seq]
    comp = np.cumsum(p)
    d = inst.d
    best = float((a * np.maximum(d - comp, 0) + b * np.maximum(comp - d, 0)).sum())  # t = 0
    # job k completes at d: jobs before k are early by comp[k] - comp[j], after it tardy
    ap = np.cumsum(a)
    apc = np.cumsum(a * comp)
    bs = np.cumsum((b)[::-1])[::-1]
    bsc = np.cumsum((b * comp)[::-1])[::-1]
    k = np.arange(seq.shape[0])
    early = np.where(k > 0, ap[k - 1] * comp - apc[k - 1], 0) if seq.shape[0] else k
    after_b = np.r_[bs[1:], 0]
    after_bc = np.r_[bsc[1:], 0]
    tardy = after_bc - after_b * comp
    ok = comp <= d  # start time d - comp[k] >= 0
    if ok.any():
        best = min(best, float((early + tardy)[ok].min()))
    return best


def solve_ours(
    inst: CddInstance, seed: int, iters: int, time_s: float
) -> tuple[int, int, float, str]:
    """Our cost after construction, after improvement, the time and what stopped the search."""
    built, start, elapsed, stopped = solve_ours_starts(inst, seed, iters, time_s)
    return built, cost_of(inst, start), elapsed, stopped


def solve_cpsat(inst: CddInstance, seconds: float, hint: I64) -> int | None:
    """CP-SAT's best cost in `seconds`, hinted with start times `hint` (None: nothing found)."""
    job = jit_jobshop.Instance(
        inst.name,
        1,
        [
            [(0, int(p), inst.d, float(a), float(b))]
            for p, a, b in zip(inst.p, inst.a, inst.b, strict=True)
        ],
    )
    cost = jit_jobshop.solve_cpsat(job, seconds, [[int(s)] for s in hint])
    return None if cost != cost else round(cost)


def solve_ours_starts(
    inst: CddInstance, seed: int, iters: int, time_s: float
) -> tuple[int, I64, float, str]:
    """Construction cost, improved start times, the time and what stopped the search."""
    n = inst.p.shape[0]
    horizon = inst.d + int(inst.p.sum()) + 1
    p = Problem(
        open_=np.ones((1, horizon), dtype=np.bool_),
        open_span=np.ones((1, horizon), dtype=np.bool_),
        order_ptr=np.arange(n + 1, dtype=np.int64),
        dur=inst.p.copy(),
        due=np.full(n, inst.d, dtype=np.int64),
        release=np.zeros(n, dtype=np.int64),
        transfer=np.zeros(n, dtype=np.int64),
        span=np.zeros(n, dtype=np.bool_),
        req_ptr=np.arange(n + 1, dtype=np.int64),
        req_off=np.zeros(n, dtype=np.int64),
        req_len=inst.p.copy(),
        cand_ptr=np.arange(n + 1, dtype=np.int64),
        cand_res=np.zeros(n, dtype=np.int64),
        w_early=inst.a.astype(np.float64),
        w_tardy=inst.b.astype(np.float64),
    )
    t0 = time.perf_counter()
    plan = plan_backward(p)
    built = cost_of(inst, plan.start)
    imp = improve_plan(p, plan, seed=seed, max_iters=iters, time_s=time_s)
    elapsed = time.perf_counter() - t0
    return built, imp.start, elapsed, imp.stopped_by


def _gap(cost: int, ref: int) -> float:
    if ref > 0:
        return 100.0 * (cost - ref) / ref
    return 0.0 if cost == 0 else float("inf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,12,20,50,100,200")
    ap.add_argument("--per", type=int, default=5, help="instances per size and tightness")
    ap.add_argument("--iters", type=int, default=1000, help="our iteration budget")
    ap.add_argument("--time", type=float, default=10.0, help="our wall-clock cap (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="n in 10..100, 2 per tightness")
    ap.add_argument("--cpsat", type=float, default=None, metavar="S", help="CP-SAT seconds")
    ap.add_argument("--flowshop", action="store_true", help="also the flow-shop family")
    ap.add_argument("--jobshop", action="store_true", help="also the 72 JIT job-shop instances")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.per = "10,12,20,50,100", 2
    sizes = [int(x) for x in args.sizes.split(",")]
    per_size: dict[str, dict[str, float | str]] = {}
    all_gaps: list[float] = []
    cut = 0
    for n in sizes:
        gaps, built_gaps, times, ref_times, cp_gaps = [], [], [], [], []
        for h, k in itertools.product(TIGHTNESS, range(args.per)):
            inst = generate(n, h, k, args.seed)
            built, start, elapsed, stopped = solve_ours_starts(
                inst, args.seed, args.iters, args.time
            )
            ours = cost_of(inst, start)
            cut += stopped == "time"
            t0 = time.perf_counter()
            theirs = None
            if n <= EXACT_MAX:
                ref = exact(inst)[0]
                kind = "optimum"
            else:
                kind = "best known"
                long = solve_ours(inst, args.seed + 1, 20 * args.iters, 20 * args.time)[1]
                ref = min(vshape_search(inst), long, ours)
            if args.cpsat is not None:
                theirs = solve_cpsat(inst, args.cpsat, start)
                if theirs is not None:
                    ref = min(ref, theirs) if n > EXACT_MAX else ref
                    cp_gaps.append(_gap(theirs, ref))
            ref_times.append(time.perf_counter() - t0)
            gap, built_gap = _gap(ours, ref), _gap(built, ref)
            gaps.append(gap)
            built_gaps.append(built_gap)
            times.append(elapsed)
            print(
                f"{inst.name:18s} built {built:8d} ours {ours:8d} ({stopped:10s}) {kind} {ref:8d}"
                f"  gap {gap:7.1f}%  {elapsed:6.2f}s  ref {ref_times[-1]:6.2f}s"
                + (f"  cpsat {theirs} gap {cp_gaps[-1]:.1f}%" if theirs is not None else ""),
                flush=True,
            )
        per_size[str(n)] = {
            "reference": "optimum" if n <= EXACT_MAX else "best known",
            "mean_gap_pct": round(float(np.mean(gaps)), 2),
            "max_gap_pct": round(float(np.max(gaps)), 2),
            "construction_mean_gap_pct": round(float(np.mean(built_gaps)), 2),
            "mean_time_s": round(float(np.mean(times)), 3),
            "max_time_s": round(float(np.max(times)), 3),
            "reference_mean_time_s": round(float(np.mean(ref_times)), 3),
        }
        if cp_gaps:
            per_size[str(n)]["cpsat_mean_gap_pct"] = round(float(np.mean(cp_gaps)), 2)
        all_gaps += gaps
        s = per_size[str(n)]
        print(
            f"n={n:4d}: mean gap {s['mean_gap_pct']}% max {s['max_gap_pct']}% "
            f"(construction {s['construction_mean_gap_pct']}%) "
            f"vs {s['reference']}; ours {s['mean_time_s']} s mean, {s['max_time_s']} s max"
        )
    summary: dict[str, object] = {
        "family": "cdd_single_machine",
        "instances": len(all_gaps),
        "iters": args.iters,
        "time_cap_s": args.time,
        "cut_by_time": cut,
        "mean_gap_pct": round(float(np.mean(all_gaps)), 2),
        "per_size": per_size,
    }
    if args.cpsat is not None:
        summary["cpsat_seconds"] = args.cpsat
    if args.flowshop:
        sizes_fs = "20x5,20x10" if args.quick else "20x5,20x10,50x5,50x10"
        summary["flowshop"] = jit_flowshop.run(
            jit_flowshop.parse_sizes(sizes_fs), 1 if args.quick else 2, 2000, 2.0, args.cpsat
        )
    if args.jobshop:
        summary["jobshop"] = _jobshop(args)
    print(json.dumps(summary))
    return 0


def _jobshop(args: argparse.Namespace) -> object:
    """Runs `bench/jit_jobshop.py` on the shared instances; its JSON summary."""
    import contextlib
    import io

    argv = ["--budget", "2000", "--time", "2.2"] + (["--quick"] if args.quick else [])
    if args.cpsat is not None:
        argv += ["--cpsat", str(args.cpsat)]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        jit_jobshop.main(argv)
    lines = buf.getvalue().strip().splitlines()
    print("\n".join(lines[:-1]))
    return json.loads(lines[-1])


if __name__ == "__main__":
    sys.exit(main())
