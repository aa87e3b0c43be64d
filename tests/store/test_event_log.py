"""The event log on SQLite and on a real PostgreSQL: the same code, the same answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cloud import schema
from cloud.store import DeadLetter, EventLog, LogRecord

I1, I2 = "a" * 32, "b" * 32


def _record(instance: str, seq: int, payload: str = "04A1B2C3") -> LogRecord:
    body = json.dumps({"instance": instance, "seq": seq, "payload": {"tag": payload}})
    return LogRecord(
        instance, seq, "badge.read", "pi-1", "pi-1", "crimp-01", "2026-11-23T08:00:00Z",
        "2026-11-23T08:00:00.000001Z", "monotonic", "2026-11-23T08:00:01Z", body,
    )  # fmt: skip


def _letter(reason: str, key: tuple[str, int] | None = None) -> DeadLetter:
    return DeadLetter(
        received_at="2026-11-23T08:00:01Z", topic="t", reason=reason, body="{}", agent="pi-1",
        instance=key[0] if key else None, seq=key[1] if key else None,
    )  # fmt: skip


def test_each_key_is_appended_once_in_arrival_order(database: str) -> None:
    with EventLog(database) as log:
        first = log.commit([_record(I1, 1), _record(I2, 1), _record(I1, 2)], [])
        assert [r.key for r in first.committed] == [(I1, 1), (I2, 1), (I1, 2)]
        again = log.commit([_record(I1, 2), _record(I1, 3), _record(I1, 3)], [])
        assert again.duplicates == [(I1, 2), (I1, 3)]
        assert [r.key for r in again.committed] == [(I1, 3)]
        assert log.count() == 4
        assert log.event_keys() == [(I1, 1), (I2, 1), (I1, 2), (I1, 3)]
        positions = [pos for pos, _, _ in log.replay()]
        assert positions == sorted(positions) and len(positions) == 4
        assert [pos for pos, _, _ in log.replay(after=positions[1])] == positions[2:]


def test_a_reused_key_with_other_content_is_dead_lettered(database: str) -> None:
    with EventLog(database) as log:
        log.commit([_record(I1, 1)], [])
        result = log.commit([_record(I1, 1, payload="04FFFFFF")], [])
        assert result.conflicts == [(I1, 1)] and result.dead_lettered == 1
        (letter,) = log.dead_letters()
        assert "reused with different content" in letter["reason"]
        assert log.count() == 1


def test_dead_letters_are_kept_once_per_key_and_reason(database: str) -> None:
    with EventLog(database) as log:
        result = log.commit(
            [], [_letter("bad", (I1, 5)), _letter("bad", (I1, 5)), _letter("other", (I1, 5))]
        )
        assert result.dead_lettered == 2
        # Messages without a key are all kept (NULL keys never collide).
        assert log.commit([], [_letter("not JSON"), _letter("not JSON")]).dead_lettered == 2
        assert [d["reason"] for d in log.dead_letters()] == ["bad", "other", "not JSON", "not JSON"]
        assert [d["reason"] for d in log.dead_letters(limit=1)] == ["not JSON"]


def test_registry_upserts(database: str) -> None:
    with EventLog(database) as log:
        log.register_agent("pi-1", "plant1", "harness")
        log.register_agent("pi-1", "plant1", "assembly")
        log.register_device("reader-1", "pi-1", "crimp-01")
        log.register_device("reader-1", "pi-1", None)
        assert log.registry() == ({"pi-1": ("plant1", "assembly")}, {"reader-1": ("pi-1", None)})


def test_reopening_keeps_everything_and_migrates_once(database: str) -> None:
    with EventLog(database) as log:
        log.commit([_record(I1, 1)], [])
    with EventLog(database) as log:
        assert log.count() == 1
        assert log.schema_version == len(schema.MIGRATIONS)
    url = database if "://" in database else f"sqlite:///{database}"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(sa.select(schema.schema_version.c.version)).scalars().all()
    engine.dispose()
    assert versions == list(range(1, len(schema.MIGRATIONS) + 1))


def test_a_pre_versioning_sqlite_log_is_adopted(tmp_path: Path) -> None:
    """A log made by the walking skeleton (same tables, no schema_version) opens as it is."""
    import sqlite3

    path = tmp_path / "old.db"
    with EventLog(path) as log:
        log.commit([_record(I1, 1)], [])
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE schema_version")
    conn.commit()
    conn.close()
    with EventLog(path) as log:
        assert log.event_keys() == [(I1, 1)]
        log.commit([_record(I1, 2)], [])
        assert log.count() == 2


def test_a_key_another_writer_committed_after_the_read_is_no_error(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingest processes on one PostgreSQL: B read the log before A committed the same keys.

    B's insert skips them (`ON CONFLICT DO NOTHING`) instead of failing its round on the unique
    key, and sorts them like any other: the same content a duplicate, other content a conflict.
    """
    with EventLog(postgres_url) as a, EventLog(postgres_url) as b:
        real = b._existing_bodies
        reads = {"n": 0}

        def stale(records: list[LogRecord]) -> dict[tuple[str, int], str]:
            reads["n"] += 1
            if reads["n"] == 1:  # B's read happened before A's commit
                a.commit([_record(I1, 1), _record(I1, 2)], [])
                return {}
            return real(records)

        monkeypatch.setattr(b, "_existing_bodies", stale)
        result = b.commit([_record(I1, 1), _record(I1, 2, payload="04FFFFFF"), _record(I1, 3)], [])
        assert [r.key for r in result.committed] == [(I1, 3)]
        assert result.duplicates == [(I1, 1)] and result.conflicts == [(I1, 2)]
        assert result.dead_lettered == 1
        assert a.event_keys() == [(I1, 1), (I1, 2), (I1, 3)]


def test_concurrent_writers_of_the_same_keys_append_each_once(postgres_url: str) -> None:
    import random
    import threading

    batches = [[_record(I2, 10 * b + k) for k in range(1, 11)] for b in range(60)]
    committed: list[list[tuple[str, int]]] = [[], []]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        order = batches[:]
        random.Random(n).shuffle(order)
        try:
            with EventLog(postgres_url) as log:
                for batch in order:
                    committed[n] += [r.key for r in log.commit(batch, []).committed]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    both = committed[0] + committed[1]
    assert sorted(both) == sorted({r.key for batch in batches for r in batch})  # each once
    with EventLog(postgres_url) as log:
        assert len([k for k in log.event_keys() if k[0] == I2]) == 600


def test_a_tail_read_while_writers_commit_sees_every_event_once(postgres_url: str) -> None:
    """Positions are handed out in commit order: a tail reading by position skips nothing.

    Three writers commit small rounds on PostgreSQL (one of them slowed between its insert and
    its commit, so a later transaction would take a higher position and commit first unless
    positions wait for the commit) while a reader tails the log by position. (SQLite has one
    writer at a time; scale-out refuses it.)
    """
    import threading
    import time

    url = postgres_url
    EventLog(url).close()  # migrated once, before the writers race
    instances = [f"{n:032x}" for n in range(1, 4)]
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with EventLog(url) as log:
                if n == 0:
                    real = log._insert_fresh

                    def slow(*args: Any) -> None:
                        real(*args)
                        time.sleep(0.01)  # the position is taken; the commit comes later

                    log._insert_fresh = slow  # type: ignore[method-assign,assignment]
                for b in range(40):
                    log.commit([_record(instances[n], 3 * b + k) for k in (1, 2, 3)], [])
        except BaseException as exc:
            errors.append(exc)

    seen: list[tuple[int, tuple[str, int]]] = []

    def reader() -> None:
        with EventLog(url) as log:
            position = 0
            while True:
                finished = done.is_set()
                for pos, record, _own in log.tail(position, 50):
                    assert pos > position
                    seen.append((pos, record.key))
                    position = pos
                if finished:
                    return
                time.sleep(0.002)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    tail = threading.Thread(target=reader)
    tail.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    tail.join(60)
    assert not errors, errors
    keys = [key for _, key in seen]
    assert len(keys) == len(set(keys)) == 360, len(keys)  # every event, once
