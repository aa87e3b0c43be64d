"""Tooling in the plan, through real agents on emulated chips, a real Mosquitto and the cloud.

A crimp station (the agent's station role: a tool reader, run and cycle inputs) and the tool
crib's gate (the gate role: a reader on each side) talk to an in-process cloud over a private
Mosquitto. The crimp step holds the crimper and applicator APP-1 (5 cycles between services); the
plant model says carrying a tool from the crib to crimp-01 takes 15 minutes. APP-1 carried into
the crib: the first crimp step, due soon, starts no earlier than 15 minutes later. Mounted at
crimp-01 and run 5 cycles: it is due for service and planned nowhere (the gap report says why),
until a `tool_service` correction is recorded: then it is planned again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.config import parse_config
from agent.runtime import Agent, start_role
from cloud.registry import apply_registry
from cloud.service import CloudService, CloudSettings
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import MFRC522Chip, Tag
from taktline.clock import SystemClock, utc_iso
from taktline.private_broker import PrivateMosquitto
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

SITE, AREA = "plant1", "harness"
APP = "E0020001"  # applicator APP-1's tag
RUN, CYCLE = 17, 27
TRANSFER_MIN = 15


def _stamp(moment: datetime) -> str:
    return utc_iso(moment)[:19] + "Z"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _write(folder: Path, now: datetime) -> tuple[Path, Path]:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"id": "always", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}
    step = {
        "id": "crimp",
        "per_unit_min": 1,
        "holds": [{"group": "crimpers"}, {"group": "applicators"}],
    }
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200},
        "calendars": [always],
        "resources": [
            {"id": "crimp-01", "kind": "machine", "calendar": "always"},
            {"id": "APP-1", "kind": "tool", "calendar": "always", "tag": APP,
             "tool_type": "crimp_applicator", "service_cycles": 5},
        ],
        "groups": [{"id": "crimpers", "kind": "machine", "members": ["crimp-01"]},
                   {"id": "applicators", "kind": "tool", "members": ["APP-1"]}],
        "products": [{"id": "P", "steps": [step]}],
        "tooling": {"warn_at": 0.6,
                    "transfers": [{"from": "crib", "to": "crimp-01", "minutes": TRANSFER_MIN}]},
    }  # fmt: skip
    # Due soon: just in time, O-1's crimping would start ~10 minutes from now.
    orders = [
        {"id": "O-1", "product": "P", "quantity": 10, "due": _stamp(now + timedelta(minutes=20))},
        {"id": "O-2", "product": "P", "quantity": 10, "due": _stamp(now + timedelta(minutes=90))},
    ]
    (folder / "plant.json").write_text(json.dumps(plant))
    (folder / "orders.json").write_text(json.dumps({"orders": orders}))
    return folder / "plant.json", folder / "orders.json"


def _agents(folder: Path, broker: str) -> tuple[dict[str, Any], dict[str, Any]]:
    station = {
        "agent": "pi-crimp", "site": SITE, "area": AREA, "broker": broker,
        "outbox": str(folder / "crimp.db"), "role": "station", "hardware": "emulated",
        "station": [{
            "id": "crimp-01", "inputs": {"run": RUN, "cycle": CYCLE},
            "reader": [{"name": "crimp-01-rfid", "device": 0, "reset_pin": 25, "reads": ["tool"]}],
        }],
    }  # fmt: skip
    gate = {
        "agent": "pi-gate", "site": SITE, "area": AREA, "broker": broker,
        "outbox": str(folder / "gate.db"), "role": "gate", "hardware": "emulated",
        "gate": {"id": "crib-01", "window_s": 5,
                 "crib": {"device": 0, "reset_pin": 25}, "floor": {"device": 1, "reset_pin": 24}},
    }  # fmt: skip
    return station, gate


class Floor:
    """The cloud and both agents, running; helpers to carry, mount and run the applicator."""

    def __init__(self, folder: Path, mosquitto: PrivateMosquitto, stack: Any) -> None:
        self.clock = SystemClock()
        self.now = self.clock.now()
        plant, orders = _write(folder, self.now)
        settings = CloudSettings(
            database=folder / "cloud.db", broker=mosquitto.url, site=SITE, web_port=None,
            plant=plant, orders=orders, frozen_minutes=0,
        )  # fmt: skip
        self.cloud = CloudService(settings, clock=self.clock)
        apply_registry(
            self.cloud.log,
            [
                {"agent": "pi-crimp", "site": SITE, "area": AREA, "devices": [
                    {"source": "crimp-01-io", "station": "crimp-01"},
                    {"source": "crimp-01-rfid", "station": "crimp-01"}]},
                {"agent": "pi-gate", "site": SITE, "area": AREA,
                 "devices": [{"source": "crib-01"}]},
            ],
        )  # fmt: skip
        self.cloud.ingest.reload_registry()
        station_raw, gate_raw = _agents(folder, mosquitto.url)
        self.station_hw = EmulatedHardware(self.clock)
        self.station_chip = self.station_hw.add_mfrc522(0, 0, reset_pin=25)
        self.gate_hw = EmulatedHardware(self.clock)
        self.gate_chips: dict[str, MFRC522Chip] = {
            "crib": self.gate_hw.add_mfrc522(0, 0, reset_pin=25),
            "floor": self.gate_hw.add_mfrc522(0, 1, reset_pin=24),
        }
        stack.enter_context(self.cloud)
        for hw, raw in ((self.station_hw, station_raw), (self.gate_hw, gate_raw)):
            stack.enter_context(hw)
            agent = stack.enter_context(
                Agent(parse_config(raw, "agent.toml", folder), clock=self.clock)
            )
            role = start_role(agent, hw)
            stack.callback(role.stop)
        self.pins = self.station_hw.pin_factory()

    @property
    def replanner(self) -> Any:
        assert self.cloud.replanner is not None
        return self.cloud.replanner

    def crimp_starts(self) -> dict[str, datetime]:
        """Each order's planned crimp start, from the jobs the plan gives APP-1."""
        return {j.order: _at(j.start) for j in self.replanner.jobs_of("APP-1")}

    def tool(self, tag: str) -> dict[str, Any]:
        return dict(self.cloud.status.snapshot()["tools"][tag])

    def into_crib(self) -> None:
        """Carries the applicator through the gate: floor reader, then crib reader."""
        for side in ("floor", "crib"):
            held = self.gate_chips[side].add_tag(Tag(bytes.fromhex(APP)))
            time.sleep(0.3)
            self.gate_chips[side].remove_tag(held)
            time.sleep(0.2)

    def mount(self) -> None:
        held = self.station_chip.add_tag(Tag(bytes.fromhex(APP)))
        time.sleep(0.4)
        self.station_chip.remove_tag(held)

    def cycles(self, count: int) -> None:
        for _ in range(count):
            self.pins.pin(CYCLE).drive_low()
            time.sleep(0.05)
            self.pins.pin(CYCLE).drive_high()
            time.sleep(0.05)


@pytest.fixture
def floor(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[Floor]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield Floor(tmp_path, mosquitto, stack)


def test_a_tool_in_the_crib_waits_for_its_transfer_and_one_past_its_limit_is_not_planned(
    floor: Floor,
) -> None:
    wait_for(lambda: "O-1" in floor.crimp_starts(), 20, "O-1 planned on APP-1")
    assert floor.crimp_starts()["O-1"] < floor.now + timedelta(minutes=TRANSFER_MIN)

    # Into the crib: fetching it to crimp-01 takes 15 minutes, so O-1 cannot start before.
    floor.into_crib()
    wait_for(lambda: floor.tool(APP)["place"] == "crib", 20, "APP-1 in the crib")
    arrived = _at(floor.tool(APP)["since"])
    earliest = arrived + timedelta(minutes=TRANSFER_MIN)
    wait_for(
        lambda: floor.crimp_starts().get("O-1", arrived) >= earliest - timedelta(minutes=1),
        20,
        "O-1 moved behind the transfer",
    )
    assert floor.crimp_starts()["O-1"] >= arrived + timedelta(minutes=TRANSFER_MIN - 1)
    # (slots are whole minutes: the transfer ends in the minute after `arrived` + 15)

    # Mounted at crimp-01: no transfer left, O-1 may start just in time again.
    floor.mount()
    wait_for(lambda: floor.tool(APP)["place"] == "machine", 20, "APP-1 on crimp-01")
    wait_for(
        lambda: floor.crimp_starts().get("O-1", earliest) < earliest - timedelta(minutes=2),
        20,
        "O-1 back to its just-in-time start",
    )

    # Five cycles: the service limit. APP-1 is due and planned nowhere.
    floor.cycles(3)
    wait_for(lambda: floor.tool(APP)["life"]["state"] == "warn", 20, "APP-1's life warns")
    floor.cycles(2)
    wait_for(lambda: floor.tool(APP)["life"]["state"] == "due", 20, "APP-1 due for service")
    wait_for(lambda: not floor.crimp_starts(), 20, "APP-1 out of the plan")
    report = floor.replanner.current_gap_report()
    tools = [t for g in report["gaps"] for t in g.get("tools", [])]
    assert {"tool": "APP-1", "out": "tool_service", "until": None, "life": "due"} in tools, report

    # A supervisor records the service: its life counts from zero and it is planned again.
    floor.cloud.corrections.record(
        {"correction": "tool_service", "by": "sam", "reason": "applicator reground", "tag": APP}
    )
    assert floor.tool(APP)["life"]["cycles_since_service"] == 0
    assert floor.tool(APP)["serviced_by"] == "sam"
    wait_for(lambda: "O-1" in floor.crimp_starts(), 20, "APP-1 planned again")
