"""The lorry's GPS: positions from gpsd through the gpsd-py3 package, made safe to poll forever.

gpsd-py3 (`import gpsd`) is a thin client with traits that would hurt an unattended agent: one
module-level socket (two clients in a process share it), no timeout (a silent gpsd blocks the
caller forever), no reconnect (after gpsd restarts, every call fails), and raw errors for normal
situations (`IndexError` before the receiver's first report, `UserWarning` while no receiver is
active, `JSONDecodeError` when gpsd closes the socket). `GpsClient` keeps the package's own code
but gives each client a private copy of the module whose sockets carry a timeout, turns "no
report", "no receiver" and "no fix" into a `Fix` with the explicit state `"none"`, and turns a
gpsd that cannot be reached, times out or hangs up into one `GpsdUnreachable` naming the address
and the likely fix; it then reconnects on later reads with a doubling backoff. The gpsd address
comes from the hardware factory (`Hardware.gpsd_address()`); time from the injected clock.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import socket
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any, Final

from agent.errors import AgentError
from contract.fields import TIME_RE
from contract.payloads import FIX_STATES
from taktline.clock import Clock, SystemClock

__all__ = ["Fix", "GpsClient", "GpsError", "GpsdUnreachable"]

log = logging.getLogger(__name__)

#: gpsd's TPV `mode` -> the contract's fix state (0: no mode yet, 1: no fix).
_MODES: Final = {0: "none", 1: "none", 2: "2d", 3: "3d"}
#: Below this speed a receiver's course is noise: the heading is reported as unknown.
STILL_MPS: Final = 0.5


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
        speed_mps: Speed over ground (None without a fix).
        heading_deg: Course over ground, 0-360 (None without a fix or when standing still).
        time: The receiver's UTC time in the contract's format, if it sent a valid one.
        detail: Why there is no fix (empty with a fix).
    """

    fix: str
    lat: float | None = None
    lon: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    time: str | None = None
    detail: str = ""

    @property
    def has_fix(self) -> bool:
        """Whether the reading carries a position (`"2d"` or `"3d"`)."""
        return self.fix != "none"


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
            response = self._gpsd.get_current()
        except UserWarning:  # POLL says no receiver is active
            return self._ok(Fix("none", detail=f"{self.where} has no active GPS receiver"))
        except IndexError:  # no TPV or SKY report yet: the receiver has said nothing so far
            return self._ok(Fix("none", detail="no report from the GPS receiver yet"))
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise self._fail(_why(exc)) from exc
        except Exception as exc:  # gpsd-py3 raises bare Exception for an unexpected message
            raise self._fail(f"unexpected answer ({exc})") from exc
        return self._ok(_to_fix(response))

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
        self._gpsd = module
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


def _to_fix(response: Any) -> Fix:
    state = _MODES.get(int(response.mode), "none")
    assert state in FIX_STATES
    if state == "none":
        return Fix("none", detail="the receiver has no fix (too few satellites in view)")
    if response.lat == 0 and response.lon == 0:
        # gpsd-py3 fills a missing lat/lon with 0.0: a fix without a position (seen from gpsd
        # for the odd report right after a fix is gained) is no usable fix.
        return Fix("none", detail="the receiver reported a fix without a position")
    speed = max(0.0, float(response.hspeed))
    track = float(response.track)
    heading = track % 360 if speed >= STILL_MPS and math.isfinite(track) else None
    raw_time = response.time
    time = raw_time if isinstance(raw_time, str) and TIME_RE.match(raw_time) else None
    return Fix(
        state,
        lat=float(response.lat),
        lon=float(response.lon),
        speed_mps=speed,
        heading_deg=heading,
        time=time,
    )
