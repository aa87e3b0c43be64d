"""`taktline rootcause --db DB --plant P --order O [--at TIME]`: why an order was late, then.

The status and planning state as the cloud knew them at `--at` (default: the log's end) are
rebuilt from the event log (`cloud.timetravel`) and planned as a restarting cloud plans
(`cloud.whatif.engine_at`); the order's cause chain is then walked back through the log to the
first event (`cloud.rootcause`). Prints the root cause, the first event and the evidence in time
order (`--json`: as `GET /api/plan/orders/{order}/rootcause` answers). Exit 0; 1 when the order
is not in the plan; 2 when an input is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

from taktline.clock import moment_arg

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the `rootcause` options."""
    parser.add_argument("--db", required=True, help="the cloud's event log")
    parser.add_argument("--plant", required=True, type=Path, help="plant model (JSON)")
    parser.add_argument("--order", required=True, help="the order")
    parser.add_argument("--at", type=moment_arg, help="the moment (default: the log's end)")
    parser.add_argument(
        "--repair-minutes",
        type=float,
        help="a broken machine is planned back after this long (as `taktline cloud` was run)",
    )
    parser.add_argument("--json", action="store_true", help="print the root cause as JSON")


def run(args: argparse.Namespace) -> int:
    """0 when explained; 1 when the order is not in the plan; 2 on invalid inputs."""
    from cloud.errors import CloudError
    from cloud.plant import PlantInvalid, load_plant
    from cloud.rootcause import root_cause
    from cloud.store import EventLog
    from cloud.timetravel import TimeTravel
    from cloud.whatif import engine_at

    database = args.db if "://" in args.db else Path(args.db)
    try:
        if isinstance(database, Path) and not database.exists():
            raise ValueError(f"no event log at {database}")
        plant = load_plant(args.plant)
        with EventLog(database) as log:
            status, now = TimeTravel(log).status_then(args.at)
            repair = args.repair_minutes
            engine = engine_at(
                status,
                plant,
                now,
                repair_estimate=timedelta(minutes=repair) if repair is not None else None,
            )
            if args.order not in engine.orders:
                print(f"taktline rootcause: no order {args.order!r} in the plan", file=sys.stderr)
                return 1
            causes = engine.causes(now).get(args.order)
            if causes is None:
                print(f"{args.order} is not late at {now:%Y-%m-%d %H:%M} UTC")
                return 0
            deliveries = status.snapshot(now)["deliveries"]["deliveries"]
            found = root_cause(
                causes,
                log,
                deliveries=deliveries,
                transit_min={
                    lorry: s.transit_min for s in plant.suppliers.values() for lorry in s.lorries
                },
                badges={r.id: r.tag for r in plant.resources if r.kind == "operator" and r.tag},
                station_of={r.id: r.station or r.id for r in plant.resources},
            )
    except (OSError, ValueError, PlantInvalid, CloudError) as exc:
        reason = "; ".join(exc.errors[:3]) if isinstance(exc, PlantInvalid) else str(exc)
        print(f"taktline rootcause: {reason}", file=sys.stderr)
        return 2
    shown = found.as_dict()
    if args.json:
        json.dump(shown, sys.stdout)
        print()
        return 0
    print(
        f"{found.order}: {found.status}, {found.tardiness_min} min late; root cause ({found.kind}):"
    )
    print(f"  {found.summary}")
    first = found.first
    if first is not None:
        print(f"  first event: {first.at} {first.text} (log position {first.position})")
    for evidence in shown["timeline"]:
        print(f"  {evidence['at']}  {evidence['text']}")
    return 0
