"""Ingest applies each event once and dead-letters bad input with its reason, then keeps going."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.ingest import Ingest
from cloud.store import EventLog
from contract import AgentPath, Event, SentStamp, encode_batch
from contract.envelope import MAX_MESSAGE_BYTES
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import AREA, SITE, make_cloud, wait_for

pytestmark = pytest.mark.mqtt

A1, A2 = "pi-crimp-01", "pi-crimp-02"
NOW = "2026-11-23T08:00:00Z"


def _event(agent: str = A1, seq: int = 1, instance: str | None = None, **extra: object) -> Event:
    fields: dict[str, object] = {
        "type": "badge.read",
        "source": agent,
        "agent": agent,
        "station": "crimp-01",
        "instance": instance or secrets.token_hex(16),
        "seq": seq,
        "time": NOW,
        "mono_ns": 1_000,
        "boot": "boot1",
        "payload": {"tag": "04A1B2C3"},
    }
    fields.update(extra)
    return Event(**fields)  # type: ignore[arg-type]


def _message(agent: str, *events: Event) -> bytes:
    return encode_batch(agent, SentStamp(NOW, 2_000, "boot1"), [e.to_json() for e in events])


class Publisher:
    """A bare paho client that publishes whatever the test says, as a rogue or buggy agent."""

    def __init__(self, url_port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", url_port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def cloud(
    tmp_path: Path, mosquitto: PrivateMosquitto, database: str
) -> Iterator[tuple[EventLog, Ingest, Publisher]]:
    """Ingest on SQLite and on PostgreSQL (the `database` fixture runs each test on both)."""
    log, ingest = make_cloud(tmp_path, mosquitto.url, [A1, A2], database)
    log.register_device("crimp-01-badge", A1, "crimp-01")
    ingest.reload_registry()
    ingest.start()
    assert ingest.wait_for_connection(10)
    publisher = Publisher(mosquitto.port)
    yield log, ingest, publisher
    publisher.close()
    ingest.stop()
    log.close()


def test_same_message_twice_is_applied_once(cloud: tuple[EventLog, Ingest, Publisher]) -> None:
    log, ingest, pub = cloud
    message = _message(A1, _event())
    topic = AgentPath(SITE, AREA, A1).events
    pub.publish(topic, message)
    pub.publish(topic, message)
    wait_for(lambda: ingest.stats.duplicates == 1, 10, "the duplicate to be seen")
    assert log.count() == 1
    # A badge read toggles the operator in and out: applied twice it would be out again.
    assert ingest.status.snapshot()["operators"] == {"04A1B2C3": "crimp-01"}


def _reasons(log: EventLog) -> list[str]:
    return [letter["reason"] for letter in log.dead_letters()]


@pytest.mark.parametrize(
    ("make_payload", "topic_agent", "reason_part"),
    [
        (lambda: b"{not json", A1, "not JSON"),
        (lambda: b'{"v": 1, "agent": "pi-crimp-01"}', A1, "missing"),
        (
            lambda: _message(A1, _event(payload={"tag": "88A1B2C3"})),
            A1,
            "tag",
        ),
        (lambda: _message(A1, _event(type="robot.dance")), A1, "robot.dance"),
        (lambda: _message(A2, _event(agent=A2)), A1, "published under agent"),
        (lambda: _message(A1, _event(source="stranger-reader")), A1, "not registered"),
        (lambda: _message(A2, _event(agent=A2, source="crimp-01-badge")), A2, "belongs to agent"),
        (lambda: _message("pi-ghost", _event(agent="pi-ghost")), "pi-ghost", "not registered"),
        (lambda: b"[" + b"1," * (MAX_MESSAGE_BYTES // 2) + b"1]", A1, "exceeds the limit"),
    ],
    ids=[
        "malformed-json",
        "wrong-envelope",
        "bad-tag",
        "unknown-type",
        "other-agents-topic",
        "unregistered-source",
        "source-of-another-agent",
        "unregistered-agent",
        "oversized",
    ],
)
def test_bad_input_is_dead_lettered_and_ingest_goes_on(
    cloud: tuple[EventLog, Ingest, Publisher],
    make_payload: object,
    topic_agent: str,
    reason_part: str,
) -> None:
    log, _ingest, pub = cloud
    pub.publish(AgentPath(SITE, AREA, topic_agent).events, make_payload())  # type: ignore[operator]
    wait_for(lambda: len(log.dead_letters()) == 1, 10, "a dead letter")
    (reason,) = _reasons(log)
    assert reason_part in reason
    assert log.count() == 0
    # Ingest is still alive and applies the next good message.
    pub.publish(AgentPath(SITE, AREA, A1).events, _message(A1, _event()))
    wait_for(lambda: log.count() == 1, 10, "the next good event")


def test_key_reused_with_other_content_is_dead_lettered(
    cloud: tuple[EventLog, Ingest, Publisher],
) -> None:
    log, _ingest, pub = cloud
    instance = secrets.token_hex(16)
    topic = AgentPath(SITE, AREA, A1).events
    pub.publish(topic, _message(A1, _event(instance=instance)))
    pub.publish(topic, _message(A1, _event(instance=instance, payload={"tag": "04FFFFFF"})))
    wait_for(lambda: len(log.dead_letters()) == 1, 10, "a dead letter")
    assert "reused with different content" in _reasons(log)[0]
    assert log.count() == 1


def test_a_resend_spaced_differently_is_a_duplicate_not_a_conflict(
    cloud: tuple[EventLog, Ingest, Publisher],
) -> None:
    """The log keeps each event's text as it arrived; the same event re-encoded is the same."""
    log, _ingest, pub = cloud
    event = _event()
    topic = AgentPath(SITE, AREA, A1).events
    spaced = json.dumps(dict(reversed(event.to_dict().items())), separators=(", ", ": "))
    pub.publish(topic, _message(A1, event))
    pub.publish(topic, encode_batch(A1, SentStamp(NOW, 2_000, "boot1"), [spaced]))
    pub.publish(topic, _message(A1, _event(seq=2, instance=event.instance)))
    wait_for(lambda: log.count() == 2, 10, "both events")
    assert log.dead_letters() == []
