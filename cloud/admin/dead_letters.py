"""`taktline cloud dead-letters list|show|replay`: dead letters you can see and bring back.

A dead letter is a message or event the cloud could not take, kept whole with its reason and
kind (`contract`, `version_ahead`, `identity`, `conflict`, `fold`, `internal`). Once the cause is
fixed — an agent or source added to the registry (`taktline cloud registry load`), the cloud
upgraded to a newer contract — `replay` asks the cloud to ingest the matching letters again: the
running cloud does it within a second (its ingest thread, so the status folds them in log
order), or the next start does. Keys already in the log are duplicates, so replaying twice
applies nothing twice; each letter records when it was replayed and what came of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cloud.store import REPLAYABLE, EventLog

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds `list`, `show ID` and `replay` with their filters."""
    parser.add_argument("--db", default=argparse.SUPPRESS, help="the cloud's database")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("list", "the dead letters matching the filters, oldest first"),
        ("replay", f"ingest the matching dead letters again (kinds {', '.join(REPLAYABLE)})"),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        sub.add_argument("--kind", help="only this kind (contract, identity, ...)")
        sub.add_argument("--reason", help="only those whose reason contains this text")
        sub.add_argument("--agent", help="only those from this agent")
        sub.add_argument("--limit", type=int, default=1000, help="at most this many")
    show = actions.add_parser("show", help="one dead letter whole", description="one, whole")
    show.add_argument("id", type=int)


def run(args: argparse.Namespace) -> int:
    """0 when done; 1 when `show` finds nothing or `replay` matches nothing replayable."""
    database = args.db if "://" in args.db else Path(args.db)
    with EventLog(database) as log:
        if args.action == "show":
            letter = log.dead_letter(args.id)
            if letter is None:
                print(f"no dead letter {args.id}", file=sys.stderr)
                return 1
            print(json.dumps(letter, indent=1))
            return 0
        letters = log.find_dead_letters(
            kind=args.kind,
            reason=args.reason,
            agent=args.agent,
            limit=args.limit,
            replayable_only=args.action == "replay",
        )
        if args.action == "list":
            for letter in letters:
                state = (
                    f"replayed {letter['replayed_at']}: {letter['replay_outcome']}"
                    if letter["replayed_at"]
                    else "replay asked"
                    if letter["replay_requested_at"]
                    else ""
                )
                print(
                    f"{letter['id']}\t{letter['received_at']}\t{letter['kind'] or '-'}\t"
                    f"{letter['agent'] or '-'}\t{letter['reason']}\t{state}"
                )
            print(f"{len(letters)} dead letter(s)", file=sys.stderr)
            return 0
        asked = log.request_replay([int(letter["id"]) for letter in letters])
        print(
            f"{asked} dead letter(s) to replay: the running cloud ingests them within a second "
            "(or the next start does); `dead-letters list` shows each outcome"
        )
        return 0 if asked else 1
