"""`taktline whatif`: plan scenarios beside a base plan and compare their figures side by side.

The base is a plant and an orders file planned from `--now` (as `taktline plan` does), or the
cloud's event log (`--db`) at a past moment `--at` (or its end): the status and planning state as
the cloud knew them then (`cloud.timetravel`), planned as a restarting cloud plans
(`cloud.whatif.engine_at`). `--scenarios FILE` is a JSON list of scenarios (or `{"scenarios":
[...]}`), each `{"name": ..., "changes": [...]}` with the changes of docs/whatif.md; the base
plan is always the first column. Exit 0 when planned, 2 when an input is invalid (the reason in
one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taktline.clock import moment_arg

__all__ = ["configure", "run"]

_COLUMNS = (
    ("on time %", "on_time_pct"),
    ("late", "late"),
    ("unplanned", "unplanned"),
    ("tardy min", "tardiness_min"),
    ("early min", "earliness_min"),
    ("E/T cost", "weighted_cost"),
    ("WIP", "wip"),
    ("util %", "utilisation"),
    ("gaps", "gaps"),
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the `whatif` options."""
    parser.add_argument("--plant", required=True, type=Path, help="plant model (JSON)")
    parser.add_argument(
        "--scenarios", required=True, type=Path, help="scenarios (JSON, see docs/whatif.md)"
    )
    base = parser.add_mutually_exclusive_group(required=True)
    base.add_argument("--orders", type=Path, help="plan these orders from --now (JSON)")
    base.add_argument("--db", help="the cloud's event log: plan from its state at --at")
    parser.add_argument("--now", type=moment_arg, help="with --orders: plan from this time")
    parser.add_argument(
        "--at", type=moment_arg, help="with --db: the moment (default: the log's end)"
    )
    parser.add_argument("--no-improve", action="store_true", help="skip the improvement phase")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _base(args: argparse.Namespace, plant: Any) -> tuple[Any, datetime]:
    from cloud.plant import load_orders
    from cloud.replan import Engine
    from cloud.store import EventLog
    from cloud.timetravel import TimeTravel
    from cloud.whatif import engine_at

    if args.orders is not None:
        now = args.now or datetime.now(UTC)
        engine = Engine(plant, load_orders(args.orders, plant), now)
        if not args.no_improve:
            engine.improve(now)
        return engine, now
    database = args.db if "://" in args.db else Path(args.db)
    if isinstance(database, Path) and not database.exists():
        raise ValueError(f"no event log at {database}")
    with EventLog(database) as log:
        status, now = TimeTravel(log).status_then(args.at)
    return engine_at(status, plant, now, improve=not args.no_improve), now


def _table(results: list[Any]) -> str:
    header = ["scenario", *(label for label, _ in _COLUMNS), "cost vs base"]
    rows = [header]
    base_cost = results[0].kpis["weighted_cost"]
    for result in results:
        figures = result.kpis
        cells = [result.name]
        for _, key in _COLUMNS:
            value = figures[key]
            if key == "utilisation":
                value = round(100 * value, 1)
            cells.append(f"{value:g}" if isinstance(value, float) else str(value))
        delta = figures["weighted_cost"] - base_cost
        cells.append("-" if result is results[0] else f"{delta:+g}")
        rows.append(cells)
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def run(args: argparse.Namespace) -> int:
    """0 when planned; 2 when an input is invalid."""
    import msgspec

    from cloud.errors import CloudError
    from cloud.plant import PlantInvalid, load_plant
    from cloud.whatif import Scenario, run_scenarios

    try:
        plant = load_plant(args.plant)
        raw = json.loads(args.scenarios.read_text())
        if isinstance(raw, dict) and "scenarios" in raw:
            raw = raw["scenarios"]
        scenarios = [Scenario("base"), *msgspec.convert(raw, list[Scenario])]
        engine, now = _base(args, plant)
        results = run_scenarios(engine, scenarios, now, improve=not args.no_improve)
    except (OSError, ValueError, PlantInvalid, CloudError, msgspec.ValidationError) as exc:
        reason = "; ".join(exc.errors[:3]) if isinstance(exc, PlantInvalid) else str(exc)
        print(f"taktline whatif: {reason}", file=sys.stderr)
        return 2
    if args.json:
        json.dump({"now": now.isoformat(), "scenarios": [r.as_dict() for r in results]}, sys.stdout)
        print()
        return 0
    print(f"{len(results) - 1} scenario(s) beside the base plan from {now:%Y-%m-%d %H:%M} UTC\n")
    print(_table(results))
    for result in results[1:]:
        late = result.late_orders
        if late:
            shown = ", ".join(f"{o['order']} ({o['cause'] or o['status']})" for o in late[:3])
            more = f" and {len(late) - 3} more" if len(late) > 3 else ""
            print(f"\n{result.name}: {len(late)} late or unplanned: {shown}{more}")
    return 0
