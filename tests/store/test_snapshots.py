"""Snapshots: a restart restores the status from the newest snapshot plus the tail of the log,
and that equals a full rebuild from the log — on a log of a million events."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cloud.snapshots import Snapshotter, fingerprint
from cloud.status import ResourceStatus
from cloud.store import EventLog, LogRecord
from tests.store.plant_log import INSTANCES, log_of, moment


def _state(status: ResourceStatus) -> dict[str, object]:
    state = status.snapshot()
    state.pop("applied")  # how many events this instance folded, not the plant's state
    return state


@pytest.mark.slow
def test_snapshot_plus_tail_equals_full_rebuild_on_a_million_events(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db", synchronous="NORMAL") as log:
        log_of(log, 900_000)
        snapshots = Snapshotter(log, every_events=10**9)
        first, how = snapshots.restore(ResourceStatus)
        assert not how.from_snapshot and how.replayed == 900_000
        snapshots.take(first)
        _log_of_tail(log)
        assert log.count() == 1_000_000
        restored, how = snapshots.restore(ResourceStatus)
        assert how.from_snapshot and how.replayed == 100_000
        full = ResourceStatus()
        assert full.rebuild(log.replay()) == 1_000_000
        assert _state(restored) == _state(full)
        assert any(m["cycles"] for m in _state(full)["machines"].values())  # type: ignore[attr-defined]


def _log_of_tail(log: EventLog) -> None:
    # The tail continues the same instances (later seqs), as a live plant would.
    last = {i: 0 for i in INSTANCES}
    for instance, seq in log.event_keys():
        last[instance] = max(last[instance], seq)
    rng = random.Random(11)
    records = []
    for n in range(100_000):
        instance = rng.choice(INSTANCES)
        last[instance] += 1
        agent = f"pi-{INSTANCES.index(instance):02d}"
        station = f"m{INSTANCES.index(instance) * 3:03d}"
        on = n % 2 == 0
        at = moment(n, 23)
        payload = {"signal": "run", "on": on} if n % 3 else {"signal": "cycle", "count": 1}
        body = {
            "v": 1, "type": "machine.signal", "source": agent, "agent": agent,
            "station": station, "instance": instance, "seq": last[instance], "time": at,
            "mono_ns": n, "boot": "b", "payload": payload,
        }  # fmt: skip
        records.append(
            LogRecord(
                instance, last[instance], "machine.signal", agent, agent, station, at, at,
                "monotonic", at, json.dumps(body, separators=(",", ":")), body,
            )
        )  # fmt: skip
    log.commit(records, [])


def test_restore_uses_the_snapshot_on_both_databases(database: str) -> None:
    with EventLog(database) as log:
        log_of(log, 3_000)
        snapshots = Snapshotter(log, every_events=1_000)
        status, how = snapshots.restore(ResourceStatus)
        assert how.replayed == 3_000  # a long replay is snapshotted at once
        restored, how = Snapshotter(log).restore(ResourceStatus)
        assert how.from_snapshot and how.replayed == 0
        assert _state(restored) == _state(status)


def test_a_snapshot_of_other_fold_code_or_a_damaged_one_is_not_used(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        log_of(log, 2_000)
        log.save_snapshot(log.last_position(), "someone-elses-fold", 2_000, b"\x80junk")
        status, how = Snapshotter(log).restore(ResourceStatus)
        assert not how.from_snapshot and how.replayed == 2_000
        log.save_snapshot(log.last_position(), fingerprint(ResourceStatus), 2_000, b"\x80junk")
        again, how = Snapshotter(log).restore(ResourceStatus)
        assert not how.from_snapshot and how.replayed == 2_000
        assert _state(again) == _state(status)


def test_old_snapshots_are_pruned(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        log_of(log, 100)
        snapshots = Snapshotter(log, keep=2, history=0)
        status, _ = snapshots.restore(ResourceStatus)
        for _ in range(4):
            snapshots.take(status)
        assert log.latest_snapshot(fingerprint(ResourceStatus)) is not None
        import sqlalchemy as sa

        from cloud import schema

        with sa.create_engine(log.url).connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(schema.snapshots)).scalar()
        assert count == 2
