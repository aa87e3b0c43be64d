"""Link framing: CRC-16 per frame, COBS byte stuffing, a zero byte between frames.

A frame on the wire is `0x00 COBS(type | body | crc16(type | body)) 0x00`. COBS removes every zero
byte from the frame, so a zero always means "end of frame": after garbage, a lost byte or a
flipped bit the receiver drops at most the frame in progress and is in step again at the next
zero (the leading zero ends any garbage before the frame, so the frame after a burst of noise
is not lost with it; empty frames are ignored). The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF), big-endian.
`docs/serial-link.md` is the specification; `agent/serial_link.py` is the Pi's implementation.
"""

from taktnode._compat import const

MAX_FRAME = const(96)  # largest unencoded frame, type and CRC included
MAX_ENCODED = const(99)  # MAX_FRAME + COBS overhead (one byte per 254) + two delimiters

# node -> agent
T_HELLO = const(0x01)
T_EVENT = const(0x02)
T_CMD_ACK = const(0x04)
# agent -> node
T_ACK = const(0x81)
T_COMMAND = const(0x82)
T_SYNC = const(0x83)


def _make_table():
    table = [0] * 256
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table[byte] = crc & 0xFFFF
    return table


_TABLE = _make_table()


def crc16(data, length=-1):
    """CRC-16/CCITT-FALSE of the first `length` bytes of `data` (all of it when -1)."""
    if length < 0:
        length = len(data)
    crc = 0xFFFF
    table = _TABLE
    for i in range(length):
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ data[i]) & 0xFF]
    return crc


def encode(frame, length, out):
    """COBS-encodes `frame[:length]` with its CRC into `out`; returns the bytes used, both
    delimiters included. `frame` must have two spare bytes after `length` for the CRC."""
    crc = crc16(frame, length)
    frame[length] = crc >> 8
    frame[length + 1] = crc & 0xFF
    length += 2
    out[0] = 0
    code_at = 1
    code = 1
    o = 2
    for i in range(length):
        b = frame[i]
        if b == 0:
            out[code_at] = code
            code_at = o
            o += 1
            code = 1
        else:
            out[o] = b
            o += 1
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at = o
                o += 1
                code = 1
    out[code_at] = code
    out[o] = 0
    return o + 1


def cobs_decode(src, length, out):
    """Decodes one COBS block (no delimiter) into `out`; returns its length or -1 if malformed."""
    i = 0
    o = 0
    room = len(out)
    while i < length:
        code = src[i]
        i += 1
        end = i + code - 1
        if code == 0 or end > length or o + code - 1 > room:
            return -1
        while i < end:
            out[o] = src[i]
            o += 1
            i += 1
        if code != 0xFF and i < length:
            if o >= room:
                return -1
            out[o] = 0
            o += 1
    return o


class Decoder:
    """Collects bytes into frames; hands each frame whose CRC is good to `on_frame(buf, n)`.

    Buffers are allocated once. Garbage, oversized runs and bad CRCs are counted in `errors` and
    dropped; decoding restarts after the next zero byte.
    """

    def __init__(self, on_frame):
        self._raw = bytearray(MAX_ENCODED)
        self._frame = bytearray(MAX_FRAME)
        self._n = 0
        self._overflow = False
        self._on_frame = on_frame
        self.errors = 0

    def feed(self, data, length=-1):
        """Feeds received bytes (the first `length` of `data`, all when -1)."""
        if length < 0:
            length = len(data)
        raw = self._raw
        for i in range(length):
            b = data[i]
            if b != 0:
                if self._n < MAX_ENCODED:
                    raw[self._n] = b
                    self._n += 1
                else:
                    self._overflow = True
                continue
            n = self._n
            self._n = 0
            if self._overflow:
                self._overflow = False
                self.errors += 1
                continue
            if n == 0:
                continue  # idle delimiters are allowed
            size = cobs_decode(raw, n, self._frame)
            if size < 3 or crc16(self._frame, size) != 0:
                self.errors += 1
                continue
            self._on_frame(self._frame, size - 2)
