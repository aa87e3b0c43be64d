"""The cloud's event log, dead-letter table and device registry, in SQLite or PostgreSQL.

The event log is the truth: each event is appended once, keyed by (source instance, sequence),
in arrival order (`pos`); everything else is a projection rebuilt from it. `commit()` takes a
whole ingest round — new events and dead letters — in one transaction, and tells the caller which
events were new, which were duplicates of what the log already holds (safe to confirm again), and
which reused a key with different content (dead-lettered, never silently dropped).

The same SQLAlchemy Core code serves both databases (`cloud/schema.py` holds the tables and
their migrations): a path means a SQLite file (the default; WAL, `synchronous=FULL`), a URL such
as `postgresql+psycopg://user@host/db` means PostgreSQL. One connection, guarded by a lock, serves
ingest (the only writer) and the readers; the hot insert goes to the driver's `executemany` with
prebuilt rows, so SQLAlchemy adds nothing per event.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import operator
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cloud import schema
from cloud.errors import EarlierThanTheLog
from taktline.files import create_private

log = logging.getLogger(__name__)

__all__ = [
    "ARCHIVE_BATCH",
    "REPLAYABLE",
    "CommitResult",
    "DeadLetter",
    "EventLog",
    "LogRecord",
    "fsync_dir",
    "sqlite_pragmas",
]

#: Events per archive file and transaction: the write lock is never held longer than one batch.
ARCHIVE_BATCH: Final = 50_000
#: Dead letters that can be ingested again once their cause is fixed (a registry entry, an
#: upgrade); a fold failure is in the log already, a conflict is a different event.
REPLAYABLE: Final = ("contract", "version_ahead", "identity", "internal")

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
    #: What kind of refusal (for counts by reason): contract, version_ahead, identity,
    #: conflict, fold, internal. Not stored; the reason says it in words.
    kind: str = "contract"

    @classmethod
    def of_logged(cls, record: LogRecord, reason: str, kind: str) -> DeadLetter:
        """The dead letter of an event already read into a log record (kept whole)."""
        return cls(
            received_at=record.received_at,
            topic="",
            reason=reason,
            body=record.body,
            agent=record.agent,
            instance=record.instance,
            seq=record.seq,
            kind=kind,
        )


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


#: PostgreSQL: a key another writer committed since this one read the log is skipped, not an error.
_SKIP_TAKEN: Final = " ON CONFLICT (instance, seq) DO NOTHING"

#: The PostgreSQL advisory lock key under which the schema is migrated.
MIGRATION_LOCK: Final = 0x54414B54  # "TAKT"
#: The PostgreSQL advisory lock key every event insert takes for its transaction: positions are
#: then handed out in commit order (see `EventLog.tail`).
APPEND_LOCK: Final = 0x54414B55


class EventLog:
    """The append-once event log plus dead letters and the device registry."""

    def __init__(
        self, path: str | Path, *, synchronous: Synchronous = "FULL", busy_timeout_s: float = 30.0
    ) -> None:
        text = str(path)
        self.url = text if "://" in text else f"sqlite:///{Path(text)}"
        self.path = None if "://" in text else Path(text)
        if synchronous not in ("FULL", "EXTRA", "NORMAL"):
            raise ValueError(f"synchronous must be FULL, EXTRA or NORMAL, not {synchronous!r}")
        sqlite_file = "://" not in text or text.startswith("sqlite")
        if self.path is not None:
            create_private(self.path)  # events name people and places: owner only
        self._engine = sa.create_engine(
            self.url,
            poolclass=sa.pool.StaticPool,
            # One connection, used by ingest's thread and the readers' threads under our lock.
            connect_args=(
                {"check_same_thread": False, "timeout": busy_timeout_s} if sqlite_file else {}
            ),
        )
        self.dialect = self._engine.dialect.name
        if self.dialect == "sqlite":
            sqlite_pragmas(self._engine, synchronous)
        self._lock = threading.Lock()
        self._conn = self._engine.connect()
        self._broken = False
        #: Keys this process committed (`track_own`): a tailing reader skips what it folded.
        self._own: set[tuple[str, int]] | None = None
        marks = ", ".join(["?" if self._engine.dialect.paramstyle == "qmark" else "%s"] * 11)
        columns = ", ".join(_EVENT_COLUMNS)
        self._insert_sql = f"INSERT INTO events ({columns}) VALUES ({marks})"
        self._insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        with self._conn.begin():
            if self.dialect == "postgresql":
                # processes starting together on one database migrate one after the other
                self._conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            self.schema_version = schema.migrate(self._conn, _now())
            self._archives = self._conn.execute(
                sa.select(sa.func.count()).select_from(schema.archives)
            ).scalar_one()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """One transaction on the log's connection, under its lock.

        A database fault (PostgreSQL restarted, SQLite busy past its timeout, a disk error)
        raises as always; the connection is then opened anew before the next transaction, so
        the caller's retry finds a working log (or the same fault, while it lasts) instead of a
        dead connection forever.
        """
        with self._lock:
            if self._broken:
                self._reconnect()
            try:
                with self._conn.begin():
                    yield self._conn
            except sa.exc.DBAPIError as exc:
                if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError):
                    self._broken = True
                raise

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):  # the old connection is gone anyway
            self._conn.close()
        self._engine.dispose()
        self._conn = self._engine.connect()  # raises while the database is still down
        self._broken = False
        log.info("event log connection opened again")

    # --- registry --------------------------------------------------------------------------------

    def _upsert(self, table: sa.Table, values: dict[str, Any]) -> None:
        key = [c.name for c in table.primary_key.columns]
        statement = self._insert(table).values(**values)
        update = {k: v for k, v in values.items() if k not in key}
        with self._transaction():
            self._conn.execute(statement.on_conflict_do_update(index_elements=key, set_=update))

    def register_agent(self, agent: str, site: str, area: str) -> None:
        """Adds or updates an agent (its topic path)."""
        self._upsert(schema.agents, {"agent": agent, "site": site, "area": area})

    def register_device(self, source: str, agent: str, station: str | None = None) -> None:
        """Registers a device (reader, node) as belonging to `agent`, serving `station`."""
        self._upsert(schema.devices, {"source": source, "agent": agent, "station": station})

    def registry(self) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str | None]]]:
        """Agents (agent -> (site, area)) and devices (source -> (agent, station))."""
        with self._transaction():
            agent_rows = self._conn.execute(sa.select(schema.agents)).all()
            device_rows = self._conn.execute(sa.select(schema.devices)).all()
        agents = {r.agent: (r.site, r.area) for r in agent_rows}
        devices = {r.source: (r.agent, r.station) for r in device_rows}
        return agents, devices

    # --- appending -------------------------------------------------------------------------------

    def commit(self, records: list[LogRecord], letters: list[DeadLetter]) -> CommitResult:
        """Appends new events once and records dead letters, all in one durable transaction."""
        result = CommitResult()
        letters = list(letters)
        with self._transaction():
            existing = self._existing_bodies(records)
            fresh: dict[tuple[str, int], LogRecord] = {}
            for record in records:
                key = record.key
                known = existing.get(key)
                if known is None and key in fresh:
                    known = fresh[key].body
                if known is None:
                    fresh[key] = record
                elif known is _ARCHIVED or known == record.body or _same_event(known, record.body):
                    result.duplicates.append(key)
                else:
                    result.conflicts.append(key)
                    letters.append(_conflict_letter(record))
            if fresh:
                self._insert_fresh(fresh, result, letters)
                if self._own is not None:
                    self._own.update(fresh)
            if letters:
                # RETURNING counts what was new on both databases (executemany's rowcount does not).
                statement = (
                    self._insert(schema.dead_letters)
                    .on_conflict_do_nothing()
                    .returning(schema.dead_letters.c.id)
                )
                cursor = self._conn.execute(
                    statement,
                    [
                        {
                            "received_at": d.received_at, "topic": d.topic, "agent": d.agent,
                            "instance": d.instance, "seq": d.seq, "reason": d.reason,
                            "body": d.body, "kind": d.kind,
                        }
                        for d in letters
                    ],
                )  # fmt: skip
                result.dead_lettered = len(cursor.all())
        result.committed = list(fresh.values())
        return result

    def _insert_fresh(
        self,
        fresh: dict[tuple[str, int], LogRecord],
        result: CommitResult,
        letters: list[DeadLetter],
    ) -> None:
        """Inserts the records no reader saw in the log (`fresh` keeps only what it added).

        On PostgreSQL a key another writer committed between that read and this insert (a second
        ingest process on the same database) is skipped by the database (`ON CONFLICT DO
        NOTHING`) instead of failing the whole round; when fewer rows went in than were sent,
        the rows this transaction wrote are told by their `xmin`, and the rest are sorted into
        duplicates and conflicts like any other.
        """
        rows = list(map(_ROW, fresh.values()))
        if self.dialect == "sqlite":
            # one writer at a time: the write lock taken at BEGIN excludes any race
            self._conn.exec_driver_sql(self._insert_sql, rows)
            return
        # Positions in commit order: a sequence value taken by a transaction that commits later
        # than another's higher one would let a reader at the higher position skip it for good.
        # The lock is held from here to the commit, so only inserts wait on each other.
        self._conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
        inserted = self._conn.exec_driver_sql(self._insert_sql + _SKIP_TAKEN, rows).rowcount
        if inserted == len(fresh):
            return
        added = self._mine(fresh)
        lost = [fresh.pop(key) for key in list(fresh) if key not in added]
        stored = self._existing_bodies(lost)
        for record in lost:
            known = stored.get(record.key)
            if known is None or known is _ARCHIVED or known == record.body:
                result.duplicates.append(record.key)
                continue
            if _same_event(known, record.body):
                result.duplicates.append(record.key)
                continue
            result.conflicts.append(record.key)
            letters.append(_conflict_letter(record))

    def _mine(self, fresh: dict[tuple[str, int], LogRecord]) -> set[tuple[str, int]]:
        """Which of `fresh` this transaction inserted (PostgreSQL: the rows' `xmin` is ours)."""
        spans: dict[str, list[int]] = {}
        for instance, seq in fresh:
            spans.setdefault(instance, []).append(seq)
        mine: set[tuple[str, int]] = set()
        for instance, seqs in spans.items():
            rows = self._conn.exec_driver_sql(
                "SELECT seq FROM events WHERE instance = %s AND seq BETWEEN %s AND %s"
                " AND xmin::text::bigint = txid_current() %% 4294967296",
                (instance, min(seqs), max(seqs)),
            )
            mine.update((instance, int(seq)) for (seq,) in rows)
        return mine

    def _existing_bodies(self, records: list[LogRecord]) -> dict[tuple[str, int], str]:
        spans: dict[str, tuple[int, int]] = {}
        for r in records:
            low, high = spans.get(r.instance, (r.seq, r.seq))
            spans[r.instance] = (min(low, r.seq), max(high, r.seq))
        found: dict[tuple[str, int], str] = {}
        table = schema.events
        for instance, (low, high) in spans.items():
            rows = self._conn.execute(
                sa.select(table.c.seq, table.c.body).where(
                    table.c.instance == instance, table.c.seq.between(low, high)
                )
            )
            for seq, body in rows:
                found[(instance, int(seq))] = body
            # always: another process (`taktline archive` from cron) may have archived since
            # this one opened the log, and a late resend of an archived event is a duplicate
            self._archived_keys(instance, low, high, records, found)
        return found

    def _archived_keys(
        self,
        instance: str,
        low: int,
        high: int,
        records: list[LogRecord],
        found: dict[tuple[str, int], str],
    ) -> None:
        table = schema.archived_keys
        ranges = self._conn.execute(
            sa.select(table.c.first_seq, table.c.last_seq).where(
                table.c.instance == instance, table.c.first_seq <= high, table.c.last_seq >= low
            )
        ).all()
        if not ranges:
            return
        for record in records:
            key = (record.instance, record.seq)
            if (
                record.instance == instance
                and key not in found
                and any(first <= record.seq <= last for first, last in ranges)
            ):
                found[key] = _ARCHIVED

    # --- reading ---------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of events in the log."""
        with self._transaction():
            return int(
                self._conn.execute(
                    sa.select(sa.func.count()).select_from(schema.events)
                ).scalar_one()
            )

    def event_keys(self) -> list[tuple[str, int]]:
        """Every (instance, seq) in log order."""
        table = schema.events
        with self._transaction():
            rows = self._conn.execute(
                sa.select(table.c.instance, table.c.seq).order_by(table.c.pos)
            ).all()
        return [(str(i), int(s)) for i, s in rows]

    def replay(
        self, after: int = 0, chunk: int = 10_000, *, until: int | None = None
    ) -> Iterator[tuple[int, dict[str, Any], str]]:
        """Yields (pos, event dict, corrected time) in log order, from position `after`.

        Archived events come first, read back from their archive files, so a full rebuild
        after archiving folds the same events in the same order as before. `until`: stop after
        that position (the log as it was then).
        """
        table = schema.events
        position = after
        end = until if until is not None else 2**63 - 1
        for archive in self.archives():
            if archive["last_pos"] > position and archive["first_pos"] <= end:
                for pos, body, corrected in read_archive(Path(archive["path"])):
                    if pos > end:
                        return
                    if pos > position:
                        yield pos, json.loads(body), corrected
                position = max(position, int(archive["last_pos"]))
        while True:
            query = (
                sa.select(table.c.pos, table.c.body, table.c.corrected_time)
                .where(table.c.pos > position, table.c.pos <= end)
                .order_by(table.c.pos)
                .limit(chunk)
            )
            with self._transaction():
                rows = self._conn.execute(query).all()
            if not rows:
                return
            for pos, body, corrected in rows:
                yield int(pos), json.loads(body), str(corrected)
            position = int(rows[-1][0])

    def known(self, instance: str, seq: int) -> bool:
        """Whether event `(instance, seq)` is in the log, archived, or dead-lettered."""
        events, letters, archived = schema.events, schema.dead_letters, schema.archived_keys
        with self._transaction():
            for query in (
                sa.select(events.c.pos).where(events.c.instance == instance, events.c.seq == seq),
                sa.select(letters.c.id).where(letters.c.instance == instance, letters.c.seq == seq),
                sa.select(archived.c.first_seq).where(
                    archived.c.instance == instance,
                    archived.c.first_seq <= seq,
                    archived.c.last_seq >= seq,
                ),
            ):
                if self._conn.execute(query.limit(1)).first() is not None:
                    return True
        return False

    def track_own(self) -> None:
        """Remembers the keys this process commits from now on, for `tail(skip_own=True)`."""
        with self._lock:
            self._own = set()

    def pending_own(self) -> int:
        """How many keys this process committed that a tail has not passed yet."""
        with self._lock:
            return len(self._own or ())

    def tail(self, after: int, limit: int = 1000) -> list[tuple[int, LogRecord, bool]]:
        """The events after position `after` in log order: (pos, record, committed here).

        Never skips: positions are handed out in commit order (SQLite has one writer at a
        time; on PostgreSQL every insert takes `APPEND_LOCK` until its commit), so once a
        position is visible, no event with a lower one can appear later. `committed here` is
        True for an event this process committed after `track_own` (its writer folded it
        already); the key is forgotten once told.
        """
        table = schema.events
        columns = [table.c.pos, *(table.c[name] for name in _EVENT_COLUMNS)]
        query = sa.select(*columns).where(table.c.pos > after).order_by(table.c.pos).limit(limit)
        with self._transaction():
            rows = self._conn.execute(query).all()
            out = []
            for row in rows:
                record = LogRecord(*row[1:])
                own = self._own is not None and record.key in self._own
                if own:
                    self._own.discard(record.key)  # type: ignore[union-attr]
                out.append((int(row[0]), record, own))
        return out

    def last_position(self) -> int:
        """The position of the newest event, archived or not (0 for an empty log)."""
        with self._transaction():
            live = self._conn.execute(sa.select(sa.func.max(schema.events.c.pos))).scalar()
            cold = self._conn.execute(sa.select(sa.func.max(schema.archives.c.last_pos))).scalar()
        return int(max(live or 0, cold or 0))

    def position_at(self, when: str) -> int:
        """The newest position received at or before `when` (contract time); 0 before the first.

        A binary search along the positions (the primary key; positions are in commit order, and
        the cloud stamps `received_at` as it takes each message, so both grow together): about
        twenty indexed look-ups, whatever the log's length. Reaches back to the oldest event
        not archived (`EarlierThanTheLog` before it, when archives hold older events).
        """
        table = schema.events

        def first_from(pos: int) -> tuple[int, str] | None:
            row = self._conn.execute(
                sa.select(table.c.pos, table.c.received_at)
                .where(table.c.pos >= pos)
                .order_by(table.c.pos)
                .limit(1)
            ).first()
            return None if row is None else (int(row[0]), str(row[1]))

        with self._transaction():
            oldest = first_from(0)
            if oldest is None or oldest[1] > when:
                cold = self._conn.execute(sa.select(sa.func.max(schema.archives.c.last_pos)))
                archived = int(cold.scalar() or 0)
                if archived:
                    raise EarlierThanTheLog(
                        f"{when} is before the oldest event kept in the log"
                        + (f" ({oldest[1]})" if oldest else "")
                        + f": events up to position {archived} are archived"
                    )
                return 0
            # Invariant: the answer is in [low, high], and `low` is a position received in time.
            low = oldest[0]
            high = int(self._conn.execute(sa.select(sa.func.max(table.c.pos))).scalar() or 0)
            while low < high:
                middle = (low + high + 1) // 2
                found = first_from(middle)
                if found is not None and found[1] <= when:
                    low = found[0]
                else:
                    high = middle - 1
            return low

    def received_at(self, position: int) -> str | None:
        """When the cloud took the event at `position` (None: no such event, or archived)."""
        table = schema.events
        with self._transaction():
            value = self._conn.execute(
                sa.select(table.c.received_at).where(table.c.pos == position)
            ).scalar()
        return None if value is None else str(value)

    def position_received_before(self, cutoff: str) -> int:
        """The newest position among the events received before `cutoff` (contract time)."""
        table = schema.events
        with self._transaction():
            value = self._conn.execute(
                sa.select(sa.func.max(table.c.pos)).where(table.c.received_at < cutoff)
            ).scalar()
        return int(value or 0)

    # --- archiving old events --------------------------------------------------------------------

    def archives(self) -> list[dict[str, Any]]:
        """The archive files, oldest first."""
        table = schema.archives
        with self._transaction():
            rows = self._conn.execute(sa.select(table).order_by(table.c.first_pos)).all()
        return [dict(row._mapping) for row in rows]

    def archive(
        self, through: int, folder: Path, *, batch: int = ARCHIVE_BATCH
    ) -> dict[str, Any] | None:
        """Moves the events up to position `through` into compressed files in `folder`.

        In batches of at most `batch` events, each its own short transaction: a file (JSON
        lines, gzip, fsynced, checksummed, its folder fsynced after the rename) is written
        before its rows are deleted, in one transaction that also records the file and the
        archived keys (so a late resend of one is still a duplicate). The write lock is held for
        one batch at a time, never for the whole run, so a running cloud's ingest goes on in
        between. The newest event always stays in the table: SQLite would otherwise hand out
        its position again. Returns a summary of what was archived (first and last position,
        events, the files), or None when there is nothing to archive.
        """
        table = schema.events
        with self._transaction():
            newest = self._conn.execute(sa.select(sa.func.max(table.c.pos))).scalar() or 0
        through = min(through, int(newest) - 1)
        done: list[dict[str, Any]] = []
        while True:
            record = self._archive_batch(through, folder, batch)
            if record is None:
                break
            done.append(record)
        if not done:
            return None
        return {
            "first_pos": done[0]["first_pos"],
            "last_pos": done[-1]["last_pos"],
            "events": sum(int(r["events"]) for r in done),
            "path": done[-1]["path"],
            "files": [r["path"] for r in done],
            "sha256": done[-1]["sha256"],
            "created_at": done[-1]["created_at"],
        }

    def _archive_batch(self, through: int, folder: Path, batch: int) -> dict[str, Any] | None:
        table = schema.events
        with self._transaction():
            rows = self._conn.execute(
                sa.select(table).where(table.c.pos <= through).order_by(table.c.pos).limit(batch)
            ).all()
            if not rows:
                return None
            first, last = int(rows[0].pos), int(rows[-1].pos)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"events-{first:012d}-{last:012d}.jsonl.gz"
            digest = write_archive(path, [dict(row._mapping) for row in rows])
            record = {
                "first_pos": first, "last_pos": last, "events": len(rows), "path": str(path),
                "sha256": digest, "created_at": _now(),
            }  # fmt: skip
            self._conn.execute(sa.insert(schema.archives).values(**record))
            keys: dict[str, list[int]] = {}
            for row in rows:
                keys.setdefault(row.instance, []).append(int(row.seq))
            ranges = [
                {"instance": instance, "first_seq": a, "last_seq": b}
                for instance, seqs in keys.items()
                for a, b in _ranges(seqs)
            ]
            self._conn.execute(sa.insert(schema.archived_keys), ranges)
            self._conn.execute(sa.delete(table).where(table.c.pos.between(first, last)))
            self._archives += 1
        return record

    # --- snapshots of projections ----------------------------------------------------------------

    def save_snapshot(
        self, pos: int, fingerprint: str, events: int, body: bytes, keep: int = 3, history: int = 0
    ) -> None:
        """Stores a projection's state as of log position `pos`.

        Keeps the newest `keep` snapshots, and up to `history` older ones spread along the log
        for time travel (`cloud.timetravel`): when there are more, the one whose neighbours are
        closest together goes, so the older ones thin out evenly instead of being cut off.
        """
        table = schema.snapshots
        with self._transaction():
            self._conn.execute(
                sa.insert(table).values(
                    pos=pos, created_at=_now(), fingerprint=fingerprint, events=events, body=body
                )
            )
            rows = self._conn.execute(
                sa.select(table.c.id, table.c.pos)
                .where(table.c.fingerprint == fingerprint)
                .order_by(table.c.pos.desc(), table.c.id.desc())
            ).all()
            older = [(int(r.id), int(r.pos)) for r in rows[keep:]]
            stale: list[int] = []
            while len(older) > history:
                if history == 0:
                    stale.extend(i for i, _ in older)
                    break
                # newest first: the gap an entry closes is between its newer and older neighbour
                newer = [int(rows[keep - 1].pos) if keep else pos] + [p for _, p in older[:-1]]
                after = [p for _, p in older[1:]] + [0]
                spans = [n - a for n, a in zip(newer, after, strict=True)]
                drop = min(range(len(older)), key=lambda k: (spans[k], k))
                stale.append(older.pop(drop)[0])
            if stale:
                self._conn.execute(sa.delete(table).where(table.c.id.in_(stale)))

    def latest_snapshot(
        self, fingerprint: str, at_or_before: int | None = None
    ) -> tuple[int, int, bytes] | None:
        """(pos, events folded, body) of the newest snapshot made by the same code, if any.

        `at_or_before`: the newest one not later than that log position (time travel).
        """
        table = schema.snapshots
        query = sa.select(table.c.pos, table.c.events, table.c.body).where(
            table.c.fingerprint == fingerprint
        )
        if at_or_before is not None:
            query = query.where(table.c.pos <= at_or_before)
        query = query.order_by(table.c.pos.desc(), table.c.id.desc()).limit(1)
        with self._transaction():
            row = self._conn.execute(query).first()
        return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]))

    # --- published plan versions -------------------------------------------------------------

    def plan_versions(self, prefix: str = "") -> dict[str, int]:
        """The newest published version of each plan message whose key starts with `prefix`."""
        table = schema.plan_versions
        query = sa.select(table.c.key, table.c.version)
        if prefix:
            query = query.where(table.c.key.startswith(prefix, autoescape=True))
        with self._transaction():
            rows = self._conn.execute(query).all()
        return {str(r.key): int(r.version) for r in rows}

    def save_plan_versions(self, versions: dict[str, int]) -> None:
        """Records versions about to be published, in one durable transaction."""
        if not versions:
            return
        table = schema.plan_versions
        statement = self._insert(table).values(
            [{"key": k, "version": v} for k, v in versions.items()]
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={"version": statement.excluded.version}
        )
        with self._transaction():
            self._conn.execute(statement)

    def dead_letters(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every dead letter oldest first, or the most recent `limit` of them newest first."""
        table = schema.dead_letters
        query = sa.select(table).order_by(table.c.id)
        if limit is not None:
            query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        with self._transaction():
            return [dict(row._mapping) for row in self._conn.execute(query)]

    def find_dead_letters(
        self,
        *,
        kind: str | None = None,
        reason: str | None = None,
        agent: str | None = None,
        limit: int = 1000,
        replayable_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Dead letters matching every filter given (`reason`: a part of it), oldest first."""
        table = schema.dead_letters
        query = sa.select(table).order_by(table.c.id).limit(limit)
        if kind is not None:
            query = query.where(table.c.kind == kind)
        if reason is not None:
            query = query.where(table.c.reason.contains(reason, autoescape=True))
        if agent is not None:
            query = query.where(table.c.agent == agent)
        if replayable_only:
            query = query.where(table.c.kind.in_(REPLAYABLE), table.c.replayed_at.is_(None))
        with self._transaction():
            return [dict(row._mapping) for row in self._conn.execute(query)]

    def dead_letter(self, letter_id: int) -> dict[str, Any] | None:
        """One dead letter by id."""
        table = schema.dead_letters
        with self._transaction():
            row = self._conn.execute(sa.select(table).where(table.c.id == letter_id)).first()
        return None if row is None else dict(row._mapping)

    def request_replay(self, ids: list[int]) -> int:
        """Asks the cloud to ingest these dead letters again; returns how many were asked."""
        if not ids:
            return 0
        table = schema.dead_letters
        with self._transaction():
            result = self._conn.execute(
                sa.update(table)
                .where(table.c.id.in_(ids), table.c.replayed_at.is_(None))
                .values(replay_requested_at=_now())
            )
        return int(result.rowcount or 0)

    def replay_requests(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead letters waiting to be ingested again, oldest request first."""
        table = schema.dead_letters
        query = (
            sa.select(table)
            .where(table.c.replay_requested_at.is_not(None), table.c.replayed_at.is_(None))
            .order_by(table.c.id)
            .limit(limit)
        )
        with self._transaction():
            return [dict(row._mapping) for row in self._conn.execute(query)]

    def mark_replayed(self, letter_id: int, outcome: str) -> None:
        """Records that a dead letter was ingested again, and what came of it."""
        table = schema.dead_letters
        with self._transaction():
            self._conn.execute(
                sa.update(table)
                .where(table.c.id == letter_id)
                .values(replayed_at=_now(), replay_outcome=outcome[:1000])
            )

    def close(self) -> None:
        """Closes the database."""
        with self._lock:
            self._conn.close()
            self._engine.dispose()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_ARCHIVED: Final = "\x00archived"  # a body no event can have: the key's event is archived


def _conflict_letter(record: LogRecord) -> DeadLetter:
    """The dead letter of an event whose key the log already holds with other content."""
    reason = f"event key {record.instance}/{record.seq} reused with different content"
    return DeadLetter.of_logged(record, reason, "conflict")


def _ranges(seqs: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and out[-1][1] == seq - 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def write_archive(path: Path, rows: list[dict[str, Any]]) -> str:
    """Writes event rows as gzipped JSON lines, durably; returns the file's sha256."""
    temporary = path.with_suffix(".tmp")
    with gzip.open(temporary, "wt", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    with open(temporary, "rb") as written:
        digest = hashlib.sha256(written.read()).hexdigest()
        os.fsync(written.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)  # the rename itself must survive a power cut
    return digest


def fsync_dir(folder: Path) -> None:
    """Makes a rename or a new file in `folder` durable (POSIX: fsync the directory)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_archive(path: Path) -> Iterator[tuple[int, str, str]]:
    """(pos, body, corrected time) of each event in an archive file, in log order."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            yield int(row["pos"]), str(row["body"]), str(row["corrected_time"])


def sqlite_pragmas(engine: sa.Engine, synchronous: str) -> None:
    """WAL and the durability level on every connection; transactions begun explicitly.

    pysqlite's own transaction handling would defer BEGIN and commit behind SQLAlchemy's back;
    turning it off and emitting BEGIN ourselves is SQLAlchemy's documented recipe.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
