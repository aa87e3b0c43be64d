"""The audit trail: every state-changing web request as a `web.request` event in the cloud's log.

The guard (`cloud/web/guard.py`) records one event per POST, PUT, PATCH or DELETE — who acted
(the session's user or the token's name, or nobody), by which means, the route, the answer's
status and the client's address — before the answer leaves, through a `CloudRecorder` of its
own source `cloud-audit` (a web replica's: `cloud-audit-web-HOST-RANDOM`, so that two processes
never write one source). `/api/audit/requests` reads them back from the log, newest first: the
log is the one truth, as it is for the planning ledger's audit (`/api/audit`). A change a web
replica sends on to the leading planner, and the leader answers, is recorded once, by the leader.

Anonymous refusals are the one thing an outsider can make at will, so they are bounded: at most
`ANONYMOUS_PER_MINUTE` refused anonymous writes per client address and minute become events; the
rest are counted (`unaudited`, the metric `taktline_web_refusals_unaudited_total`) and logged
once per address and minute, so a flood cannot fill the log. Writes by a user or a token, and
everything served, are always recorded.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Final

import sqlalchemy as sa

from cloud import schema
from cloud.recorder import CloudRecorder

__all__ = ["ANONYMOUS_PER_MINUTE", "AUDIT_SOURCE", "AUDIT_TYPE", "AuditTrail"]

AUDIT_SOURCE: Final = "cloud-audit"
AUDIT_TYPE: Final = "web.request"
#: Refused anonymous writes recorded per client address and minute; the rest are counted.
ANONYMOUS_PER_MINUTE: Final = 30
_WINDOW_S: Final = 60.0
#: Addresses tracked at once; past it the oldest windows are forgotten (bounded memory).
_ADDRESSES: Final = 10_000

log = logging.getLogger(__name__)


class AuditTrail:
    """Writes and reads the `web.request` events."""

    def __init__(self, recorder: CloudRecorder) -> None:
        self._recorder = recorder
        self._engine = sa.create_engine(recorder.log.url)
        #: Refused anonymous writes not recorded as events (over the per-address limit).
        self.unaudited = 0
        self._windows: dict[str, list[float]] = {}  # address -> [window start, count, skipped]

    def admits_refusal(self, address: str | None, now: float | None = None) -> bool:
        """Whether a refused anonymous write from `address` is recorded (else it is counted).

        Args:
            address: The client's address (None: unknown, one shared window).
            now: A monotonic time in seconds (default: now).
        """
        now = time.monotonic() if now is None else now
        key = address or "?"
        window = self._windows.get(key)
        if window is None or now - window[0] >= _WINDOW_S:
            if window is not None and window[2]:
                log.warning(
                    "%d refused anonymous writes from %s in a minute were counted, not recorded",
                    int(window[2]),
                    key,
                )
            if window is None and len(self._windows) >= _ADDRESSES:
                self._windows.pop(next(iter(self._windows)))
            window = self._windows[key] = [now, 0.0, 0.0]
        if window[1] < ANONYMOUS_PER_MINUTE:
            window[1] += 1
            return True
        if not window[2]:
            log.warning(
                "more than %d refused anonymous writes from %s within a minute: "
                "counting the rest, not recording them",
                ANONYMOUS_PER_MINUTE,
                key,
            )
        window[2] += 1
        self.unaudited += 1
        return False

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
            .where(
                table.c.type == AUDIT_TYPE,
                sa.or_(
                    table.c.source == AUDIT_SOURCE,
                    table.c.source.like(f"{AUDIT_SOURCE}-web-%"),  # web replicas' own
                ),
            )
            .order_by(table.c.pos.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"pos": row.pos, "at": row.corrected_time, **json.loads(row.body)["payload"]}
            for row in rows
        ]
