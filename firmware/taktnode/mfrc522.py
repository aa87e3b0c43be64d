"""A small MFRC522 driver over `machine.SPI`: REQA/WUPA, anticollision and select, 4/7-byte UIDs.

The driver takes an SPI bus and a chip-select pin (anything with `write_readinto(w, r)` and
`value(v)`) in its constructor and allocates its buffers once. One register access is one
chip-select frame: address byte (`reg << 1`, bit 7 set to read) then data. `read_uid()` finds
one tag in the field: REQA (tags in IDLE), else WUPA (tags we halted earlier that are still in
the field), then anticollision and select per cascade level (the cascade tag 0x88 announces a
7-byte UID), checking each level's BCC and the SAK's CRC_A, and halts the tag (HLTA) so the
next poll sees it again through WUPA. Two tags in the field at once collide; the driver reports
no tag rather than guess (readers at stations are read one card at a time).
"""

from taktnode._compat import const

# registers
_COMMAND = const(0x01)
_COM_IRQ = const(0x04)
_ERROR = const(0x06)
_FIFO_DATA = const(0x09)
_FIFO_LEVEL = const(0x0A)
_CONTROL = const(0x0C)
_BIT_FRAMING = const(0x0D)
_COLL = const(0x0E)
_MODE = const(0x11)
_TX_CONTROL = const(0x14)
_TX_ASK = const(0x15)
_T_MODE = const(0x2A)
_T_PRESCALER = const(0x2B)
_T_RELOAD_H = const(0x2C)
_T_RELOAD_L = const(0x2D)
_VERSION = const(0x37)
# commands
_IDLE = const(0x00)
_TRANSCEIVE = const(0x0C)
_SOFT_RESET = const(0x0F)
# ISO 14443-3 commands
REQA = const(0x26)
WUPA = const(0x52)
_HLTA = const(0x50)
_SEL = (0x93, 0x95, 0x97)
_CASCADE_TAG = const(0x88)

OK = const(0)
NO_TAG = const(1)
ERROR = const(2)

_MAX_WAIT = const(200)  # register polls for one transceive before giving up


def crc_a(data, length):
    """ISO 14443-3 CRC_A of `data[:length]` (preset 0x6363, reflected 0x8408)."""
    crc = 0x6363
    for i in range(length):
        b = (data[i] ^ crc) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xFFFF
    return crc


class MFRC522:
    """One reader chip on `spi` with chip select `cs` (active low)."""

    def __init__(self, spi, cs):
        self.spi = spi
        self.cs = cs
        self._w2 = bytearray(2)
        self._r2 = bytearray(2)
        self._tx = bytearray(10)
        self._rx = bytearray(16)
        self._wfifo = bytearray(11)
        self._rfifo = bytearray(17)
        self._uid = bytearray(10)
        self.uid_len = 0
        cs.value(1)

    # --- registers ------------------------------------------------------------------------------

    def read(self, reg):
        """Reads one register."""
        w = self._w2
        w[0] = 0x80 | (reg << 1)
        w[1] = 0
        self.cs.value(0)
        self.spi.write_readinto(w, self._r2)
        self.cs.value(1)
        return self._r2[1]

    def write(self, reg, value):
        """Writes one register."""
        w = self._w2
        w[0] = reg << 1
        w[1] = value
        self.cs.value(0)
        self.spi.write_readinto(w, self._r2)
        self.cs.value(1)

    def _set(self, reg, mask):
        self.write(reg, self.read(reg) | mask)

    def _clear(self, reg, mask):
        self.write(reg, self.read(reg) & ~mask)

    def init(self):
        """Resets the chip, sets the timer for transceive timeouts and turns the antenna on.

        Returns the version register (0x91 or 0x92 for a genuine MFRC522; 0x00 or 0xFF when no
        chip answers).
        """
        self.write(_COMMAND, _SOFT_RESET)
        self.write(_T_MODE, 0x8D)  # TAuto: the timer starts with every transmission
        self.write(_T_PRESCALER, 0x3E)
        self.write(_T_RELOAD_H, 0)
        self.write(_T_RELOAD_L, 30)  # ~25 ms
        self.write(_TX_ASK, 0x40)  # 100 % ASK
        self.write(_MODE, 0x3D)  # CRC preset 0x6363
        self._set(_TX_CONTROL, 0x03)
        return self.read(_VERSION)

    # --- one exchange with the tag --------------------------------------------------------------

    def transceive(self, data, length, last_bits=0):
        """Sends `data[:length]`; returns (status, bytes received, valid bits in the last byte).

        The answer is in `self._rx`.
        """
        self.write(_COMMAND, _IDLE)
        self.write(_COM_IRQ, 0x7F)
        self.write(_FIFO_LEVEL, 0x80)
        w = self._wfifo
        w[0] = _FIFO_DATA << 1
        for i in range(length):
            w[i + 1] = data[i]
        self.cs.value(0)
        self.spi.write_readinto(memoryview(w)[0 : length + 1], memoryview(self._rfifo)[0 : length + 1])
        self.cs.value(1)
        self.write(_BIT_FRAMING, last_bits)
        self.write(_COMMAND, _TRANSCEIVE)
        self.write(_BIT_FRAMING, 0x80 | last_bits)  # StartSend
        for _ in range(_MAX_WAIT):
            irq = self.read(_COM_IRQ)
            if irq & 0x30:  # RxIRq or IdleIRq
                break
            if irq & 0x01:  # TimerIRq: nobody answered
                self.write(_BIT_FRAMING, 0)
                return NO_TAG, 0, 0
        else:
            return ERROR, 0, 0
        self.write(_BIT_FRAMING, 0)
        if self.read(_ERROR) & 0x1B:  # BufferOvfl, CollErr, ParityErr, ProtocolErr
            return ERROR, 0, 0
        n = self.read(_FIFO_LEVEL)
        if n > len(self._rx):
            return ERROR, 0, 0
        bits = self.read(_CONTROL) & 0x07
        if n:
            w = self._rfifo  # reuse as the address list: read FIFO n times, then 0
            for i in range(n):
                w[i] = 0x80 | (_FIFO_DATA << 1)
            w[n] = 0
            r = self._wfifo
            self.cs.value(0)
            self.spi.write_readinto(memoryview(w)[0 : n + 1], memoryview(r)[0 : n + 1])
            self.cs.value(1)
            for i in range(n):
                self._rx[i] = r[i + 1]
        return OK, n, bits

    # --- ISO 14443-3 ----------------------------------------------------------------------------

    def request(self, command=REQA):
        """REQA or WUPA (7-bit frame); True when a tag answered with its 2-byte ATQA."""
        self._tx[0] = command
        status, n, _ = self.transceive(self._tx, 1, 7)
        return status == OK and n == 2

    def _with_crc(self, length):
        crc = crc_a(self._tx, length)
        self._tx[length] = crc & 0xFF
        self._tx[length + 1] = crc >> 8
        return length + 2

    def halt(self):
        """HLTA: the selected tag goes to HALT and answers only WUPA from now on."""
        self._tx[0] = _HLTA
        self._tx[1] = 0
        self.transceive(self._tx, self._with_crc(2))  # a halted tag does not answer

    def select(self):
        """Anticollision and select through every cascade level; returns the UID length or 0.

        The UID (4 or 7 bytes, no cascade tag, no BCC) is in `self.uid()`.
        """
        self._clear(_COLL, 0x80)  # bits after a collision read as 0
        uid = self._uid
        size = 0
        tx = self._tx
        rx = self._rx
        for level in range(3):
            tx[0] = _SEL[level]
            tx[1] = 0x20
            status, n, _ = self.transceive(tx, 2)
            if status != OK or n != 5:
                return 0
            if rx[0] ^ rx[1] ^ rx[2] ^ rx[3] != rx[4]:
                return 0  # BCC
            tx[1] = 0x70
            for i in range(5):
                tx[2 + i] = rx[i]
            cascade = rx[0] == _CASCADE_TAG
            start = 1 if cascade else 0
            for i in range(start, 4):
                uid[size] = rx[i]
                size += 1
            status, n, _ = self.transceive(tx, self._with_crc(7))
            if status != OK or n != 3 or crc_a(rx, 3) != 0:
                return 0  # SAK with a bad CRC_A: try again next poll
            if not rx[0] & 0x04:  # UID complete
                self.uid_len = size if not cascade else 0
                return self.uid_len
        return 0

    def uid(self):
        """The UID read by the last successful `select()` (a new bytes object)."""
        return bytes(self._uid[0 : self.uid_len])

    def read_uid(self):
        """The UID of the tag in the field, or None. Halts the tag afterwards."""
        if not self.request(REQA) and not self.request(WUPA):
            return None
        if not self.select():
            return None
        uid = self.uid()
        self.halt()
        return uid
