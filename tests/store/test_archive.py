"""Retention: archiving old events changes no projection, keeps full rebuilds whole, and keeps
recognising late resends of archived events as duplicates."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.archive import ArchiveRefused, archive_old_events
from cloud.snapshots import Snapshotter
from cloud.status import ResourceStatus
from cloud.store import EventLog
from taktline.cli import main
from taktline.clock import FakeClock
from tests.store.plant_log import log_of as _log_of
from tests.store.test_snapshots import _state

DAY = timedelta(days=1)


def _restart_state(log: EventLog) -> dict[str, object]:
    status, _ = Snapshotter(log).restore(ResourceStatus)
    return _state(status)


def test_archiving_changes_no_projection_and_full_rebuilds_read_the_archive(
    database: str, tmp_path: Path
) -> None:
    with EventLog(database) as log:
        _log_of(log, 3_000)  # received 2026-11-23
        later = FakeClock(datetime(2027, 3, 1, tzinfo=UTC))
        with pytest.raises(ArchiveRefused, match="no snapshot"):
            archive_old_events(log, tmp_path / "archive", 90 * DAY, clock=later)
        snapshots = Snapshotter(log)
        status, _ = snapshots.restore(ResourceStatus)
        snapshots.take(status)
        before = _state(status)
        keys_before = log.event_keys()

        record = archive_old_events(log, tmp_path / "archive", 90 * DAY, clock=later)
        assert record is not None and record["events"] == 2_999  # the newest always stays
        assert log.count() == 1
        path = Path(record["path"])
        assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]
        assert len(gzip.decompress(path.read_bytes()).splitlines()) == 2_999

        assert _restart_state(log) == before  # restart from the snapshot: nothing changed
        full = ResourceStatus()
        assert full.rebuild(log.replay()) == 3_000  # a full rebuild reads the archive first
        assert _state(full) == before
        assert [pos for pos, _, _ in log.replay()] == sorted(pos for pos, _, _ in log.replay())
        assert len(keys_before) == 3_000


def test_a_late_resend_of_an_archived_event_is_a_duplicate(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        _log_of(log, 500)
        snapshots = Snapshotter(log)
        status, _ = snapshots.restore(ResourceStatus)
        snapshots.take(status)
        later = FakeClock(datetime(2027, 3, 1, tzinfo=UTC))
        assert archive_old_events(log, tmp_path / "a", 90 * DAY, clock=later) is not None
        # The same 500 events again (an agent back from a long outage): none applied twice.
        _log_of(log, 500)
        assert log.count() == 1
        assert log.dead_letters() == []


def test_recent_events_are_kept(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        _log_of(log, 100)
        snapshots = Snapshotter(log)
        status, _ = snapshots.restore(ResourceStatus)
        snapshots.take(status)
        soon = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
        assert archive_old_events(log, tmp_path / "a", 90 * DAY, clock=soon) is None
        assert log.count() == 100


def test_the_archive_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cloud.db"
    with EventLog(db) as log:
        _log_of(log, 50)
    assert (
        main(["archive", "--db", str(db), "--to", str(tmp_path / "a"), "--older-than-days", "0"])
        == 2
    )
    assert "no snapshot" in capsys.readouterr().err
    with EventLog(db) as log:
        snapshots = Snapshotter(log)
        snapshots.take(snapshots.restore(ResourceStatus)[0])
    assert (
        main(["archive", "--db", str(db), "--to", str(tmp_path / "a"), "--older-than-days", "0"])
        == 0
    )
    assert "archived 49 events" in capsys.readouterr().out
