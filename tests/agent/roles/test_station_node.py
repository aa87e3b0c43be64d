"""A station served by a firmware node: reads reach the cloud with the node's identity and the
station, the cloud's stack-light command reaches the node, a silent node raises an alarm.

The node is the firmware's own link code on a pty (`hardware.serial_node.EmulatedNode`); the
agent opens it through the emulated hardware factory as it would open /dev/ttyACM0 on a Pi.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import parse_config
from agent.errors import ConfigError
from agent.roles.station import StationRole
from agent.runtime import Agent, start_role
from contract import StackLightCommand
from hardware.factory import EmulatedHardware
from hardware.serial_node import EmulatedNode
from taktline.clock import SystemClock
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import make_cloud, wait_for

AGENT, STATION, NODE = "pi-crimp-03", "crimp-03", "node-crimp-03"


def _config(tmp_path: Path, broker: str, **node: Any) -> dict[str, Any]:
    return {
        "agent": AGENT, "site": "plant1", "area": "harness", "broker": broker,
        "outbox": str(tmp_path / "outbox.db"), "role": "station", "hardware": "emulated",
        "resend_after_s": 1.0,
        "station": [{"id": STATION, "node": {"id": NODE, "port": "/dev/ttyACM0", **node}}],
    }  # fmt: skip


@pytest.mark.mqtt
def test_node_reads_reach_the_cloud_and_commands_reach_the_node(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    config = parse_config(_config(tmp_path, mosquitto.url, silence_s=0.5), "agent.toml", tmp_path)
    log, ingest = make_cloud(tmp_path, mosquitto.url, [AGENT])
    log.register_device(NODE, AGENT, STATION)
    ingest.reload_registry()
    cloud = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    cloud.connect("127.0.0.1", mosquitto.port)
    cloud.loop_start()
    hardware = EmulatedHardware(SystemClock())
    with EmulatedNode(NODE) as node, hardware, ingest, Agent(config) as agent:
        hardware.connect_serial("/dev/ttyACM0", node.port)
        role = StationRole(agent, config.role_config, hardware)
        with role:
            role.start()
            key = node.read_tag(bytes.fromhex("04A1B2C3"))
            assert key is not None

            def in_cloud(kind: str) -> list[dict[str, Any]]:
                return [event for _, event, _ in log.replay() if event["type"] == kind]

            wait_for(lambda: bool(in_cloud("badge.read")), 15, "the node's read in the cloud")
            (read,) = in_cloud("badge.read")
            assert (read["source"], read["station"], read["agent"]) == (NODE, STATION, AGENT)
            assert (read["instance"], read["seq"]) == key
            assert read["payload"] == {"tag": "04A1B2C3"}

            command = StackLightCommand("c-1", STATION, "red", False, "2026-11-23T08:00:00Z")
            wait_for(lambda: agent.uplink.is_connected, 10, "the agent online")

            def lit() -> bool:
                cloud.publish(agent.path.command, command.encode(), qos=1).wait_for_publish(5)
                return node.stack_light == 1  # the red bit

            wait_for(lit, 15, "the node's red lamp")

            node.faults.broken = True  # the cable pulled, the node powered
            wait_for(lambda: bool(in_cloud("agent.alarm")), 15, "the node_lost alarm")
            assert in_cloud("agent.alarm")[0]["payload"]["alarm"] == "node_lost"
            node.faults.broken = False
            wait_for(lambda: len(in_cloud("agent.alarm")) == 2, 15, "the node_restored alarm")
            assert in_cloud("agent.alarm")[1]["payload"]["alarm"] == "node_restored"
            assert role.stations[STATION].node is not None
    cloud.loop_stop()
    cloud.disconnect()
    log.close()


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"id": NODE}, "port"),
        ({"id": NODE, "port": "/dev/ttyACM0", "speed": 9600}, "speed"),
        ({"port": "/dev/ttyACM0"}, "id"),
    ],
)
def test_bad_node_config_names_the_key(tmp_path: Path, node: dict[str, Any], message: str) -> None:
    data = _config(tmp_path, "mqtt://127.0.0.1:1")
    data["station"][0]["node"] = node
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "agent.toml", tmp_path)


def test_two_nodes_on_one_port_are_refused(tmp_path: Path) -> None:
    data = _config(tmp_path, "mqtt://127.0.0.1:1")
    data["station"].append({"id": "crimp-04", "node": {"id": "node-4", "port": "/dev/ttyACM0"}})
    with pytest.raises(ConfigError, match="one node per serial port"):
        parse_config(data, "agent.toml", tmp_path)


def test_the_example_config_with_nodes_is_valid(tmp_path: Path) -> None:
    from agent.config import load_config
    from tests.example_configs import example_copy

    config = load_config(example_copy("agent-station-node-01.toml", tmp_path))
    nodes = {s.id: s.node.id for s in config.role_config.stations if s.node is not None}
    assert nodes == {"crimp-03": "node-crimp-03", "crimp-04": "node-crimp-04"}


@pytest.mark.mqtt
def test_an_edge_rule_lights_the_node_of_a_station_it_serves(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    """An edge rule's stack-light action reaches a station whose light is on its firmware node."""
    raw = _config(tmp_path, mosquitto.url)
    raw["rule"] = [
        {"id": "andon", "when": {"input": 13}, "do": {"stack_light": "amber", "station": STATION}}
    ]
    config = parse_config(raw, "agent.toml", tmp_path)
    hardware = EmulatedHardware(SystemClock())
    with EmulatedNode(NODE) as node, hardware, Agent(config) as agent:
        hardware.connect_serial("/dev/ttyACM0", node.port)
        role = start_role(agent, hardware)
        try:
            wait_for(lambda: node.stack_light == 0 and role.stations[STATION].node is not None, 5,
                     "the node linked")  # fmt: skip
            hardware.pin_factory().pin(13).drive_low()  # the andon cord pulled
            wait_for(lambda: node.stack_light == 2, 15, "the node's amber lamp")  # amber bit
            assert agent.rules is not None and agent.rules.fired == 1
        finally:
            role.stop()
