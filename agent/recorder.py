"""The device layer's one way in: record a fact from a reader or input as a durable event.

Role logic (machine station, gate, rest zone, lorry) calls these methods; each returns only after
the event is committed to the outbox, so whatever the caller was told succeeded survives a
`kill -9` or a power cut. Tag ids are checked against the contract here, at the edge, so a driver
bug fails at the station rather than in the cloud's dead-letter table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agent.outbox import Outbox
from contract import Event, validate_tag_id

__all__ = ["EventRecorder"]


class EventRecorder:
    """Records the events of one source device (a reader, an input board) at one station."""

    def __init__(
        self,
        outbox: Outbox,
        source: str,
        station: str | None = None,
        listeners: Sequence[Callable[[Event], None]] = (),
    ) -> None:
        self.outbox = outbox
        self.source = source
        self.station = station
        #: Told of every event once it is committed (the agent's edge rules); a list shared
        #: with the agent, so listeners added later are told too.
        self.listeners = listeners

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

    def good(self, count: int = 1) -> Event:
        """`count` good parts were counted since the last report."""
        return self._record("machine.signal", {"signal": "good", "count": int(count)})

    def scrap(self, count: int = 1) -> Event:
        """`count` scrap parts were counted since the last report."""
        return self._record("machine.signal", {"signal": "scrap", "count": int(count)})

    def stop_reason(self, reason: str) -> Event:
        """An operator gave the reason for the current stop (a `STOP_REASONS` value)."""
        return self._record("machine.stop_reason", {"reason": reason})

    def job_ticket(self, tag: str, action: str) -> Event:
        """A job ticket's tag was read to `"start"` or `"end"` a job step."""
        return self._record("job.ticket", {"tag": validate_tag_id(tag), "action": action})

    def gate_passage(self, tag: str, direction: str, readers: list[str]) -> Event:
        """A tool passed the crib gate (`"in"`, `"out"`) or one reader alone saw it."""
        payload = {"tag": validate_tag_id(tag), "direction": direction, "readers": list(readers)}
        return self._record("tool.gate", payload)

    def rest_read(self, tag: str) -> Event:
        """An operator's badge was read at a rest-zone reader."""
        return self._record("rest.read", {"tag": validate_tag_id(tag)})

    def position(
        self,
        lat: float,
        lon: float,
        speed_mps: float,
        heading_deg: float | None,
        fix: str,
        gps_time: str | None,
    ) -> Event:
        """A GPS position (fix `"2d"` or `"3d"`)."""
        payload = {
            "lat": lat,
            "lon": lon,
            "speed_mps": speed_mps,
            "heading_deg": heading_deg,
            "fix": fix,
            "gps_time": gps_time,
        }
        return self._record("gps.position", payload)

    def fix_changed(self, fix: str, detail: str = "") -> Event:
        """The GPS fix changed; `"none"` is the explicit no-fix state."""
        return self._record("gps.fix", {"fix": fix, "detail": detail})

    def package_read(
        self, tag: str, stage: str, delivery: str | None, manifest: dict[str, Any] | None
    ) -> Event:
        """A package tag at `"load"` or `"unload"`, with its manifest line (None: not listed)."""
        payload = {
            "tag": validate_tag_id(tag),
            "stage": stage,
            "delivery": delivery,
            "manifest": manifest,
        }
        return self._record("package.read", payload)

    def kanban_empty(self, card: str) -> Event:
        """An empty container's kanban card was tapped (line side or supermarket board)."""
        return self._record("kanban.empty", {"card": validate_tag_id(card)})

    def kanban_card(self, card: str, state: str) -> Event:
        """A kanban card moved on: `in_transit`, `at_supplier` or `full`."""
        return self._record("kanban.card", {"card": validate_tag_id(card), "state": state})

    def bin_level(self, payload: dict[str, Any]) -> Event:
        """A smart bin crossed its threshold (`agent.bins.SmartBin.poll`'s payload)."""
        return self._record("bin.level", payload)

    def rule_fired(self, rule: str, trigger: str, actions: list[str]) -> Event:
        """An edge rule acted (`agent.rules`)."""
        return self._record("rule.fired", {"rule": rule, "trigger": trigger, "actions": actions})

    def alarm(self, alarm: str, detail: str) -> Event:
        """An `agent.alarm` from this source (a reader lost or back, gpsd gone, ...)."""
        return self._record("agent.alarm", {"alarm": alarm, "detail": detail[:1000]})

    def _record(self, event_type: str, payload: dict[str, Any]) -> Event:
        event = self.outbox.append(event_type, payload, source=self.source, station=self.station)
        for listener in self.listeners:
            listener(event)
        return event
