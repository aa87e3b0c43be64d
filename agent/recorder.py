"""The device layer's one way in: record a fact from a reader or input as a durable event.

Role logic (machine station, gate, rest zone, lorry) calls these methods; each returns only after
the event is committed to the outbox, so whatever the caller was told succeeded survives a
`kill -9` or a power cut. Tag ids are checked against the contract here, at the edge, so a driver
bug fails at the station rather than in the cloud's dead-letter table.
"""

from __future__ import annotations

from agent.outbox import Outbox
from contract import Event, validate_tag_id

__all__ = ["EventRecorder"]


class EventRecorder:
    """Records the events of one source device (a reader, an input board) at one station."""

    def __init__(self, outbox: Outbox, source: str, station: str | None = None) -> None:
        self.outbox = outbox
        self.source = source
        self.station = station

    def badge_read(self, tag: str) -> Event:
        """An operator's badge was presented."""
        return self._record("badge.read", {"tag": validate_tag_id(tag)})

    def tool_read(self, tag: str) -> Event:
        """A tool's tag was read (at a machine or a crib gate)."""
        return self._record("tool.read", {"tag": validate_tag_id(tag)})

    def run_signal(self, on: bool) -> Event:
        """The machine's run signal changed (True: running)."""
        return self._record("machine.signal", {"signal": "run", "on": bool(on)})

    def cycles(self, count: int = 1) -> Event:
        """The machine completed `count` cycles since the last report."""
        return self._record("machine.signal", {"signal": "cycle", "count": int(count)})

    def _record(self, event_type: str, payload: dict[str, object]) -> Event:
        return self.outbox.append(event_type, payload, source=self.source, station=self.station)
