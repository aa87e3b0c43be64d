"""The cloud's own sources: facts the cloud is told or decides, appended to its event log.

Hand corrections (`cloud.corrections`) and the planning events (`cloud.planning`) are events like
any agent's: a source with its own instance id and sequence, persisted in the cloud's database —
they are the source's newest event key in the log itself, read back at start, so sequence numbers
continue after a restart and are never reused. A recorder validates the event against the
contract, commits it under ingest's write lock and folds it into the status in the same critical
section, so the status (and the planning state it holds) folds in log order. Several events can
be committed in one transaction (`record_many`): an order file is all in the log or none of it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa

from cloud import schema
from cloud.errors import CloudError
from cloud.status import ResourceStatus
from cloud.store import EventLog, LogRecord
from contract import ContractError, Event
from taktline.clock import Clock, SystemClock, utc_iso

__all__ = ["AGENT", "CloudRecorder", "EventRefused", "last_key"]

#: The `agent` of every event the cloud records itself.
AGENT: Final = "cloud"


class EventRefused(CloudError, ValueError):
    """An event the cloud was asked to record breaks the contract (the message says where)."""


def last_key(event_log: EventLog, source: str) -> tuple[str, int] | None:
    """The (instance, seq) of the newest event of `source` in the log, if any."""
    table = schema.events
    query = (
        sa.select(table.c.instance, table.c.seq)
        .where(table.c.source == source)
        .order_by(table.c.pos.desc())
        .limit(1)
    )
    engine = sa.create_engine(event_log.url)
    try:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    finally:
        engine.dispose()
    return None if row is None else (str(row[0]), int(row[1]))


class CloudRecorder:
    """One cloud-side source: validate, append once to the log, fold into the status."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        source: str,
        *,
        clock: Clock | None = None,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self.log = event_log
        self.status = status
        self.source = source
        self.clock = clock or SystemClock()
        self._lock = write_lock or threading.Lock()
        found = last_key(event_log, source)
        self.instance, self.seq = found if found is not None else (secrets.token_hex(16), 0)
        self._boot = secrets.token_hex(8)

    def record(
        self, event_type: str, payload: Mapping[str, Any], station: str | None = None
    ) -> dict[str, Any]:
        """Records one event; returns it as stored. Raises `EventRefused`."""
        return self.record_many([(event_type, payload, station)])[0]

    def record_many(
        self, items: Sequence[tuple[str, Mapping[str, Any], str | None]]
    ) -> list[dict[str, Any]]:
        """Records events in one transaction (all or none); returns them as stored."""
        if not items:
            return []
        with self._lock:
            stamp = utc_iso(self.clock.now())
            records: list[LogRecord] = []
            bodies: list[dict[str, Any]] = []
            for n, (event_type, payload, station) in enumerate(items, start=1):
                event = Event(
                    type=event_type,
                    source=self.source,
                    agent=AGENT,
                    instance=self.instance,
                    seq=self.seq + n,
                    time=stamp,
                    mono_ns=time.monotonic_ns(),
                    boot=self._boot,
                    payload=dict(payload),
                    station=station,
                )
                try:
                    event.validate()
                except ContractError as exc:
                    raise EventRefused(str(exc)) from exc
                body = event.to_dict()
                records.append(
                    LogRecord(
                        event.instance,
                        event.seq,
                        event.type,
                        self.source,
                        AGENT,
                        station,
                        stamp,
                        stamp,
                        "cloud",
                        stamp,
                        event.to_json(),
                        body,
                    )
                )
                bodies.append(body)
            result = self.log.commit(records, [])
            if len(result.committed) != len(records):
                raise EventRefused(f"event keys of {self.source} already in the log")
            self.seq += len(records)
            for body in bodies:
                self.status.apply(body, stamp)
        return bodies
