"""The lorry's GPS: positions from gpsd, read from gpsd's own reports, made safe to poll forever.

gpsd-py3 (`import gpsd`) is a thin client with traits that would hurt an unattended agent: one
module-level socket (two clients in a process share it), no timeout (a silent gpsd blocks the
caller forever), no reconnect (after gpsd restarts, every call fails), raw errors for normal
situations, and defaults for what a report lacks: a missing course becomes 0 (due north), a
missing speed 0 (standing). `GpsClient` uses the package's handshake (`connect`: VERSION, WATCH,
DEVICES) on a private copy of the module whose sockets carry a timeout, then reads gpsd's JSON
itself: it watches the report stream (`?WATCH={"json":true}`) and asks `?POLL;` on each read,
which answers after every report streamed before it. A key missing in a report is unknown, never
0. Receivers that send GGA before RMC make gpsd publish two reports a second, the first without
RMC's course and with a speed gpsd derived from position deltas; `ReportPicker` therefore keeps
the last report of each second (the most complete: gpsd adds each sentence's data to the
second's report) and takes a report at once only when it is complete (a position, a course and
a speed). "No receiver yet", "no report", "no fix" become a `Fix` with the explicit state
`"none"` (`receiver` says whether gpsd has a device); a gpsd that cannot be reached, times out or
hangs up is one `GpsdUnreachable` naming the address and the likely fix, and later reads
reconnect with a doubling backoff. The address comes from the lorry's config or the hardware
factory (`Hardware.gpsd_address()`); time from the injected clock.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import socket
from collections import deque
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any, Final

from agent.errors import AgentError
from contract.fields import TIME_RE
from contract.payloads import FIX_STATES
from taktline.clock import Clock, SystemClock

__all__ = [
    "Fix",
    "GpsClient",
    "GpsError",
    "GpsdUnreachable",
    "ReportPicker",
    "is_complete",
    "parse_address",
]

log = logging.getLogger(__name__)

#: gpsd's TPV `mode` -> the contract's fix state (0: no mode yet, 1: no fix).
_MODES: Final = {0: "none", 1: "none", 2: "2d", 3: "3d"}
#: Below this speed a receiver's course is noise: the heading is reported as unknown.
STILL_MPS: Final = 0.5
#: Asks gpsd for every report as JSON (gpsd-py3's own WATCH enables no report stream).
_WATCH: Final = '?WATCH={"enable":true,"json":true}\n'
#: How many seconds back a reading may reach for a report with RMC's data.
_SECONDS: Final = 3
#: Messages one read may take before the POLL answer (~5 a second at 1 Hz; a backlog is bounded).
_MAX_LINES: Final = 2000


class GpsError(AgentError):
    """Base of the errors of the GPS client."""


class GpsdUnreachable(GpsError, ConnectionError):
    """gpsd cannot be reached, did not answer in time, hung up, or spoke something else."""


@dataclass(frozen=True, slots=True)
class Fix:
    """One reading: the fix state and, with a fix, where the lorry is and how it moves.

    Attributes:
        fix: One of `contract.payloads.FIX_STATES`; `"none"` carries no position.
        lat: Degrees north (None without a fix).
        lon: Degrees east (None without a fix).
        speed_mps: Speed over ground, None when the report had none (unknown, not 0).
        heading_deg: Course over ground, 0-360; None when the report had none or the lorry is
            slower than `STILL_MPS` (a standing receiver's course is noise).
        time: The receiver's UTC time in the contract's format, if it sent a valid one.
        detail: Why there is no fix (empty with a fix).
        receiver: Whether gpsd has an active GPS receiver that reported (False: none opened yet,
            none unplugged, or no report from it yet).
    """

    fix: str
    lat: float | None = None
    lon: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    time: str | None = None
    detail: str = ""
    receiver: bool = True

    @property
    def has_fix(self) -> bool:
        """Whether the reading carries a position (`"2d"` or `"3d"`)."""
        return self.fix != "none"

    @property
    def is_usable(self) -> bool:
        """Whether a position can be recorded from it: a fix with a position and a known speed."""
        return self.has_fix and self.speed_mps is not None


def is_complete(report: dict[str, Any]) -> bool:
    """Whether a TPV report carries RMC's data: a fix, a position, a course and a speed."""
    return _mode(report) >= 2 and all(
        _finite(report.get(key)) for key in ("lat", "lon", "track", "speed")
    )


class ReportPicker:
    """Picks, from gpsd's TPV reports in the order they came, the one a reading should use.

    The reports of one second share gpsd's `time`, and the last of them is the most complete: a
    second's report is final when it is complete (`is_complete`) or has no fix, or when a report
    of a later second shows its second is over. `best` is the newest final report that can be
    trusted: a complete one, or one standing still without a course (a receiver leaves the
    course empty while standing). A second whose RMC never came (only GGA got through: no
    course, a derived speed) is passed over for the trusted report of the `_SECONDS` before it;
    without one (a GGA-only receiver) the newest final report is used, and a fix lost is taken
    at once. A report with a fix but no position (gpsd sends one as it opens a receiver) is
    ignored.
    """

    def __init__(self) -> None:
        self._finals: deque[dict[str, Any]] = deque(maxlen=_SECONDS)
        self._pending: dict[str, Any] | None = None

    @property
    def best(self) -> dict[str, Any] | None:
        """The report a reading should use (None before the first final one)."""
        if not self._finals:
            return None
        chosen: dict[str, Any] = self._finals[-1]
        report: dict[str, Any]
        for report in reversed(self._finals):
            if _mode(report) < 2:
                break  # never reach back past a lost fix
            if is_complete(report) or _standing(report):
                return report
        return chosen

    def add(self, report: dict[str, Any]) -> None:
        """One more TPV report, in gpsd's order."""
        no_position = _number(report, "lat") is None or _number(report, "lon") is None
        if _mode(report) >= 2 and no_position:
            return  # gpsd's odd report as it opens a receiver: a mode, no position yet
        pending = self._pending
        if pending is not None and pending.get("time") != report.get("time"):
            self._final(pending)  # its second is over: its last report is final
        self._pending = report
        if is_complete(report) or _mode(report) < 2:
            self._final(report)

    def _final(self, report: dict[str, Any]) -> None:
        finals = self._finals
        if finals and finals[-1].get("time") == report.get("time"):
            finals[-1] = report  # a later, fuller report of the same second
        else:
            finals.append(report)

    def clear(self) -> None:
        """Forgets every report (the receiver went away, or gpsd did)."""
        self._finals.clear()
        self._pending = None


def _standing(report: dict[str, Any]) -> bool:
    """A fix without a course, standing still (speed known and below `STILL_MPS`)."""
    speed = _number(report, "speed")
    return _mode(report) >= 2 and speed is not None and speed < STILL_MPS


def _mode(report: dict[str, Any]) -> int:
    mode = report.get("mode", 0)
    return mode if isinstance(mode, int) and not isinstance(mode, bool) else 0


def _number(report: dict[str, Any], key: str) -> float | None:
    """`report[key]` as a float; None when missing or not a finite number (unknown)."""
    value: Any = report.get(key)
    return float(value) if _finite(value) else None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _TimeoutSockets:
    """Stands in for the `socket` module inside a private gpsd-py3: sockets with a timeout."""

    AF_INET: Final = socket.AF_INET
    SOCK_STREAM: Final = socket.SOCK_STREAM

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def socket(self, family: int, kind: int) -> socket.socket:
        """A socket whose connect and reads fail after `timeout_s` instead of blocking."""
        sock = socket.socket(family, kind)
        sock.settimeout(self.timeout_s)
        return sock


def _private_gpsd(timeout_s: float) -> ModuleType:
    """A fresh copy of the installed `gpsd` module: its globals (socket, state) are ours alone."""
    spec = importlib.util.find_spec("gpsd")
    if spec is None or spec.loader is None:
        raise GpsError("the gpsd-py3 package is not installed (pip install gpsd-py3)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.socket = _TimeoutSockets(timeout_s)  # type: ignore[attr-defined]
    return module


class GpsClient:
    """Reads fixes from one gpsd; reconnects by itself after gpsd went away.

    Args:
        address: gpsd's host and port (from `Hardware.gpsd_address()`).
        clock: Times the reconnect backoff.
        timeout_s: How long a connect or an answer may take.
        backoff_s: First wait before reconnecting after a failure; doubles per failure.
        backoff_max_s: Longest wait between reconnect attempts.
    """

    def __init__(
        self,
        address: tuple[str, int],
        *,
        clock: Clock | None = None,
        timeout_s: float = 2.0,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.connects = 0
        self.failures = 0
        self._clock = clock or SystemClock()
        self._gpsd: ModuleType | None = None
        self._error: str | None = None
        self._delay_s = 0.0
        self._retry_at_ns = 0
        self._picker = ReportPicker()

    @property
    def where(self) -> str:
        """`gpsd at host:port`, for messages."""
        return f"gpsd at {self.address[0]}:{self.address[1]}"

    @property
    def is_connected(self) -> bool:
        """Whether a connection to gpsd is open now."""
        return self._gpsd is not None

    @property
    def error(self) -> str | None:
        """Why the last read failed to reach gpsd; None after a good read."""
        return self._error

    def read(self) -> Fix:
        """Asks gpsd for the latest fix, connecting first when needed.

        Raises:
            GpsdUnreachable: gpsd could not be reached or failed mid-answer, or a reconnect is
                not due yet after such a failure (the message says when it is).
        """
        if self._gpsd is None:
            now = self._clock.monotonic_ns()
            if now < self._retry_at_ns:
                wait = (self._retry_at_ns - now) / 1e9
                raise GpsdUnreachable(f"{self._error}; next attempt in {wait:.0f} s")
            self._connect()
        assert self._gpsd is not None
        try:
            poll = self._poll(self._gpsd)
        except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise self._fail(_why(exc)) from exc
        if not poll.get("active"):
            self._picker.clear()
            detail = f"{self.where} has no active GPS receiver"
            return self._ok(Fix("none", detail=detail, receiver=False))
        best = self._picker.best
        if best is None:  # gpsd has the device but no report from it yet
            detail = "no report from the GPS receiver yet"
            return self._ok(Fix("none", detail=detail, receiver=False))
        return self._ok(_to_fix(best))

    def _poll(self, module: ModuleType) -> dict[str, Any]:
        """Sends `?POLL;`; feeds the reports streamed before its answer to the picker."""
        stream: Any = module.gpsd_stream
        stream.write("?POLL;\n")
        stream.flush()
        for _ in range(_MAX_LINES):
            message: Any = json.loads(stream.readline())  # "" (gpsd hung up) fails here
            kind = message.get("class") if isinstance(message, dict) else None
            if kind == "TPV":
                self._picker.add(message)
            elif kind == "POLL":
                for report in message.get("tpv") or []:
                    if isinstance(report, dict):
                        self._picker.add(report)
                answer: dict[str, Any] = message
                return answer
            elif kind == "ERROR":
                raise ValueError(f"gpsd refused a request: {message.get('message')}")
        raise ValueError(f"no answer to ?POLL; within {_MAX_LINES} messages")

    def _connect(self) -> None:
        module = _private_gpsd(self.timeout_s)
        try:
            module.connect(*self.address)
        except ConnectionRefusedError as exc:
            _close_module(module)
            why = "connection refused: is gpsd running? (systemctl status gpsd)"
            raise self._fail(why) from exc
        except (OSError, ValueError, KeyError) as exc:
            _close_module(module)
            raise self._fail(_why(exc)) from exc
        except Exception as exc:  # a server that is not gpsd 3 ("Unexpected data ...")
            _close_module(module)
            raise self._fail(f"not a gpsd 3 server ({exc})") from exc
        try:  # the report stream: every TPV, not only the one a POLL finds
            module.gpsd_stream.write(_WATCH)
            module.gpsd_stream.flush()
        except OSError as exc:
            _close_module(module)
            raise self._fail(_why(exc)) from exc
        self._gpsd = module
        self._picker = ReportPicker()
        self.connects += 1
        devices = module.state.get("devices", {}).get("devices", [])
        log.info("connected to %s (%d GPS device(s))", self.where, len(devices))

    def _ok(self, fix: Fix) -> Fix:
        self._error = None
        self._delay_s = 0.0
        return fix

    def _fail(self, why: str) -> GpsdUnreachable:
        self.close()
        self.failures += 1
        self._delay_s = min(self.backoff_max_s, max(self.backoff_s, self._delay_s * 2))
        self._retry_at_ns = self._clock.monotonic_ns() + int(self._delay_s * 1e9)
        self._error = f"{self.where} unreachable: {why}"
        return GpsdUnreachable(self._error)

    def close(self) -> None:
        """Closes the connection; the next `read()` reconnects (subject to the backoff)."""
        module, self._gpsd = self._gpsd, None
        if module is not None:
            _close_module(module)

    def __enter__(self) -> GpsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _close_module(module: ModuleType) -> None:
    for name in ("gpsd_stream", "gpsd_socket"):
        thing: Any = getattr(module, name, None)
        if thing is not None:
            with contextlib.suppress(OSError):  # already broken: nothing left to release
                thing.close()
            setattr(module, name, None)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time (gpsd hung or the network is down)"
    if isinstance(exc, json.JSONDecodeError) and not exc.doc:
        return "gpsd closed the connection (restarted or stopped)"
    if isinstance(exc, json.JSONDecodeError):
        return f"not gpsd's JSON protocol: {exc.doc[:60]!r}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _to_fix(report: dict[str, Any]) -> Fix:
    """A TPV report as a `Fix`: a key the report lacks is unknown (None), never 0."""
    state = _MODES.get(_mode(report), "none")
    assert state in FIX_STATES
    if state == "none":
        return Fix("none", detail="the receiver has no fix (too few satellites in view)")
    lat, lon = _number(report, "lat"), _number(report, "lon")
    if lat is None or lon is None:
        return Fix("none", detail="the receiver reported a fix without a position")
    speed = _number(report, "speed")
    speed = None if speed is None else max(0.0, speed)
    track = _number(report, "track")
    moving = speed is not None and speed >= STILL_MPS
    heading = track % 360 if moving and track is not None else None
    raw_time = report.get("time")
    time = raw_time if isinstance(raw_time, str) and TIME_RE.match(raw_time) else None
    return Fix(
        state,
        lat=lat,
        lon=lon,
        speed_mps=speed,
        heading_deg=heading,
        time=time,
    )


def parse_address(text: str) -> tuple[str, int]:
    """`"host:port"` (or `"[v6 address]:port"`) as (host, port).

    Raises:
        ValueError: Not host:port with a port from 1 to 65535 (the message says which).
    """
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f'{text!r} is not host:port (e.g. "127.0.0.1:2947")')
    return host, int(port)
