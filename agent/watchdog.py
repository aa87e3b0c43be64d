"""systemd's watchdog: `WATCHDOG=1` only while the agent's workers are alive.

The agent's unit is `Type=notify` with `WatchdogSec=` (`hardware/systemd/taktline-agent@.service`):
systemd restarts a process that stops sending `WATCHDOG=1` within that time. A dead process is
restarted anyway; what this adds is the living process whose uplink or role poller is stuck (a
hung driver, a lock never released). The notification protocol is a datagram to the Unix socket
in `$NOTIFY_SOCKET` (an abstract socket when it starts with `@`), `$WATCHDOG_USEC` the interval:
a few lines of the standard library, no extra dependency. `READY=1` is sent once the agent runs,
`STOPPING=1` when it stops; `WATCHDOG=1` every half interval while every worker showed within
the interval that it is not stuck (a worker waiting for the broker or backing off from a fault
ticks; one blocked in a call does not).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

from taktline.supervise import WorkerHealth

__all__ = ["Notifier", "Watchdog"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages to `$NOTIFY_SOCKET` (a no-op without one)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        self.sent: list[str] = []

    @property
    def enabled(self) -> bool:
        """Whether systemd listens."""
        return bool(self.address)

    def notify(self, state: str) -> bool:
        """Sends `state` (e.g. `READY=1`); returns whether it went out."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall(state.encode())
        except OSError as exc:
            log.warning("sd_notify %s failed: %s", state, exc)
            return False
        self.sent.append(state)
        return True


class Watchdog:
    """Pings systemd's watchdog while `workers()` are all alive; a thread of its own."""

    def __init__(
        self, workers: Callable[[], list[WorkerHealth]], notifier: Notifier | None = None
    ) -> None:
        self.workers = workers
        self.notifier = notifier or Notifier()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stuck: list[str] = []

    def healthy(self) -> bool:
        """Whether every worker showed within the watchdog interval that it is not stuck."""
        limit = self.notifier.watchdog_s or 30.0
        stuck = []
        for health in self.workers():
            age = health.last_alive_age_s
            if health.state == "stopped" or age is None or age > limit:
                stuck.append(health.name)
        if stuck and stuck != self.stuck:
            log.error("watchdog: no sign of life from %s; not telling systemd all is well", stuck)
        self.stuck = stuck
        return not stuck

    def start(self) -> Watchdog:
        """Says READY=1 and, with a watchdog interval, pings every half of it while healthy."""
        self.notifier.notify("READY=1")
        if self.notifier.watchdog_s is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.notifier.watchdog_s is not None
        period = self.notifier.watchdog_s / 2
        while not self._stop.wait(period):
            if self.healthy():
                self.notifier.notify("WATCHDOG=1")

    def stop(self) -> None:
        """Says STOPPING=1 and ends the pings."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.notifier.notify("STOPPING=1")
