"""One serial frame with a good CRC never stops a node's link (issue 15).

A HELLO whose length byte points past the end raised IndexError and an EVENT with
`sent_us - event_us = 2**64 - 1` raised OverflowError out of `poll()`: the node's reads stopped
while the agent ran on. The port here is a byte queue (the node's side is written by the test);
the link, its decoder and the outbox are the real ones.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.outbox import Outbox
from agent.serial_link import (
    _EVENT_HEAD,
    _HELLO_HEAD,
    KIND_BADGE,
    T_EVENT,
    T_HELLO,
    SerialLink,
    encode_frame,
)
from taktline.clock import FakeClock

NODE = "node-01"
INSTANCE = secrets.token_bytes(16)


class BytePort:
    """The node's end of a serial line: what the test queues is what the link reads."""

    def __init__(self) -> None:
        self.incoming: deque[bytes] = deque()
        self.written = bytearray()

    def read(self, size: int = 1) -> bytes:
        return self.incoming.popleft() if self.incoming else b""

    def write(self, data: bytes, /) -> int | None:
        self.written += data
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self.incoming[0]) if self.incoming else 0

    def close(self) -> None:
        pass


@pytest.fixture
def link(tmp_path: Path) -> Iterator[tuple[SerialLink, BytePort, Outbox]]:
    outbox = Outbox(tmp_path / "outbox.db", agent="pi-node-01")
    port = BytePort()
    clock = FakeClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    yield (
        SerialLink(port, outbox, agent="pi-node-01", stations={NODE: "crimp-01"}, clock=clock),
        (port),
        outbox,
    )
    outbox.close()


def hello(version: bytes = b"1.0", node: bytes = NODE.encode(), tail: bytes = b"") -> bytes:
    head = _HELLO_HEAD.pack(T_HELLO, INSTANCE, 1_000, 1, 0, 0, 0)
    return head + bytes([len(version)]) + version + bytes([len(node)]) + node + tail


def event(seq: int, event_us: int = 1_000, sent_us: int = 2_000) -> bytes:
    uid = bytes([0x04, 0xA1, 0xB2, seq & 0xFF])
    return _EVENT_HEAD.pack(T_EVENT, INSTANCE, seq, event_us, sent_us, KIND_BADGE) + uid


def feed(port: BytePort, link: SerialLink, *bodies: bytes) -> None:
    for body in bodies:
        port.incoming.append(encode_frame(body))
        link.poll()


@pytest.mark.parametrize(
    "bad",
    [
        hello()[: _HELLO_HEAD.size] + b"\xff1.0",  # the version's length points past the end
        hello()[: _HELLO_HEAD.size] + b"\x031.0\x40node",  # the node id's length too
        hello()[: _HELLO_HEAD.size] + b"\x00",  # no node id at all
        hello(node=b"node\n01"),  # a node id that is no contract id
    ],
    ids=["version-past-end", "node-past-end", "missing-node", "bad-node-id"],
)
def test_a_hello_that_points_past_its_end_is_a_bad_frame(
    link: tuple[SerialLink, BytePort, Outbox], bad: bytes
) -> None:
    serial_link, port, outbox = link
    feed(port, serial_link, bad)  # must not raise
    assert serial_link.stats.bad_frames == 1
    feed(port, serial_link, hello(), event(1))
    assert serial_link.stats.stored == 1 and outbox.depth() == 1


def test_an_event_with_an_overflowing_age_never_escapes_poll(
    link: tuple[SerialLink, BytePort, Outbox],
) -> None:
    serial_link, port, outbox = link
    feed(port, serial_link, hello())
    for _ in range(3):  # refused until the same bytes came three times, then acknowledged
        feed(port, serial_link, event(1, event_us=0, sent_us=2**64 - 1))
    feed(port, serial_link, event(2, event_us=2**64 - 1, sent_us=2**64 - 1))
    assert serial_link.stats.rejected == 1  # the second waits for its resend
    feed(port, serial_link, event(3))
    assert serial_link.stats.stored == 1 and outbox.depth() == 1
