"""Acknowledgements of andon alarms: recorded as `andon.ack` events, folded back from the log.

`AndonRecorder.acknowledge` records who acknowledged which alarm as an event of the cloud's own
source `cloud-andon` (`contract.andon`; a `CloudRecorder`, so it commits under ingest's write
lock and its sequence continues after a restart). `acks()` folds the `andon.ack` events of the
log into the alarm -> (who, when) map the board shows, reading only what was appended since
the last call: a restarted cloud, or a second web process on the same log, shows the same
acknowledgements. The first acknowledgement of an alarm is the one kept (two supervisors
pressing at once both get an answer; the board names who was first). Acknowledgements in
archived parts of the log (cloud/archive.py) are not read: their alarms are long over.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from cloud import schema
from cloud.andon.board import Ack
from cloud.errors import CloudError
from cloud.recorder import CloudRecorder, EventRefused
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract.andon import ANDON_SOURCE
from taktline.clock import Clock

__all__ = ["ACK_TYPE", "AckRefused", "AndonRecorder"]

ACK_TYPE: Final = "andon.ack"


class AckRefused(CloudError, ValueError):
    """An acknowledgement breaks the contract (an alarm id too long, an unknown kind)."""


class AndonRecorder:
    """Records acknowledgements and reads them back from the log."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        *,
        clock: Clock | None = None,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self._recorder = CloudRecorder(
            event_log, status, ANDON_SOURCE, clock=clock, write_lock=write_lock
        )
        self._engine = sa.create_engine(event_log.url)
        self._lock = threading.Lock()
        self._position = 0
        self._acks: dict[str, Ack] = {}

    def close(self) -> None:
        """Closes the reading connections."""
        self._engine.dispose()

    def acknowledge(self, alarm: str, kind: str, by: str) -> dict[str, Any]:
        """Records that `by` acknowledged `alarm` (of `kind`); returns the stored event.

        Raises:
            AckRefused: the contract refuses the payload (the message says which field).
        """
        try:
            return self._recorder.record(ACK_TYPE, {"alarm": alarm, "kind": kind, "by": by})
        except EventRefused as exc:
            raise AckRefused(str(exc)) from exc

    def acks(self) -> dict[str, Ack]:
        """Every acknowledgement in the log, by alarm id (the first one of each alarm)."""
        table = schema.events
        with self._lock:
            query = (
                sa.select(table.c.pos, table.c.corrected_time, table.c.body)
                .where(
                    table.c.type == ACK_TYPE,
                    table.c.source == ANDON_SOURCE,
                    table.c.pos > self._position,
                )
                .order_by(table.c.pos)
            )
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                payload = json.loads(row.body)["payload"]
                at = datetime.fromisoformat(str(row.corrected_time).replace("Z", "+00:00"))
                self._acks.setdefault(str(payload["alarm"]), Ack(str(payload["by"]), at))
                self._position = int(row.pos)
            return dict(self._acks)
