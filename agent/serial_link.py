"""The Pi's end of a reader node's USB serial link: frames in, contract events into the outbox.

One `SerialLink` serves one port, i.e. one node (see `docs/serial-link.md` for the protocol; the
node's end is `firmware/taktnode/link.py`). Each EVENT frame becomes a contract `Event` that keeps
the node's identity (`instance` = the node's per-boot random id, `seq` = its sequence number,
`source` = its node id) and carries this agent's id and the station the node is registered to.
The frame is acknowledged only after `Outbox.append_event()` returned: a retransmitted frame
whose first ack was lost is a duplicate the outbox recognises, and is acknowledged again. The
node has no wall clock: `time` is the receipt time less the age the node reports for the event,
`mono_ns` its uptime and `boot` its instance.

Commands for the node (the stack light) go out with `send_command()` and are repeated until the
node acknowledges them. A node that is not registered here gets no acks: its reads stay in its
ring buffer until it is plugged into the agent it belongs to.
"""

from __future__ import annotations

import binascii
import logging
import secrets
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Final, Protocol

from agent.errors import AgentError, OutboxFull
from agent.outbox import Outbox
from contract import Event, tag_id_from_uid
from contract.errors import ContractError
from contract.fields import ID_RE, MAX_SEQ, PLAUSIBLE_BEHIND
from taktline.clock import Clock, SystemClock, utc_iso
from taktline.supervise import Worker

__all__ = [
    "FRAME_TYPES",
    "LinkStats",
    "NodeInfo",
    "SerialLink",
    "SerialPort",
    "UnknownNode",
    "cobs_decode",
    "crc16",
    "encode_frame",
    "open_serial_link",
]

log = logging.getLogger(__name__)

_REFUSALS_BEFORE_ACK: Final = 3

T_HELLO: Final = 0x01
T_EVENT: Final = 0x02
T_CMD_ACK: Final = 0x04
T_ACK: Final = 0x81
T_COMMAND: Final = 0x82
T_SYNC: Final = 0x83
FRAME_TYPES: Final = {
    "HELLO": T_HELLO,
    "EVENT": T_EVENT,
    "CMD_ACK": T_CMD_ACK,
    "ACK": T_ACK,
    "COMMAND": T_COMMAND,
    "SYNC": T_SYNC,
}
MAX_FRAME: Final = 96
MAX_ENCODED: Final = 99

_EVENT_HEAD = struct.Struct(">B16sIQQB")
_HELLO_HEAD = struct.Struct(">B16sQIBIB")
_CMD_ACK = struct.Struct(">B16sH")
_ACK = struct.Struct(">B16sI")
_COMMAND = struct.Struct(">BHBB")

KIND_BADGE: Final = 1
KIND_TOOL: Final = 2
KIND_RUN: Final = 3
KIND_CYCLE: Final = 4
OP_STACK_LIGHT: Final = 1
STACK_LIGHT_BITS: Final = {"red": 1, "amber": 2, "green": 4}


class UnknownNode(AgentError, KeyError):
    """A command was addressed to a node that is not (or not yet) seen on this link."""


# --- framing ----------------------------------------------------------------------------------


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF), as the firmware computes."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(body: bytes) -> bytes:
    """Returns `0x00 COBS(body | crc16(body)) 0x00`, ready to write."""
    if not 1 <= len(body) <= MAX_FRAME - 2:
        raise ValueError(f"frame body of {len(body)} bytes; expected 1 to {MAX_FRAME - 2}")
    data = body + crc16(body).to_bytes(2, "big")
    out = bytearray(b"\x00")
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
            continue
        block.append(byte)
        if len(block) == 254:
            out.append(255)
            out += block
            block.clear()
    out.append(len(block) + 1)
    out += block
    out.append(0)
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """Decodes one COBS block (no delimiters); None when it is malformed."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        end = i + code
        if code == 0 or end > len(data):
            return None
        out += data[i + 1 : end]
        i = end
        if code != 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


class _Decoder:
    """Splits the byte stream at zero bytes and keeps the frames whose CRC is good."""

    def __init__(self) -> None:
        self._buf = bytearray()
        #: the frame in progress ran past MAX_ENCODED: drop it whole at its delimiter
        self._overflow = False
        self.errors = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The good frames completed by `data`, as the firmware's `Decoder` would hand them on.

        However the bytes are split into calls, the frames are the same: a run longer than
        MAX_ENCODED is dropped whole at its delimiter, and a frame longer than MAX_FRAME is an
        error (fuzz/ compares the two decoders byte for byte).
        """
        frames: list[bytes] = []
        self._buf += data
        *chunks, rest = bytes(self._buf).split(b"\x00")
        if chunks and self._overflow:
            chunks[0] = b"\xff" * (MAX_ENCODED + 1)  # the overflowed run ends here: dropped
            self._overflow = False
        self._buf = bytearray(rest)
        if len(self._buf) > MAX_ENCODED:
            self._buf.clear()  # the delimiter will come; this frame is lost anyway
            self._overflow = True
        for chunk in chunks:
            if not chunk:
                continue
            frame = cobs_decode(chunk) if len(chunk) <= MAX_ENCODED else None
            if frame is None or not 3 <= len(frame) <= MAX_FRAME or crc16(frame) != 0:
                self.errors += 1
                continue
            frames.append(frame[:-2])
        return frames


# --- state ------------------------------------------------------------------------------------


class SerialPort(Protocol):
    """What the link needs of a `serial.Serial`."""

    def read(self, size: int = 1) -> bytes:
        """Reads up to `size` bytes, waiting at most the port's timeout."""
        ...

    def write(self, data: bytes, /) -> int | None:
        """Writes bytes."""
        ...

    @property
    def in_waiting(self) -> int:
        """Bytes already received."""
        ...

    def close(self) -> None:
        """Closes the port."""
        ...


@dataclass
class NodeInfo:
    """What the latest HELLO told about the node on this link."""

    node_id: str
    instance: str
    version: str
    station: str | None
    uptime_us: int
    next_seq: int
    ring_depth: int
    overflow: int
    reset_cause: int


@dataclass
class LinkStats:
    """Counters for observability and tests."""

    frames: int = 0
    decode_errors: int = 0
    stored: int = 0
    duplicates: int = 0
    acks_sent: int = 0
    rejected: int = 0
    unregistered: int = 0
    outbox_full: int = 0
    #: frames with a good CRC that do not parse (a HELLO whose lengths point past its end, ...)
    bad_frames: int = 0


@dataclass
class _Command:
    frame: bytes
    last_sent_ns: int
    done: threading.Event


class SerialLink:
    """Turns one node's frames into outbox events; sends it acks and commands.

    Args:
        port: an open pyserial port (or anything with `read`, `write`, `in_waiting`, `close`),
            with a short read timeout (e.g. 0.05 s).
        outbox: where events go; an event is acknowledged after its append returned.
        agent: this agent's id, put in every event.
        stations: node id -> station for the nodes registered to this agent.
        clock: the agent's clock; receipt time comes from it.
        command_retry_s: how often an unacknowledged command is sent again.
    """

    def __init__(
        self,
        port: SerialPort,
        outbox: Outbox,
        *,
        agent: str,
        stations: Mapping[str, str],
        clock: Clock | None = None,
        command_retry_s: float = 0.25,
    ) -> None:
        self.port = port
        self.outbox = outbox
        self.agent = agent
        self.stations = dict(stations)
        self.clock = clock or SystemClock()
        self.command_retry_ns = int(command_retry_s * 1e9)
        self.stats = LinkStats()
        self.node: NodeInfo | None = None
        self._instances: dict[bytes, str] = {}  # node instances seen -> node id
        # (instance, seq) -> (frame body, times refused): see the rejection branch below.
        self._refused: dict[tuple[bytes, int], tuple[bytes, int]] = {}
        self._decoder = _Decoder()
        self._write_lock = threading.Lock()
        self._commands: dict[int, _Command] = {}
        self._next_cmd = secrets.randbelow(0xFFFF) + 1  # not reused across agent restarts
        self._last_sync_ns: int | None = None
        self._alarmed = False
        self.worker = Worker(
            "serial-link",
            self._serve,
            on_fault=self._fault,
            on_recover=self._recovered,
            backoff_s=0.05,
            backoff_max_s=2.0,
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SerialLink:
        """Asks the node for a HELLO and its backlog, then serves the port in a thread.

        The thread is a supervised worker: a frame that makes the link raise is logged, the
        link goes on with the next frame after a short back-off, and three faults in a row are a
        `worker_fault` alarm (`worker_recovered` when frames are handled again).
        """
        self._send_sync()
        self.worker.start()
        return self

    def stop(self) -> None:
        """Stops the thread and closes the port (the outbox stays open: it is not ours)."""
        self.worker.stop(5)
        self.port.close()

    def __enter__(self) -> SerialLink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self, worker: Worker) -> None:
        while not worker.stopping:
            try:
                self.poll()
            except OSError as exc:  # the cable was pulled: wait for it to come back
                log.warning("serial link: %s", exc)
                worker.wait(0.2)
                continue
            worker.beat()

    def _fault(self, worker: Worker, exc: BaseException) -> None:
        if worker.faults_in_a_row == worker.failing_after and not self._alarmed:
            self._alarmed = True
            self.outbox.raise_alarm("worker_fault", f"{worker.name}: {worker.last_error}")

    def _recovered(self, worker: Worker) -> None:
        if self._alarmed:
            self._alarmed = False
            self.outbox.raise_alarm("worker_recovered", f"{worker.name} handles frames again")

    def poll(self) -> None:
        """Reads what the port has (waiting up to its timeout) and handles it; resends commands."""
        data = self.port.read(max(1, min(self.port.in_waiting, 4096)))
        if data:
            for body in self._decoder.feed(data):
                self.stats.frames += 1
                try:
                    self._handle(body)
                except OSError:
                    raise  # the port itself failed: `_serve` waits for it
                except Exception as exc:  # one frame never stops the node's link
                    self.stats.bad_frames += 1
                    log.warning("serial link: frame %s not handled: %r", body[:64].hex(), exc)
            self.stats.decode_errors = self._decoder.errors
        self._resend_commands()

    # --- frames in ----------------------------------------------------------------------------

    def _handle(self, body: bytes) -> None:
        kind = body[0]
        if kind == T_EVENT and len(body) >= _EVENT_HEAD.size:
            self._on_event(body)
        elif kind == T_HELLO and len(body) >= _HELLO_HEAD.size + 2:
            self._on_hello(body)
        elif kind == T_CMD_ACK and len(body) == _CMD_ACK.size:
            _, _, cmd_id = _CMD_ACK.unpack(body)
            command = self._commands.pop(cmd_id, None)
            if command is not None:
                command.done.set()
        else:
            self.stats.bad_frames += 1
            log.warning("serial link: unexpected frame %s", body[:64].hex())

    def _on_hello(self, body: bytes) -> None:
        _, inst, uptime_us, next_seq, depth, overflow, cause = _HELLO_HEAD.unpack_from(body)
        version, node_id = _hello_texts(body)
        previous = self.node
        self._instances[inst] = node_id
        self.node = NodeInfo(
            node_id=node_id,
            instance=inst.hex(),
            version=version,
            station=self.stations.get(node_id),
            uptime_us=uptime_us,
            next_seq=next_seq,
            ring_depth=depth,
            overflow=overflow,
            reset_cause=cause,
        )
        if previous is None or previous.instance != inst.hex():
            log.info("serial link: node %s firmware %s instance %s", node_id, version, inst.hex())
        if overflow and (previous is None or previous.overflow != overflow):
            log.error("serial link: node %s lost %d reads to a full ring buffer", node_id, overflow)

    def _on_event(self, body: bytes) -> None:
        _, instance, seq, event_us, sent_us, kind = _EVENT_HEAD.unpack_from(body)
        data = body[_EVENT_HEAD.size :]
        node_id = self._instances.get(instance)
        if node_id is None:
            self._send_sync()  # a new instance (node reset, or we restarted): ask for a HELLO
            return
        station = self.stations.get(node_id)
        if station is None:
            self.stats.unregistered += 1
            log.warning("serial link: node %s is not registered to agent %s", node_id, self.agent)
            return
        received = self.clock.now()
        age_us = max(0, sent_us - event_us)
        try:
            if age_us > _MAX_AGE_US:
                raise ValueError(f"event of {age_us} µs before its frame was sent is implausible")
            if event_us * 1000 > MAX_SEQ:
                raise ValueError(f"event time {event_us} µs on the node's clock is out of range")
            event = Event(
                type=_EVENT_TYPES.get(kind, "unknown"),
                source=node_id,
                agent=self.agent,
                station=station,
                instance=instance.hex(),
                seq=seq,
                time=utc_iso(received - timedelta(microseconds=age_us)),
                mono_ns=event_us * 1000,
                boot=instance.hex(),
                payload=_payload(kind, data),
            )
            added = self.outbox.append_event(event)
        except OutboxFull:
            self.stats.outbox_full += 1
            return  # no ack: the node keeps it and sends it again
        except (ContractError, ValueError, struct.error) as exc:
            # A good CRC with a payload the contract refuses is either damage that CRC-16 missed
            # (about 1 in 65,536 damaged frames) or a firmware bug. Damage does not repeat: leave
            # the frame unacknowledged so the node sends it again. Only the same bytes refused
            # _REFUSALS_BEFORE_ACK times are acknowledged (and logged), so a bug cannot block
            # the node's ring for ever.
            key = (instance, seq)
            previous = self._refused.get(key)
            count = previous[1] + 1 if previous and previous[0] == body else 1
            self._refused[key] = (bytes(body), count)
            if count < _REFUSALS_BEFORE_ACK:
                log.warning(
                    "serial link: node %s event %d refused, awaiting resend: %s", node_id, seq, exc
                )
                return
            del self._refused[key]
            self.stats.rejected += 1
            log.error("serial link: node %s event %d rejected: %s", node_id, seq, exc)
        else:
            if added:
                self.stats.stored += 1
            else:
                self.stats.duplicates += 1
        self._write(_ACK.pack(T_ACK, instance, seq))
        self.stats.acks_sent += 1

    # --- frames out ---------------------------------------------------------------------------

    def _write(self, body: bytes) -> None:
        with self._write_lock:
            self.port.write(encode_frame(body))

    def _send_sync(self) -> None:
        now = self.clock.monotonic_ns()
        if self._last_sync_ns is not None and now - self._last_sync_ns < 100_000_000:
            return
        self._last_sync_ns = now
        try:
            self._write(bytes([T_SYNC]))
        except OSError as exc:
            log.warning("serial link: cannot send SYNC: %s", exc)

    def send_command(self, lights: Mapping[str, bool] | int) -> int:
        """Sets the node's stack light; returns the command id (see `wait_for_command`).

        `lights` is a bit mask (red 1, amber 2, green 4) or a mapping such as `{"red": True}`.
        The command is repeated every `command_retry_s` until the node acknowledges it.
        """
        if isinstance(lights, int):
            mask = lights
        else:
            mask = sum(STACK_LIGHT_BITS[name] for name, on in lights.items() if on)
        if not 0 <= mask <= 7:
            raise ValueError(f"stack light mask {mask} is not in 0..7")
        cmd_id = self._next_cmd
        self._next_cmd = self._next_cmd % 0xFFFF + 1
        frame = _COMMAND.pack(T_COMMAND, cmd_id, OP_STACK_LIGHT, mask)
        self._commands[cmd_id] = _Command(frame, self.clock.monotonic_ns(), threading.Event())
        self._write(frame)
        return cmd_id

    def wait_for_command(self, cmd_id: int, timeout: float) -> bool:
        """Waits until the node acknowledged command `cmd_id`; False on timeout."""
        command = self._commands.get(cmd_id)
        return True if command is None else command.done.wait(timeout)

    def _resend_commands(self) -> None:
        now = self.clock.monotonic_ns()
        for command in list(self._commands.values()):
            if now - command.last_sent_ns >= self.command_retry_ns:
                command.last_sent_ns = now
                self._write(command.frame)


#: The oldest an event in a node's ring can be when it is sent: its ring holds minutes, not years.
_MAX_AGE_US: Final = int(PLAUSIBLE_BEHIND.total_seconds()) * 1_000_000


def _hello_texts(body: bytes) -> tuple[str, str]:
    """The firmware version and node id after a HELLO's head; ValueError when they do not fit.

    Each is a length byte and that many ASCII bytes; a length past the frame's end, or a node id
    that is no contract id, is a bad frame, never an IndexError.
    """
    i = _HELLO_HEAD.size
    texts: list[str] = []
    for _ in range(2):
        if i >= len(body) or i + 1 + body[i] > len(body):
            raise ValueError(f"HELLO of {len(body)} bytes: a text length points past its end")
        size = body[i]
        texts.append(body[i + 1 : i + 1 + size].decode("ascii", "replace"))
        i += 1 + size
    version, node_id = texts
    if not ID_RE.fullmatch(node_id):
        raise ValueError(f"HELLO names node {node_id!r}, not a valid id")
    return version, node_id


_EVENT_TYPES: Final = {
    KIND_BADGE: "badge.read",
    KIND_TOOL: "tool.read",
    KIND_RUN: "machine.signal",
    KIND_CYCLE: "machine.signal",
}


def _payload(kind: int, data: bytes) -> dict[str, Any]:
    if kind in (KIND_BADGE, KIND_TOOL):
        return {"tag": tag_id_from_uid(data)}
    if kind == KIND_RUN and len(data) == 1:
        return {"signal": "run", "on": bool(data[0])}
    if kind == KIND_CYCLE and len(data) == 4:
        return {"signal": "cycle", "count": struct.unpack(">I", data)[0]}
    raise ValueError(f"event kind {kind} with data {data.hex()} is not known")


def open_serial_link(
    url: str,
    outbox: Outbox,
    *,
    agent: str,
    stations: Mapping[str, str],
    clock: Clock | None = None,
    baudrate: int = 115200,
) -> SerialLink:
    """Opens `url` (a device path such as /dev/ttyACM0, or a pyserial URL) as a node link."""
    import serial

    port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
    return SerialLink(port, outbox, agent=agent, stations=stations, clock=clock)
