"""systemd's watchdog: WATCHDOG=1 while the agent's workers live, silence once one is stuck."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from agent.config import parse_config
from agent.runtime import Agent
from agent.watchdog import Notifier, Watchdog
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import AREA, SITE, wait_for

pytestmark = [pytest.mark.mqtt]

WATCHDOG_S = 1.0


class NotifySocket:
    """What systemd listens on: a Unix datagram socket; keeps what arrives, with the time."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.path = path
        self.received: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.received.append((time.monotonic(), data.decode()))

    def last(self, state: str) -> float | None:
        times = [t for t, s in self.received if s == state]
        return times[-1] if times else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_watchdog_stops_within_two_intervals_once_the_uplink_is_stuck(
    tmp_path: Path, mosquitto: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = NotifySocket(tmp_path / "notify")
    environ = {"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))}
    config = parse_config(
        {"agent": "pi-crimp-01", "site": SITE, "area": AREA, "broker": mosquitto.url,
         "outbox": str(tmp_path / "agent.db"), "role": "station", "hardware": "emulated",
         "heartbeat_s": 0.2, "station": [{"id": "crimp-01", "inputs": {"run": 17}}]},
        "agent.toml",
        tmp_path,
    )  # fmt: skip
    stuck = threading.Event()
    release = threading.Event()
    try:
        with Agent(config) as agent:
            watchdog = Watchdog(agent.worker_health, Notifier(environ)).start()
            wait_for(lambda: listener.last("READY=1") is not None, 5, "READY=1")
            time.sleep(3 * WATCHDOG_S)
            pings = [t for t, s in listener.received if s == "WATCHDOG=1"]
            assert len(pings) >= 4, "pings every half interval while all lives"
            real = agent.uplink._send_due

            def hang() -> None:  # a driver call that never returns
                stuck.set()
                release.wait()
                real()

            monkeypatch.setattr(agent.uplink, "_send_due", hang)
            assert stuck.wait(5)
            killed = time.monotonic()
            time.sleep(3 * WATCHDOG_S)
            last = listener.last("WATCHDOG=1")
            assert last is not None
            print(f"\nlast WATCHDOG=1 {last - killed:.2f} s after the uplink got stuck")
            assert last - killed <= 2 * WATCHDOG_S, "pings stop within 2 x WatchdogSec"
            assert any(name.startswith("uplink") for name in watchdog.stuck), watchdog.stuck
            release.set()
            wait_for(
                lambda: (listener.last("WATCHDOG=1") or 0) > killed + 3 * WATCHDOG_S,
                5,
                "pings again once the uplink runs again",
            )
            watchdog.stop()
            wait_for(lambda: listener.last("STOPPING=1") is not None, 5, "STOPPING=1")
    finally:
        release.set()
        listener.close()
