"""The shipped ACL gives a read-only account no write pattern, on a real Mosquitto (issue 15).

Mosquitto applies `pattern` lines to every user: under the old ACL the read-only `planner`
account could publish `taktline/v1/<site>/<area>/planner/events` like an agent. MQTT 5 is used so
the broker's refusal is visible (PUBACK reason 135, "Not authorized").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from taktline.private_broker import PrivateMosquitto
from tests.conftest import DEPLOYMENT_ACL, started_mosquitto

pytestmark = pytest.mark.mqtt

USERS = {"planner": "s3cret-p", "pi-crimp-01": "s3cret-1", "taktline-cloud": "s3cret-c"}


@pytest.fixture
def plant_broker() -> Iterator[PrivateMosquitto]:
    with started_mosquitto(acl=DEPLOYMENT_ACL.read_text(), passwords=USERS) as broker:
        yield broker


class Client:
    """A bare MQTT 5 client that records the reason code of each PUBACK and what it receives."""

    def __init__(self, broker: PrivateMosquitto, user: str) -> None:
        self.acks: dict[int, int] = {}
        self.received: list[str] = []
        self.acked = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, USERS[user])
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_publish(
        self, client: object, userdata: object, mid: int, reason: object, p: object
    ) -> None:
        with self.acked:
            self.acks[mid] = int(getattr(reason, "value", 0))
            self.acked.notify_all()

    def publish(self, topic: str) -> int:
        """Publishes at QoS 1; returns the PUBACK's reason code (< 128 taken, 135 refused)."""
        info = self.client.publish(topic, b"{}", qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.acks, 10), "no PUBACK"
            return self.acks[info.mid]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.parametrize(
    "topic",
    [
        "taktline/v1/plant1/harness/planner/events",
        "taktline/v1/plant1/harness/planner/status",
        "taktline/v1/plant1/harness/pi-crimp-01/events",
        "taktline/v1/plant1/harness/pi-crimp-01/settled",
        "taktline/v1/plant1/plan/station/crimp-01/schedule",
    ],
)
def test_a_read_only_account_can_publish_nothing(
    plant_broker: PrivateMosquitto, topic: str
) -> None:
    planner = Client(plant_broker, "planner")
    try:
        assert planner.publish(topic) == 135
    finally:
        planner.close()


def test_agents_still_publish_under_their_own_path(plant_broker: PrivateMosquitto) -> None:
    agent = Client(plant_broker, "pi-crimp-01")
    try:
        assert agent.publish("taktline/v1/plant1/harness/pi-crimp-01/events") < 128
        assert agent.publish("taktline/v1/plant1/harness/pi-crimp-02/events") == 135
    finally:
        agent.close()
