"""The whole loop, through a real Mosquitto and a real SMTP server.

An emulated machine station (the agent's real station role on emulated chips and pins) runs a
job, stops, and its operator presses the breakdown button. The cloud folds the events into the
status, which turns the station's stack light red and hands the replanner a lost resource; the
replan moves the broken machine's jobs to the other crimper, and the retained schedules of both
stations change; the gap report goes to the planners by e-mail, each late order with the
breakdown as its cause — once: the same report again sends nothing.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import parse_config
from agent.runtime import Agent, start_role
from cloud.registry import apply_registry
from cloud.replan import SmtpSettings
from cloud.service import CloudService, CloudSettings
from contract import StationSchedule, station_schedule_topic
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import Tag
from taktline.clock import SystemClock, utc_iso
from taktline.private_broker import PrivateMosquitto
from tests.replan.conftest import Inbox
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

SITE, AREA, AGENT = "plant1", "harness", "pi-crimp"
TICKET = "0A020001"
RUN, BREAKDOWN, GREEN, AMBER, RED = 17, 6, 16, 20, 21


def _plant(folder: Path) -> Path:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"id": "always", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}
    step = {"id": "crimp", "per_unit_min": 1, "holds": [{"group": "crimpers"}]}
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200},
        "calendars": [always],
        "resources": [
            {"id": "crimp-01", "kind": "machine", "calendar": "always"},
            {"id": "crimp-02", "kind": "machine", "calendar": "always"},
        ],
        "groups": [{"id": "crimpers", "kind": "machine", "members": ["crimp-01", "crimp-02"]}],
        "products": [{"id": "P", "steps": [step]}],
    }  # fmt: skip
    path = folder / "plant.json"
    path.write_text(json.dumps(plant))
    return path


def _orders(folder: Path, now: datetime) -> Path:
    # Ten 30-minute orders due within 2.5 hours: both crimpers are needed, so losing one leaves
    # a shortfall the gap report names.
    orders = [
        {"id": f"O-{n}", "product": "P", "quantity": 30,
         "due": utc_iso(now + timedelta(minutes=60 + 15 * n))[:19] + "Z"}
        for n in range(10)
    ]  # fmt: skip
    path = folder / "orders.json"
    path.write_text(json.dumps({"orders": orders}))
    return path


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Schedules:
    """A planner's view: the retained station schedules as they arrive."""

    def __init__(self, port: int) -> None:
        self.latest: dict[str, StationSchedule] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(station_schedule_topic(SITE, s), 1) for s in ("crimp-01", "crimp-02")]
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        schedule = StationSchedule.decode(bytes(message.payload))
        with self.lock:
            self.latest[schedule.station] = schedule

    def version(self, station: str) -> int:
        with self.lock:
            found = self.latest.get(station)
        return found.version if found else 0

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_station_breakdown_replans_and_mails_the_gap_once(
    tmp_path: Path, mosquitto: PrivateMosquitto, smtp_server: tuple[int, Inbox]
) -> None:
    smtp_port, inbox = smtp_server
    clock = SystemClock()
    now = clock.now()
    settings = CloudSettings(
        database=tmp_path / "cloud.db", broker=mosquitto.url, site=SITE, web_port=None,
        plant=_plant(tmp_path), orders=_orders(tmp_path, now), frozen_minutes=0,
        smtp=SmtpSettings(port=smtp_port), mail_to={"planner": ["planner@plant1.example"]},
    )  # fmt: skip
    agent_config = parse_config(
        {
            "agent": AGENT, "site": SITE, "area": AREA, "broker": mosquitto.url,
            "outbox": str(tmp_path / "agent.db"), "role": "station", "hardware": "emulated",
            "resend_after_s": 2,
            "station": [{
                "id": "crimp-01", "inputs": {"run": RUN}, "stop_buttons": {"breakdown": BREAKDOWN},
                "stack_light": {"green": GREEN, "amber": AMBER, "red": RED},
                "reader": [{"name": "crimp-01-rfid", "device": 0, "reset_pin": 25,
                            "reads": ["ticket"]}],
            }],
        },
        "agent.toml",
        tmp_path,
    )  # fmt: skip
    cloud = CloudService(settings, clock=clock)
    apply_registry(
        cloud.log,
        [{"agent": AGENT, "site": SITE, "area": AREA, "devices": [
            {"source": "crimp-01-io", "station": "crimp-01"},
            {"source": "crimp-01-rfid", "station": "crimp-01"},
        ]}],
    )  # fmt: skip
    cloud.ingest.reload_registry()
    schedules = Schedules(mosquitto.port)
    hardware = EmulatedHardware(clock)
    chip = hardware.add_mfrc522(0, 0, reset_pin=25)
    pins = hardware.pin_factory()
    try:
        with cloud, hardware, Agent(agent_config, clock=clock) as agent:
            role: Any = start_role(agent, hardware)
            try:
                wait_for(lambda: schedules.version("crimp-01") >= 1, 20, "the first schedule")
                wait_for(lambda: schedules.version("crimp-02") >= 1, 20, "crimp-02's schedule")
                first = {s: schedules.version(s) for s in ("crimp-01", "crimp-02")}
                assert schedules.latest["crimp-01"].jobs, "crimp-01 has work to lose"

                # The operator starts a job and the machine runs: the light goes green.
                held = chip.add_tag(Tag(bytes.fromhex(TICKET)))
                time.sleep(0.5)
                chip.remove_tag(held)
                pins.pin(RUN).drive_low()
                wait_for(lambda: pins.pin(GREEN).state, 20, "the green lamp")
                # It stops; no reason yet: red, blinking, asking for one.
                pins.pin(RUN).drive_high()
                wait_for(lambda: role.stations["crimp-01"].light.blinking, 20, "red blinking")
                # The operator presses breakdown: the cloud replans without crimp-01.
                pins.pin(BREAKDOWN).drive_low()
                time.sleep(0.2)
                pins.pin(BREAKDOWN).drive_high()
                wait_for(
                    lambda: (
                        schedules.version("crimp-01") > first["crimp-01"]
                        and schedules.version("crimp-02") > first["crimp-02"]
                    ),
                    30,
                    "both stations' schedules changed",
                )
                assert pins.pin(RED).state and not role.stations["crimp-01"].light.blinking
                broken = schedules.latest["crimp-01"]
                assert broken.changed, "the station is told what changed"
                late = [
                    j
                    for j in broken.jobs
                    if datetime.fromisoformat(j.start.replace("Z", "+00:00"))
                    > now + timedelta(minutes=1)
                ]
                assert not late, f"no new work on the broken machine: {late}"
                wait_for(lambda: len(inbox.messages) >= 1, 30, "the gap report e-mail")
                assert inbox.rcpt[0] == ["planner@plant1.example"]
                mail = inbox.messages[0].get_payload(decode=True).decode()
                assert "crimpers" in mail
                # Each order the breakdown makes late names it, with when it began (issue 21).
                assert cloud.replanner is not None
                since = cloud.status.machines["crimp-01"].since
                assert since is not None
                event = f"breakdown at crimp-01 since {_at(since):%H:%M}"
                late = [o for o in cloud.replanner.gap_report["orders"] if o["status"] == "late"]
                assert late, cloud.replanner.gap_report
                for order in late:
                    assert event in [c["event"] for c in order["causes"]], order
                assert f"({event})" in mail, mail
                # The same report again: no second e-mail.
                cloud.replanner.publish_all()
                time.sleep(2)
                assert len(inbox.messages) == 1
            finally:
                role.stop()
    finally:
        schedules.close()
