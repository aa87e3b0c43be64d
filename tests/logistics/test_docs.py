"""The logistics channels and VDA 5050 schemas in docs/ agree with the code."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import yaml

from contract.logistics import VDA5050_TOPICS, calloff_topic, vda5050_topic
from contract.vda5050 import Connection, Order, State

DOCS = Path(__file__).resolve().parents[2] / "docs"
ASYNCAPI = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
CHANNELS = {
    v["x-logistics-kind"]: v for v in ASYNCAPI["channels"].values() if "x-logistics-kind" in v
}


def test_the_logistics_channels_match_the_code() -> None:
    assert set(CHANNELS) == {"calloff", *VDA5050_TOPICS}
    calloff = CHANNELS["calloff"]
    address = calloff["address"].format(site="plant1", supplier="sup-1")
    assert address == calloff_topic("plant1", "sup-1")
    assert calloff["bindings"]["mqtt"] == {"qos": 1, "retain": True}
    # seven levels, like the plan's: no agent wildcard (six levels) matches a call-off
    assert address.count("/") == 6
    for name, (_, retained, qos) in VDA5050_TOPICS.items():
        channel = CHANNELS[name]
        address = channel["address"].format(manufacturer="acme", serialNumber="agv-1")
        assert address == vda5050_topic("acme", "agv-1", name)
        assert channel["bindings"]["mqtt"] == {"qos": qos, "retain": retained}


@pytest.mark.parametrize(
    ("name", "struct"),
    [("vda5050-order", Order), ("vda5050-state", State), ("vda5050-connection", Connection)],
)
def test_the_vda5050_schemas_are_the_structs(name: str, struct: type) -> None:
    written = json.loads((DOCS / "schemas" / f"{name}.schema.json").read_text())
    for key in ("$schema", "$id", "title"):
        written.pop(key)
    assert written == json.loads(msgspec.json.encode(msgspec.json.schema(struct)))
