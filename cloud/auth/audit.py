"""The audit trail: every state-changing web request as a `web.request` event in the cloud's log.

The guard (`cloud/web/guard.py`) records one event per POST, PUT, PATCH or DELETE — who acted
(the session's user or the token's name, or nobody), by which means, the route, the answer's
status and the client's address — before the answer leaves, through a `CloudRecorder` of its
own source `cloud-audit`. `/api/audit/requests` reads them back from the log, newest first: the
log is the one truth, as it is for the planning ledger's audit (`/api/audit`).
"""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa

from cloud import schema
from cloud.recorder import CloudRecorder

__all__ = ["AUDIT_SOURCE", "AUDIT_TYPE", "AuditTrail"]

AUDIT_SOURCE: Final = "cloud-audit"
AUDIT_TYPE: Final = "web.request"


class AuditTrail:
    """Writes and reads the `web.request` events."""

    def __init__(self, recorder: CloudRecorder) -> None:
        self._recorder = recorder
        self._engine = sa.create_engine(recorder.log.url)

    def close(self) -> None:
        """Closes the reading connections."""
        self._engine.dispose()

    def record(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Appends one request's record to the log; returns the stored event."""
        return self._recorder.record(AUDIT_TYPE, payload)

    def newest(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` records, newest first: the payload with the time and position."""
        table = schema.events
        query = (
            sa.select(table.c.pos, table.c.corrected_time, table.c.body)
            .where(table.c.type == AUDIT_TYPE, table.c.source == AUDIT_SOURCE)
            .order_by(table.c.pos.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"pos": row.pos, "at": row.corrected_time, **json.loads(row.body)["payload"]}
            for row in rows
        ]
