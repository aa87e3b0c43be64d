"""The cloud service end to end: a call-off goes out after the plan (MQTT, REST JSON and CSV), a
simulated AGV brings the planned bins, the transports show in the REST API; behind the guard.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.service import CloudService
from contract.logistics import calloff_topic
from hardware.agv_sim import SimulatedAgv
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import wait_for
from tests.web import plan_app
from tests.web.plan_app import SITE, call, planning_cloud

pytestmark = pytest.mark.mqtt

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def _plant(folder: Path) -> None:
    path = folder / "plant.json"
    plant = json.loads(path.read_text())
    plant["materials"] = [
        {"id": "seal-kit", "supplier": "sup-1", "jis": True, "point_of_use": "LINE-1"}
    ]
    plant["products"][0]["steps"][0]["materials"] = ["seal-kit"]
    plant["suppliers"] = [{"id": "sup-1", "transit_min": 30, "window_min": 15, "bucket_min": 30}]
    plant["transport"] = {
        "agvs": [{"manufacturer": "acme", "serial": "agv-7"}],
        "materials": ["seal-kit"],
        "lead_min": 100_000,
    }
    path.write_text(json.dumps(plant))


@pytest.fixture
def cloud(
    tmp_path: Path, mosquitto: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudService]:
    write = plan_app.write_plant

    def with_logistics(folder: Path) -> Path:
        path = write(folder)
        _plant(folder)
        return path

    monkeypatch.setattr(plan_app, "write_plant", with_logistics)
    with planning_cloud(
        tmp_path, mosquitto.url, orders=["O-1", "O-2", "O-3"], public_read=False
    ) as running:
        yield running


def test_calloff_after_the_plan_and_an_agv_brings_the_bins(
    cloud: CloudService, mosquitto: PrivateMosquitto
) -> None:
    code, body, _ = call(cloud, "get", "/api/calloffs")
    assert code == 200, body
    document = body["calloffs"]["sup-1"]
    assert document["version"] == 1 and len(document["sequence"]) == 3
    assert [s["order"] for s in document["sequence"]] == ["O-1", "O-2", "O-3"]
    # retained on the supplier's topic, as the REST API shows it, fitting its schema
    got: list[Any] = []
    arrived = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="supplier")
    client.on_message = lambda c, u, m: (got.append(json.loads(m.payload)), arrived.set())
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe(calloff_topic(SITE, "sup-1"), 1)
    client.loop_start()
    try:
        assert arrived.wait(5)
    finally:
        client.loop_stop()
        client.disconnect()
    code, sent, _ = call(cloud, "get", "/api/calloffs/sup-1")
    assert code == 200 and got[0] == sent
    jsonschema.validate(sent, json.loads((DOCS / "calloff.schema.json").read_text()))
    code, text, headers = call(cloud, "get", "/api/calloffs/sup-1/csv")
    assert code == 200 and headers["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0].startswith("supplier,version,issued,kind")
    assert call(cloud, "get", "/api/calloffs/nobody")[0] == 404
    assert call(cloud, "get", "/api/calloffs", user=None)[0] == 401  # behind the guard
    assert call(cloud, "get", "/api/transports", user=None)[0] == 401

    # the AGV comes online: each planned need goes out in turn and is brought
    settings = BrokerSettings.from_url(mosquitto.url)
    with SimulatedAgv(settings, "acme", "agv-7", step_s=0.05):

        def done() -> int:
            transports = call(cloud, "get", "/api/transports")[1]["transports"]
            return sum(t["state"] == "done" for t in transports)

        wait_for(lambda: done() == 3, 20, "three transports done")
    transports = call(cloud, "get", "/api/transports")[1]["transports"]
    assert {(t["order"], t["drop"], t["reason"]) for t in transports} == {
        ("O-1", "LINE-1", "plan"), ("O-2", "LINE-1", "plan"), ("O-3", "LINE-1", "plan")
    }  # fmt: skip
    types = [e["type"] for _, e, _ in cloud.log.replay() if e["source"] == "cloud-logistics"]
    assert types.count("calloff.issued") == 1 and types.count("transport.order") == 3
    assert cloud.health is not None
