"""Targets for what arrives on a wire: MQTT messages (parser, full ingest) and serial frames.

- `envelope`: `contract.parse_batch` raises only `ContractError`; every event it accepts
  re-encodes to JSON that parses back to the same event, and its kept body decodes to its item.
- `ingest`: one message on one of five topics (own, another agent's, the status channel, an
  unregistered agent, a malformed topic) through `Ingest.apply_messages` into a real SQLite
  store: no exception escapes `handle`, nothing is committed that breaks the contract's bounds.
- `serial`: the byte stream split at a fuzzed point and fed to the Pi's decoder
  (`agent.serial_link`) and to the firmware's (`firmware/taktnode/frame.py`): both hand on the
  same frames; each frame then goes through the link's handler, which raises nothing but the
  `ValueError` of a bad frame.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fuzz.targets import OneInput, Target

__all__ = ["TARGETS"]

SITE, AREA = "plant1", "harness"
AGENT = "pi-crimp-01"
NOW = "2026-11-23T08:00:00Z"
RECEIVED = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)


def _event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "type": "badge.read",
        "source": "crimp-01-badge",
        "agent": AGENT,
        "station": "crimp-01",
        "instance": "0123456789abcdef0123456789abcdef",
        "seq": 1,
        "time": NOW,
        "mono_ns": 1_000,
        "boot": "boot1",
        "payload": {"tag": "04A1B2C3"},
    }
    base.update(changes)
    return base


def _message(*events: dict[str, Any]) -> bytes:
    sent = {"time": NOW, "mono_ns": 2_000, "boot": "boot1"}
    return json.dumps({"v": 1, "agent": AGENT, "sent": sent, "events": list(events)}).encode()


def message_seeds() -> list[bytes]:
    """Valid messages of every agent-side event type, and the crafted ones of issue 15."""
    heartbeat = {"uptime_s": 5.5, "outbox_depth": 0, "outbox_oldest_age_s": None, "dead_letters": 0}
    position = {
        "lat": 48.1,
        "lon": 11.5,
        "speed_mps": 16.7,
        "heading_deg": 90.0,
        "fix": "3d",
        "gps_time": NOW,
    }
    return [
        _message(_event()),
        _message(_event(seq=2, type="machine.signal", payload={"signal": "cycle", "count": 3})),
        _message(_event(seq=3, type="machine.signal", payload={"signal": "run", "on": True})),
        _message(_event(seq=4, type="machine.stop_reason", payload={"reason": "breakdown"})),
        _message(_event(seq=5, type="job.ticket", payload={"tag": "04A1B2C3", "action": "start"})),
        _message(_event(seq=6, type="agent.heartbeat", source=AGENT, payload=heartbeat)),
        _message(_event(seq=7, type="gps.position", source=AGENT, station=None, payload=position)),
        _message(_event(seq=99999999999999999999)),
        _message(_event(type="agent.alarm", payload={"alarm": "reader_lost", "detail": "\x00"})),
        _message(_event(time="9999-12-31T23:59:59Z", boot="b2")),
        _message(_event(station="crimp-02")),
        _message(_event(), _event(seq=2)).replace(b'"seq": 2', b'"seq": NaN'),
    ]


def _envelope(folder: Path) -> OneInput:
    from contract import ContractError, parse_batch, parse_event

    def one_input(data: bytes) -> None:
        try:
            batch = parse_batch(data)
        except ContractError:
            return
        for event, body, item in zip(batch.events, batch.bodies, batch.items, strict=True):
            again = parse_event(json.loads(event.to_json()))
            if again != event:
                raise AssertionError(f"re-encoded event differs: {event} / {again}")
            if json.loads(body) != item:
                raise AssertionError("an event's kept body is not its item")

    return one_input


_TOPICS = (
    f"taktline/v1/{SITE}/{AREA}/{AGENT}/events",
    f"taktline/v1/{SITE}/{AREA}/pi-crimp-02/events",
    f"taktline/v1/{SITE}/{AREA}/{AGENT}/status",
    f"taktline/v1/{SITE}/{AREA}/pi-ghost/events",
    f"taktline/v1/{SITE}/{AREA}/{AGENT}/events/extra",
)


def _ingest(folder: Path) -> OneInput:
    from cloud.ingest import Ingest
    from cloud.status import ResourceStatus
    from cloud.store import EventLog
    from taktline.mqtt import BrokerSettings

    log = EventLog(folder / "cloud.db", synchronous="NORMAL")
    for agent in (AGENT, "pi-crimp-02"):
        log.register_agent(agent, SITE, AREA)
    log.register_device("crimp-01-badge", AGENT, "crimp-01")
    log.register_device("crimp-02-badge", "pi-crimp-02", "crimp-02")
    escaped: list[BaseException] = []

    class Strict(Ingest):
        """Ingest whose `handle` errors reach the fuzzer (the live loop dead-letters them)."""

        def handle(self, topic: str, payload: bytes, received: datetime, work: Any) -> None:
            try:
                super().handle(topic, payload, received, work)
            except BaseException as exc:
                escaped.append(exc)
                raise

    ingest = Strict(log, ResourceStatus(), BrokerSettings.from_url("mqtt://127.0.0.1:1"), site=SITE)

    def one_input(data: bytes) -> None:
        topic = _TOPICS[data[0] % len(_TOPICS)] if data else _TOPICS[0]
        before = ingest.stats.committed
        ingest.apply_messages([(topic, data[1:], RECEIVED)])  # a store error escapes too
        if escaped:
            raise escaped.pop()
        if ingest.stats.committed > before:
            # What /api/status serves must stay JSON a browser parses: no NaN, no Infinity.
            json.dumps(ingest.status.snapshot(), allow_nan=False)

    return one_input


def ingest_seeds() -> list[bytes]:
    return [bytes([0]) + seed for seed in message_seeds()] + [b"\x02" + b'{"v":1}']


def _serial(folder: Path) -> OneInput:
    from agent.outbox import Outbox
    from agent.serial_link import SerialLink, _Decoder
    from hardware.serial_node import firmware_module
    from taktline.clock import FakeClock

    frame_mod = firmware_module("frame")
    outbox = Outbox(folder / "outbox.db", agent="pi-node-01", synchronous="NORMAL")

    class NullPort:
        def __init__(self) -> None:
            self.incoming: deque[bytes] = deque()

        def read(self, size: int = 1) -> bytes:
            return b""

        def write(self, data: bytes, /) -> int | None:
            return len(data)

        @property
        def in_waiting(self) -> int:
            return 0

        def close(self) -> None:
            pass

    link = SerialLink(
        NullPort(),
        outbox,
        agent="pi-node-01",
        stations={"node-01": "crimp-01"},
        clock=FakeClock(RECEIVED),
    )

    def one_input(data: bytes) -> None:
        cut = data[0] if data else 0
        stream = data[1:]
        pi = _Decoder()
        pi_frames = pi.feed(stream[:cut]) + pi.feed(stream[cut:])
        fw_frames: list[bytes] = []
        fw = frame_mod.Decoder(lambda buf, n: fw_frames.append(bytes(buf[:n])))
        fw.feed(stream[:cut])
        fw.feed(stream[cut:])
        if pi_frames != fw_frames:
            raise AssertionError(f"decoders differ: Pi {pi_frames!r}, firmware {fw_frames!r}")
        if pi.errors != fw.errors:
            raise AssertionError(f"error counts differ: Pi {pi.errors}, firmware {fw.errors}")
        for body in pi_frames:
            with contextlib.suppress(ValueError):  # a bad frame: counted and logged by poll()
                link._handle(body)

    return one_input


def serial_seeds() -> list[bytes]:
    import struct

    from agent.serial_link import _EVENT_HEAD, _HELLO_HEAD, KIND_BADGE, T_EVENT, T_HELLO
    from agent.serial_link import encode_frame as frame

    inst = secrets.token_bytes(16)
    hello = _HELLO_HEAD.pack(T_HELLO, inst, 1_000, 1, 0, 0, 0) + b"\x031.0\x07node-01"
    event = _EVENT_HEAD.pack(T_EVENT, inst, 1, 1_000, 2_000, KIND_BADGE) + b"\x04\xa1\xb2\xc3"
    cycle = _EVENT_HEAD.pack(T_EVENT, inst, 2, 1_000, 2_000, 4) + struct.pack(">I", 7)
    past_end = _HELLO_HEAD.pack(T_HELLO, inst, 1, 1, 0, 0, 0) + b"\xff1.0"
    overflow = _EVENT_HEAD.pack(T_EVENT, inst, 3, 0, 2**64 - 1, KIND_BADGE) + b"\x04\xa1\xb2\xc3"
    return [
        b"\x05" + frame(hello) + frame(event) + frame(cycle),
        b"\x00" + frame(hello) + frame(past_end),
        b"\x30" + frame(hello) + frame(overflow),
        b"\x10" + b"\xff" * 120 + frame(hello),
    ]


TARGETS = (
    Target("envelope", "the events message: envelope and batch parser", _envelope, message_seeds),
    Target("ingest", "one MQTT message through ingest into SQLite", _ingest, ingest_seeds, 0.1),
    Target("serial", "serial frames: Pi and firmware decoders, link", _serial, serial_seeds),
)
