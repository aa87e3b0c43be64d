"""`taktline report`: the resource status report of a period, printed, as JSON or as CSV files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cloud.errors import CloudError
from cloud.plant import load_plant
from cloud.report.export import write_csv
from cloud.report.report import Report, build_report, parse_moment
from cloud.store import EventLog

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `taktline report`."""
    parser.add_argument("--db", required=True, help="event log: SQLite file or PostgreSQL URL")
    parser.add_argument("--plant", help="the plant model (JSON): processes, standards, calendars")
    parser.add_argument("--from", dest="start", required=True, help="period start (ISO 8601)")
    parser.add_argument("--to", dest="end", required=True, help="period end, exclusive (ISO 8601)")
    parser.add_argument("--csv", help="write machines.csv, processes.csv, downtime.csv here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Builds the report; 0 when done, 2 on a bad period, plant or database."""
    try:
        start, end = parse_moment(args.start, "--from"), parse_moment(args.end, "--to")
        plant = load_plant(args.plant) if args.plant else None
        database = args.db if "://" in args.db else Path(args.db)
        if isinstance(database, Path) and not database.exists():
            raise CloudError(f"no event log at {database}")
        with EventLog(database) as log:
            report = build_report(log.replay(), plant, start, end)
    except (CloudError, ValueError, OSError) as exc:
        print(f"taktline report: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        for path in write_csv(report, Path(args.csv)):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    elif not args.csv:
        print(_text(report))
    return 0


def _cell(value: object) -> str:
    return "—" if value is None else str(value)


def _text(report: Report) -> str:
    data = report.to_dict()
    lines = [f"resource status report {data['from']} .. {data['to']} ({report.events} events)"]
    head = "{:<14} {:<16} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}"
    lines.append(head.format("machine", "process", "planned", "run", "down", "avg_s", "avail",
                             "perf", "oee"))  # fmt: skip
    for row in report.machines:
        cells = [row["station"], row["process"][:16], row["planned_min"], row["run_min"]]
        cells += [row["downtime_min"], _cell(row["avg_cycle_s"]), _cell(row["availability"])]
        cells += [_cell(row["performance"]), _cell(row["oee"])]
        lines.append(head.format(*cells))
    lines.append("downtime Pareto (plant):")
    for item in report.downtime:
        lines.append(
            f"  {item['rank']}. {item['reason']:<18} {item['minutes']:>9} min "
            f"{item['share']:>7} cum {item['cumulative_share']}"
        )
    return "\n".join(lines)
