"""The running part every role shares: one thread polls its readers and inputs until `stop()`.

A role opens its devices in its constructor (into `self.devices`, an `ExitStack`, so a failure
half-way releases what was opened), then `start()` runs `poll()` every `poll_s` seconds on a
thread. Tests call `poll()` themselves with a `FakeClock` instead. `stop()` joins the thread,
lets the role record what it still holds (`finish()`), then releases readers and pins. An
exception in one poll is logged and the next poll runs: a full outbox or a failing device must
not end the role.
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from types import TracebackType

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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def poll(self) -> None:
        """One pass over the role's readers and inputs (subclasses)."""

    def finish(self) -> None:
        """Records what the role still holds before its devices are released (subclasses)."""

    def start(self) -> PollingRole:
        """Starts the polling thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"role-{self.name}", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.poll()
                self.polls += 1
            except Exception:  # one bad pass must not end the role: the next one may work
                log.exception("%s: poll failed", self.name)

    @property
    def is_stopped(self) -> bool:
        """Whether `stop()` ran."""
        return self._stopped

    def stop(self) -> None:
        """Stops polling, records what is still held, releases readers and pins."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
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
