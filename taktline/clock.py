"""The one injectable clock.

Agent, cloud and scheduler take time from a `Clock` so that the demo can run a shift in minutes
and tests are deterministic. Wall time is always UTC and timezone-aware. Monotonic time is
reported together with the kernel's boot id: two monotonic readings can be compared only when
their boot ids match, which is how the cloud corrects a Pi's wrong wall clock (see
`contract.envelope`).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "FakeClock",
    "ScaledClock",
    "SystemClock",
    "boot_id",
    "epoch_us",
    "moment_arg",
    "parse_moment",
    "utc_iso",
    "utc_iso_us",
]

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
_PROCESS_BOOT_ID = uuid.uuid4().hex


def boot_id() -> str:
    """Returns the kernel's boot id (new at every boot), or a per-process id where none exists."""
    try:
        return _BOOT_ID_PATH.read_text().strip().replace("-", "")
    except OSError:
        return _PROCESS_BOOT_ID


def parse_moment(text: str, *, naive_is_utc: bool = False) -> datetime:
    """A moment people or programs typed (ISO 8601, `Z` for UTC), as an aware UTC datetime.

    Without an offset it is refused (ValueError naming an example), unless `naive_is_utc` (the
    scheduler's CLI reads those as UTC, as its help says). Every command and route that takes a
    time parses it here, so they refuse the same things in the same words.
    """
    with contextlib.suppress(ValueError, OverflowError):  # refused below, in words
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None and naive_is_utc:
            moment = moment.replace(tzinfo=UTC)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    if naive_is_utc:
        raise ValueError(f"{text!r} is not an ISO 8601 time such as 2026-03-23T05:00:00Z")
    raise ValueError(f"{text!r} is not a time with its offset, such as 2026-12-06T10:14:00+01:00")


def moment_arg(text: str) -> datetime:
    """`parse_moment` as an argparse `type`: a bad time is a one-line usage error."""
    import argparse

    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def utc_iso(moment: datetime) -> str:
    """Formats an aware datetime as the contract's UTC timestamp (microseconds, `Z` suffix)."""
    # isoformat is several times faster than strftime, and ingest formats every event's time.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


_SECOND_TEXT: dict[int, str] = {}


def utc_iso_us(epoch_us: int) -> str:
    """`utc_iso` of a time given in integer microseconds since the epoch.

    Ingest formats one time per event and most of a batch falls in the same second, so the
    `YYYY-MM-DDTHH:MM:SS` part is cached per second (a small, bounded cache).
    """
    second, micro = divmod(epoch_us, 1_000_000)
    head = _SECOND_TEXT.get(second)
    if head is None:
        if len(_SECOND_TEXT) > 4096:
            _SECOND_TEXT.clear()
        head = _SECOND_TEXT[second] = datetime.fromtimestamp(second, UTC).isoformat()[:19]
    return f"{head}.{micro:06d}Z"


def epoch_us(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@runtime_checkable
class Clock(Protocol):
    """What every component asks for the time."""

    def now(self) -> datetime:
        """Current wall-clock time, timezone-aware UTC."""
        ...

    def monotonic_ns(self) -> int:
        """Monotonic nanoseconds; comparable only within one `boot`."""
        ...

    @property
    def boot(self) -> str:
        """Identifies the monotonic time base (the kernel's boot id for the real clock)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Waits `seconds` of this clock's time."""
        ...


class SystemClock:
    """The machine's own clock."""

    def __init__(self) -> None:
        self._boot = boot_id()

    def now(self) -> datetime:
        """Returns the current UTC time."""
        return datetime.now(UTC)

    def monotonic_ns(self) -> int:
        """Returns monotonic nanoseconds since an arbitrary origin."""
        return time.monotonic_ns()

    @property
    def boot(self) -> str:
        """Names the monotonic time base (changes at every boot)."""
        return self._boot

    def sleep(self, seconds: float) -> None:
        """Waits `seconds` of this clock's time."""
        time.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to; `sleep` advances it at once. For tests."""

    def __init__(self, start: datetime | None = None, boot: str = "fakeboot") -> None:
        self._now = start or datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
        self._mono = 0
        self._boot = boot
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Returns the current UTC time."""
        with self._lock:
            return self._now

    def monotonic_ns(self) -> int:
        """Returns monotonic nanoseconds since an arbitrary origin."""
        with self._lock:
            return self._mono

    @property
    def boot(self) -> str:
        """Names the monotonic time base (changes at every boot)."""
        return self._boot

    def advance(self, seconds: float) -> None:
        """Moves wall and monotonic time forward by `seconds`."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += int(seconds * 1e9)

    def set_wall(self, moment: datetime) -> None:
        """Steps the wall clock (as NTP would) without touching monotonic time."""
        with self._lock:
            self._now = moment

    def sleep(self, seconds: float) -> None:
        """Waits `seconds` of this clock's time."""
        self.advance(max(0.0, seconds))


class ScaledClock:
    """Plant time running `speed` times faster than real time from `start` (the demo's shift)."""

    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._start = start
        self._speed = speed
        self._t0 = time.monotonic_ns()
        # Scaled monotonic time is its own time base: never comparable with the kernel's.
        self._boot = f"scaled{uuid.uuid4().hex[:16]}"

    def now(self) -> datetime:
        """Returns the current UTC time."""
        return self._start + timedelta(microseconds=self.monotonic_ns() / 1000)

    def monotonic_ns(self) -> int:
        """Returns monotonic nanoseconds since an arbitrary origin."""
        return int((time.monotonic_ns() - self._t0) * self._speed)

    @property
    def boot(self) -> str:
        """Names the monotonic time base (changes at every boot)."""
        return self._boot

    def sleep(self, seconds: float) -> None:
        """Waits `seconds` of this clock's time."""
        time.sleep(max(0.0, seconds) / self._speed)
