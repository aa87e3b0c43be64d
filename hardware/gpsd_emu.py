"""A small gpsd for the demo's lorries: gpsd's JSON protocol over TCP, from the route's epochs.

`GpsdEmulator` listens on a loopback port and answers what gpsd 3.22 answers to the requests
clients send: a `VERSION` banner on connect, `?VERSION;`, `?DEVICES;`, `?WATCH={...}` (a
`DEVICES` and a `WATCH` object; with `"json":true` it then streams a `TPV` and a `SKY` per epoch),
and `?POLL;` (the latest `TPV` and `SKY`, the way gpsd-py3 asks). The receiver "drives" the epochs
of `hardware/nmea/make_logs.py` (one per `epoch_s` of the injected clock, so a `FakeClock` steps
it in tests), holding the last one at the end or driving the route back (`shuttle`). An epoch
without a fix is a `TPV` with mode 1 and no position, as gpsd reports one. `attached = False`
unplugs the receiver (no device, `"active":0`). Real gpsd, fed by `gpsfake`, is what the tests of
the lorry use; this stands in for it where no gpsd is installed (`make demo`).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import socketserver
import threading
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Final

from hardware.nmea.make_logs import Epoch
from taktline.clock import Clock, SystemClock

__all__ = ["GpsdEmulator"]

RELEASE: Final = "3.22"
_VERSION: Final = {
    "class": "VERSION",
    "release": RELEASE,
    "rev": RELEASE,
    "proto_major": 3,
    "proto_minor": 14,
}
_WATCH_DEFAULT: Final = {
    "enable": False,
    "json": False,
    "nmea": False,
    "raw": 0,
    "scaled": False,
    "timing": False,
    "split24": False,
    "pps": False,
}
_SATELLITES: Final = (4, 5, 9, 12, 24, 25, 29, 31)


def _time(epoch: Epoch) -> str:
    return epoch.time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch.time.microsecond // 1000:03d}Z"


class GpsdEmulator:
    """A gpsd speaking the JSON protocol for one emulated receiver; a context manager.

    Args:
        epochs: The receiver's output, one per `epoch_s` (at least one).
        host: Interface to listen on.
        port: TCP port; 0 picks a free one (see `address`).
        clock: Steps the epochs and stamps the reports' time.
        epoch_s: Seconds of `clock` per epoch.
        shuttle: At the end, drive the route back (and forth, forever); else hold the last epoch.
        device: The device path reported (`/dev/ttyACM0`, a u-blox on USB).
    """

    def __init__(
        self,
        epochs: Sequence[Epoch],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        epoch_s: float = 1.0,
        shuttle: bool = False,
        device: str = "/dev/ttyACM0",
    ) -> None:
        if not epochs:
            raise ValueError("the emulated receiver needs at least one epoch")
        self.epochs = list(epochs)
        self.clock = clock or SystemClock()
        self.epoch_ns = int(epoch_s * 1e9)
        self.shuttle = shuttle
        self.device = device
        self.attached = True
        self.requests = 0
        self._start_ns = self.clock.monotonic_ns()
        emulator = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                emulator._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, port), Handler)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._closing = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        """Host and port clients connect to (what `Hardware.gpsd` should be set to)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    # ----- the receiver -------------------------------------------------------------------

    def epoch_now(self) -> Epoch:
        """The epoch the receiver reports now, timed by the clock."""
        index = max(0, (self.clock.monotonic_ns() - self._start_ns) // self.epoch_ns)
        last = len(self.epochs) - 1
        if last == 0 or not self.shuttle:
            epoch = self.epochs[min(index, last)]
        else:
            lap, step = divmod(index, last)
            if lap % 2 == 0:
                epoch = self.epochs[step]
            else:
                back = self.epochs[last - step]
                epoch = replace(back, course_deg=(back.course_deg + 180.0) % 360)
        return replace(epoch, time=self.clock.now())

    def tpv(self, epoch: Epoch) -> dict[str, Any]:
        """The gpsd TPV object for `epoch` (mode 1 and no position without a fix)."""
        report: dict[str, Any] = {"class": "TPV", "device": self.device}
        if not epoch.fix:
            return {**report, "mode": 1, "time": _time(epoch), "ept": 0.005}
        return {
            **report,
            "mode": 3,
            "time": _time(epoch),
            "ept": 0.005,
            "lat": round(epoch.lat, 9),
            "lon": round(epoch.lon, 9),
            "altHAE": 360.0,
            "altMSL": 312.0,
            "alt": 312.0,
            "epx": 4.2,
            "epy": 5.1,
            "epv": 7.4,
            "track": round(epoch.course_deg, 1),
            "magtrack": round(epoch.course_deg, 1),
            "speed": round(epoch.speed_mps, 3),
            "climb": 0.0,
            "eps": 0.5,
            "epc": 14.8,
        }

    def sky(self, epoch: Epoch) -> dict[str, Any]:
        """The gpsd SKY object: the satellites in view, used only with a fix."""
        satellites = [
            {"PRN": prn, "el": 20 + 7 * i, "az": 40 * i, "ss": 30 + i, "used": epoch.fix}
            for i, prn in enumerate(_SATELLITES)
        ]
        dops = {"hdop": 0.9, "pdop": 1.6, "vdop": 1.3} if epoch.fix else {}
        return {"class": "SKY", "device": self.device, **dops, "satellites": satellites}

    def devices(self) -> dict[str, Any]:
        """The gpsd DEVICES object: the receiver, or none while unplugged."""
        if not self.attached:
            return {"class": "DEVICES", "devices": []}
        device = {
            "class": "DEVICE",
            "path": self.device,
            "driver": "u-blox",
            "activated": _time(self.epoch_now()),
            "flags": 1,
            "native": 1,
            "bps": 9600,
            "parity": "N",
            "stopbits": 1,
            "cycle": 1.0,
            "mincycle": 0.25,
        }
        return {"class": "DEVICES", "devices": [device]}

    def poll(self) -> dict[str, Any]:
        """The gpsd answer to `?POLL;`."""
        epoch = self.epoch_now()
        active = [epoch] if self.attached else []
        return {
            "class": "POLL",
            "time": _time(epoch),
            "active": len(active),
            "tpv": [self.tpv(e) for e in active],
            "gst": [],
            "sky": [self.sky(e) for e in active],
        }

    # ----- the protocol -------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        def send(*objects: dict[str, Any]) -> None:
            conn.sendall(b"".join(json.dumps(o).encode() + b"\r\n" for o in objects))

        watch = dict(_WATCH_DEFAULT)
        streamed: tuple[int, bool] | None = None
        pending = b""

        def stream() -> None:
            nonlocal streamed
            if watch["enable"] and watch["json"] and self.attached:
                epoch = self.epoch_now()
                key = (int(epoch.time.timestamp()), epoch.fix)
                if key != streamed:
                    streamed = key
                    send(self.tpv(epoch), self.sky(epoch))

        with self._lock:
            self._connections.add(conn)
        try:
            send(_VERSION)
            while not self._closing.is_set():
                # Short waits let a watching connection stream each new epoch between requests.
                readable, _, _ = select.select([conn], [], [], 0.05)
                if readable:
                    data = conn.recv(4096)
                    if not data:
                        return
                    stream()  # as gpsd: a report made before a request goes out before its answer
                    pending += data
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        if line.strip():
                            self.requests += 1
                            send(*self._answer(line.decode("ascii", "replace").strip(), watch))
                    pending = pending[-4096:]
                stream()
        except OSError:
            return  # the client went away
        finally:
            with self._lock:
                self._connections.discard(conn)

    def _answer(self, request: str, watch: dict[str, Any]) -> list[dict[str, Any]]:
        command, _, argument = request.rstrip(";").partition("=")
        if command == "?VERSION":
            return [_VERSION]
        if command == "?DEVICES":
            return [self.devices()]
        if command == "?POLL":
            return [self.poll()]
        if command == "?WATCH":
            if argument:
                try:
                    changes = json.loads(argument)
                except ValueError:
                    return [{"class": "ERROR", "message": f"Invalid WATCH: {argument}"}]
                if isinstance(changes, dict):
                    watch.update({k: v for k, v in changes.items() if k in _WATCH_DEFAULT})
            return [self.devices(), {"class": "WATCH", **watch}]
        return [{"class": "ERROR", "message": f"Unrecognized request '{command.lstrip('?')}'"}]

    # ----- lifetime -----------------------------------------------------------------------

    def start(self) -> GpsdEmulator:
        """Starts serving on a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="gpsd-emu", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stops serving and closes the listening socket (clients see the connection end)."""
        self._closing.set()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> GpsdEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
