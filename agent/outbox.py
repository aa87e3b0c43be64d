"""The durable outbox: every event is committed to SQLite before anyone is told it happened.

`Outbox.append()` returns only after the event's transaction is durable (WAL with
`synchronous=FULL` by default: the write-ahead log is fsynced at every commit). The uplink reads
pending events in insertion order and the outbox forgets an event only when the cloud confirms
that it settled it (`settle()`); until then it is re-sent, which the cloud's deduplication makes
safe.

Identity: a random 128-bit instance id is made when the file is first created, and sequence
numbers are allocated in the same transaction that stores the event, so a number is never reused,
not even across `kill -9` or a power cut, and a re-imaged SD card starts a new instance.

Bound policy: at most `max_events` unconfirmed events. When full, `append()` raises `OutboxFull`
(the device layer must show it: the reader's LED, the station console) and the outbox records one
`agent.alarm` (`outbox_full`) event in a small reserve kept for alarms, so the cloud learns of it
as soon as the link drains; when the depth falls back under 90 % it records `outbox_accepting`.
Nothing is ever dropped silently. Events the broker refused (MQTT 5 reason "not authorised") are
moved to a local `dead_letters` table with the reason instead of being retried.

A full disk: the outbox keeps a small ballast file beside its database (`OUTBOX.ballast`, 1 MiB
by default). When SQLite reports the disk full, the ballast is deleted, which frees room for one
`disk_full` alarm (with the free space and the outbox depth) and for the cloud's confirmations
to be applied; new events are then refused with `OutboxFull` (the caller keeps what it counted
and tries again) until the file system has room again, when the ballast is made anew, a
`disk_ok` alarm is recorded and appends go on (`check_space()`, called by the uplink's loop and
by every refused append). An alarm that cannot be stored at all waits in memory and is stored
first when the disk accepts writes again.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import sqlite_utils

from agent.errors import OutboxCorrupt, OutboxFull
from contract import Event
from taktline.clock import Clock, SystemClock, utc_iso
from taktline.files import create_private

__all__ = [
    "ALARM_RESERVE",
    "DEFAULT_BALLAST_BYTES",
    "DEFAULT_MAX_EVENTS",
    "Outbox",
    "PendingEvent",
    "Synchronous",
    "is_disk_full",
]

Synchronous = Literal["FULL", "EXTRA", "NORMAL"]
DEFAULT_MAX_EVENTS: Final = 1_000_000
ALARM_RESERVE: Final = 1_000
SCHEMA_VERSION: Final = 1
_RESUME_FRACTION: Final = 0.9
DEFAULT_BALLAST_BYTES: Final = 1 << 20


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's (or the OS's) "database or disk is full"."""
    if isinstance(exc, sqlite3.OperationalError):
        return "full" in str(exc).lower()
    return isinstance(exc, OSError) and exc.errno == 28  # ENOSPC


PendingEvent = tuple[int, str]
"""(local row id, the event's JSON text) as read for sending."""


class Outbox:
    """A bounded, durable, crash-safe queue of events waiting for the cloud's confirmation."""

    def __init__(
        self,
        path: str | Path,
        *,
        agent: str,
        clock: Clock | None = None,
        synchronous: Synchronous = "FULL",
        max_events: int = DEFAULT_MAX_EVENTS,
        ballast_bytes: int = DEFAULT_BALLAST_BYTES,
    ) -> None:
        if synchronous not in ("FULL", "EXTRA", "NORMAL"):
            raise ValueError(f"synchronous must be FULL, EXTRA or NORMAL, not {synchronous!r}")
        if max_events < 1:
            raise ValueError(f"max_events must be positive, got {max_events}")
        self.path = Path(path)
        self.agent = agent
        self.max_events = max_events
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        create_private(self.path)  # the unconfirmed events of a station: owner only
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db = sqlite_utils.Database(conn)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._instance, self._next_seq = self._open_or_create()
        self._depth = self._count("events")
        self._dead = self._count("dead_letters")
        self._full_alarm_raised = self._depth >= max_events
        self.ballast = self.path.with_name(self.path.name + ".ballast")
        self.ballast_bytes = ballast_bytes
        #: Set while the disk is full: new events are refused until `check_space()` finds room.
        self.disk_full = False
        self._waiting_alarms: list[tuple[str, str]] = []
        self._make_ballast()

    # --- set-up -----------------------------------------------------------------------------

    def _open_or_create(self) -> tuple[str, int]:
        with self._db.atomic():
            if "meta" not in self._db.table_names():
                self._db.table("meta").create({"key": str, "value": str}, pk="key")
                # AUTOINCREMENT: ids are never reused after the table empties, so the uplink's
                # cursor (the last id it sent) never skips a new event.
                self._db.execute(
                    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                    "instance TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, "
                    "created REAL NOT NULL, body TEXT NOT NULL, UNIQUE (instance, seq))"
                )
                self._db.table("dead_letters").create(
                    {"id": int, "instance": str, "seq": int, "body": str, "reason": str, "at": str},
                    pk="id",
                )
                instance = secrets.token_hex(16)
                self._db.table("meta").insert_all(
                    [
                        {"key": "schema", "value": str(SCHEMA_VERSION)},
                        {"key": "instance", "value": instance},
                        {"key": "next_seq", "value": "1"},
                        {"key": "created", "value": utc_iso(self._clock.now())},
                    ]
                )
            meta = {row["key"]: row["value"] for row in self._db["meta"].rows}
        if meta.get("schema") != str(SCHEMA_VERSION) or "instance" not in meta:
            raise OutboxCorrupt(f"{self.path} is not a Taktline outbox of schema {SCHEMA_VERSION}")
        return meta["instance"], int(meta["next_seq"])

    def _count(self, table: str) -> int:
        row = self._db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0])

    # --- what the device layer calls ---------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """The sequence number the next new event of this instance gets."""
        return self._next_seq

    @property
    def instance(self) -> str:
        """This store's instance id: part of every event key it allocates."""
        return self._instance

    def append(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        source: str,
        station: str | None = None,
    ) -> Event:
        """Stores a new event durably and returns it; raises `OutboxFull` when at the bound.

        The event is validated against the contract first, so a bug in role logic fails loudly
        at the station instead of reaching the cloud's dead-letter table.
        """
        with self._lock:
            if self.disk_full and not self._space_back():
                raise OutboxFull(
                    f"disk full at {self.path}: {event_type} from {source} rejected until "
                    f"there is room again ({self._free_bytes()} bytes free)"
                )
            if self._depth >= self.max_events and event_type != "agent.alarm":
                self._raise_full_alarm()
                raise OutboxFull(
                    f"outbox {self.path} holds {self._depth} unconfirmed events (limit "
                    f"{self.max_events}); {event_type} from {source} rejected"
                )
            if self._depth >= self.max_events + ALARM_RESERVE:
                raise OutboxFull(f"outbox {self.path} alarm reserve exhausted")
            try:
                return self._insert_new(event_type, dict(payload), source, station)
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
                self._on_disk_full(exc)
                raise OutboxFull(
                    f"disk full at {self.path}: {event_type} from {source} rejected"
                ) from exc

    def append_event(self, event: Event) -> bool:
        """Stores an event that already has its identity (e.g. from a firmware node).

        Idempotent: returns False when an event with the same key is already pending (a node's
        retransmission). Raises `OutboxFull` like `append()`.
        """
        event.validate()
        with self._lock:
            if self.disk_full and not self._space_back():
                raise OutboxFull(f"disk full at {self.path}; event {event.key} rejected")
            if self._depth >= self.max_events:
                self._raise_full_alarm()
                raise OutboxFull(f"outbox {self.path} is full; event {event.key} rejected")
            try:
                cursor = self._insert_given(event)
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
                self._on_disk_full(exc)
                raise OutboxFull(f"disk full at {self.path}; event {event.key} rejected") from exc
            added = cursor.rowcount == 1
            self._depth += int(added)
            return added

    def _insert_given(self, event: Event) -> sqlite3.Cursor:
        with self._db.atomic():
            return self._db.execute(
                "INSERT OR IGNORE INTO events (instance, seq, type, created, body) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    event.instance,
                    event.seq,
                    event.type,
                    self._clock.now().timestamp(),
                    event.to_json(),
                ],
            )

    def _insert_new(
        self, event_type: str, payload: dict[str, Any], source: str, station: str | None
    ) -> Event:
        now = self._clock.now()
        event = Event(
            type=event_type,
            source=source,
            agent=self.agent,
            station=station,
            instance=self._instance,
            seq=self._next_seq,
            time=utc_iso(now),
            mono_ns=self._clock.monotonic_ns(),
            boot=self._clock.boot,
            payload=payload,
        ).validate()
        # Event row and sequence counter in one transaction: a crash keeps both or neither.
        with self._db.atomic():
            self._db.execute(
                "INSERT INTO events (instance, seq, type, created, body) VALUES (?, ?, ?, ?, ?)",
                [event.instance, event.seq, event.type, now.timestamp(), event.to_json()],
            )
            self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'next_seq'", [str(event.seq + 1)]
            )
        self._next_seq += 1
        self._depth += 1
        return event

    def _raise_full_alarm(self) -> None:
        if self._full_alarm_raised:
            return
        self._full_alarm_raised = True
        detail = (
            f"{self._depth} unconfirmed events, limit {self.max_events}: new events are rejected"
        )
        self._insert_new(
            "agent.alarm", {"alarm": "outbox_full", "detail": detail}, self.agent, None
        )

    # --- a full disk -----------------------------------------------------------------------------

    def _free_bytes(self) -> int:
        try:
            return int(shutil.disk_usage(self.path.parent).free)
        except OSError:
            return 0

    def _make_ballast(self) -> bool:
        """Makes the ballast file when there is room for it and more; returns whether it exists."""
        if self.ballast_bytes <= 0 or self.ballast.exists():
            return True
        if self._free_bytes() < 2 * self.ballast_bytes:
            return False
        try:
            fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"\0" * self.ballast_bytes)  # real blocks, not a sparse file
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            self.ballast.unlink(missing_ok=True)
            return False
        return True

    def _on_disk_full(self, exc: BaseException) -> None:
        """SQLite said the disk is full: free the ballast, record one alarm, refuse new events."""
        first = not self.disk_full
        self.disk_full = True
        released = self.ballast.exists()
        self.ballast.unlink(missing_ok=True)
        if first:
            detail = (
                f"disk full at {self.path.parent} ({self._free_bytes()} bytes free"
                f"{' after freeing the ballast' if released else ''}); outbox depth "
                f"{self._depth}: new events are refused until there is room ({exc})"
            )[:1000]
            self._alarm_or_wait("disk_full", detail)

    def _alarm_or_wait(self, alarm: str, detail: str) -> None:
        self._waiting_alarms.append((alarm, detail))
        self._store_waiting_alarms()

    def _store_waiting_alarms(self) -> bool:
        while self._waiting_alarms:
            alarm, detail = self._waiting_alarms[0]
            try:
                self._insert_new(
                    "agent.alarm", {"alarm": alarm, "detail": detail}, self.agent, None
                )
            except sqlite3.OperationalError as exc:
                if is_disk_full(exc):
                    return False
                raise
            self._waiting_alarms.pop(0)
        return True

    def _space_back(self) -> bool:
        """While the disk is full: whether there is room again (then the ballast is remade)."""
        if not self._store_waiting_alarms():
            return False
        needed = max(2 * self.ballast_bytes, 1 << 16)
        if self._free_bytes() < needed or not self._make_ballast():
            return False
        self.disk_full = False
        detail = (
            f"room again at {self.path.parent} ({self._free_bytes()} bytes free); outbox depth "
            f"{self._depth}: accepting events"
        )
        self._alarm_or_wait("disk_ok", detail)
        return True

    def raise_alarm(self, alarm: str, detail: str) -> None:
        """Records an `agent.alarm` now, or as soon as the disk takes writes again."""
        with self._lock:
            self._alarm_or_wait(alarm, detail[:1000])

    def check_space(self) -> bool:
        """Stores waiting alarms and ends the disk-full state when there is room; True: writable."""
        with self._lock:
            if not self.disk_full:
                return self._store_waiting_alarms()
            return self._space_back()

    # --- what the uplink calls -----------------------------------------------------------------

    def pending(self, after: int = 0, limit: int = 1000) -> list[PendingEvent]:
        """Up to `limit` unconfirmed events with a local id greater than `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?", [after, limit]
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def has_pending_between(self, first_id: int, last_id: int) -> bool:
        """Whether any event with a local id in [first_id, last_id] is still unconfirmed."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM events WHERE id BETWEEN ? AND ? LIMIT 1", [first_id, last_id]
            ).fetchone()
        return row is not None

    def pending_ids_between(self, first_id: int, last_id: int) -> list[int]:
        """Local ids of the unconfirmed events in [first_id, last_id]."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM events WHERE id BETWEEN ? AND ?", [first_id, last_id]
            ).fetchall()
        return [int(r[0]) for r in rows]

    def settle(self, ranges: Iterable[tuple[str, int, int]]) -> int:
        """Forgets the events the cloud confirmed, given as (instance, first seq, last seq).

        On a full disk the ballast is released once so that the deletions (which need room in
        the write-ahead log) can go through; if they still cannot, the error is raised and the
        caller tries again later.
        """
        spans = list(ranges)
        with self._lock:
            try:
                return self._settle(spans)
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc) or not self.ballast.exists():
                    raise
                self._on_disk_full(exc)
                return self._settle(spans)

    def _settle(self, ranges: list[tuple[str, int, int]]) -> int:
        removed = 0
        with self._db.atomic():
            for instance, first, last in ranges:
                cursor = self._db.execute(
                    "DELETE FROM events WHERE instance = ? AND seq BETWEEN ? AND ?",
                    [instance, first, last],
                )
                removed += cursor.rowcount
        self._depth -= removed
        self._maybe_resume()
        return removed

    def _maybe_resume(self) -> None:
        if self._full_alarm_raised and self._depth < self.max_events * _RESUME_FRACTION:
            self._full_alarm_raised = False
            detail = f"{self._depth} unconfirmed events, limit {self.max_events}: accepting again"
            self._alarm_or_wait("outbox_accepting", detail)

    def dead_letter(self, ids: Iterable[int], reason: str) -> int:
        """Moves events (by local id) to the dead-letter table with `reason`; returns how many."""
        id_list = list(ids)
        if not id_list:
            return 0
        at = utc_iso(self._clock.now())
        moved = 0
        with self._lock, self._db.atomic():
            for chunk_start in range(0, len(id_list), 500):
                chunk = id_list[chunk_start : chunk_start + 500]
                marks = ",".join("?" * len(chunk))
                self._db.execute(
                    "INSERT INTO dead_letters (instance, seq, body, reason, at) "
                    f"SELECT instance, seq, body, ?, ? FROM events WHERE id IN ({marks})",
                    [reason, at, *chunk],
                )
                moved += self._db.execute(
                    f"DELETE FROM events WHERE id IN ({marks})", chunk
                ).rowcount
            self._depth -= moved
            self._dead += moved
            self._maybe_resume()
        return moved

    def requeue_dead_letters(self) -> int:
        """Moves every local dead letter back to the queue (same keys); returns how many.

        For events the broker refused once its ACL or the agent's identity is fixed: they are
        sent again (new local ids, so a running uplink picks them up), and the cloud applies
        each once. A key already queued again is not doubled.
        """
        with self._lock, self._db.atomic():
            moved = self._db.execute(
                "INSERT OR IGNORE INTO events (instance, seq, type, created, body) "
                "SELECT instance, seq, json_extract(body, '$.type'), ?, body FROM dead_letters "
                "ORDER BY id",
                [self._clock.now().timestamp()],
            ).rowcount
            self._db.execute("DELETE FROM dead_letters")
            self._depth += moved
            self._dead = 0
        return int(moved)

    def dead_letters(self) -> list[dict[str, Any]]:
        """The locally dead-lettered events with their reasons, oldest first."""
        with self._lock:
            rows = list(
                self._db.query(
                    "SELECT instance, seq, body, reason, at FROM dead_letters ORDER BY id"
                )
            )
        for row in rows:
            row["event"] = json.loads(row.pop("body"))
        return rows

    # --- observability -------------------------------------------------------------------------

    def depth(self) -> int:
        """Number of events not yet confirmed by the cloud."""
        return self._depth

    @property
    def dead_letter_count(self) -> int:
        """Number of events in the local dead-letter table."""
        return self._dead

    def oldest_age_s(self) -> float | None:
        """Age in seconds of the oldest unconfirmed event, or None when the outbox is empty."""
        with self._lock:
            row = self._db.execute("SELECT created FROM events ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        return max(0.0, self._clock.now().timestamp() - float(row[0]))

    # --- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
