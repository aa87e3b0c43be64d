"""Register-level emulator of the NXP MFRC522 reader chip and the ISO 14443-A tags in its field.

The emulator simulates the chip, not a driver: drivers (the `mfrc522` package on the Pi, the
MicroPython driver in `firmware/`) talk to it byte by byte over its SPI face and see the register
file, the 64-byte FIFO, the IRQ bits, the error bits and the tags' answers that a real chip gives.
It imports nothing but the standard library, so firmware tests can use it under CPython.

API (stable; `firmware/` tests depend on it):

- `MFRC522Chip(version=0x92)`: one chip.
    - SPI: `transfer(frame: list[int]) -> list[int]` clocks one chip-select frame full duplex
      (address byte `0x80 | reg << 1` to read, `reg << 1` to write; further bytes are the next
      read addresses, `0x00` ending a read, or the data for a write). For drivers that clock one
      frame in several calls: `select()`, `exchange(byte) -> int` per byte, `deselect()`.
    - Pins: `set_reset_pin(high: bool)` drives NRSTPD (low powers the chip down, a rising edge
      resets it); `unplug()` / `plug()` model a loose cable (MISO then reads `0x00`).
    - Field: `add_tag(tag)`, `remove_tag(tag)`, `tags` (in the field); `antenna_on`.
    - Faults: `fail_next_crc(count=1)` corrupts the CRC_A of the next `count` tag answers that
      carry one (the SAK, READ data); `fail_next_bcc(count=1)` flips a UID bit in the next
      `count` complete anticollision answers, so their BCC fails.
    - Inspection: `registers` (read-only view), `fifo`, `transfers` (SPI frames so far),
      `frames` (frames sent to the air: list of bytes lists, for assertions).
- `Tag(uid, *, sak=None, atqa=None, memory=None, key_a=bytes(6 * [255]), ...)`: a tag with
  a 4- or 7-byte UID. `state` is one of IDLE, READY, ACTIVE, HALT (ISO 14443-3).
- `crc_a(data) -> int`: ISO 14443-3 CRC_A (sent least significant byte first).

Time in the emulator is instant: a transceive with no answer sets TimerIRq at once when the timer
is in automatic mode (TModeReg.TAuto), as the real timer would after its reload period.
Not modelled: Crypto1 encryption (after MFAuthent, reads go in the clear), parity errors, the
analog settings, the serial and I2C host interfaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ACTIVE",
    "HALT",
    "IDLE",
    "READY",
    "MFRC522Chip",
    "Reg",
    "Tag",
    "crc_a",
]

IDLE = "IDLE"
READY = "READY"
ACTIVE = "ACTIVE"
HALT = "HALT"

FIFO_SIZE = 64
CASCADE_TAG = 0x88
_SEL = (0x93, 0x95, 0x97)
_REQA = 0x26
_WUPA = 0x52
_HALT = 0x50
_READ = 0x30
_WRITE = 0xA0
_AUTH_A = 0x60
_AUTH_B = 0x61
_ACK = 0x0A
_NAK = 0x04


class Reg:
    """MFRC522 register addresses (datasheet section 9)."""

    Command = 0x01
    ComIEn = 0x02
    DivIEn = 0x03
    ComIrq = 0x04
    DivIrq = 0x05
    Error = 0x06
    Status1 = 0x07
    Status2 = 0x08
    FIFOData = 0x09
    FIFOLevel = 0x0A
    WaterLevel = 0x0B
    Control = 0x0C
    BitFraming = 0x0D
    Coll = 0x0E
    Mode = 0x11
    TxMode = 0x12
    RxMode = 0x13
    TxControl = 0x14
    TxASK = 0x15
    CRCResultH = 0x21
    CRCResultL = 0x22
    TMode = 0x2A
    TPrescaler = 0x2B
    TReloadH = 0x2C
    TReloadL = 0x2D
    Version = 0x37


class Cmd:
    """Command codes written to CommandReg."""

    Idle = 0x0
    Mem = 0x1
    GenerateRandomID = 0x2
    CalcCRC = 0x3
    Transmit = 0x4
    NoCmdChange = 0x7
    Receive = 0x8
    Transceive = 0xC
    MFAuthent = 0xE
    SoftReset = 0xF


# ComIrqReg bits
_TX_IRQ = 0x40
_RX_IRQ = 0x20
_IDLE_IRQ = 0x10
_HI_ALERT_IRQ = 0x08
_LO_ALERT_IRQ = 0x04
_ERR_IRQ = 0x02
_TIMER_IRQ = 0x01
# DivIrqReg bits
_CRC_IRQ = 0x04
# ErrorReg bits
_BUFFER_OVFL = 0x10
_COLL_ERR = 0x08
_CRC_ERR = 0x04
_PROTOCOL_ERR = 0x01
_TEMP_ERR = 0x40

_RESET_VALUES = {
    Reg.Command: 0x20,
    Reg.ComIEn: 0x80,
    Reg.ComIrq: 0x14,
    Reg.Status1: 0x21,
    Reg.WaterLevel: 0x08,
    Reg.Control: 0x10,
    Reg.Coll: 0x80,
    Reg.Mode: 0x3F,
    Reg.TxControl: 0x80,
    0x16: 0x10,  # TxSelReg
    0x17: 0x84,  # RxSelReg
    0x18: 0x84,  # RxThresholdReg
    0x19: 0x4D,  # DemodReg
    0x1C: 0x62,  # MfTxReg
    0x1F: 0xEB,  # SerialSpeedReg
    Reg.CRCResultH: 0xFF,
    Reg.CRCResultL: 0xFF,
    0x24: 0x26,  # ModWidthReg
    0x26: 0x48,  # RFCfgReg
    0x27: 0x88,  # GsNReg
    0x28: 0x20,  # CWGsPReg
    0x29: 0x20,  # ModGsPReg
}
_CRC_PRESETS = (0x0000, 0x6363, 0xA671, 0xFFFF)


def crc_a(data: Sequence[int], preset: int = 0x6363) -> int:
    """Returns the ISO 14443-3 CRC_A of `data` (on the air: low byte first, then high byte)."""
    crc = preset
    for value in data:
        byte = (value ^ crc) & 0xFF
        byte = (byte ^ (byte << 4)) & 0xFF
        crc = ((crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)) & 0xFFFF
    return crc


def _with_crc(data: Sequence[int]) -> list[int]:
    crc = crc_a(data)
    return [*data, crc & 0xFF, crc >> 8]


def _crc_ok(data: Sequence[int]) -> bool:
    return len(data) >= 3 and _with_crc(data[:-2])[-2:] == list(data[-2:])


def _to_bits(data: Sequence[int], last_bits: int = 0) -> list[int]:
    """Bits on the air, least significant bit of each byte first; `last_bits` of the last byte."""
    bits: list[int] = []
    for index, byte in enumerate(data):
        count = last_bits if index == len(data) - 1 and last_bits else 8
        bits.extend((byte >> k) & 1 for k in range(count))
    return bits


def _to_bytes(bits: Sequence[int], align: int = 0) -> tuple[list[int], int]:
    """Packs bits from bit position `align` of the first byte; returns bytes and valid last bits."""
    total = align + len(bits)
    out = [0] * ((total + 7) // 8)
    for index, bit in enumerate(bits):
        position = align + index
        if bit:
            out[position // 8] |= 1 << (position % 8)
    return out, total % 8


@dataclass
class _Reply:
    bits: list[int]
    crc: bool = False


class Tag:
    """An ISO 14443-A tag (PICC) with a 4- or 7-byte UID and its ISO 14443-3 state machine.

    Args:
        uid: The UID, 4 bytes (single size, e.g. MIFARE Classic) or 7 (double, e.g. NTAG).
        sak: The final SAK; defaults to 0x08 (Classic 1K) for 4 bytes, 0x00 (Ultralight) for 7.
        atqa: The two ATQA bytes as sent; defaults by UID size.
        memory: Initial memory; READ returns 16 bytes from `addr * block_size`.
        key_a: MIFARE Classic key A (all sectors).
        key_b: MIFARE Classic key B (all sectors).
    """

    def __init__(
        self,
        uid: bytes | Sequence[int],
        *,
        sak: int | None = None,
        atqa: bytes | None = None,
        memory: bytes | None = None,
        key_a: bytes = b"\xff" * 6,
        key_b: bytes = b"\xff" * 6,
    ) -> None:
        self.uid = bytes(uid)
        if len(self.uid) not in (4, 7):
            raise ValueError(f"UID {self.uid.hex().upper()} has {len(self.uid)} bytes; need 4 or 7")
        if self.uid[0] == CASCADE_TAG:
            raise ValueError(f"UID {self.uid.hex().upper()} starts with the cascade tag 0x88")
        double = len(self.uid) == 7
        self.sak = sak if sak is not None else (0x00 if double else 0x08)
        self.atqa = atqa if atqa is not None else (b"\x44\x00" if double else b"\x04\x00")
        self.classic = bool(self.sak & 0x08)
        self.block_size = 16 if self.classic else 4
        self.memory = bytearray(
            memory if memory is not None else bytes(1024 if self.classic else 64)
        )
        self.key_a = key_a
        self.key_b = key_b
        self.state = IDLE
        self.authenticated = False
        self._level = 0
        self._starred = False  # came from HALT: errors send it back to HALT, not IDLE
        self._pending_write: int | None = None

    def __repr__(self) -> str:
        return f"Tag({self.uid.hex().upper()}, {self.state})"

    @property
    def levels(self) -> list[bytes]:
        """The cascade levels' four bytes each (cascade tag included), without BCC."""
        if len(self.uid) == 4:
            return [self.uid]
        return [bytes([CASCADE_TAG]) + self.uid[:3], self.uid[3:]]

    def level_answer(self, level: int) -> list[int]:
        """The anticollision answer at cascade `level` (0-based): four bytes and the BCC."""
        part = self.levels[level]
        return [*part, part[0] ^ part[1] ^ part[2] ^ part[3]]

    def power_off(self) -> None:
        """Loses power (left the field, or the antenna went off)."""
        self.state = IDLE
        self.authenticated = False
        self._starred = False
        self._pending_write = None

    def _back_off(self) -> None:
        self.state = HALT if self._starred else IDLE
        self.authenticated = False
        self._pending_write = None

    def receive(self, bits: list[int], crypto_on: bool = False) -> _Reply | None:
        """Handles one frame from the reader; returns the answer, or None when the tag is silent."""
        data, _ = _to_bytes(bits)
        if len(bits) == 7:
            return self._request(data[0])
        if self.state == READY:
            return self._ready(bits, data)
        if self.state == ACTIVE:
            return self._active(bits, data, crypto_on)
        return None

    def _request(self, command: int) -> _Reply | None:
        if (command == _REQA and self.state == IDLE) or (
            command == _WUPA and self.state in (IDLE, HALT)
        ):
            self._starred = self.state == HALT
            self.state = READY
            self._level = 0
            return _Reply(_to_bits(self.atqa))
        if self.state in (READY, ACTIVE):
            self._back_off()
        return None

    def _ready(self, bits: list[int], data: list[int]) -> _Reply | None:
        if len(bits) < 16 or data[0] != _SEL[self._level]:
            self._back_off()
            return None
        nvb = data[1]
        answer = self.level_answer(self._level)
        if nvb == 0x70 and len(bits) == 72:
            if not _crc_ok(data) or data[2:7] != answer:
                self._back_off()
                return None
            if self._level + 1 < len(self.levels):
                self._level += 1
                return _Reply(_to_bits(_with_crc([0x04])), crc=True)
            self.state = ACTIVE
            return _Reply(_to_bits(_with_crc([self.sak])), crc=True)
        known = ((nvb >> 4) - 2) * 8 + (nvb & 0x0F)
        if not 0 <= known < 40 or (nvb & 0x0F) > 7 or len(bits) != 16 + known:
            self._back_off()
            return None
        mine = _to_bits(answer)
        if bits[16:] != mine[:known]:
            return None  # another tag's UID: stay READY and silent
        return _Reply(mine[known:])

    def _active(self, bits: list[int], data: list[int], crypto_on: bool) -> _Reply | None:
        if self._pending_write is not None and len(bits) == 18 * 8 and _crc_ok(data):
            start = self._pending_write * self.block_size
            self.memory[start : start + self.block_size] = bytes(data[: self.block_size])
            self._pending_write = None
            return _Reply(_to_bits([_ACK], 4))
        if len(bits) != 32 or not _crc_ok(data):
            self._back_off()
            return None
        command, addr = data[0], data[1]
        if command == _HALT and addr == 0:
            self.state = HALT
            self.authenticated = False
            return None
        if command in (_READ, _WRITE):
            if (self.classic and not (self.authenticated and crypto_on)) or (
                (addr + 1) * self.block_size > len(self.memory)
            ):
                return _Reply(_to_bits([_NAK], 4))
            if command == _WRITE:
                self._pending_write = addr
                return _Reply(_to_bits([_ACK], 4))
            start = addr * self.block_size
            block = bytes(self.memory[start : start + 16].ljust(16, b"\0"))
            return _Reply(_to_bits(_with_crc(block)), crc=True)
        self._back_off()
        return None

    def authenticate(self, command: int, key: bytes, uid4: bytes) -> bool:
        """MFAuthent's exchange with the tag: true when the key and UID match (no Crypto1)."""
        expected = self.key_a if command == _AUTH_A else self.key_b
        ok = (
            self.state == ACTIVE
            and self.classic
            and command in (_AUTH_A, _AUTH_B)
            and key == expected
            and uid4 == self.uid[-4:]
        )
        self.authenticated = ok
        return ok


class MFRC522Chip:
    """The MFRC522 chip: registers, FIFO, commands, CRC coprocessor, timer IRQ and the RF field.

    Args:
        version: The VersionReg value (0x91 v1.0, 0x92 v2.0, 0x88 FM17522 clone).
    """

    def __init__(self, version: int = 0x92) -> None:
        self.version = version
        self.powered = True
        self._regs = [0] * 64
        self.fifo: list[int] = []
        self.tags: list[Tag] = []
        self.frames: list[list[int]] = []
        self.transfers = 0
        self.connected = True
        self._crc_faults = 0
        self._bcc_faults = 0
        self._selected = False
        self._frame_index = 0
        self._write_addr: int | None = None
        self._read_addr: int | None = None
        self._reset()

    # ----- pins and cable -------------------------------------------------------------------

    def set_reset_pin(self, high: bool) -> None:
        """Drives NRSTPD: low powers the chip down; a rising edge performs a hard reset."""
        was_on = self.antenna_on
        if high and not self.powered:
            self._reset()
        self.powered = high
        self._field_changed(was_on)

    def unplug(self) -> None:
        """Disconnects the chip from the bus: reads return 0x00 and writes are lost."""
        self.connected = False

    def plug(self) -> None:
        """Reconnects the chip (its registers kept their values while unplugged)."""
        self.connected = True

    # ----- the field ------------------------------------------------------------------------

    @property
    def antenna_on(self) -> bool:
        """Whether the chip drives the RF field (TxControlReg Tx1RFEn or Tx2RFEn, powered)."""
        return self.powered and bool(self._regs[Reg.TxControl] & 0x03)

    def add_tag(self, tag: Tag) -> Tag:
        """Brings `tag` into the field (it powers up IDLE); returns it."""
        if tag not in self.tags:
            tag.power_off()
            self.tags.append(tag)
        return tag

    def remove_tag(self, tag: Tag) -> None:
        """Takes `tag` out of the field (it loses power)."""
        if tag in self.tags:
            self.tags.remove(tag)
            tag.power_off()

    def fail_next_bcc(self, count: int = 1) -> None:
        """Flips a UID bit in the next `count` complete anticollision answers (their BCC fails)."""
        self._bcc_faults += count

    def fail_next_crc(self, count: int = 1) -> None:
        """Corrupts the CRC_A of the next `count` tag answers that carry one."""
        self._crc_faults += count

    @property
    def registers(self) -> tuple[int, ...]:
        """A snapshot of the 64 registers as stored (FIFODataReg reads pop the FIFO instead)."""
        return tuple(self._regs)

    # ----- SPI ------------------------------------------------------------------------------

    def transfer(self, frame: Sequence[int]) -> list[int]:
        """Clocks one chip-select frame full duplex; returns the bytes read back (MISO)."""
        self.select()
        try:
            return [self.exchange(byte) for byte in frame]
        finally:
            self.deselect()

    def select(self) -> None:
        """Chip select goes low: the next byte is an address byte."""
        self._selected = True
        self._frame_index = 0
        self._write_addr = None
        self._read_addr = None
        self.transfers += 1

    def deselect(self) -> None:
        """Chip select goes high: ends the frame."""
        self._selected = False

    def exchange(self, byte: int) -> int:
        """Clocks one byte within a frame opened by `select()`; returns the byte on MISO."""
        if not self._selected:
            raise RuntimeError("MFRC522Chip.exchange() outside select()/deselect()")
        byte &= 0xFF
        first = self._frame_index == 0
        self._frame_index += 1
        if not (self.connected and self.powered):
            return 0x00
        out = 0x00
        if self._read_addr is not None:
            out = self._read(self._read_addr)
            self._read_addr = None
        if first:
            if byte & 0x80:
                self._read_addr = (byte >> 1) & 0x3F
            else:
                self._write_addr = (byte >> 1) & 0x3F
        elif self._write_addr is not None:
            self._write(self._write_addr, byte)
        elif byte & 0x80:
            self._read_addr = (byte >> 1) & 0x3F
        return out

    # ----- registers ------------------------------------------------------------------------

    def _reset(self) -> None:
        was_on = self.antenna_on
        self._regs = [0] * 64
        for reg, value in _RESET_VALUES.items():
            self._regs[reg] = value
        self._regs[Reg.Version] = self.version
        self.fifo = []
        self._field_changed(was_on)

    def _field_changed(self, was_on: bool) -> None:
        if was_on != self.antenna_on:
            for tag in self.tags:
                tag.power_off()

    def _read(self, reg: int) -> int:
        if reg == Reg.FIFOData:
            value = self.fifo.pop(0) if self.fifo else 0
            self._fifo_alerts()
            return value
        if reg == Reg.FIFOLevel:
            return len(self.fifo)
        if reg == Reg.Status1:
            return self._status1()
        return self._regs[reg]

    def _status1(self) -> int:
        regs = self._regs
        value = self._regs[Reg.Status1] & 0x60  # CRCOk, CRCReady as last set
        water = regs[Reg.WaterLevel] & 0x3F
        if len(self.fifo) <= water:
            value |= 0x01
        if FIFO_SIZE - len(self.fifo) <= water:
            value |= 0x02
        if (regs[Reg.ComIrq] & regs[Reg.ComIEn] & 0x7F) or (regs[Reg.DivIrq] & regs[Reg.DivIEn]):
            value |= 0x10
        return value

    def _fifo_alerts(self) -> None:
        status = self._status1()
        if status & 0x01:
            self._regs[Reg.ComIrq] |= _LO_ALERT_IRQ
        if status & 0x02:
            self._regs[Reg.ComIrq] |= _HI_ALERT_IRQ

    def _write(self, reg: int, value: int) -> None:
        regs = self._regs
        if reg == Reg.FIFOData:
            if len(self.fifo) >= FIFO_SIZE:
                regs[Reg.Error] |= _BUFFER_OVFL
            else:
                self.fifo.append(value)
            self._fifo_alerts()
        elif reg == Reg.FIFOLevel:
            if value & 0x80:
                self.fifo = []
                regs[Reg.Error] &= ~_BUFFER_OVFL
                self._fifo_alerts()
        elif reg in (Reg.ComIrq, Reg.DivIrq):
            # Set1/Set2 in bit 7: 1 sets the marked bits, 0 clears them.
            if value & 0x80:
                regs[reg] |= value & 0x7F
            else:
                regs[reg] &= ~value & 0x7F
        elif reg == Reg.Control:
            regs[reg] = (value & 0x38) | (regs[reg] & 0x07)  # TStop/TStartNow are strobes
        elif reg == Reg.Status2:
            # MFCrypto1On can only be cleared by the host; ModemState is read-only.
            regs[reg] = (regs[reg] & 0x07) | (value & 0xC0) | (regs[reg] & value & 0x08)
        elif reg in (Reg.Error, Reg.Status1, Reg.Version, Reg.CRCResultH, Reg.CRCResultL):
            pass  # read-only
        elif reg == Reg.Command:
            self._command(value)
        elif reg == Reg.BitFraming:
            regs[reg] = value
            if value & 0x80 and regs[Reg.Command] & 0x0F == Cmd.Transceive:
                self._transceive()
        elif reg == Reg.TxControl:
            was_on = self.antenna_on
            regs[reg] = value
            self._field_changed(was_on)
        else:
            regs[reg] = value

    # ----- commands -------------------------------------------------------------------------

    def _command(self, value: int) -> None:
        regs = self._regs
        command = value & 0x0F
        regs[Reg.Command] = (
            regs[Reg.Command] & 0x0F if command == Cmd.NoCmdChange else command
        ) | (value & 0x30)
        if command == Cmd.SoftReset:
            self._reset()
            return
        if command in (Cmd.Idle, Cmd.NoCmdChange):
            return
        regs[Reg.Error] &= _TEMP_ERR
        if command == Cmd.CalcCRC:
            crc = crc_a(self.fifo, _CRC_PRESETS[regs[Reg.Mode] & 0x03])
            self.fifo = []
            regs[Reg.CRCResultH], regs[Reg.CRCResultL] = crc >> 8, crc & 0xFF
            regs[Reg.DivIrq] |= _CRC_IRQ
            regs[Reg.Status1] |= 0x20
            return  # CalcCRC runs on until the host writes another command
        if command == Cmd.Transceive:
            if regs[Reg.BitFraming] & 0x80:
                self._transceive()
            return
        if command == Cmd.Transmit:
            self._transceive(expect_answer=False)
        elif command == Cmd.MFAuthent:
            self._authenticate()
            return
        self._finish()

    def _finish(self) -> None:
        self._regs[Reg.Command] &= 0xF0
        self._regs[Reg.ComIrq] |= _IDLE_IRQ

    def _authenticate(self) -> None:
        data, self.fifo = self.fifo[:12], self.fifo[12:]
        if len(data) != 12:
            self._regs[Reg.Error] |= _PROTOCOL_ERR
            self._regs[Reg.ComIrq] |= _ERR_IRQ
            self._finish()
            return
        active = [tag for tag in self.tags if tag.state == ACTIVE] if self.antenna_on else []
        if any(tag.authenticate(data[0], bytes(data[2:8]), bytes(data[8:12])) for tag in active):
            self._regs[Reg.Status2] |= 0x08
            self._finish()
        elif self._regs[Reg.TMode] & 0x80:
            self._regs[Reg.ComIrq] |= _TIMER_IRQ  # the card never answered; the timer ran out

    def _transceive(self, expect_answer: bool = True) -> None:
        regs = self._regs
        framing = regs[Reg.BitFraming]
        tx_last_bits = framing & 0x07
        rx_align = (framing >> 4) & 0x07
        data, self.fifo = self.fifo, []
        if regs[Reg.TxMode] & 0x80:
            data = _with_crc(data)
            tx_last_bits = 0
        regs[Reg.Error] &= _TEMP_ERR
        regs[Reg.Coll] = (regs[Reg.Coll] & 0x80) | 0x20  # CollPosNotValid until a collision
        self.frames.append(list(data))
        regs[Reg.ComIrq] |= _TX_IRQ
        if not self.antenna_on:
            replies: list[_Reply] = []
        else:
            bits = _to_bits(data, tx_last_bits)
            crypto = bool(regs[Reg.Status2] & 0x08)
            replies = [r for tag in list(self.tags) if (r := tag.receive(bits, crypto))]
        if not expect_answer:
            return
        if not replies:
            if regs[Reg.TMode] & 0x80:
                regs[Reg.ComIrq] |= _TIMER_IRQ
            return
        for reply in replies:
            if reply.crc and self._crc_faults:
                self._crc_faults -= 1
                reply.bits[-1] ^= 1  # flips the CRC's most significant bit
            elif not reply.crc and len(reply.bits) == 40 and self._bcc_faults:
                self._bcc_faults -= 1
                reply.bits[0] ^= 1  # a UID bit lost in noise: the BCC no longer matches
        received = self._air(replies)
        out, last_bits = _to_bytes(received, rx_align)
        if regs[Reg.RxMode] & 0x80 and last_bits == 0 and len(out) >= 3:
            if not _crc_ok(out):
                regs[Reg.Error] |= _CRC_ERR
            else:
                out = out[:-2]
        room = FIFO_SIZE - len(self.fifo)
        if len(out) > room:
            regs[Reg.Error] |= _BUFFER_OVFL
            out = out[:room]
        self.fifo.extend(out)
        regs[Reg.Control] = (regs[Reg.Control] & 0xF8) | last_bits
        regs[Reg.ComIrq] |= _RX_IRQ
        if regs[Reg.Error] & 0x1F:
            regs[Reg.ComIrq] |= _ERR_IRQ
        self._fifo_alerts()

    def _air(self, replies: list[_Reply]) -> list[int]:
        """Superposes simultaneous answers; a bit where they differ is a collision."""
        length = max(len(r.bits) for r in replies)
        received: list[int] = []
        for index in range(length):
            values = {r.bits[index] for r in replies if index < len(r.bits)}
            if len(values) > 1:
                regs = self._regs
                regs[Reg.Error] |= _COLL_ERR
                position = (index + ((regs[Reg.BitFraming] >> 4) & 0x07) + 1) % 32
                regs[Reg.Coll] = (regs[Reg.Coll] & 0x80) | position  # CollPosNotValid cleared
                # The bit reads as 1; with ValuesAfterColl set the bits after it read as 0.
                received.append(1)
                tail = length - index - 1
                received.extend([0] * tail if regs[Reg.Coll] & 0x80 else [1] * tail)
                return received
            received.append(values.pop())
        return received
