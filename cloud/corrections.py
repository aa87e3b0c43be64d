"""Hand corrections recorded by the cloud itself, as events in its own log.

A person fixes a forgotten badge-out, a wrong stop reason, a tool's place, missed counts or a
wrong event through the API; the cloud records that as a new `correction` event (who, why, when
the corrected fact happened), never by editing history. The recorder is a source like any
other: its own instance id and sequence, persisted in the cloud's database — they are the
newest correction event's key in the event log itself, read back at start, so sequence numbers
continue after a restart and are never reused. It commits and folds under ingest's write lock,
so the status folds in log order.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import sqlalchemy as sa

from cloud import schema
from cloud.errors import CloudError
from cloud.status import ResourceStatus
from cloud.store import EventLog, LogRecord
from contract import ContractError, Event
from contract.fields import parse_time
from taktline.clock import Clock, SystemClock, utc_iso

__all__ = ["SOURCE", "CorrectionRecorder", "CorrectionRefused"]

SOURCE: Final = "cloud-corrections"
AGENT: Final = "cloud"
_FIELDS: Final = ("correction", "by", "reason", "at", "station", "tag", "value", "voids")


class CorrectionRefused(CloudError, ValueError):
    """A correction breaks the contract (unknown kind, no author, a bad value)."""


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


class CorrectionRecorder:
    """Records corrections: validate, append once to the log, fold into the status."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        *,
        clock: Clock | None = None,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self.log = event_log
        self.status = status
        self._clock = clock or SystemClock()
        self._lock = write_lock or threading.Lock()
        found = last_key(event_log, SOURCE)
        self.instance, self.seq = found if found is not None else (secrets.token_hex(16), 0)
        self._boot = secrets.token_hex(8)

    def record(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Records one correction; returns the stored event. Raises `CorrectionRefused`."""
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise CorrectionRefused(f"unknown field(s): {', '.join(unknown)}")
        now = self._clock.now()
        payload = {key: fields.get(key) for key in _FIELDS}
        if payload["at"] is None:
            payload["at"] = utc_iso(now)
        else:
            try:
                payload["at"] = utc_iso(parse_time(payload["at"], "at"))
            except ContractError as exc:
                raise CorrectionRefused(str(exc)) from exc
        with self._lock:
            stamp = utc_iso(now)
            event = Event(
                type="correction",
                source=SOURCE,
                agent=AGENT,
                instance=self.instance,
                seq=self.seq + 1,
                time=stamp,
                mono_ns=time.monotonic_ns(),
                boot=self._boot,
                payload=payload,
                station=payload["station"] if isinstance(payload["station"], str) else None,
            )
            try:
                event.validate()
            except ContractError as exc:
                raise CorrectionRefused(str(exc)) from exc
            body = event.to_dict()
            record = LogRecord(
                event.instance, event.seq, event.type, SOURCE, AGENT, event.station,
                stamp, stamp, "cloud", stamp, event.to_json(), body,
            )  # fmt: skip
            result = self.log.commit([record], [])
            if not result.committed:
                raise CorrectionRefused(f"event key {event.key} already in the log")
            self.seq = event.seq
            self.status.apply(body, stamp)
        return body
