"""Retention: old events move from the event log's table into compressed archive files.

The policy (docs/store.md): events received more than `--older-than-days` ago (default 90) are
archived, but never past the newest status snapshot — so a restart restores from that snapshot
and replays only live events, and no projection changes. The archive files stay part of the log:
a full rebuild reads them first (`EventLog.replay`), and a late resend of an archived event is
still recognised as a duplicate. `taktline archive` runs the policy once (cron or a systemd timer).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.errors import CloudError
from cloud.snapshots import fingerprint
from cloud.status import ResourceStatus
from cloud.store import ARCHIVE_BATCH, EventLog
from taktline.clock import Clock, SystemClock, utc_iso

__all__ = ["ArchiveRefused", "archive_old_events", "configure", "run"]


class ArchiveRefused(CloudError):
    """Archiving now would change a projection (no snapshot covers the events yet)."""


def archive_old_events(
    log: EventLog,
    folder: Path,
    older_than: timedelta,
    *,
    clock: Clock | None = None,
    projection: type = ResourceStatus,
    batch: int = ARCHIVE_BATCH,
) -> dict[str, Any] | None:
    """Archives what the policy allows; returns the archive's record, or None if nothing."""
    now: datetime = (clock or SystemClock()).now()
    through = log.position_received_before(utc_iso(now - older_than))
    if through == 0:
        return None
    snapshot = log.latest_snapshot(fingerprint(projection))
    if snapshot is None:
        raise ArchiveRefused(
            "no snapshot of the current status exists yet, so archiving would change what a "
            "restart rebuilds: run the cloud (it snapshots every N events and at a clean stop), "
            "then archive"
        )
    return log.archive(min(through, snapshot[0]), folder, batch=batch)


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `taktline archive`."""
    parser.add_argument(
        "--db", default="taktline-cloud.db", help="event log: SQLite file or PostgreSQL URL"
    )
    parser.add_argument("--to", required=True, help="folder for the archive files")
    parser.add_argument(
        "--older-than-days",
        type=float,
        default=90.0,
        help="archive events received more than this many days ago (default: %(default)s)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=ARCHIVE_BATCH,
        help="events per archive file and transaction; the cloud's ingest goes on between "
        "batches (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Runs the retention policy once; 0 when done (or nothing to do), 2 when refused."""
    database = args.db if "://" in args.db else Path(args.db)
    with EventLog(database) as log:
        try:
            record = archive_old_events(
                log, Path(args.to), timedelta(days=args.older_than_days), batch=args.batch
            )
        except ArchiveRefused as exc:
            print(f"taktline archive: {exc}", file=sys.stderr)
            return 2
    if record is None:
        print("nothing to archive")
    else:
        print(
            f"archived {record['events']} events (positions {record['first_pos']} to "
            f"{record['last_pos']}) to {len(record.get('files', [record['path']]))} file(s), "
            f"the last {record['path']} (sha256 {record['sha256'][:16]}...)"
        )
    return 0
