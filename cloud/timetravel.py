"""Time travel: the resource status as it was at any past moment, replayed from the event log.

"As it was at 10:14" means what the cloud knew then: every event it had committed by that time
(the log's positions are in commit order, each event stamped `received_at` as ingest took it), not
events that happened before 10:14 but arrived later from an agent that was offline. A moment is
turned into a log position (`EventLog.position_at`, a binary search along the positions), and the
status is rebuilt to that position from the nearest snapshot before it (`Snapshotter.restore_at`):
the cost of a jump is the tail since that snapshot, not the log. The status carries the planning
state (orders, pins, decisions, manual mode), so the ERP's and the planners' inputs travel too.

The rebuilt status is shown against the master data the cloud uses now (the plant model is not in
the log) and at the moment asked for, so an absence or an open alarm reads as it did then.
Pure reading: nothing is written, no snapshot taken, the live status untouched.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloud.snapshots import Snapshotter
from cloud.status import ResourceStatus, StatusMaster
from cloud.store import EventLog
from taktline.clock import utc_iso

__all__ = ["Moment", "TimeTravel"]


@dataclass(frozen=True, slots=True)
class Moment:
    """Where a jump landed and what it cost."""

    #: The last log position folded (0: before the first event).
    position: int
    #: When the cloud took that position's event (contract time; None before the first).
    received_at: str | None
    #: The snapshot the jump started from (0: the start of the log).
    snapshot_pos: int
    #: Events folded after the snapshot.
    replayed: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "position": self.position,
            "received_at": self.received_at,
            "snapshot_pos": self.snapshot_pos,
            "replayed": self.replayed,
            "seconds": round(self.seconds, 4),
        }


class TimeTravel:
    """Rebuilds the status of one event log at past positions or moments."""

    def __init__(
        self,
        event_log: EventLog | Callable[[], EventLog],
        master: Callable[[], StatusMaster | None] | None = None,
    ) -> None:
        #: The log, or how to open one for a jump (closed after it): a running cloud opens a
        #: connection of its own per jump rather than keep a second one open all the time.
        self._log = event_log
        #: The master data to show a past status against (the cloud's current ones).
        self.master = master
        self._lock = threading.Lock()  # one jump at a time: each is a burst of reads and folds

    @contextlib.contextmanager
    def _opened(self) -> Iterator[EventLog]:
        if isinstance(self._log, EventLog):
            yield self._log
            return
        with self._log() as log:
            yield log

    def span(self) -> tuple[str | None, str | None]:
        """When the cloud took the oldest event the log keeps, and the newest (None: empty)."""
        with self._opened() as log:
            last = log.last_position()
            oldest = log.received_at(log.first_position()) if last else None
            return oldest, log.received_at(last) if last else None

    def position_at(self, when: datetime) -> int:
        """The last log position the cloud had committed at `when` (0 before the first)."""
        with self._opened() as log:
            return log.position_at(utc_iso(when))

    def status_at(
        self, *, position: int | None = None, when: datetime | None = None
    ) -> tuple[ResourceStatus, Moment]:
        """The status as of log `position`, or as of the moment `when` (one of them)."""
        if (position is None) == (when is None):
            raise ValueError("give a log position or a moment, not both and not neither")
        began = time.perf_counter()
        with self._lock, self._opened() as log:
            if when is not None:
                position = log.position_at(utc_iso(when))
            assert position is not None
            if position < 0:
                raise ValueError(f"log position {position} is negative")
            position = min(position, log.last_position())
            status, restored = Snapshotter(log).restore_at(ResourceStatus, position)
            received = log.received_at(position) if position else None
        master = self.master() if self.master is not None else None
        if master is not None:
            status.set_master(master)
        moment = Moment(
            position,
            received,
            restored.snapshot_pos,
            restored.replayed,
            time.perf_counter() - began,
        )
        return status, moment

    def status_then(self, when: datetime | None = None) -> tuple[ResourceStatus, datetime]:
        """The status at `when` (None: the log's end) and the moment it stands for.

        At the log's end that moment is its newest event's time (a replayed plant day, not
        the wall clock); an empty log stands for now.
        """
        if when is not None:
            status, _ = self.status_at(when=when)
            return status, when
        with self._opened() as log:
            last = log.last_position()
        status, moment = self.status_at(position=last)
        latest = status.latest or moment.received_at
        then = datetime.fromisoformat(latest.replace("Z", "+00:00")) if latest else None
        return status, then or datetime.now(UTC)

    def view(self, *, position: int | None = None, when: datetime | None = None) -> dict[str, Any]:
        """The status as the web shows it, at that moment, with where the jump landed."""
        status, moment = self.status_at(position=position, when=when)
        shown_at = when
        if shown_at is None and moment.received_at is not None:
            shown_at = datetime.fromisoformat(moment.received_at.replace("Z", "+00:00"))
        if shown_at is not None and status.latest is not None:
            # an event's own time may lie after it was received (a device clock ahead)
            latest = datetime.fromisoformat(status.latest.replace("Z", "+00:00"))
            shown_at = max(shown_at, latest)
        shown = status.snapshot(shown_at.astimezone(UTC) if shown_at is not None else None)
        shown["moment"] = moment.as_dict()
        return shown
