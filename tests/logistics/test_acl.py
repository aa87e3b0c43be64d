"""The documented ACL carries call-offs and AGV transports: each party on its own topics only."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud.logistics import Logistics
from cloud.plant import parse_plant
from cloud.replan import Engine, Replanner
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract.logistics import calloff_topic
from hardware.agv_sim import SimulatedAgv
from taktline.clock import FakeClock
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto
from tests.conftest import DEPLOYMENT_ACL, started_mosquitto
from tests.logistics.conftest import NOW, SUPPLIER, orders, plant_document

pytestmark = pytest.mark.mqtt

USERS = {"taktline-cloud": "s3cret-c", "agv-01": "s3cret-a", "acme-cables": "s3cret-s"}


@pytest.fixture
def plant_broker() -> Iterator[PrivateMosquitto]:
    with started_mosquitto(acl=DEPLOYMENT_ACL.read_text(), passwords=USERS) as broker:
        yield broker


def _settings(broker: PrivateMosquitto, user: str) -> BrokerSettings:
    return BrokerSettings.from_url(f"mqtt://{user}:{USERS[user]}@127.0.0.1:{broker.port}")


def _subscriber(
    broker: PrivateMosquitto, user: str, topic: str, name: str
) -> tuple[mqtt.Client, list[Any]]:
    got: list[Any] = []
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=name, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(user, USERS[user])
    client.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    client.connect("127.0.0.1", broker.port)
    client.subscribe(topic, 1)
    client.loop_start()
    return client, got


def test_a_transport_and_call_offs_through_the_documented_acl(
    tmp_path: Path, plant_broker: PrivateMosquitto
) -> None:
    doc = plant_document(agvs=[{"manufacturer": "acme", "serial": "agv-01"}], pick="SM-1")
    doc["suppliers"][0]["id"] = "acme-cables"
    doc["suppliers"].append({"id": SUPPLIER})
    for material in doc["materials"]:
        if material.get("supplier") == SUPPLIER:
            material["supplier"] = "acme-cables" if material["id"] != "terminal-a" else SUPPLIER
    doc["kanban"] = [
        {"id": "KB", "material": "connector-12p", "container_qty": 5, "lead_time_min": 30,
         "supermarket": "SM-1", "cards": ["C0DE0002"]}
    ]  # fmt: skip
    plant = parse_plant(doc)
    clock = FakeClock(NOW)
    log = EventLog(tmp_path / "cloud.db")
    status = ResourceStatus()
    replanner = Replanner(Engine(plant, orders(10, 14), NOW), clock=clock, improve=False)
    mine, theirs = calloff_topic("plant1", "acme-cables"), calloff_topic("plant1", SUPPLIER)
    own, own_got = _subscriber(plant_broker, "acme-cables", mine, "own")
    other, other_got = _subscriber(plant_broker, "acme-cables", theirs, "other")
    logistics = Logistics(
        log, status, lambda: plant, _settings(plant_broker, "taktline-cloud"), "plant1",
        submit=replanner.submit, clock=clock,
    )  # fmt: skip
    agv = SimulatedAgv(_settings(plant_broker, "agv-01"), "acme", "agv-01", step_s=0.1)
    try:
        with agv, logistics:
            replanner.on_replan = lambda _: logistics.replanned(replanner)
            replanner.replan([])
            event = {"type": "kanban.empty", "payload": {"card": "C0DE0002"}, "station": "B"}
            logistics.transports.signals([event])
            deadline = time.monotonic() + 10
            while not any(t["state"] == "done" for t in status.logistics_view()["transports"]):
                assert time.monotonic() < deadline, status.logistics_view()
                time.sleep(0.02)
            time.sleep(0.3)
    finally:
        for client in (own, other):
            client.loop_stop()
            client.disconnect()
        log.close()
    issued = status.logistics_view()["calloffs"]
    assert set(issued) == {"acme-cables", SUPPLIER}
    assert [doc["supplier"] for _, doc in own_got] == ["acme-cables"]
    assert other_got == []  # another supplier's call-off is not for this account
