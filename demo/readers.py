"""The demo's badge readers: emulated MFRC522 chips driven by the real `mfrc522` package code.

Each demo agent gets an emulated Pi (`hardware.factory.EmulatedHardware`) with one MFRC522 per
station on its own chip select; a poller thread per agent runs `agent.rfid.RfidReader` over them,
exactly as on a Pi, and records each tag entering a field as a `badge.read`. The simulation taps
a badge by putting a tag into the chip's field for a moment.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from agent.recorder import EventRecorder
from agent.rfid import RfidReader
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import MFRC522Chip, Tag
from taktline.clock import Clock

__all__ = ["BadgeReaders"]

log = logging.getLogger(__name__)

#: (SPI device, BCM reset pin) of the first and second reader on a Pi's SPI0.
_WIRING = ((0, 25), (1, 24))


class BadgeReaders:
    """One emulated Pi's badge readers and the thread that polls them; a context manager."""

    def __init__(self, name: str, recorders: dict[str, EventRecorder], clock: Clock) -> None:
        if len(recorders) > len(_WIRING):
            raise ValueError(f"{name}: at most {len(_WIRING)} readers on one SPI bus")
        self.name = name
        self.hardware = EmulatedHardware(clock)
        self._lock = threading.Lock()  # the chips' field is touched by two threads
        self._chips: dict[str, MFRC522Chip] = {}
        self._readers: list[tuple[RfidReader, EventRecorder]] = []
        for (station, recorder), (device, reset) in zip(recorders.items(), _WIRING, strict=False):
            self._chips[station] = self.hardware.add_mfrc522(0, device, reset_pin=reset)
            reader = RfidReader(
                self.hardware, 0, device, reset_pin=reset, clock=clock, name=f"{station}-badge"
            )
            self._readers.append((reader, recorder))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name=f"rfid-{name}", daemon=True)

    def tap(self, station: str, tag_id: str, hold_s: float = 0.6) -> None:
        """Holds a badge with UID `tag_id` (hex) at `station`'s reader for `hold_s` seconds."""
        tag = Tag(bytes.fromhex(tag_id))
        chip = self._chips[station]
        with self._lock:
            chip.add_tag(tag)
        timer = threading.Timer(hold_s, self._remove, (chip, tag))
        timer.daemon = True
        timer.start()

    def _remove(self, chip: MFRC522Chip, tag: Tag) -> None:
        with self._lock:
            chip.remove_tag(tag)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            for reader, recorder in self._readers:
                with self._lock:
                    tag = reader.poll()
                if tag is not None:
                    try:
                        recorder.badge_read(tag)
                    except Exception:  # a full outbox must not stop the reader thread
                        log.exception("%s: badge %s not recorded", self.name, tag)

    def start(self) -> BadgeReaders:
        """Starts polling."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops polling and releases the readers and the emulated Pi."""
        self._stop.set()
        self._thread.join(5)
        for reader, _ in self._readers:
            reader.close()
        self.hardware.close()

    def __enter__(self) -> BadgeReaders:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
