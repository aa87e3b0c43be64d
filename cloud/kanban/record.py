"""A planner's change of a kanban loop (its size or safety factor), as an event in the log.

`KanbanRecorder` writes `kanban.loop` events of the cloud's own source `cloud-kanban` through a
`CloudRecorder` (committed under ingest's write lock and folded into the status at once), after
checking the loop exists in the plant model: the log holds only changes that meant something.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cloud.errors import CloudError
from cloud.plant import Plant
from cloud.recorder import CloudRecorder, EventRefused
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract.kanban import KANBAN_SOURCE
from taktline.clock import Clock

__all__ = ["KanbanRecorder", "LoopRefused", "UnknownLoop"]


class LoopRefused(CloudError, ValueError):
    """A loop change breaks the contract (the message says where)."""


class UnknownLoop(LoopRefused, LookupError):
    """A loop change names a loop the plant model does not have."""


class KanbanRecorder:
    """Records planners' loop changes (`kanban.loop`) and folds them into the status."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        plant: Callable[[], Plant | None],
        *,
        clock: Clock | None = None,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self._recorder = CloudRecorder(
            event_log, status, KANBAN_SOURCE, clock=clock, write_lock=write_lock
        )
        self._plant = plant

    def set_loop(
        self,
        loop: str,
        by: str,
        *,
        cards: int | None = None,
        safety: float | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Records a loop's new size and/or safety factor; returns the stored event."""
        plant = self._plant()
        if plant is None or loop not in plant.kanban:
            known = ", ".join(sorted(plant.kanban)) if plant is not None else "none"
            raise UnknownLoop(f"no kanban loop {loop!r} in the plant model (loops: {known})")
        payload = {"loop": loop, "cards": cards, "safety": safety, "by": by, "reason": reason}
        try:
            return self._recorder.record("kanban.loop", payload)
        except EventRefused as exc:
            raise LoopRefused(str(exc)) from exc
