import unittest

from taktnode import frame as fr


def wire(payload):
    buf = bytearray(fr.MAX_FRAME)
    buf[0 : len(payload)] = payload
    out = bytearray(fr.MAX_ENCODED)
    n = fr.encode(buf, len(payload), out)
    return bytes(out[0:n])


class Collect:
    def __init__(self):
        self.frames = []

    def __call__(self, buf, n):
        self.frames.append(bytes(buf[0:n]))


class TestCrc(unittest.TestCase):
    def test_known_value(self):
        # CRC-16/CCITT-FALSE check value
        self.assertEqual(fr.crc16(b"123456789"), 0x29B1)

    def test_partial_length(self):
        self.assertEqual(fr.crc16(b"123456789xyz", 9), 0x29B1)


class TestCobs(unittest.TestCase):
    def roundtrip(self, payload):
        encoded = wire(payload)
        self.assertEqual(encoded[0], 0)
        self.assertEqual(encoded[-1], 0)
        self.assertFalse(0 in encoded[1:-1])
        got = Collect()
        fr.Decoder(got).feed(encoded)
        self.assertEqual(got.frames, [bytes(payload)])

    def test_roundtrips(self):
        for payload in (b"\x01", b"\x00", b"\x00\x00\x00", b"\x02abc\x00def", bytes(range(90))):
            self.roundtrip(payload)

    def test_long_run_without_zero(self):
        self.roundtrip(bytes([1 + (i % 250) for i in range(fr.MAX_FRAME - 2)]))

    def test_malformed_block_is_rejected(self):
        out = bytearray(10)
        self.assertEqual(fr.cobs_decode(b"\x05ab", 3, out), -1)


class TestDecoder(unittest.TestCase):
    def test_resync_after_garbage(self):
        got = Collect()
        dec = fr.Decoder(got)
        dec.feed(b"\x13\x37garbage" + wire(b"\x02one") + b"\xff\xfe\x00" + wire(b"\x02two"))
        self.assertEqual(got.frames, [b"\x02one", b"\x02two"])
        self.assertEqual(dec.errors, 2)  # the garbage and the stray bytes

    def test_flipped_bit_drops_frame(self):
        got = Collect()
        dec = fr.Decoder(got)
        bad = bytearray(wire(b"\x02hello"))
        bad[3] ^= 0x10
        dec.feed(bytes(bad) + wire(b"\x02next"))
        self.assertEqual(got.frames, [b"\x02next"])
        self.assertEqual(dec.errors, 1)

    def test_dropped_byte_drops_frame(self):
        got = Collect()
        dec = fr.Decoder(got)
        w = wire(b"\x02hello world")
        dec.feed(w[:4] + w[5:] + wire(b"\x02next"))
        self.assertEqual(got.frames, [b"\x02next"])

    def test_overlong_run_is_discarded(self):
        got = Collect()
        dec = fr.Decoder(got)
        dec.feed(b"\x01" * 500 + b"\x00" + wire(b"\x02ok"))
        self.assertEqual(got.frames, [b"\x02ok"])
        self.assertEqual(dec.errors, 1)

    def test_byte_at_a_time(self):
        got = Collect()
        dec = fr.Decoder(got)
        for b in wire(b"\x02\x00split\x00"):
            dec.feed(bytes([b]))
        self.assertEqual(got.frames, [b"\x02\x00split\x00"])


if __name__ == "__main__":
    unittest.main()
