"""`taktline cloud history --at TIME | --position N`: the status as the cloud knew it then.

Rebuilt from the event log (`--db`) at a past moment — the events the cloud had committed by
then, not those that arrived later — or at a log position, from the nearest status snapshot
before it (`cloud/timetravel.py`, docs/store.md "Time travel"). Prints the status as JSON, as
`GET /api/history/status` answers it (`--section machines` prints one part), with `moment`: where
the jump landed and what it cost. Works beside a running cloud (its own read connection) or
without one. Master data (`--plant`) is optional: with it, absences and names read as on the
web; without it, the status alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cloud.errors import EarlierThanTheLog
from cloud.store import EventLog
from cloud.timetravel import TimeTravel
from taktline.clock import moment_arg

__all__ = ["configure", "run"]


def _position(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a log position (0 or more)")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds `--at` or `--position`, `--section`, `--plant`."""
    parser.add_argument("--db", default=argparse.SUPPRESS, help="the cloud's database")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", type=moment_arg, metavar="TIME", help="ISO 8601 time with offset")
    when.add_argument("--position", type=_position, metavar="N", help="a log position")
    parser.add_argument(
        "--section", metavar="NAME", help="print only this part (machines, labour, tools, ...)"
    )
    parser.add_argument("--plant", type=Path, help="the plant model, to show the status against")


def run(args: argparse.Namespace) -> int:
    """0 when printed; 1 when the moment is before the log or the section does not exist."""
    database = args.db if "://" in args.db else Path(args.db)
    if isinstance(database, Path) and not database.exists():
        print(f"no event log at {database}", file=sys.stderr)
        return 1
    master = None
    if args.plant is not None:
        from cloud.plant import load_plant
        from cloud.status import StatusMaster

        plant = load_plant(args.plant)
        master = StatusMaster.of(plant)
    with EventLog(database) as log:
        travel = TimeTravel(log, master=lambda: master)
        try:
            shown = travel.view(when=args.at, position=args.position)
        except EarlierThanTheLog as exc:
            print(exc, file=sys.stderr)
            return 1
    if args.section is not None:
        if args.section not in shown:
            known = ", ".join(sorted(k for k in shown if k != "moment"))
            print(f"no section {args.section!r}; the status has {known}", file=sys.stderr)
            return 1
        shown = {args.section: shown[args.section], "moment": shown["moment"]}
    json.dump(shown, sys.stdout, indent=1, sort_keys=True)
    print()
    moment = shown["moment"]
    print(
        f"log position {moment['position']} (received {moment['received_at']}): "
        f"{moment['replayed']} events after the snapshot at {moment['snapshot_pos']}, "
        f"{moment['seconds']} s",
        file=sys.stderr,
    )
    return 0
