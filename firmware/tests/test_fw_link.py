import struct
import unittest

from doubles import FakeTicks, Stream, Uptime
from taktnode import frame as fr
from taktnode import link as lk
from taktnode.ring import Ring

INSTANCE = bytes(range(1, 17))


def wire(payload):
    buf = bytearray(fr.MAX_FRAME)
    buf[0 : len(payload)] = payload
    out = bytearray(fr.MAX_ENCODED)
    n = fr.encode(buf, len(payload), out)
    return bytes(out[0:n])


def frames(data):
    got = []
    fr.Decoder(lambda buf, n: got.append(bytes(buf[0:n]))).feed(data)
    return got


def ack(seq, instance=INSTANCE):
    return wire(struct.pack(lk.ACK_FMT, fr.T_ACK, instance, seq))


class Node:
    def __init__(self, ring_size=8):
        self.ticks = FakeTicks()
        self.stream = Stream()
        self.commands = []
        self.link = lk.NodeLink(
            self.stream,
            Uptime(self.ticks),
            INSTANCE,
            "node-7",
            "0.1.0",
            on_command=lambda op, arg: self.commands.append((op, arg)),
            ring=Ring(ring_size),
            rto_ms=100,
            heartbeat_ms=1000,
        )

    def sent(self):
        return frames(self.stream.drain())

    def events(self):
        return [struct.unpack_from(lk.EVENT_HEAD, f, 0) for f in self.sent() if f[0] == fr.T_EVENT]


class TestEvents(unittest.TestCase):
    def test_event_is_sent_at_once_with_seq_and_uptime(self):
        node = Node()
        node.ticks.advance(50)
        seq = node.link.send_event(lk.KIND_BADGE, b"\x04\xa1\xb2\xc3", 40)
        self.assertEqual(seq, 1)
        sent = node.sent()
        self.assertEqual(len(sent), 1)
        head = struct.unpack_from(lk.EVENT_HEAD, sent[0], 0)
        self.assertEqual(head, (fr.T_EVENT, INSTANCE, 1, 40000, 50000, lk.KIND_BADGE))
        self.assertEqual(sent[0][lk.EVENT_HEAD_LEN :], b"\x04\xa1\xb2\xc3")

    def test_unacked_event_is_retransmitted_until_acked(self):
        node = Node()
        node.link.send_event(lk.KIND_RUN, b"\x01", 0)
        node.sent()
        node.ticks.advance(99)
        node.link.poll()
        self.assertEqual(node.events(), [])
        node.ticks.advance(1)
        node.link.poll()
        again = node.events()
        self.assertEqual([e[2] for e in again], [1])
        self.assertEqual(again[0][4], 100000)  # the sent stamp is fresh
        node.stream.rx.push(ack(1))
        node.ticks.advance(500)
        node.link.poll()
        self.assertEqual(node.events(), [])
        self.assertEqual(node.link.ring.depth, 0)

    def test_ack_for_another_instance_is_ignored(self):
        node = Node()
        node.link.send_event(lk.KIND_RUN, b"\x01", 0)
        node.stream.rx.push(ack(1, instance=b"\xee" * 16))
        node.link.poll()
        self.assertEqual(node.link.ring.depth, 1)

    def test_full_ring_counts_overflow_and_keeps_old_frames(self):
        node = Node(ring_size=2)
        self.assertEqual(node.link.send_event(lk.KIND_CYCLE, b"\x00\x00\x00\x01", 0), 1)
        self.assertEqual(node.link.send_event(lk.KIND_CYCLE, b"\x00\x00\x00\x01", 0), 2)
        self.assertEqual(node.link.send_event(lk.KIND_CYCLE, b"\x00\x00\x00\x01", 0), 0)
        self.assertEqual(node.link.overflow, 1)
        self.assertEqual(sorted(node.link.ring.held()), [1, 2])
        node.stream.rx.push(ack(1))
        node.link.poll()
        self.assertEqual(node.link.send_event(lk.KIND_CYCLE, b"\x00\x00\x00\x01", 0), 3)

    def test_out_of_order_acks(self):
        node = Node()
        for _ in range(3):
            node.link.send_event(lk.KIND_RUN, b"\x00", 0)
        node.stream.rx.push(ack(2) + ack(3))
        node.link.poll()
        self.assertEqual(node.link.ring.held(), [1])


class TestHelloAndCommands(unittest.TestCase):
    def test_hello_at_heartbeat_and_on_sync(self):
        node = Node()
        node.link.poll()
        hello = [f for f in node.sent() if f[0] == fr.T_HELLO]
        self.assertEqual(len(hello), 1)
        _, inst, up, next_seq, depth, overflow, flags = struct.unpack_from(lk.HELLO_HEAD, hello[0])
        self.assertEqual((inst, next_seq, depth, overflow), (INSTANCE, 1, 0, 0))
        rest = hello[0][lk.HELLO_HEAD_LEN :]
        self.assertEqual(rest, b"\x050.1.0\x06node-7")
        node.ticks.advance(500)
        node.link.poll()
        self.assertEqual(node.sent(), [])
        node.stream.rx.push(wire(bytes([fr.T_SYNC])))
        node.link.poll()
        self.assertEqual([f[0] for f in node.sent()], [fr.T_HELLO])

    def test_sync_makes_held_frames_due_at_once(self):
        node = Node()
        node.link.poll()
        node.link.send_event(lk.KIND_RUN, b"\x01", 0)
        node.sent()
        node.stream.rx.push(wire(bytes([fr.T_SYNC])))
        node.link.poll()
        self.assertEqual([f[0] for f in node.sent()], [fr.T_HELLO, fr.T_EVENT])

    def test_command_runs_once_and_every_copy_is_acknowledged(self):
        node = Node()
        node.link.poll()
        node.sent()
        cmd = wire(struct.pack(lk.COMMAND_FMT, fr.T_COMMAND, 7, lk.OP_STACK_LIGHT, 1))
        node.stream.rx.push(cmd + cmd)
        node.link.poll()
        self.assertEqual(node.commands, [(lk.OP_STACK_LIGHT, 1)])
        acks = [struct.unpack(lk.CMD_ACK_FMT, f) for f in node.sent() if f[0] == fr.T_CMD_ACK]
        self.assertEqual(acks, [(fr.T_CMD_ACK, INSTANCE, 7)] * 2)

    def test_garbage_and_corrupt_frames_are_counted(self):
        node = Node()
        bad = bytearray(ack(1))
        bad[4] ^= 1
        node.stream.rx.push(b"\x01\x02\x03\x00" + bytes(bad))
        node.link.poll()
        self.assertEqual(node.link.decode_errors, 2)


if __name__ == "__main__":
    unittest.main()
