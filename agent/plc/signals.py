"""What a PLC source has read and the station has not yet recorded: transitions, counts, reasons.

A PLC gives absolute values (a run bit, counter registers, a stop-reason code); the station's
contract wants what GPIO gives: run transitions, cycle/good/scrap counts since the last event and
stop reasons (`machine.signal`, `machine.stop_reason`). `SignalState` turns the one into the
other. The source's reader thread calls `update()` with each value it reads; the station's poll
calls `record()`, which takes a fact off the state only once its event is stored (an append that
fails, a full outbox, leaves it for the next poll: no count is lost).

Counters wrap: a 16-bit counter at 65,535 goes to 0 and a 32-bit one at 4,294,967,295; the delta
is taken modulo 2^bits. A counter that goes *back* by more than half its range is taken as reset
(a PLC program download, a cleared counter): its new value is counted from zero and a
`plc_counter_reset` alarm says so. The last value read and the counts not yet recorded are kept
in a small JSON file (beside the outbox), so an agent restart neither loses the counts made while
it was down nor counts again what it had recorded; a PLC restart that keeps its counters (they
are retained in any PLC) costs nothing either.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from agent.recorder import EventRecorder

__all__ = ["COUNTERS", "SIGNALS", "CounterState", "SignalState", "counter_delta"]

log = logging.getLogger(__name__)

COUNTERS: Final = ("cycle", "good", "scrap")
SIGNALS: Final = ("run", *COUNTERS, "stop_reason")
_RECORD: Final = {"cycle": "cycles", "good": "good", "scrap": "scrap"}


def counter_delta(last: int, new: int, bits: int) -> tuple[int, bool]:
    """Counts from `last` to `new` on a `bits`-wide counter; (delta, reset).

    A step back by more than half the range is a reset: the delta is `new` (counted from zero).
    """
    span = 1 << bits
    delta = (new - last) % span
    if delta >= span // 2:
        return new % span, True
    return delta, False


@dataclass(slots=True)
class CounterState:
    """One counter: the last raw value read and the counts read but not yet recorded."""

    bits: int
    last: int | None = None
    pending: int = 0


class SignalState:
    """The facts read from one PLC and not yet recorded (thread-safe).

    Args:
        source: The source's name (log lines, alarms).
        stop_codes: PLC stop-reason code -> contract reason; 0 and unlisted codes give none.
        state_file: Where the counters' last values and pending counts are kept; None: nowhere.
    """

    def __init__(
        self, source: str, stop_codes: dict[int, str], state_file: Path | None = None
    ) -> None:
        self.source = source
        self.stop_codes = dict(stop_codes)
        self.state_file = state_file
        self.counters: dict[str, CounterState] = {}
        self.run: bool | None = None
        self.stop_code: int | None = None
        self._lock = threading.Lock()
        self._facts: deque[tuple[str, Any]] = deque(maxlen=10_000)
        self._saved: dict[str, Any] = {}
        self._load()

    def _load(self) -> None:
        if self.state_file is None:
            return
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.error("%s: counter state %s unreadable (%s)", self.source, self.state_file, exc)
            return
        if isinstance(data, dict):
            mine = data.get(self.source)
            self._saved = mine if isinstance(mine, dict) else {}

    def _counter(self, name: str, bits: int) -> CounterState:
        counter = self.counters.get(name)
        if counter is None or counter.bits != bits:
            saved = self._saved.get(name)
            counter = CounterState(bits)
            if isinstance(saved, dict) and saved.get("bits") == bits:
                last, pending = saved.get("last"), saved.get("pending", 0)
                counter.last = last if isinstance(last, int) else None
                counter.pending = pending if isinstance(pending, int) and pending > 0 else 0
            self.counters[name] = counter
        return counter

    # ----- the reader's side --------------------------------------------------------------

    def update_run(self, on: bool) -> None:
        """The run bit read now; a change (or the first read) becomes a transition."""
        with self._lock:
            if on != self.run:
                self.run = on
                self._facts.append(("run", on))

    def update_counter(self, name: str, value: int, bits: int) -> None:
        """A counter's raw value read now, on a `bits`-wide register."""
        with self._lock:
            counter = self._counter(name, bits)
            value %= 1 << bits
            if counter.last is not None:
                delta, reset = counter_delta(counter.last, value, bits)
                if reset:
                    self._facts.append(
                        ("reset", f"{self.source}: {name} went from {counter.last} to {value}")
                    )
                counter.pending += delta
            counter.last = value
            self._save_locked()

    def update_stop_code(self, code: int) -> None:
        """The stop-reason code read now; a change to a listed code becomes a stop reason."""
        with self._lock:
            if code == self.stop_code:
                return
            first = self.stop_code is None
            self.stop_code = code
            reason = self.stop_codes.get(code)
            if reason is not None and not first:
                self._facts.append(("stop_reason", reason))
            elif code != 0 and reason is None:
                log.warning("%s: stop-reason code %d is not in stop_codes", self.source, code)

    # ----- the station's side ---------------------------------------------------------------

    @property
    def pending(self) -> dict[str, int]:
        """Counts read and not yet recorded, per counter."""
        with self._lock:
            return {name: c.pending for name, c in self.counters.items() if c.pending}

    def record(self, io: EventRecorder, alarms: EventRecorder) -> int:
        """Records what was read (each fact removed once its event is stored); returns events.

        Args:
            io: Records the machine's signals (source: the PLC).
            alarms: Records `plc_counter_reset` alarms.
        """
        events = 0
        while True:
            with self._lock:
                if not self._facts:
                    break
                kind, value = self._facts[0]
            if kind == "run":
                io.run_signal(value)
            elif kind == "stop_reason":
                io.stop_reason(value)
            else:
                log.warning("counter reset: %s", value)
                alarms.alarm("plc_counter_reset", value)
            with self._lock:
                self._facts.popleft()
            events += 1
        for name in COUNTERS:
            with self._lock:
                counter = self.counters.get(name)
                count = counter.pending if counter is not None else 0
            if count:
                getattr(io, _RECORD[name])(count)
                with self._lock:
                    if counter is not None:
                        counter.pending -= count
                        self._save_locked()
                events += 1
        return events

    def _save_locked(self) -> None:
        if self.state_file is None:
            return
        mine = {n: {"bits": c.bits, "last": c.last, "pending": c.pending} for n, c in
                self.counters.items()}  # fmt: skip
        if mine == self._saved:
            return
        try:
            data = json.loads(self.state_file.read_text())
            data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            data = {}
        data[self.source] = mine
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        with open(temporary, "w") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.state_file)
        self._saved = mine
