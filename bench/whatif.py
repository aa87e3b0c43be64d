"""Benchmark: 64 what-if scenarios of the 2,000-order plant planned in one batched kernel call.

The plant of `bench/plant_scale.py` (300 resources, 2,000 orders of 6 steps, 1-minute slots),
and 64 scenarios of it as the kernel sees them: the plan as it is, and 63 variants in four
kinds — a loaded machine down for 8 hours, a rush order (a copy of an order due in two days,
heavily weighted), ten orders due a day earlier, a late shift cancelled for the whole plant.
The same 64 problems are planned three ways in one run: in one `plan_scenarios` call (the
batched kernel), by `plan_backward` one after the other (64 sequential numpy plans), and by
the plain-Python reference `plan_reference`. Every batched plan must equal its sequential plan
(starts, resources, forward and unplaced orders), and every reference plan its numpy plan.

With `--quick` the reference runs on the first `--reference-runs` scenarios only (default 8)
and its time for all 64 is extrapolated from them; the output says so. Without it the
reference runs on all 64.

    python bench/whatif.py [--quick] [--scenarios N] [--orders N] [--reference-runs K]
        [--max-bytes MIB]

`--max-bytes` is `plan_scenarios`' chunk limit in MiB (default: its own). The process's peak
resident memory is printed before and after the batched calls: the growth is what the batched
call's chunks (state and stacked arrays) cost at their peak.

The batched call is timed the second time it runs in the process (the first, printed too, also
pays for fresh memory: the sequential plans reuse theirs from a warm-up plan). Times are CPU
seconds of this process (the machine is shared; wall-clock seconds are printed beside them and
in the JSON as *_wall_s), and the speedups are ratios of CPU seconds.

Last line: JSON with batched_s, batched_first_call_s, sequential_s, reference_s (CPU), their
*_wall_s, reference_runs, reference_extrapolated, state_mb, chunks, max_bytes_mib,
peak_rss_mb and batched_peak_growth_mb, speedup_vs_reference
(target >= 10), speedup_vs_sequential (target >= 3), same_plans.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from plant_scale import NOW, synthetic_plant

from cloud.plant import parse_orders, parse_plant
from cloud.scheduler.arrays import build
from cloud.scheduler.backward import Plan, Problem, plan_backward
from cloud.scheduler.batch import chunk_sizes, plan_scenarios, state_bytes
from cloud.scheduler.reference import plan_reference

T = TypeVar("T")
KINDS = ("machine down", "rush order", "due dates earlier", "late shift cancelled")


def with_order(p: Problem, like: int, due: int, w_early: float, w_tardy: float) -> Problem:
    """`p` plus a copy of order `like` due at slot `due` (a rush order of the same product)."""
    s0, s1 = int(p.order_ptr[like]), int(p.order_ptr[like + 1])
    q0, q1 = int(p.req_ptr[s0]), int(p.req_ptr[s1])
    c0, c1 = int(p.cand_ptr[q0]), int(p.cand_ptr[q1])
    n = s1 - s0
    new_due = p.due[s0:s1].copy()
    new_due[-1] = due
    return Problem(
        open_=p.open_,
        open_span=p.open_span,
        order_ptr=np.append(p.order_ptr, p.order_ptr[-1] + n),
        dur=np.append(p.dur, p.dur[s0:s1]),
        due=np.append(p.due, new_due),
        release=np.append(p.release, p.release[s0:s1]),
        transfer=np.append(p.transfer, p.transfer[s0:s1]),
        span=np.append(p.span, p.span[s0:s1]),
        req_ptr=np.append(p.req_ptr, p.req_ptr[s0 + 1 : s1 + 1] - q0 + p.req_ptr[-1]),
        req_off=np.append(p.req_off, p.req_off[q0:q1]),
        req_len=np.append(p.req_len, p.req_len[q0:q1]),
        cand_ptr=np.append(p.cand_ptr, p.cand_ptr[q0 + 1 : q1 + 1] - c0 + p.cand_ptr[-1]),
        cand_res=np.append(p.cand_res, p.cand_res[c0:c1]),
        w_early=np.append(p.w_early, np.full(n, w_early)),
        w_tardy=np.append(p.w_tardy, np.full(n, w_tardy)),
    )


def scenarios(p: Problem, base: Plan, count: int, seed: int) -> list[tuple[str, Problem]]:
    """The plan as it is, then `count - 1` variants cycling through `KINDS`."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, Problem]] = [("as planned", p)]
    machines = [int(m) for m in np.unique(base.res) if m >= 0 and (base.res == m).sum() > 20]
    last = p.order_ptr[1:] - 1
    day = 24 * 60
    for i in range(1, count):
        kind = KINDS[(i - 1) % len(KINDS)]
        if kind == "machine down":
            q = copy.copy(p)
            m = int(rng.choice(machines))
            held = np.flatnonzero(base.res == m)
            step = np.repeat(np.arange(p.n_steps), np.diff(p.req_ptr))[int(rng.choice(held))]
            a = int(base.start[step])
            q.open_, q.open_span = p.open_.copy(), p.open_span.copy()
            q.open_[m, a : a + 480] = False
            q.open_span[m, a : a + 480] = False
            out.append((f"{kind} (resource {m}, slot {a})", q))
        elif kind == "rush order":
            like = int(rng.integers(p.n_orders))
            due = int(rng.integers(2 * day, 3 * day))
            out.append(
                (f"{kind} (like order {like}, due slot {due})", with_order(p, like, due, 2.0, 50.0))
            )
        elif kind == "due dates earlier":
            q = copy.copy(p)
            q.due = p.due.copy()
            hit = rng.choice(p.n_orders, size=10, replace=False)
            q.due[last[hit]] = np.maximum(q.due[last[hit]] - day, 1)
            out.append((f"{kind} (10 orders, one day)", q))
        else:
            q = copy.copy(p)
            d = int(rng.integers(1, 9))
            a, b = d * day + 8 * 60, d * day + 16 * 60  # 14:00-22:00 Berlin on day d
            q.open_, q.open_span = p.open_.copy(), p.open_span.copy()
            q.open_[:, a:b] = False
            q.open_span[:, a:b] = False
            out.append((f"{kind} (day {d})", q))
    return out


def same(a: Plan, b: Plan) -> bool:
    """Same construction: starts, resources, forward and unplaced orders."""
    return bool(
        np.array_equal(a.start, b.start)
        and np.array_equal(a.res, b.res)
        and np.array_equal(a.forward, b.forward)
        and np.array_equal(a.unplaced, b.unplaced)
    )


def timed(run: Callable[[], T]) -> tuple[T, tuple[float, float]]:
    """`run()`, and its (wall, CPU) seconds.

    CPU time is this process's work alone, which a loaded shared machine does not inflate the
    way it inflates the wall clock.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    out = run()
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reference on a few, extrapolated")
    ap.add_argument("--scenarios", type=int, default=64)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--reference-runs", type=int, default=8, help="with --quick")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-bytes", type=int, help="chunk limit of the batched call, MiB")
    args = ap.parse_args(argv)
    plant_doc, orders_doc = synthetic_plant(args.seed, args.orders)
    plant = parse_plant(plant_doc)
    p = build(plant, parse_orders(orders_doc, plant), NOW).problem
    base = plan_backward(p)  # also the warm-up (imports, caches)
    cases = scenarios(p, base, args.scenarios, args.seed + 1)
    problems = [q for _, q in cases]
    n = len(problems)
    print(
        f"plant: {p.n_res} resources, {p.n_orders} orders, {p.n_steps} steps, {p.n_slots} "
        f"slots; {n} scenarios ({', '.join(KINDS)}, and the plan as it is)"
    )
    # the first batched call also pays for fresh memory (the placement state is new to the
    # process; the sequential plans reuse theirs from the warm-up plan): printed, not compared
    limit = {} if args.max_bytes is None else {"max_bytes": args.max_bytes << 20}
    limit_text = "default" if args.max_bytes is None else f"{args.max_bytes} MiB"
    rss0 = peak_rss_mb()
    _, cold = timed(lambda: plan_scenarios(problems, **limit))
    batched, bat = timed(lambda: plan_scenarios(problems, **limit))
    rss1 = peak_rss_mb()
    mb = sum(state_bytes(q) for q in problems) / 2**20
    chunks = chunk_sizes(problems, **limit)
    print(
        f"batched: {n} scenarios in one call, {bat[1]:.2f} s CPU ({bat[0]:.2f} s wall); the "
        f"process's first such call {cold[1]:.2f} s CPU ({cold[0]:.2f} s wall); placement "
        f"state {mb:.0f} MB in all, in lock step by {'+'.join(map(str, chunks))} scenarios "
        f"(max_bytes {limit_text}); peak resident memory {rss0:.0f} -> "
        f"{rss1:.0f} MB (+{rss1 - rss0:.0f} MB)"
    )
    sequential, seq = timed(lambda: [plan_backward(q) for q in problems])
    print(f"sequential numpy: {n} plan_backward calls, {seq[1]:.2f} s CPU ({seq[0]:.2f} s wall)")
    runs = min(n, args.reference_runs) if args.quick else n
    reference, ran = timed(lambda: [plan_reference(q) for q in problems[:runs]])
    ref = (ran[0] * n / runs, ran[1] * n / runs)
    if runs < n:
        print(
            f"plain-Python reference: ran on {runs} of {n} scenarios in {ran[1]:.2f} s CPU "
            f"({ran[0]:.2f} s wall); EXTRAPOLATED to {n}: {ref[1]:.2f} s CPU ({ref[0]:.2f} s "
            f"wall) (run without --quick for all {n})"
        )
    else:
        print(f"plain-Python reference: {n} plan_reference calls, {ref[1]:.2f} s CPU "
              f"({ref[0]:.2f} s wall)")  # fmt: skip
    differ = [
        name for (name, _), a, b in zip(cases, batched, sequential, strict=True) if not same(a, b)
    ]
    differ += [
        f"reference: {name}"
        for (name, _), a, b in zip(cases, reference, sequential, strict=False)
        if not same(a, b)
    ]
    for name in differ:
        print(f"DIFFERENT PLANS: {name}")
    late = [int(b.forward.sum()) for b in batched]
    print(
        f"same plans: {not differ} (batched = sequential in all {n}, reference = numpy in "
        f"{runs}); orders placed forward per scenario: min {min(late)}, max {max(late)}"
    )
    vs_ref, vs_seq = ref[1] / bat[1], seq[1] / bat[1]
    print(
        f"speedup (CPU time) vs reference {vs_ref:.1f}x (target >= 10), vs sequential numpy "
        f"{vs_seq:.2f}x (target >= 3); wall clock {ref[0] / bat[0]:.1f}x and "
        f"{seq[0] / bat[0]:.2f}x; the first call {ref[1] / cold[1]:.1f}x and "
        f"{seq[1] / cold[1]:.2f}x (CPU)"
    )
    summary = {
        "scenarios": n,
        "orders": p.n_orders,
        "batched_s": round(bat[1], 3),
        "batched_first_call_s": round(cold[1], 3),
        "sequential_s": round(seq[1], 3),
        "reference_s": round(ref[1], 3),
        "batched_wall_s": round(bat[0], 3),
        "sequential_wall_s": round(seq[0], 3),
        "reference_wall_s": round(ref[0], 3),
        "reference_runs": runs,
        "reference_extrapolated": runs < n,
        "state_mb": round(mb, 1),
        "chunks": chunks,
        "max_bytes_mib": args.max_bytes,  # None: plan_scenarios' default
        "peak_rss_mb": round(rss1),
        "batched_peak_growth_mb": round(rss1 - rss0),
        "speedup_vs_reference": round(vs_ref, 2),
        "speedup_vs_sequential": round(vs_seq, 2),
        "same_plans": not differ,
    }
    print(json.dumps(summary))
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
