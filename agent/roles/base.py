"""The running part every role shares: one thread polls its readers and inputs until `stop()`.

A role opens its devices in its constructor (into `self.devices`, an `ExitStack`, so a failure
half-way releases what was opened), then `start()` runs `poll()` every `poll_s` seconds on a
thread. Tests call `poll()` themselves with a `FakeClock` instead. `stop()` joins the thread,
lets the role record what it still holds (`finish()`), then releases readers and pins.

The thread is a supervised worker (`taktline.supervise`): an exception in a poll (a full outbox,
a failing device) is logged and the poll runs again after a short back-off, so it never ends the
role; three faults in a row record a `worker_fault` alarm through `alarms` (the agent's outbox,
set by `agent.runtime.start_role`), and `worker_recovered` once a poll succeeds again. A role
keeps what it has not recorded yet (a pulse count, a transition) until its event is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType

from taktline.supervise import Worker, WorkerHealth

__all__ = ["PollingRole"]

log = logging.getLogger(__name__)


class PollingRole:
    """Base of the roles: a polling thread, the devices it opened, a clean stop.

    Args:
        name: For the thread and log lines.
        poll_s: Seconds between polls (real time).
    """

    def __init__(self, name: str, poll_s: float = 0.05) -> None:
        self.name = name
        self.poll_s = poll_s
        self.polls = 0
        self.devices = ExitStack()
        #: Records an agent alarm (`Outbox.raise_alarm`); set when the role runs in an agent.
        self.alarms: Callable[[str, str], None] | None = None
        self.worker = Worker(
            f"role-{name}",
            self._run,
            on_fault=self._fault,
            on_recover=self._recovered,
            backoff_s=min(poll_s, 0.2),
            backoff_max_s=5.0,
        )
        self._alarmed = False
        self._stopped = False

    def poll(self) -> None:
        """One pass over the role's readers and inputs (subclasses)."""

    def finish(self) -> None:
        """Records what the role still holds before its devices are released (subclasses)."""

    def start(self) -> PollingRole:
        """Starts the polling thread (a supervised worker)."""
        self.worker.start()
        return self

    def health(self) -> WorkerHealth:
        """The polling worker's state."""
        return self.worker.health()

    def _run(self, worker: Worker) -> None:
        while not worker.wait(self.poll_s):
            self.poll()
            self.polls += 1
            worker.beat()

    def _fault(self, worker: Worker, exc: BaseException) -> None:
        if worker.faults_in_a_row == worker.failing_after and self.alarms is not None:
            self._alarmed = True
            self.alarms("worker_fault", f"{worker.name}: {worker.last_error}")

    def _recovered(self, worker: Worker) -> None:
        if self._alarmed and self.alarms is not None:
            self._alarmed = False
            self.alarms("worker_recovered", f"{worker.name} polls again")

    @property
    def is_stopped(self) -> bool:
        """Whether `stop()` ran."""
        return self._stopped

    def stop(self) -> None:
        """Stops polling, records what is still held, releases readers and pins."""
        if self._stopped:
            return
        self._stopped = True
        self.worker.stop(10)
        try:
            self.finish()
        finally:
            self.devices.close()

    def __enter__(self) -> PollingRole:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
