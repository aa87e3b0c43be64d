"""The node's end of the serial link: events out with sequence numbers, acks and commands in.

Every event gets the next sequence number of this boot's random instance id, goes into the ring
of unacknowledged frames and is sent at once. The agent acknowledges `(instance, seq)` only after
its durable outbox holds the event; the frame is sent again every `rto_ms` until then, so a lost
or corrupted frame costs a retransmission, not a read. A HELLO (instance, firmware version, node
id, uptime, next sequence number, ring depth, overflow count) goes out at boot, every
`heartbeat_ms` and whenever the agent sends SYNC (which also makes every held frame due at once,
so a restarted agent gets the backlog without waiting). Frame layouts: `docs/serial-link.md`.
"""

import struct

from taktnode import frame as fr
from taktnode._compat import const
from taktnode.ring import RING_SIZE, Ring

RTO_MS = const(250)
HEARTBEAT_MS = const(1000)
MAX_ID = const(32)
MAX_SENDS_PER_POLL = const(4)

KIND_BADGE = const(1)
KIND_TOOL = const(2)
KIND_RUN = const(3)
KIND_CYCLE = const(4)

EVENT_HEAD = ">B16sIQQB"  # type, instance, seq, event uptime us, sent uptime us, kind
EVENT_HEAD_LEN = const(38)
SENT_AT = const(29)  # offset of the sent-uptime field, rewritten at every (re)transmission
HELLO_HEAD = ">B16sQIBIB"  # type, instance, uptime us, next seq, ring depth, overflow, flags
HELLO_HEAD_LEN = const(35)
CMD_ACK_FMT = ">B16sH"
ACK_FMT = ">B16sI"
ACK_LEN = const(21)
COMMAND_FMT = ">BHBB"
COMMAND_LEN = const(5)

OP_STACK_LIGHT = const(1)


class NodeLink:
    """Sends events reliably over `stream` and dispatches the agent's frames.

    `stream` has `read_into(buf) -> int` (non-blocking, 0 when nothing is waiting) and
    `write(buf, n)`. `uptime` has `ms()`. `on_command(op, arg)` runs a command (stack light).
    """

    def __init__(
        self,
        stream,
        uptime,
        instance,
        node_id,
        version,
        on_command=None,
        ring=None,
        rto_ms=RTO_MS,
        heartbeat_ms=HEARTBEAT_MS,
        reset_cause=0,
    ):
        if len(instance) != 16:
            raise ValueError("instance must be 16 bytes")
        if not 0 < len(node_id) <= MAX_ID or len(version) > 16:
            raise ValueError("node id must be 1 to 32 bytes, version at most 16")
        self.stream = stream
        self.uptime = uptime
        self.instance = bytes(instance)
        self.node_id = node_id.encode() if isinstance(node_id, str) else bytes(node_id)
        self.version = version.encode() if isinstance(version, str) else bytes(version)
        self.on_command = on_command
        self.ring = ring if ring is not None else Ring(RING_SIZE)
        self.rto_ms = rto_ms
        self.heartbeat_ms = heartbeat_ms
        self.reset_cause = reset_cause
        self.next_seq = 1
        self.overflow = 0
        self.last_cmd = -1
        self.acked = 0
        self._tx = bytearray(fr.MAX_ENCODED)
        self._scratch = bytearray(fr.MAX_FRAME)
        self._rx = bytearray(64)
        self._hello_ms = -(1 << 30)
        self._decoder = fr.Decoder(self._on_frame)

    # --- events out ---------------------------------------------------------------------------

    def send_event(self, kind, data, event_ms):
        """Queues one event (uptime `event_ms`) and sends it; returns its seq, or 0 on overflow."""
        ring = self.ring
        slot = ring.reserve()
        if slot < 0:
            self.overflow += 1
            return 0
        seq = self.next_seq
        self.next_seq = seq + 1
        buf = ring.frames[slot]
        struct.pack_into(
            EVENT_HEAD, buf, 0, fr.T_EVENT, self.instance, seq, event_ms * 1000, 0, kind
        )
        n = len(data)
        buf[EVENT_HEAD_LEN : EVENT_HEAD_LEN + n] = data
        ring.commit(slot, seq, EVENT_HEAD_LEN + n)
        self._transmit(slot, self.uptime.ms())
        return seq

    def _transmit(self, slot, now_ms):
        ring = self.ring
        buf = ring.frames[slot]
        struct.pack_into(">Q", buf, SENT_AT, now_ms * 1000)
        self._write(buf, ring.lengths[slot])
        ring.sent_ms[slot] = now_ms

    def _write(self, buf, length):
        n = fr.encode(buf, length, self._tx)
        self.stream.write(self._tx, n)

    def send_hello(self, now_ms):
        """Sends a HELLO (also the heartbeat) now."""
        buf = self._scratch
        struct.pack_into(
            HELLO_HEAD,
            buf,
            0,
            fr.T_HELLO,
            self.instance,
            now_ms * 1000,
            self.next_seq,
            min(self.ring.depth, 255),
            self.overflow,
            self.reset_cause,
        )
        i = HELLO_HEAD_LEN
        for text in (self.version, self.node_id):
            buf[i] = len(text)
            buf[i + 1 : i + 1 + len(text)] = text
            i += 1 + len(text)
        self._write(buf, i)
        self._hello_ms = now_ms

    # --- the main loop's call -----------------------------------------------------------------

    def poll(self):
        """Reads what arrived, handles it, resends overdue frames and sends the heartbeat."""
        while True:
            n = self.stream.read_into(self._rx)
            if not n:
                break
            self._decoder.feed(self._rx, n)
        now = self.uptime.ms()
        if now - self._hello_ms >= self.heartbeat_ms:
            self.send_hello(now)
        for _ in range(MAX_SENDS_PER_POLL):
            slot = self.ring.oldest_due(now, self.rto_ms)
            if slot < 0:
                break
            self._transmit(slot, now)

    @property
    def decode_errors(self):
        """Frames dropped for a bad CRC, bad COBS or overlength since boot."""
        return self._decoder.errors

    # --- frames in ----------------------------------------------------------------------------

    def _on_frame(self, buf, n):
        kind = buf[0]
        if kind == fr.T_ACK and n == ACK_LEN:
            _, instance, seq = struct.unpack_from(ACK_FMT, buf, 0)
            if instance == self.instance and self.ring.ack(seq):
                self.acked += 1
        elif kind == fr.T_COMMAND and n == COMMAND_LEN:
            _, cmd_id, op, arg = struct.unpack_from(COMMAND_FMT, buf, 0)
            # Commands are retried until acknowledged: run each id once, acknowledge every copy.
            if cmd_id != self.last_cmd:
                self.last_cmd = cmd_id
                if self.on_command is not None:
                    self.on_command(op, arg)
            out = self._scratch
            struct.pack_into(CMD_ACK_FMT, out, 0, fr.T_CMD_ACK, self.instance, cmd_id)
            self._write(out, 19)
        elif kind == fr.T_SYNC and n == 1:
            self.ring.mark_all_due()
            self.send_hello(self.uptime.ms())
