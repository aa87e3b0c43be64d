"""Firmware reader nodes serving a station: the serial link opened, watched, and given commands.

A station too far from its Pi, or with more readers than the Pi's SPI bus carries, is served by
a Pico-class node on USB serial (`firmware/`, `docs/serial-link.md`). In the agent's config the
station names its node: `node = { id = "node-crimp-03", port = "/dev/ttyACM0" }`. The node is
thereby registered to this agent and to that station: its reads become events that keep the
node's own identity (source = node id, the node's per-boot instance and seq) and carry the
station; a node that is not registered gets no acknowledgements, so its reads wait in its ring
buffer until it is plugged into the agent it belongs to.

The node says HELLO every second. When nothing has come from it for `silence_s`, the link records
one `node_lost` alarm (cable pulled, node dead) and one `node_restored` when frames flow again;
the rest of the station keeps working. Stack-light commands for the station go to the node (a
steady colour: the node's light has no blink; a blinking command is shown steady).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from agent.config import check_keys, identifier, integer, positive
from agent.errors import ConfigError
from agent.serial_link import SerialLink

if TYPE_CHECKING:
    from agent.recorder import EventRecorder
    from agent.runtime import Agent
    from hardware.factory import Hardware

__all__ = ["NodeConfig", "StationNode", "parse_node"]

log = logging.getLogger(__name__)

_NODE_KEYS: Final = frozenset({"id", "port", "baudrate", "silence_s"})


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The firmware node serving a station, and where it is plugged in."""

    id: str
    port: str
    baudrate: int = 115200
    silence_s: float = 10.0


def parse_node(raw: Any, where: str) -> NodeConfig:
    """Checks a station's `node = { id = ..., port = ... }` table."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f'{where}: node must be a table, e.g. node = {{ id = "node-crimp-03", '
            'port = "/dev/ttyACM0" }'
        )
    check_keys(raw, _NODE_KEYS, where)
    port = raw.get("port")
    if not isinstance(port, str) or not port:
        raise ConfigError(
            f'{where}: port must name the node\'s serial device, e.g. port = "/dev/ttyACM0"'
        )
    return NodeConfig(
        id=identifier(raw, "id", where),
        port=port,
        baudrate=integer(raw, "baudrate", 115200, where, 1200, 4_000_000),
        silence_s=positive(raw, "silence_s", 10.0, where),
    )


class StationNode:
    """The open link to one station's node; a context manager (closing stops the link)."""

    def __init__(self, config: NodeConfig, station: str, agent: Agent, hardware: Hardware) -> None:
        self.config = config
        self.station = station
        self._alarms: EventRecorder = agent.recorder(config.id, station)
        self._clock = agent.clock
        port = hardware.serial_port(config.port, baudrate=config.baudrate, timeout=0.05)
        self.link = SerialLink(
            port, agent.outbox, agent=agent.config.agent, stations={config.id: station},
            clock=agent.clock,
        )  # fmt: skip
        self.link.start()
        self.is_lost = False
        self._frames = 0
        self._last_frame_ns = agent.clock.monotonic_ns()

    def watch(self) -> None:
        """Raises `node_lost` after `silence_s` without a frame, `node_restored` when back."""
        now = self._clock.monotonic_ns()
        frames = self.link.stats.frames
        if frames != self._frames:
            self._frames, self._last_frame_ns = frames, now
            if self.is_lost:
                self.is_lost = False
                log.warning("%s: node %s is back", self.station, self.config.id)
                self._alarms.alarm(
                    "node_restored", f"node {self.config.id} on {self.config.port} is back"
                )
        elif not self.is_lost and now - self._last_frame_ns > self.config.silence_s * 1e9:
            self.is_lost = True
            detail = (
                f"node {self.config.id} on {self.config.port} silent for "
                f"{self.config.silence_s:g} s: check its USB cable and power"
            )
            log.warning("%s: %s", self.station, detail)
            self._alarms.alarm("node_lost", detail)

    def set_light(self, colour: str) -> int:
        """Sends a stack-light colour (`off` switches it off); returns the command id."""
        return self.link.send_command({colour: True} if colour != "off" else 0)

    def close(self) -> None:
        """Stops the link and closes its port."""
        self.link.stop()

    def __enter__(self) -> StationNode:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
