"""The `taktline plan` subcommand: plant and orders in, schedule, summary and Gantt chart out.

A thin layer over `cloud.scheduler`; heavy imports (numpy) happen inside `run` so that
`taktline --help` stays fast. Exit code 0 when everything was planned, 1 when some orders could
not be (the rest of the plan still comes out), 2 when the inputs or arguments are invalid (one
line on stderr: a bad `--now`, an unreadable input, an output that cannot be written).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the `plan` subcommand's options to `parser`."""
    parser.add_argument("--plant", required=True, type=Path, help="plant model (JSON)")
    parser.add_argument("--orders", required=True, type=Path, help="orders (JSON)")
    parser.add_argument("--out", type=Path, help="write the schedule here (JSON)")
    parser.add_argument("--gantt", type=Path, help="draw the plan per resource (SVG)")
    parser.add_argument(
        "--now",
        help="plan from this time (ISO 8601; UTC without an offset) instead of the clock",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the improvement phase")
    parser.add_argument(
        "--improve-s",
        type=_non_negative,
        help="time budget of the improvement phase (s; default: the plant's planning budget)",
    )
    parser.add_argument(
        "--improve-iters",
        type=_count,
        help="iteration budget of the improvement (default: the plant's planning budget)",
    )


def _moment(text: str) -> datetime:
    """`--now` as a UTC time (UTC without an offset); ValueError with the reason otherwise."""
    from taktline.clock import parse_moment

    return parse_moment(text, naive_is_utc=True)


def _unwritable(path: Path | None) -> str | None:
    """Why an output file cannot be written (checked before planning), or None."""
    if path is None:
        return None
    if path.is_dir():
        return f"{str(path)!r} is a folder; name a file"
    folder = path.parent
    if not folder.is_dir():
        return f"cannot write {str(path)!r}: there is no folder {str(folder)!r}"
    return None


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more)")
    return value


class _Progress:
    """A progress bar on stderr, shown only once the plan has taken more than a second."""

    def __init__(self, budget_s: float) -> None:
        self.t0 = time.perf_counter()
        self.budget = max(budget_s, 1e-9)
        self.shown = False

    def __call__(self, fraction: float) -> None:
        if time.perf_counter() - self.t0 < 1.0 or not sys.stderr.isatty():
            return
        self.shown = True
        n = int(30 * min(max(fraction, 0.0), 1.0))
        print(f"\rplanning [{'#' * n}{'.' * (30 - n)}] {fraction:4.0%}", end="", file=sys.stderr)

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Plans the orders on the plant; returns the exit code."""
    from cloud.plant import PlantInvalid, load_orders, load_plant
    from cloud.scheduler.service import plan_orders, schedule_document, summary_lines

    try:
        given_now = None if args.now is None else _moment(args.now)
    except ValueError as exc:
        print(f"taktline plan: --now: {exc}", file=sys.stderr)
        return 2
    for option, path in (("--out", args.out), ("--gantt", args.gantt)):
        unwritable = _unwritable(path)
        if unwritable:
            print(f"taktline plan: {option}: {unwritable}", file=sys.stderr)
            return 2
    try:
        plant = load_plant(args.plant)
        orders = load_orders(args.orders, plant)
    except PlantInvalid as exc:
        print("taktline plan: invalid input:", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return 2
    if given_now is not None:
        now = given_now
    else:
        from taktline.clock import SystemClock

        now = SystemClock().now()
    improve_s = plant.improve_seconds if args.improve_s is None else args.improve_s
    improve_iters = plant.improve_iterations if args.improve_iters is None else args.improve_iters
    progress = _Progress(improve_s)
    result = plan_orders(
        plant,
        orders,
        now,
        seed=args.seed,
        improve_s=improve_s,
        improve_iters=improve_iters,
        progress=progress,
    )
    progress.close()
    try:
        if args.out:
            import json

            args.out.write_text(json.dumps(schedule_document(result), indent=1) + "\n")
        if args.gantt:
            from cloud.scheduler.gantt import gantt_svg

            args.gantt.write_text(gantt_svg(result.model, result.plan))
    except OSError as exc:
        print(f"taktline plan: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    for line in summary_lines(result):
        print(line)
    return 1 if result.model.errors or result.plan.unplaced.any() else 0
