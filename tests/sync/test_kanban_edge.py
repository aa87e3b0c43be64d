"""e-kanban and edge rules end to end: emulated chips and pins, a real Mosquitto, the cloud.

A station agent with a kanban reader, a smart bin and edge rules sends through its outbox and a
private Mosquitto to the cloud's ingest and status (the example plant model's kanban loops): a
card tap and a load cell crossing its threshold each become a replenishment signal; with the
broker stopped an edge rule still sets its output at once, and its `rule.fired` event reaches
the cloud after the broker is back, exactly once.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import parse_config
from agent.runtime import Agent, start_role
from agent.uplink import Uplink
from cloud.plant import load_plant
from cloud.status import StatusMaster
from hardware.factory import EmulatedHardware
from hardware.hx711_chip import HX711Chip
from hardware.mfrc522_chip import Tag
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import AREA, SITE, make_cloud, settings, wait_for

pytestmark = pytest.mark.mqtt

EXAMPLE = Path(__file__).parents[2] / "docs/examples/harness_plant_monitoring.json"
AGENT, STATION, CARD = "pi-assy-01", "assy-01", "0C000002"
BIN = "assy-01-bin-term-a"
DOUT, SCK, DOOR, PERMISSIVE = 5, 6, 13, 26
CONFIG = f"""
agent = "{AGENT}"
site = "{SITE}"
area = "{AREA}"
role = "station"
hardware = "emulated"
resend_after_s = 30

[[station]]
id = "{STATION}"
tags = "tags.toml"
stack_light = {{ green = 16, amber = 20, red = 21 }}

[[station.reader]]
name = "{STATION}-rfid"
reads = ["badge", "kanban"]

[[station.bin]]
id = "{BIN}"
material = "terminal-a"
dout = {DOUT}
sck = {SCK}
counts_per_g = 50
piece_g = 1
lead_time_min = 240
floor = 100
read_s = 0.05

[[rule]]
id = "bin-low"
when = {{ event = "bin.level", below = true }}
do = {{ stack_light = "amber", station = "{STATION}" }}

[[rule]]
id = "guard-permissive"
when = {{ input = {DOOR} }}
do = {{ output = {PERMISSIVE}, on = true }}
"""


@pytest.fixture
def floor(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[dict[str, Any]]:
    (tmp_path / "tags.toml").write_text('kanban = ["0C000001", "0C000002"]\n')
    text = f'broker = "{mosquitto.url}"\noutbox = "outbox.db"\n' + CONFIG
    config = parse_config(tomllib.loads(text), "agent.toml", tmp_path)
    log, ingest = make_cloud(tmp_path, mosquitto.url, [AGENT])
    for source in (f"{STATION}-rfid", f"{STATION}-io"):
        log.register_device(source, AGENT, STATION)
    ingest.status.set_master(StatusMaster.of(load_plant(EXAMPLE)))
    hw = EmulatedHardware()
    chip = hw.add_mfrc522(0, 0, reset_pin=25)
    scale = hw.add_hx711(DOUT, SCK, HX711Chip(hw.clock, counts_per_g=50))
    scale.load_g = 400  # 400 pieces
    agent = Agent(config)
    agent.uplink = Uplink(agent.outbox, agent.path, settings(mosquitto.url), resend_after_s=30)
    with ingest:
        assert ingest.wait_for_connection(30)  # subscribed before anything is sent
        agent.start()
        role = start_role(agent, hw)
        try:
            yield {"log": log, "ingest": ingest, "agent": agent, "chip": chip, "scale": scale,
                   "hw": hw, "role": role}  # fmt: skip
        finally:
            role.stop()
            agent.stop()
            hw.close()


def _loop(floor: dict[str, Any]) -> dict[str, Any]:
    loop: dict[str, Any] = floor["ingest"].status.kanban_view()["loops"]["KB-TERM-A"]
    return loop


def _types(floor: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event for _, event, _ in floor["log"].replay() if event["type"] == kind]


def test_a_card_tap_and_a_low_bin_each_raise_a_replenishment_signal(
    floor: dict[str, Any],
) -> None:
    wait_for(lambda: _types(floor, "bin.level"), 10, "the bin's first level")
    assert _loop(floor)["signals"] == []
    held = floor["chip"].add_tag(Tag(bytes.fromhex(CARD)))
    time.sleep(0.3)
    floor["chip"].remove_tag(held)
    wait_for(lambda: _loop(floor)["signals"], 10, "a replenishment signal for the card")
    (signal,) = _loop(floor)["signals"]
    assert (signal["kind"], signal["card"], signal["quantity"]) == ("card", CARD, 500)
    floor["scale"].load_g = 60  # 60 pieces: under the floor of 100
    wait_for(lambda: len(_loop(floor)["signals"]) == 2, 10, "a replenishment signal for the bin")
    bin_signal = next(s for s in _loop(floor)["signals"] if s["kind"] == "bin")
    # Exactly 60: a read in which a thread switch may have held PD_SCK high past 60 us (the
    # chip powers down mid-sample, as a real HX711 does) is discarded by the driver.
    assert bin_signal["bin"] == BIN and bin_signal["quantity"] == 60
    assert floor["role"].light_of(STATION).colour == "amber"  # the edge rule, on the agent


def test_an_edge_rule_fires_with_the_broker_down_and_its_event_arrives_once(
    floor: dict[str, Any], mosquitto: PrivateMosquitto
) -> None:
    agent, pins = floor["agent"], floor["hw"].pin_factory()
    wait_for(lambda: agent.outbox.depth() == 0, 30, "the start-up events confirmed")
    mosquitto.stop()
    wait_for(lambda: not agent.uplink.is_connected, 10, "the agent sees the broker gone")
    pins.pin(DOOR).drive_low()
    wait_for(lambda: pins.pin(PERMISSIVE).state, 1, "the rule's output, set on the agent")
    wait_for(lambda: agent.outbox.depth() >= 1, 5, "rule.fired waiting in the outbox")
    assert _types(floor, "rule.fired") == []
    time.sleep(0.5)
    mosquitto.restart()
    wait_for(lambda: len(_types(floor, "rule.fired")) == 1, 20, "rule.fired in the cloud's log")
    wait_for(lambda: agent.outbox.depth() == 0, 10, "the outbox drained")
    time.sleep(0.5)
    (fired,) = _types(floor, "rule.fired")
    assert fired["payload"] == {
        "rule": "guard-permissive",
        "trigger": f"GPIO{DOOR} active",
        "actions": [f"output GPIO{PERMISSIVE} on"],
    }
    assert fired["source"] == AGENT
    keys = floor["log"].event_keys()
    assert len(keys) == len(set(keys))
