"""The tool-crib gate role: two readers tell a tool going out of the crib from one coming back.

`[gate]` has a reader on the crib side (`[gate.crib]`) and one on the floor side
(`[gate.floor]`). A tag read by one and then by the other within `window_s` passed the gate:
crib then floor is `"out"` (issued), floor then crib is `"in"` (returned). A tag only one reader
saw within the window is reported as `"unpaired"` with that reader, never guessed; so are the
reads still waiting for their pair when the agent stops. Reads are time-stamped on the injected
clock; the two readers are polled in turn, so they must be far enough apart that a carried tool
takes longer than one poll (`poll_s`) from one field to the other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from agent.config import check_keys, identifier, positive
from agent.errors import ConfigError
from agent.recorder import EventRecorder
from agent.roles.base import PollingRole
from agent.roles.readers import ReaderConfig, WatchedReader, check_wiring, parse_reader
from taktline.clock import Clock

if TYPE_CHECKING:
    from agent.runtime import Agent
    from hardware.factory import Hardware

__all__ = ["SIDES", "GateConfig", "GateRole", "parse_gate", "start_gate"]

log = logging.getLogger(__name__)

SIDES: Final = ("crib", "floor")
_KEYS: Final = frozenset({"id", "window_s", *SIDES})


@dataclass(frozen=True, slots=True)
class GateConfig:
    """A crib gate: its id (the events' source), its two readers, the window."""

    id: str
    crib: ReaderConfig
    floor: ReaderConfig
    window_s: float = 10.0
    poll_s: float = 0.05

    @property
    def readers(self) -> tuple[ReaderConfig, ...]:
        """Both readers, crib side first."""
        return (self.crib, self.floor)


def parse_gate(section: dict[str, Any], where: str, base: Path) -> GateConfig:
    """Checks the `[gate]` section."""
    at = f"{where}: [gate]"
    if not section:
        raise ConfigError(
            f'{at} is missing; add [gate] with id = "crib-01", [gate.crib] and [gate.floor]'
        )
    check_keys(section, _KEYS, at)
    gate = identifier(section, "id", at)
    readers = {}
    for side in SIDES:
        if side not in section:
            raise ConfigError(
                f"{at}: missing [gate.{side}], the reader on the {side} side "
                "(e.g. device = 0, reset_pin = 25)"
            )
        readers[side] = parse_reader(section[side], f"{at}.{side}", default_name=f"{gate}-{side}")
    check_wiring(readers.values(), [], at)
    return GateConfig(
        id=gate,
        crib=readers["crib"],
        floor=readers["floor"],
        window_s=positive(section, "window_s", 10.0, at),
    )


class _Seen(NamedTuple):
    side: str
    reader: str
    at_ns: int


class GateRole(PollingRole):
    """Pairs the two readers' reads into `tool.gate` events (see the module doc)."""

    def __init__(self, agent: Agent, config: GateConfig, hardware: Hardware) -> None:
        super().__init__(f"gate-{config.id}", config.poll_s)
        self.config = config
        # No station: the gate is a place, not a machine (the cloud maps the source to it).
        self.passages: EventRecorder = agent.recorder(config.id)
        self._clock: Clock = hardware.clock
        self._window_ns = int(config.window_s * 1e9)
        self._waiting: dict[str, _Seen] = {}
        self.readers: dict[str, WatchedReader] = {}
        try:
            for side, reader in zip(SIDES, config.readers, strict=True):
                recorder = agent.recorder(reader.name)
                self.readers[side] = self.devices.enter_context(
                    WatchedReader(hardware, reader, recorder)
                )
        except BaseException:
            self.devices.close()
            raise

    @property
    def waiting(self) -> dict[str, str]:
        """Tags read by one side and waiting for the other: tag -> side."""
        return {tag: seen.side for tag, seen in self._waiting.items()}

    def poll(self) -> None:
        """Reports reads whose window ran out, then polls both readers once."""
        self._expire(self._clock.monotonic_ns())
        for side, reader in self.readers.items():
            tag = reader.poll()
            if tag is not None:
                self._read(side, reader.name, tag, self._clock.monotonic_ns())

    def _read(self, side: str, reader: str, tag: str, now: int) -> None:
        first = self._waiting.pop(tag, None)
        if first is None or first.side == side:
            # A first read, or the same side again: the window starts (again) from this read.
            self._waiting[tag] = _Seen(side, reader, now)
            return
        direction = "out" if first.side == "crib" else "in"
        log.info("%s: tool %s %s (%s then %s)", self.config.id, tag, direction, first.side, side)
        self.passages.gate_passage(tag, direction, [first.reader, reader])

    def _expire(self, now: int) -> None:
        for tag, seen in list(self._waiting.items()):
            if now - seen.at_ns > self._window_ns:
                self._unpaired(tag)

    def _unpaired(self, tag: str) -> None:
        seen = self._waiting.pop(tag)
        log.warning(
            "%s: tool %s seen only by the %s reader %s", self.config.id, tag, seen.side, seen.reader
        )
        self.passages.gate_passage(tag, "unpaired", [seen.reader])

    def finish(self) -> None:
        """Reports the reads still waiting for their pair as unpaired: nothing is dropped."""
        for tag in list(self._waiting):
            self._unpaired(tag)


def start_gate(agent: Agent, config: GateConfig, hardware: Hardware) -> GateRole:
    """Opens both readers and starts pairing their reads."""
    role = GateRole(agent, config, hardware)
    role.start()
    return role
