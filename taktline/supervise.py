"""Supervised workers: how every long-lived thread of the agent and the cloud runs.

A worker is a function that loops until asked to stop (`Worker.stopping`) and says it is alive
(`Worker.beat()`) as it goes. `Worker.start()` runs it on a thread under a supervisor that
catches what escapes it, logs it with the worker's name, backs off (exponential with full
jitter, from tenacity) and runs it again: a transient fault (a database restart, a full disk, a
broker gone) costs a retry, never the thread. After `failing_after` faults in a row without a
healthy beat in between the worker is *failing*: the owner's `on_fault` hook hears of every
fault (the agent turns it into an alarm event, the cloud into a failing `/readyz`), and
`Worker.health()` says so until the worker beats again. The worker itself never swallows an
exception it cannot handle; it lets it escape to the supervisor.

One module owns the pattern (ingest, uplink, replanner, order drop, role pollers, serial link
all use it), so health, metrics and the watchdog read the same states.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from tenacity import RetryCallState, Retrying, wait_random_exponential

__all__ = ["Worker", "WorkerHealth", "WorkerState"]

log = logging.getLogger(__name__)

WorkerState = Literal["idle", "running", "retrying", "failing", "stopped"]

#: Faults in a row before a worker counts as failing (not just retrying).
FAILING_AFTER: Final = 3


@dataclass(frozen=True)
class WorkerHealth:
    """One worker's state for health checks, metrics and logs."""

    name: str
    state: WorkerState
    restarts: int
    faults_in_a_row: int
    last_error: str | None
    last_beat_age_s: float | None
    #: Seconds since the worker last showed it is not stuck (a beat, or a tick while waiting).
    last_alive_age_s: float | None = None

    @property
    def ok(self) -> bool:
        """Running (or retrying a first transient fault), not failing or dead."""
        return self.state in ("running", "retrying", "idle")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "state": self.state,
            "restarts": self.restarts,
            "faults_in_a_row": self.faults_in_a_row,
            "last_error": self.last_error,
            "last_beat_age_s": self.last_beat_age_s,
            "last_alive_age_s": self.last_alive_age_s,
        }


class Worker:
    """A named loop run under supervision on its own thread."""

    def __init__(
        self,
        name: str,
        body: Callable[[Worker], None],
        *,
        on_fault: Callable[[Worker, BaseException], None] | None = None,
        on_recover: Callable[[Worker], None] | None = None,
        backoff_s: float = 0.2,
        backoff_max_s: float = 30.0,
        failing_after: int = FAILING_AFTER,
    ) -> None:
        self.name = name
        self._body = body
        self._on_fault = on_fault
        self._on_recover = on_recover
        self._wait = wait_random_exponential(multiplier=backoff_s, max=backoff_max_s)
        self.failing_after = failing_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.state: WorkerState = "idle"
        self.restarts = 0
        self.faults = 0
        self.faults_in_a_row = 0
        self.last_error: str | None = None
        self._last_beat: float | None = None
        self._last_alive: float | None = None

    # --- for the worker's body ---------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """Whether the owner asked the worker to stop."""
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleeps up to `seconds` (not stuck meanwhile); returns True when asked to stop."""
        self.tick()
        stopped = self._stop.wait(seconds)
        self.tick()
        return stopped

    def tick(self) -> None:
        """Says the worker is not stuck, while it waits for something (a broker, a reconnect)."""
        self._last_alive = time.monotonic()

    def beat(self) -> None:
        """Says the worker is alive and well (ends a fault streak)."""
        recovered = False
        with self._lock:
            self._last_beat = self._last_alive = time.monotonic()
            if self.faults_in_a_row:
                recovered = True
                self.faults_in_a_row = 0
            if self.state != "stopped":
                self.state = "running"
        if recovered:
            log.info("%s recovered", self.name)
            if self._on_recover is not None:
                self._on_recover(self)

    # --- for the owner ---------------------------------------------------------------------------

    def start(self) -> Worker:
        """Starts the supervised thread (once)."""
        if self._thread is None:
            self._stop.clear()
            self.state = "running"
            self._thread = threading.Thread(target=self._supervise, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Asks the worker to stop and joins its thread."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.state = "stopped"

    @property
    def is_alive(self) -> bool:
        """Whether the supervised thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> WorkerHealth:
        """The worker's state now."""
        with self._lock:
            now = time.monotonic()
            age = None if self._last_beat is None else now - self._last_beat
            alive = None if self._last_alive is None else now - self._last_alive
            state = self.state
            thread = self._thread
            if state in ("running", "retrying") and thread is not None and not thread.is_alive():
                state = "failing"  # a thread that ended without being asked to
            return WorkerHealth(
                self.name,
                state,
                self.restarts,
                self.faults_in_a_row,
                self.last_error,
                None if age is None else round(age, 3),
                None if alive is None else round(alive, 3),
            )

    # --- the supervisor ----------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._body(self)
                if self._stop.is_set():
                    break
                raise RuntimeError(f"{self.name} returned without being asked to stop")
            except Exception as exc:
                self._fault(exc)
                if self._wait_ticking(self._backoff()):
                    break
                with self._lock:
                    self.restarts += 1
        self.state = "stopped"

    def _wait_ticking(self, seconds: float) -> bool:
        # backing off is not being stuck: the watchdog must not restart a worker that waits
        deadline = time.monotonic() + seconds
        while True:
            self.tick()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._stop.wait(min(left, 1.0)):
                return True

    def _fault(self, exc: BaseException) -> None:
        with self._lock:
            self.faults += 1
            self.faults_in_a_row += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            failing = self.faults_in_a_row >= self.failing_after
            self.state = "failing" if failing else "retrying"
        log.error(
            "%s: %s (fault %d in a row; %s)",
            self.name,
            self.last_error,
            self.faults_in_a_row,
            "failing" if failing else "retrying",
            exc_info=exc if self.faults_in_a_row == 1 else None,
        )
        if self._on_fault is not None:
            try:
                self._on_fault(self, exc)
            except Exception:  # the hook must not end the supervisor
                log.exception("%s: the fault hook failed", self.name)

    def _backoff(self) -> float:
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = self.faults_in_a_row
        return float(self._wait(state))
