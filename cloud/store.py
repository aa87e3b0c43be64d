"""The cloud's event log, dead-letter table and device registry, in SQLite.

The event log is the truth: each event is appended once, keyed by (source instance, sequence),
in arrival order (`pos`); everything else is a projection rebuilt from it. `commit()` takes a
whole ingest round — new events and dead letters — in one transaction, and tells the caller which
events were new, which were duplicates of what the log already holds (safe to confirm again), and
which reused a key with different content (dead-lettered, never silently dropped).
"""

from __future__ import annotations

import json
import operator
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple

import sqlite_utils

__all__ = ["CommitResult", "DeadLetter", "EventLog", "LogRecord"]

Synchronous = Literal["FULL", "EXTRA", "NORMAL"]


class LogRecord(NamedTuple):
    """One validated event, ready to append (a named tuple: ingest makes one per event)."""

    instance: str
    seq: int
    type: str
    source: str
    agent: str
    station: str | None
    device_time: str
    corrected_time: str
    time_basis: str
    received_at: str
    body: str
    #: The decoded event, when the caller has it (saves the status fold a `json.loads`).
    event: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, int]:
        """(instance, seq)."""
        return (self.instance, self.seq)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message or event that could not be applied, with the reason."""

    received_at: str
    topic: str
    reason: str
    body: str
    agent: str | None = None
    instance: str | None = None
    seq: int | None = None


@dataclass
class CommitResult:
    """What one `commit()` did."""

    committed: list[LogRecord] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    conflicts: list[tuple[str, int]] = field(default_factory=list)
    dead_lettered: int = 0


#: The stored columns: the leading fields of `LogRecord`, in order (rows are its slices).
_EVENT_COLUMNS = LogRecord._fields[:11]
_ROW = operator.itemgetter(*range(len(_EVENT_COLUMNS)))  # LogRecord's leading fields


def _same_event(stored: str, body: str) -> bool:
    """Whether two texts are the same event (a publisher may space or order keys differently)."""
    try:
        return bool(json.loads(stored) == json.loads(body))
    except ValueError:
        return False


class EventLog:
    """The append-once event log plus dead letters and the device registry."""

    def __init__(self, path: str | Path, *, synchronous: Synchronous = "FULL") -> None:
        self.path = Path(path)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db = sqlite_utils.Database(conn)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._lock = threading.Lock()
        self._migrate()
        placeholders = ", ".join("?" * len(_EVENT_COLUMNS))
        self._insert_sql = (
            f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({placeholders})"
        )

    def _migrate(self) -> None:
        with self._db.atomic():
            tables = set(self._db.table_names())
            if "events" not in tables:
                self._db.execute(
                    "CREATE TABLE events (pos INTEGER PRIMARY KEY, instance TEXT NOT NULL, "
                    "seq INTEGER NOT NULL, type TEXT NOT NULL, source TEXT NOT NULL, "
                    "agent TEXT NOT NULL, "
                    "station TEXT, device_time TEXT NOT NULL, corrected_time TEXT NOT NULL, "
                    "time_basis TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL, "
                    "UNIQUE (instance, seq))"
                )
            if "dead_letters" not in tables:
                self._db.table("dead_letters").create(
                    {
                        "id": int, "received_at": str, "topic": str, "agent": str,
                        "instance": str, "seq": int, "reason": str, "body": str,
                    },
                    pk="id",
                )  # fmt: skip
                # A re-sent bad event is recorded once per reason (NULL keys never collide).
                self._db.table("dead_letters").create_index(
                    ["instance", "seq", "reason"], unique=True
                )
            if "agents" not in tables:
                self._db.table("agents").create(
                    {"agent": str, "site": str, "area": str}, pk="agent"
                )
            if "devices" not in tables:
                self._db.table("devices").create(
                    {"source": str, "agent": str, "station": str}, pk="source"
                )

    # --- registry --------------------------------------------------------------------------------

    def register_agent(self, agent: str, site: str, area: str) -> None:
        """Adds or updates an agent (its topic path)."""
        with self._lock, self._db.atomic():
            self._db.table("agents").upsert(
                {"agent": agent, "site": site, "area": area}, pk="agent"
            )

    def register_device(self, source: str, agent: str, station: str | None = None) -> None:
        """Registers a device (reader, node) as belonging to `agent`, serving `station`."""
        with self._lock, self._db.atomic():
            self._db.table("devices").upsert(
                {"source": source, "agent": agent, "station": station}, pk="source"
            )

    def registry(self) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str | None]]]:
        """Agents (agent -> (site, area)) and devices (source -> (agent, station))."""
        with self._lock:
            agents = {r["agent"]: (r["site"], r["area"]) for r in self._db["agents"].rows}
            devices = {r["source"]: (r["agent"], r["station"]) for r in self._db["devices"].rows}
        return agents, devices

    # --- appending -------------------------------------------------------------------------------

    def commit(self, records: list[LogRecord], letters: list[DeadLetter]) -> CommitResult:
        """Appends new events once and records dead letters, all in one durable transaction."""
        result = CommitResult()
        letters = list(letters)
        with self._lock, self._db.atomic():
            existing = self._existing_bodies(records)
            fresh: dict[tuple[str, int], LogRecord] = {}
            for record in records:
                key = record.key
                known = existing.get(key)
                if known is None and key in fresh:
                    known = fresh[key].body
                if known is None:
                    fresh[key] = record
                elif known == record.body or _same_event(known, record.body):
                    result.duplicates.append(key)
                else:
                    result.conflicts.append(key)
                    letters.append(
                        DeadLetter(
                            received_at=record.received_at,
                            topic="",
                            reason=(
                                f"event key {record.instance}/{record.seq} "
                                "reused with different content"
                            ),
                            body=record.body,
                            agent=record.agent,
                            instance=record.instance,
                            seq=record.seq,
                        )
                    )
            if fresh:
                self._db.conn.executemany(self._insert_sql, map(_ROW, fresh.values()))
            if letters:
                cursor = self._db.conn.executemany(
                    "INSERT OR IGNORE INTO dead_letters "
                    "(received_at, topic, agent, instance, seq, reason, body) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (d.received_at, d.topic, d.agent, d.instance, d.seq, d.reason, d.body)
                        for d in letters
                    ],
                )
                result.dead_lettered = cursor.rowcount
        result.committed = list(fresh.values())
        return result

    def _existing_bodies(self, records: list[LogRecord]) -> dict[tuple[str, int], str]:
        spans: dict[str, tuple[int, int]] = {}
        for r in records:
            low, high = spans.get(r.instance, (r.seq, r.seq))
            spans[r.instance] = (min(low, r.seq), max(high, r.seq))
        found: dict[tuple[str, int], str] = {}
        for instance, (low, high) in spans.items():
            for seq, body in self._db.conn.execute(
                "SELECT seq, body FROM events WHERE instance = ? AND seq BETWEEN ? AND ?",
                (instance, low, high),
            ):
                found[(instance, seq)] = body
        return found

    # --- reading ---------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of events in the log."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def event_keys(self) -> list[tuple[str, int]]:
        """Every (instance, seq) in log order."""
        with self._lock:
            return [
                (str(i), int(s))
                for i, s in self._db.execute("SELECT instance, seq FROM events ORDER BY pos")
            ]

    def replay(
        self, after: int = 0, chunk: int = 10_000
    ) -> Iterator[tuple[int, dict[str, Any], str]]:
        """Yields (pos, event dict, corrected time) in log order, from position `after`."""
        position = after
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT pos, body, corrected_time FROM events "
                    "WHERE pos > ? ORDER BY pos LIMIT ?",
                    [position, chunk],
                ).fetchall()
            if not rows:
                return
            for pos, body, corrected in rows:
                yield int(pos), json.loads(body), str(corrected)
            position = int(rows[-1][0])

    def dead_letters(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every dead letter oldest first, or the most recent `limit` of them newest first."""
        with self._lock:
            if limit is None:
                return list(self._db.query("SELECT * FROM dead_letters ORDER BY id"))
            return list(
                self._db.query("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", [limit])
            )

    def close(self) -> None:
        """Closes the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
