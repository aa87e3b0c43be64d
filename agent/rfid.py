"""RFID reader: the `mfrc522` package's own MFRC522 class, with its quirks handled.

`RfidReader` polls one MFRC522 on one SPI chip select and reports each tag once when it enters
the field, as a contract tag id (upper-case hex UID, 4 or 7 bytes, no cascade tag, no BCC). It
uses the package's register access, init, REQA, level-1 anticollision, SELECT and CRC coprocessor
code through a small subclass that fixes what would hurt a station:

- The package's IRQ wait (`MFRC522_ToCard`) misuses `~` and so ignores the timer IRQ: with no card
  each poll spins 2,000 SPI reads. The subclass stops at the timer IRQ, bounded by a count and a
  deadline on the injected clock.
- The package runs only cascade level 1 and reports its answer with the BCC byte as the id. The
  subclass adds the levels for 7-byte UIDs (NTAG, Ultralight) and bit-oriented anticollision
  when two tags answer at once; the reader strips cascade tags and BCCs (`contract.tags`).
- Each package instance adds a log handler to `mfrc522Logger` (duplicate lines per reader): the
  reader removes the handler the package just added.
- `Close_MFRC522` calls `GPIO.cleanup()` for every pin, which would cut the reset line of a
  second reader: the reader releases only its own SPI device and reset pin.
- The package's default reset pin (22 BOARD, but 15 in BCM, which is not the same pin) is never
  used: the reset pin is given in BCM numbering and translated if RPi.GPIO is in BOARD mode.
- On a Raspberry Pi 5, RPi.GPIO fails at import; install `rpi-lgpio`, a drop-in RPi.GPIO.

The reader is independent of the outbox: the station role turns `poll()` results or `when_tag`
callbacks into events. It takes its hardware (anything with `clock`, `gpio()` and
`mfrc522_class()`, such as `hardware.factory`'s factories) as an argument and never crashes on a
missing or failing reader: `error` says what is wrong and polling retries.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from agent.errors import AgentError
from contract.errors import InvalidTagId
from contract.tags import tag_id_from_cascade
from taktline.clock import Clock

__all__ = ["KNOWN_VERSIONS", "ReaderHardware", "RfidError", "RfidReader"]

log = logging.getLogger(__name__)

# VersionReg of MFRC522 v0.0/v1.0/v2.0 and of the FM17522 and other clones sold on RC522 boards.
KNOWN_VERSIONS = frozenset({0x12, 0x88, 0x89, 0x90, 0x91, 0x92, 0xB2})
_SEL = (0x93, 0x95, 0x97)
_PICC_HALT = 0x50
_COLL_ERR = 0x08
_TIMER_IRQ = 0x01
_GPIO_BCM = 11
_GPIO_BOARD = 10
_BCM_TO_BOARD = {
    2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16, 24: 18, 10: 19,
    9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 0: 27, 1: 28, 5: 29, 6: 31, 12: 32, 13: 33, 19: 35,
    16: 36, 26: 37, 20: 38, 21: 40,
}  # fmt: skip


class RfidError(AgentError):
    """An RFID reader could not be used as configured."""


class ReaderHardware(Protocol):
    """What the reader needs from the hardware factory."""

    @property
    def clock(self) -> Clock:
        """The clock for deadlines and presence timing."""
        ...

    def gpio(self) -> Any:
        """The RPi.GPIO module the package uses (real, rpi-lgpio or emulated)."""
        ...

    def mfrc522_class(self) -> type[Any]:
        """The package's `mfrc522.MFRC522` class, importable on this hardware."""
        ...


# ----- the subclass: methods added to the package's class --------------------------------------


def _to_card(self: Any, command: int, send: list[int]) -> tuple[int, list[int], int]:
    """The package's MFRC522_ToCard with an IRQ wait that honours the timer and is bounded."""
    back: list[int] = []
    back_len = 0
    irq_en = wait_irq = 0x00
    if command == self.PCD_AUTHENT:
        irq_en, wait_irq = 0x12, 0x10
    if command == self.PCD_TRANSCEIVE:
        irq_en, wait_irq = 0x77, 0x30
    self.Write_MFRC522(self.CommIEnReg, irq_en | 0x80)
    self.ClearBitMask(self.CommIrqReg, 0x80)
    self.SetBitMask(self.FIFOLevelReg, 0x80)
    self.Write_MFRC522(self.CommandReg, self.PCD_IDLE)
    for value in send:
        self.Write_MFRC522(self.FIFODataReg, value)
    self.Write_MFRC522(self.CommandReg, command)
    if command == self.PCD_TRANSCEIVE:
        self.SetBitMask(self.BitFramingReg, 0x80)
    clock: Clock = self.clock
    deadline = clock.monotonic_ns() + self.wait_ns
    irq = 0
    for _ in range(self.max_irq_polls):
        irq = self.Read_MFRC522(self.CommIrqReg)
        if irq & (wait_irq | _TIMER_IRQ) or clock.monotonic_ns() > deadline:
            break
    self.ClearBitMask(self.BitFramingReg, 0x80)
    self.last_error = 0
    self.last_coll = 0x20
    self.last_back = back
    self.last_bits = 0
    if not irq & wait_irq:
        self.last_status = self.MI_NOTAGERR  # timer ran out (or the bound): nobody answered
        return self.last_status, back, 0
    error = self.Read_MFRC522(self.ErrorReg)
    self.last_error = error
    if error & _COLL_ERR:
        self.last_coll = self.Read_MFRC522(self.CollReg)
    status = self.MI_OK if error & 0x1B == 0 else self.MI_ERR
    if command == self.PCD_TRANSCEIVE and (status == self.MI_OK or error & _COLL_ERR):
        count = self.Read_MFRC522(self.FIFOLevelReg)
        last_bits = self.Read_MFRC522(self.ControlReg) & 0x07
        back_len = (count - 1) * 8 + last_bits if last_bits and count else count * 8
        # Like the package: at most MAX_LEN bytes (READ leaves its two CRC bytes in the FIFO).
        back.extend(self.Read_MFRC522(self.FIFODataReg) for _ in range(min(count, self.MAX_LEN)))
    self.last_status, self.last_bits = status, back_len
    return status, back, back_len


def _pack(bits: list[int]) -> list[int]:
    out = [0] * ((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        out[index // 8] |= bit << (index % 8)
    return out


def _anticoll_level(self: Any, level: int) -> tuple[int, list[int]]:
    """Anticollision at cascade `level` (0-based), resolving collisions bit by bit.

    At each collision the branch with a 1 is taken; the other tags stay silent in READY and are
    found by the next REQA once this one is halted. Returns the package's (status, 5 bytes).
    """
    known: list[int] = []
    for _ in range(33):
        whole, extra = divmod(len(known), 8)
        self.Write_MFRC522(self.BitFramingReg, (extra << 4) | extra)
        frame = [_SEL[level], ((2 + whole) << 4) | extra, *_pack(known)]
        status, back, back_len = self.MFRC522_ToCard(self.PCD_TRANSCEIVE, frame)
        bits = [(byte >> k) & 1 for byte in back for k in range(8)][extra:back_len]
        if self.last_error & _COLL_ERR and not self.last_coll & 0x20:
            self.collisions += 1
            index = ((self.last_coll & 0x1F) or 32) - 1 - extra
            if index < 0 or len(known) + index >= 32:
                break
            known += [*bits[:index], 1]
            continue
        self.Write_MFRC522(self.BitFramingReg, 0x00)
        full = known + bits
        if status != self.MI_OK or len(full) != 40:
            return self.MI_ERR, []
        answer = _pack(full)
        ok = answer[0] ^ answer[1] ^ answer[2] ^ answer[3] == answer[4]
        return (self.MI_OK if ok else self.MI_ERR), answer
    self.Write_MFRC522(self.BitFramingReg, 0x00)
    return self.MI_ERR, []


def _select_level(self: Any, level: int, answer: list[int]) -> int:
    """The package's MFRC522_SelectTag for any cascade level."""
    self.Write_MFRC522(self.BitFramingReg, 0x00)
    frame = [_SEL[level], 0x70, *answer[:5]]
    frame += self.CalulateCRC(frame)
    status, back, back_len = self.MFRC522_ToCard(self.PCD_TRANSCEIVE, frame)
    return int(back[0]) if status == self.MI_OK and back_len == 24 else 0


def _halt(self: Any) -> None:
    """HLTA: sends the selected tag to HALT so the next REQA finds the others."""
    self.Write_MFRC522(self.BitFramingReg, 0x00)
    frame = [_PICC_HALT, 0x00]
    frame += self.CalulateCRC(frame)
    self.MFRC522_ToCard(self.PCD_TRANSCEIVE, frame)


def _driver_class(base: type[Any]) -> type[Any]:
    """The package's class with the fixes above, as a subclass (made per reader: cheap)."""
    return type(
        "TaktlineMFRC522",
        (base,),
        {
            "MFRC522_ToCard": _to_card,
            "MFRC522_AnticollLevel": _anticoll_level,
            "MFRC522_SelectTagLevel": _select_level,
            "MFRC522_Halt": _halt,
            "max_irq_polls": 600,
            "wait_ns": 40_000_000,
            "collisions": 0,
            "__module__": __name__,
        },
    )


# ----- the reader -------------------------------------------------------------------------------


class RfidReader:
    """One MFRC522 on one SPI chip select; reports each tag once per stay in the field.

    Args:
        hardware: The hardware factory (`clock`, `gpio()`, `mfrc522_class()`).
        bus: SPI bus number (0 on a Pi's header).
        device: SPI chip select (0 for CE0, 1 for CE1).
        reset_pin: The NRSTPD (RST) pin, BCM numbering (GPIO25 is physical pin 22).
        clock: Overrides the hardware's clock.
        name: Used in log lines and errors; `rfid{bus}.{device}` by default.
        leave_after: Seconds a tag must go unseen (and at least two polls) before it has left.
        max_tags: At most this many tags are read per poll.
        retry_after: Seconds between attempts to reopen a reader that could not be opened.
        spi_speed_hz: SPI clock.
    """

    def __init__(
        self,
        hardware: ReaderHardware,
        bus: int = 0,
        device: int = 0,
        *,
        reset_pin: int = 25,
        clock: Clock | None = None,
        name: str | None = None,
        leave_after: float = 0.5,
        max_tags: int = 4,
        retry_after: float = 5.0,
        spi_speed_hz: int = 1_000_000,
    ) -> None:
        if reset_pin not in _BCM_TO_BOARD:
            raise RfidError(f"reset pin GPIO{reset_pin} is not on the 40-pin header")
        self.name = name or f"rfid{bus}.{device}"
        self.bus = bus
        self.device = device
        self.reset_pin = reset_pin
        self.leave_after = leave_after
        self.max_tags = max_tags
        self.retry_after = retry_after
        self.when_tag: Callable[[str], None] | None = None
        self.when_tag_left: Callable[[str], None] | None = None
        self.crc_errors = 0
        self.reads = 0
        self._hardware = hardware
        self._clock = clock or hardware.clock
        self._speed = spi_speed_hz
        self._driver: Any = None
        self._error: str | None = None
        self._retry_at = 0
        self._present: dict[str, int] = {}
        self._misses: dict[str, int] = {}
        self._pending: deque[str] = deque()
        self._open()

    # ----- state --------------------------------------------------------------------------

    @property
    def error(self) -> str | None:
        """Why the reader cannot read now; None while it works."""
        return self._error

    @property
    def is_connected(self) -> bool:
        """Whether the chip answers on its chip select."""
        return self._error is None

    @property
    def is_present(self) -> bool:
        """Whether a tag is in the field now (False while the reader is in error)."""
        return bool(self._present) and self._error is None

    @property
    def tags_present(self) -> frozenset[str]:
        """Tag ids in the field now."""
        return frozenset(self._present) if self._error is None else frozenset()

    @property
    def collisions(self) -> int:
        """Anticollision rounds where two or more tags answered at once."""
        return int(self._driver.collisions) if self._driver is not None else 0

    # ----- polling ------------------------------------------------------------------------

    def poll(self) -> str | None:
        """Scans the field once; returns the id of a tag that has entered it, else None."""
        if not self._pending:
            self._scan()
        return self._pending.popleft() if self._pending else None

    def wait_for_tag(self, timeout: float | None = None, interval: float = 0.05) -> str | None:
        """Polls every `interval` seconds until a tag enters or `timeout` passes."""
        deadline = None if timeout is None else self._clock.monotonic_ns() + int(timeout * 1e9)
        while True:
            tag = self.poll()
            if tag is not None:
                return tag
            if deadline is not None and self._clock.monotonic_ns() >= deadline:
                return None
            self._clock.sleep(interval)

    def close(self) -> None:
        """Releases this reader's SPI device and reset pin only (not every pin, as the package)."""
        driver, self._driver = self._driver, None
        if driver is None:
            return
        try:
            driver.spi.close()
            self._hardware.gpio().cleanup(self._gpio_pin())
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("%s: releasing the reader failed: %s", self.name, exc)

    def __enter__(self) -> RfidReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----- internals ----------------------------------------------------------------------

    def _gpio_pin(self) -> int:
        mode = self._hardware.gpio().getmode()
        return _BCM_TO_BOARD[self.reset_pin] if mode == _GPIO_BOARD else self.reset_pin

    def _open(self) -> None:
        logger = logging.getLogger("mfrc522Logger")
        handlers = list(logger.handlers)
        try:
            cls = _driver_class(self._hardware.mfrc522_class())
            driver = cls(
                bus=self.bus,
                device=self.device,
                spd=self._speed,
                pin_mode=_GPIO_BCM,
                pin_rst=self._gpio_pin(),
            )
        except OSError as exc:
            self._retry_at = self._clock.monotonic_ns() + int(self.retry_after * 1e9)
            self._fail(f"cannot open SPI {self.bus}.{self.device}: {exc}")
            return
        finally:
            for handler in logger.handlers[:]:
                if handler not in handlers:
                    logger.removeHandler(handler)
        driver.clock = self._clock
        self._driver = driver
        self._check_version(driver, reinit=False)

    def _check_version(self, driver: Any, *, reinit: bool) -> bool:
        version = driver.Read_MFRC522(driver.VersionReg)
        if version not in KNOWN_VERSIONS:
            self._fail(
                f"no MFRC522 answers on SPI {self.bus}.{self.device} (VersionReg reads "
                f"0x{version:02X}); check its wiring and power"
            )
            return False
        if self._error is not None:
            if reinit:
                driver.MFRC522_Init()
            log.warning("%s: reader back (VersionReg 0x%02X)", self.name, version)
            self._error = None
        return True

    def _fail(self, message: str) -> None:
        if message != self._error:
            log.error("%s: %s", self.name, message)
        self._error = message

    def _scan(self) -> None:
        now = self._clock.monotonic_ns()
        if self._driver is None:
            if now < self._retry_at:
                return
            self._open()
            if self._driver is None:
                return
        try:
            if not self._check_version(self._driver, reinit=True):
                return
            seen = self._inventory(self._driver)
        except OSError as exc:
            self._fail(f"SPI {self.bus}.{self.device} failed: {exc}")
            return
        now = self._clock.monotonic_ns()
        for tag in seen:
            self._misses[tag] = 0
            if tag not in self._present:
                self.reads += 1
                self._pending.append(tag)
                if self.when_tag is not None:
                    self.when_tag(tag)
            self._present[tag] = now
        for tag, last in list(self._present.items()):
            if tag in seen:
                continue
            self._misses[tag] = self._misses.get(tag, 0) + 1
            if self._misses[tag] >= 2 and now - last >= self.leave_after * 1e9:
                del self._present[tag], self._misses[tag]
                if self.when_tag_left is not None:
                    self.when_tag_left(tag)

    def _inventory(self, driver: Any) -> list[str]:
        # A field reset puts every tag in the field back to IDLE, so REQA finds halted ones too;
        # each tag read is halted so the next REQA finds the next one.
        driver.AntennaOff()
        self._clock.sleep(0.005)  # ISO 14443-3 field reset: at least 5 ms off
        driver.AntennaOn()
        self._clock.sleep(0.005)  # and a few milliseconds for tags to power up
        found: list[str] = []
        for _ in range(self.max_tags):
            status, _bits = driver.MFRC522_Request(driver.PICC_REQIDL)
            if status != driver.MI_OK and not driver.last_error & _COLL_ERR:
                break  # nobody answered (an ATQA collision still means tags are there)
            tag = self._read_uid(driver)
            driver.MFRC522_Halt()
            if tag is not None and tag not in found:
                found.append(tag)
        return found

    def _read_uid(self, driver: Any) -> str | None:
        levels: list[bytes] = []
        for level in range(len(_SEL)):
            if level == 0:
                status, answer = driver.MFRC522_Anticoll()  # the package's own level 1
                if status != driver.MI_OK and driver.last_error & _COLL_ERR:
                    status, answer = driver.MFRC522_AnticollLevel(0)
            else:
                status, answer = driver.MFRC522_AnticollLevel(level)
            if status != driver.MI_OK:
                if len(answer) == 5 and answer[0] ^ answer[1] ^ answer[2] ^ answer[3] != answer[4]:
                    self.crc_errors += 1  # a garbled UID: its BCC does not match
                return None
            sak = self._select(driver, level, answer)
            if sak is None:
                return None
            levels.append(bytes(answer))
            if not sak & 0x04:  # no cascade bit: the UID is complete
                break
        else:
            log.warning("%s: tag with a 10-byte UID ignored (the contract has 4 or 7)", self.name)
            return None
        try:
            return tag_id_from_cascade(levels)
        except InvalidTagId as exc:
            log.warning("%s: %s", self.name, exc)
            return None

    def _select(self, driver: Any, level: int, answer: list[int]) -> int | None:
        if level == 0:
            driver.MFRC522_SelectTag(answer)  # the package's own SELECT (cascade level 1)
        else:
            driver.MFRC522_SelectTagLevel(level, answer)
        back = list(driver.last_back)
        if driver.last_status != driver.MI_OK or driver.last_bits != 24 or len(back) != 3:
            return None
        if driver.CalulateCRC(back[:1]) != back[1:]:
            self.crc_errors += 1  # the SAK's CRC_A does not match: not a read
            return None
        return int(back[0])
