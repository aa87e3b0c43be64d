"""Fuzzing benchmark: every target of `fuzz/` for N runs, with its runs/s, crashes and hangs.

Each target runs in its own process (`python -m fuzz.run TARGET --runs N`) under atheris
(libFuzzer) when it is installed, else under hypothesis. The slow targets (full ingest into a
SQLite store, REST over HTTP) get a tenth of the runs (`Target.share`): `--runs 1000000` gives
them 100,000. An input slower than `--timeout` seconds (default 1) is a hang. The reference is
the issue's: no uncaught exception and no hang.

    .venv/bin/python bench/fuzz.py [--runs N] [--seed S] [--target NAME ...] [--max-time S]

Prints one line per target, then a JSON line whose `targets` maps each target to
`{"runs", "runs_per_s", "crashes", "hangs"}`; the exit status is 1 when any crashed or hung.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The child processes import the `fuzz` package from the repository (this file is not it).
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

_DONE = re.compile(r"^Done (\d+) runs in (\d+) second", re.MULTILINE)
_UNITS = re.compile(r"^stat::number_of_executed_units: (\d+)", re.MULTILINE)
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


def run_target(name: str, runs: int, seed: int, timeout: int, max_time: int) -> dict[str, Any]:
    """Runs one target in a child process; returns its figures."""
    command = [
        sys.executable,
        "-m",
        "fuzz.run",
        name,
        f"--runs={runs}",
        f"--seed={seed}",
        f"--timeout={timeout}",
        *([f"--max-time={max_time}"] if max_time else []),
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    out = done.stdout + done.stderr
    executed = [int(m) for m in _UNITS.findall(out)] or [int(m) for m in _PROGRESS.findall(out)]
    finished = _DONE.search(out)
    count = int(finished.group(1)) if finished else (max(executed) if executed else 0)
    hang = "libFuzzer: timeout" in out or "==ERROR: hangs" in out
    crash = done.returncode != 0 and not hang
    artifact = _ARTIFACT.search(out)
    return {
        "runs": count,
        "runs_per_s": round(count / elapsed) if elapsed > 0 else 0,
        "crashes": int(crash),
        "hangs": int(hang),
        "seconds": round(elapsed, 1),
        **({"artifact": artifact.group(1)} if artifact else {}),
        **({"tail": out.strip().splitlines()[-15:]} if done.returncode != 0 else {}),
    }


def main() -> int:
    """Runs the benchmark; see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=1, help="a slower input is a hang (s)")
    parser.add_argument("--max-time", type=int, default=0, help="stop each target after S s")
    parser.add_argument("--target", action="append", help="only these targets (repeatable)")
    args = parser.parse_args()
    listing = subprocess.run(
        [sys.executable, "-m", "fuzz.run", "--list"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    targets: dict[str, dict[str, Any]] = json.loads(listing.stdout)
    names = args.target or list(targets)
    figures: dict[str, dict[str, Any]] = {}
    print(f"reference: 0 uncaught exceptions, 0 hangs over {args.timeout} s per target")
    for name in names:
        runs = max(1, round(args.runs * targets[name]["share"]))
        result = run_target(name, runs, args.seed, args.timeout, args.max_time)
        figures[name] = result
        print(
            f"{name:13s} {result['runs']:>10,} runs {result['runs_per_s']:>8,}/s "
            f"crashes {result['crashes']} hangs {result['hangs']}  ({targets[name]['about']})",
            flush=True,
        )
        for line in result.get("tail", []):
            print(f"    {line}")
    summary = {
        name: {k: v for k, v in r.items() if k in ("runs", "runs_per_s", "crashes", "hangs")}
        for name, r in figures.items()
    }
    failed = any(r["crashes"] or r["hangs"] for r in figures.values())
    print(json.dumps({"runs_asked": args.runs, "seed": args.seed, "targets": summary}))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
