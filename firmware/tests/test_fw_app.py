import struct
import unittest

from chipsim import SimChip, SimTag
from doubles import FakeBoard
from taktnode import app, config
from taktnode import frame as fr
from taktnode import link as lk


def frames(data):
    got = []
    fr.Decoder(lambda buf, n: got.append(bytes(buf[0:n]))).feed(data)
    return got


def wire(payload):
    buf = bytearray(fr.MAX_FRAME)
    buf[0 : len(payload)] = payload
    out = bytearray(fr.MAX_ENCODED)
    return bytes(out[0 : fr.encode(buf, len(payload), out)])


class Bench:
    def __init__(self):
        self.chip = SimChip()
        self.board = FakeBoard(chip=self.chip)
        self.node = app.Node(self.board)
        self.seen = 0

    def run(self, ms):
        for _ in range(ms // 5):
            self.board.sleep_ms(5)
            self.node.step()

    def events(self):
        # unacknowledged frames are retransmitted: one entry per sequence number
        out = []
        for f in frames(self.board.stream.drain()):
            if f[0] == fr.T_EVENT:
                head = struct.unpack_from(lk.EVENT_HEAD, f, 0)
                event = (head[2], head[5], f[lk.EVENT_HEAD_LEN :])
                if event[0] > self.seen:
                    self.seen = event[0]
                    out.append(event)
        return out


class TestNode(unittest.TestCase):
    def test_boot_sends_hello_first_with_a_fresh_instance(self):
        a = Bench()
        b = Bench()
        first = frames(a.board.stream.drain())[0]
        self.assertEqual(first[0], fr.T_HELLO)
        self.assertNotEqual(a.node.instance, b.node.instance)
        self.assertEqual(a.node.chip_version, 0x92)

    def test_tag_presented_and_held_is_one_event(self):
        bench = Bench()
        tag = bench.chip.add_tag(SimTag(b"\x04\x01\x02\x03"))
        bench.run(500)
        self.assertEqual(bench.events(), [(1, lk.KIND_BADGE, b"\x04\x01\x02\x03")])
        bench.chip.remove_tag(tag)
        bench.run(300)
        bench.chip.add_tag(tag)
        bench.run(100)
        self.assertEqual([e[0] for e in bench.events() if e[1] == lk.KIND_BADGE], [2])

    def test_run_signal_is_debounced(self):
        bench = Bench()
        pin = bench.board.pins[config.PIN_RUN]
        for level in (0, 1, 0, 1, 0):  # contact bounce, settling low (= on)
            pin.drive(level)
        bench.run(100)
        self.assertEqual(bench.events(), [(1, lk.KIND_RUN, b"\x01")])
        pin.drive(1)
        bench.run(100)
        self.assertEqual(bench.events(), [(2, lk.KIND_RUN, b"\x00")])

    def test_cycle_pulses_are_counted_with_bounce_rejected(self):
        bench = Bench()
        pin = bench.board.pins[config.PIN_CYCLE]
        for _ in range(3):
            pin.drive(0)
            pin.drive(1)
            pin.drive(0)  # bounce inside the lockout
            pin.drive(1)
            bench.board.ticks.advance(100)
        bench.node.step()
        self.assertEqual(bench.events(), [(1, lk.KIND_CYCLE, b"\x00\x00\x00\x03")])

    def test_watchdog_is_fed_every_step(self):
        bench = Bench()
        bench.run(50)
        self.assertEqual(bench.board.wdt.feeds, 10)

    def test_stack_light_command(self):
        bench = Bench()
        cmd = struct.pack(lk.COMMAND_FMT, fr.T_COMMAND, 9, lk.OP_STACK_LIGHT, 0b101)
        bench.board.stream.rx.push(wire(cmd))
        bench.run(10)
        lights = [bench.board.pins[p].value() for p in config.PIN_LIGHTS]
        self.assertEqual(lights, [1, 0, 1])


if __name__ == "__main__":
    unittest.main()
