"""The demo's emulated Pis: MFRC522 chips on every configured reader, gpiozero mock pins.

Each demo agent gets an `EmulatedPi`: the hardware factory's `EmulatedHardware` with one emulated
MFRC522 on each reader's chip select and reset pin, and gpiozero's `MockFactory` for its inputs
and stack light; the lorry's Pi gets a GPS receiver behind the gpsd emulator (`DrivenReceiver`)
that reports wherever the simulated lorry is on its route. The agent's role runs on it exactly as
on a Pi (the real `mfrc522` package code, gpiozero devices, gpsd's protocol); the simulation acts
as the people, machines and lorry: it holds tags in a reader's field, drives the input pins and
moves the receiver.

The simulation's threads change a chip's field while the role's thread talks to the chip over
SPI; a lock around each SPI frame and each change of the field keeps the emulator's state whole,
as the real chip's state is whole between two frames.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from agent.config import AgentConfig
from agent.roles.readers import ReaderConfig
from hardware.factory import EmulatedHardware
from hardware.gpsd_emu import GpsdEmulator
from hardware.mfrc522_chip import MFRC522Chip, Tag
from hardware.nmea.make_logs import Epoch, route
from taktline.clock import Clock

__all__ = ["DrivenReceiver", "EmulatedPi"]


class DrivenReceiver(GpsdEmulator):
    """The lorry's receiver behind the gpsd emulator: it reports the epoch the lorry is at.

    The simulated lorry moves it (`move`) along `route` as it drives, stops or crawls; until
    moved it stands at the route's first epoch (the supplier's dock).
    """

    def __init__(self, epochs: Sequence[Epoch], clock: Clock) -> None:
        super().__init__(epochs, clock=clock)
        self.at = self.epochs[0]

    def move(self, epoch: Epoch) -> None:
        """Puts the lorry at `epoch` (its position, speed, course and fix)."""
        self.at = epoch

    def epoch_now(self) -> Epoch:
        """Where the lorry is now, stamped with the clock's time."""
        return replace(self.at, time=self.clock.now())


class _LockedChip:
    """An SPI target that clocks each frame into its chip under the Pi's lock."""

    def __init__(self, chip: MFRC522Chip, lock: threading.Lock) -> None:
        self.chip = chip
        self.lock = lock

    def transfer(self, frame: Sequence[int]) -> list[int]:
        """One chip-select frame."""
        with self.lock:
            return self.chip.transfer(frame)


def _readers(config: AgentConfig) -> tuple[ReaderConfig, ...]:
    if config.role == "lorry":
        reader = config.role_config.reader
        return () if reader is None else (reader,)
    readers: tuple[ReaderConfig, ...] = getattr(config.role_config, "readers", ())
    return readers


class EmulatedPi:
    """One demo agent's emulated Pi; a context manager that closes its hardware."""

    def __init__(self, config: AgentConfig, clock: Clock) -> None:
        self.name = config.agent
        self.hardware = EmulatedHardware(clock)
        self._lock = threading.Lock()
        self.chips: dict[str, MFRC522Chip] = {}
        self.gpsd: DrivenReceiver | None = None
        if config.role == "lorry":  # the lorry's receiver, in gpsd's JSON protocol
            self.gpsd = DrivenReceiver(route(), clock)
            self.gpsd.start()
            self.hardware.gpsd = self.gpsd.address
        for reader in _readers(config):
            chip = self.hardware.add_mfrc522(reader.bus, reader.device, reset_pin=reader.reset_pin)
            self.hardware.wiring.attach(reader.bus, reader.device, _LockedChip(chip, self._lock))
            self.chips[reader.name] = chip

    def tap(self, reader: str, tag_id: str, hold_s: float = 0.6) -> None:
        """Holds the tag with UID `tag_id` (hex) at `reader` for `hold_s` seconds."""
        tag = Tag(bytes.fromhex(tag_id))
        chip = self.chips[reader]
        with self._lock:
            chip.add_tag(tag)
        timer = threading.Timer(hold_s, self._remove, (chip, tag))
        timer.daemon = True
        timer.start()

    def _remove(self, chip: MFRC522Chip, tag: Tag) -> None:
        with self._lock:
            chip.remove_tag(tag)

    def pin(self, bcm: int) -> Any:
        """The gpiozero mock pin `bcm` (drive it with `drive_low()` / `drive_high()`)."""
        return self.hardware.pin_factory().pin(bcm)

    def close(self) -> None:
        """Closes the emulated hardware (mock pins included) and the GPS emulator."""
        if self.gpsd is not None:
            self.gpsd.close()
        self.hardware.close()

    def __enter__(self) -> EmulatedPi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
