"""Stack lights: each station's light follows its machine's state, set from the cloud.

The rule a shop floor reads at a glance (docs/status.md):

| Machine                                   | Light          |
|-------------------------------------------|----------------|
| RUNNING                                   | green          |
| STOPPED, reason not given yet (UNEXPLAINED) | red, blinking: "press a stop-reason button" |
| STOPPED for breakdown, quality or material shortage | red   |
| STOPPED for changeover, maintenance or other | amber       |
| IDLE (no job allocated)                   | off            |

Commands go to the agent that serves the station (its `command` channel; the agent drives the
pins, or forwards to the firmware node of that station). A light is sent only when it changes,
and every station's current light is sent again when its agent comes online, so a restarted
agent never shows a stale light.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Final

from contract import AgentPath, StackLightCommand
from taktline.clock import Clock, SystemClock, utc_iso

__all__ = ["StackLights", "light_for"]

log = logging.getLogger(__name__)

_RED_REASONS: Final = frozenset({"breakdown", "quality", "material_shortage"})


def light_for(state: str, reason: str | None) -> tuple[str, bool]:
    """(colour, blink) for a machine state (`RUNNING`, `IDLE`, `STOPPED`) and stop reason."""
    state = state.upper()
    if state == "RUNNING":
        return "green", False
    if state == "STOPPED":
        if reason is None or reason.lower() == "unexplained":
            return "red", True
        return ("red", False) if reason in _RED_REASONS else ("amber", False)
    return "off", False


class StackLights:
    """Keeps every station's light in step with its machine; thread-safe."""

    def __init__(
        self,
        publish: Callable[[str, bytes], None],
        path_of_station: Callable[[str], AgentPath | None],
        *,
        clock: Clock | None = None,
    ) -> None:
        self._publish = publish
        self._path_of = path_of_station
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._lights: dict[str, tuple[str, bool]] = {}
        self.sent = 0

    def light(self, station: str) -> tuple[str, bool] | None:
        """The light last set for `station`."""
        with self._lock:
            return self._lights.get(station)

    def update(self, station: str, state: str, reason: str | None) -> bool:
        """Sets the station's light for its machine state; sends only a change. Returns sent."""
        wanted = light_for(state, reason)
        with self._lock:
            if self._lights.get(station) == wanted:
                return False
            self._lights[station] = wanted
        return self._send(station, wanted)

    def agent_online(self, agent: str) -> int:
        """Sends every light of the stations `agent` serves again; returns how many."""
        with self._lock:
            lights = dict(self._lights)
        count = 0
        for station, wanted in sorted(lights.items()):
            path = self._path_of(station)
            if path is not None and path.agent == agent and self._send(station, wanted):
                count += 1
        return count

    def _send(self, station: str, wanted: tuple[str, bool]) -> bool:
        path = self._path_of(station)
        if path is None:
            log.warning("no agent is registered for station %s: its light stays as it is", station)
            return False
        command = StackLightCommand(
            id=secrets.token_hex(8),
            station=station,
            colour=wanted[0],
            blink=wanted[1],
            time=utc_iso(self._clock.now()),
        )
        self._publish(path.command, command.encode())
        self.sent += 1
        return True
