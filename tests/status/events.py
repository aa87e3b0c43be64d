"""Contract events for the status tests, built and validated through `contract.Event`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.store import EventLog, LogRecord
from contract import Event

T0 = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)
INSTANCE = "0" * 31 + "1"
BOOT = "b" * 32


def at(minutes: float) -> str:
    """The contract timestamp `minutes` after T0."""
    moment = T0 + timedelta(minutes=minutes)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class Feed:
    """Makes valid events in sequence and folds them into a status, keeping the log.

    With an event log (`store`), each event is committed to it and what the store gives back
    (`replay`) is folded, so the rules are checked through a real SQLite or PostgreSQL store.
    """

    def __init__(self, status: Any, store: EventLog | None = None) -> None:
        self.status = status
        self.store = store
        self.seq = 0
        self.log: list[tuple[int, dict[str, Any], str]] = []

    def __call__(
        self,
        kind: str,
        payload: dict[str, Any],
        minutes: float,
        *,
        station: str | None = None,
        source: str = "pi-01",
        agent: str = "pi-01",
    ) -> str | None:
        self.seq += 1
        event = Event(
            type=kind,
            source=source,
            agent=agent,
            instance=INSTANCE,
            seq=self.seq,
            time=at(minutes),
            mono_ns=self.seq,
            boot=BOOT,
            payload=payload,
            station=station,
        ).validate()
        body = event.to_dict()
        self.log.append((len(self.log) + 1, body, at(minutes)))
        change: str | None = None
        if self.store is None:
            change = self.status.apply(body, at(minutes), len(self.log))
            return change
        stamp = at(minutes)
        record = LogRecord(
            INSTANCE, self.seq, kind, source, agent, station, stamp, stamp, "monotonic", stamp,
            json.dumps(body, separators=(",", ":")), body,
        )  # fmt: skip
        assert self.store.commit([record], []).committed
        position = self.status.position
        for logged, stored, corrected in self.store.replay(after=position):
            change = self.status.apply(stored, corrected, logged)
        return change


def correction(kind: str, minutes: float, **fields: Any) -> dict[str, Any]:
    """A correction payload with every key (by, reason, at, station, tag, value, voids)."""
    payload: dict[str, Any] = {
        "correction": kind,
        "by": "supervisor-kim",
        "reason": "test",
        "at": at(minutes),
        "station": None,
        "tag": None,
        "value": None,
        "voids": None,
    }
    payload.update(fields)
    return payload
