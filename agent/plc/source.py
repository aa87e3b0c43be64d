"""The running part every PLC source shares: a supervised reader, a watchdog, the recording.

A source reads its PLC on its own thread (a `taktline.supervise.Worker`: an exception — the
PLC gone, a refused request, a timeout — ends the session, and the worker connects again after a
back-off, exponential with jitter, capped at `reconnect_max_s`). Every good answer from the PLC
marks it alive. The station's poll calls `watch()`, which records one `plc_lost` alarm when the
PLC has not answered for `keepalive_s` (a stalled PLC, a pulled cable, a server restart) and one
`plc_restored` when it answers again, and `record()`, which turns what was read into events
(`agent.plc.signals.SignalState`: each fact taken off only once its event is stored).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from agent.plc.config import PlcConfig
from agent.plc.signals import SignalState
from taktline.supervise import Worker

if TYPE_CHECKING:
    from agent.runtime import Agent

__all__ = ["PlcSource"]

log = logging.getLogger(__name__)


class PlcSource(ABC):
    """One PLC feeding one station; subclasses implement `session()`.

    Args:
        config: The station's `plc` table.
        station: The station's id (the events carry it).
        agent: The running agent (its outbox and clock).
        state_file: Where counter baselines are kept (see `SignalState`).
    """

    def __init__(self, config: PlcConfig, station: str, agent: Agent, state_file: Path) -> None:
        self.config = config
        self.station = station
        self.io = agent.recorder(config.id, station)
        self.state = SignalState(config.id, dict(config.stop_codes), state_file)
        self._clock = agent.clock
        self._last_ok_ns = self._clock.monotonic_ns()
        self.is_lost = False
        self.answers = 0
        self.worker = Worker(
            f"plc-{config.id}", self.session, backoff_s=0.2, backoff_max_s=config.reconnect_max_s
        )

    @abstractmethod
    def session(self, worker: Worker) -> None:
        """Connects, reads until stopped; raises when the PLC fails (subclasses)."""

    def alive(self) -> None:
        """The PLC answered (called by the reader)."""
        self.answers += 1
        self._last_ok_ns = self._clock.monotonic_ns()

    def start(self) -> Self:
        """Starts the reader thread."""
        self.worker.start()
        return self

    def watch(self) -> None:
        """Raises `plc_lost` after `keepalive_s` without an answer, `plc_restored` when back."""
        silent_s = (self._clock.monotonic_ns() - self._last_ok_ns) / 1e9
        if self.is_lost and silent_s < self.config.keepalive_s:
            self.is_lost = False
            log.warning("%s: PLC %s answers again", self.station, self.config.id)
            self.io.alarm("plc_restored", f"PLC {self.config.id} at {self.config.url} answers")
        elif not self.is_lost and silent_s >= self.config.keepalive_s:
            self.is_lost = True
            detail = (
                f"PLC {self.config.id} at {self.config.url} silent for {silent_s:.1f} s "
                f"(keepalive_s {self.config.keepalive_s:g}); last error: "
                f"{self.worker.last_error or 'none'}"
            )
            log.warning("%s: %s", self.station, detail)
            self.io.alarm("plc_lost", detail)

    def record(self) -> int:
        """Records what was read and not yet recorded; returns the number of events."""
        return self.state.record(self.io, self.io)

    def close(self) -> None:
        """Stops the reader."""
        self.worker.stop(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
