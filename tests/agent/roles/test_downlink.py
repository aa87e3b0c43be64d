"""Through a real Mosquitto: the cloud's stack-light command and schedule reach a station."""

from __future__ import annotations

import logging
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.roles.station import StationRole
from contract import StackLightCommand, StationSchedule, station_schedule_topic
from contract.downlink import ScheduledJob
from hardware.factory import EmulatedHardware
from taktline.clock import FakeClock
from taktline.private_broker import PrivateMosquitto
from tests.agent.roles.conftest import make_agent
from tests.agent.roles.test_station import station_config
from tests.sync.harness import wait_for

pytestmark = pytest.mark.mqtt


def test_command_and_schedule_over_mosquitto(
    tmp_path: Path,
    mosquitto: PrivateMosquitto,
    hw: EmulatedHardware,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    cloud.connect("127.0.0.1", mosquitto.port)
    cloud.loop_start()
    try:
        job = ScheduledJob("O-9", "crimp", "2026-11-05T10:00:00Z", "2099-01-01T00:00:00Z")
        schedule = StationSchedule("plant1", "crimp-01", 7, "2026-11-05T09:00:00Z", (job,))
        topic = station_schedule_topic("plant1", "crimp-01")
        cloud.publish(topic, schedule.encode(), qos=1, retain=True).wait_for_publish(5)
        hw.add_mfrc522(0, 0, reset_pin=25)
        hw.add_mfrc522(0, 1, reset_pin=24)
        agent = make_agent(tmp_path, clock, broker=mosquitto.url)
        red = hw.pin_factory().pin(21)
        with (
            caplog.at_level(logging.INFO, logger="agent.roles.station"),
            agent,
            StationRole(agent, station_config(tmp_path), hw) as role,
        ):
            assert agent.uplink.wait_for_connection(10)
            wait_for(lambda: "schedule v7" in caplog.text, 10, "the retained schedule")
            assert "O-9/crimp" in caplog.text
            command = StackLightCommand("c-9", "crimp-01", "red", False, "2026-11-05T10:00:00Z")
            wait_for(lambda: agent.uplink.is_connected, 5, "the agent subscribed")

            def sent_and_lit() -> bool:
                if cloud.is_connected():
                    cloud.publish(agent.path.command, command.encode(), qos=1).wait_for_publish(5)
                light = role.stations["crimp-01"].light
                return light is not None and light.colour == command.colour

            wait_for(sent_and_lit, 10, "the red lamp on")
            assert red.state
            assert role.stations["crimp-01"].light is not None
            assert role.stations["crimp-01"].light.colour == "red"
            # A broker that lost its state (killed): the agent subscribes again on reconnect.
            connects = agent.uplink._session.connect_count
            mosquitto.kill()
            mosquitto.restart()
            wait_for(
                lambda: agent.uplink._session.connect_count > connects, 20, "the agent reconnected"
            )
            command = StackLightCommand("c-10", "crimp-01", "green", True, "2026-11-05T10:01:00Z")
            green = hw.pin_factory().pin(16)
            wait_for(lambda: sent_and_lit() and not red.state, 20, "green after the restart")
            wait_for(lambda: sum(1 for st in green.states if st.state) >= 3, 2, "green blinking")
            assert role.stations["crimp-01"].light.blinking
    finally:
        cloud.loop_stop()
        cloud.disconnect()
