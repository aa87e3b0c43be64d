"""Why an order is late, through real agents on emulated chips, a real Mosquitto and the cloud.

The floors are the presence test's (`tests.floor.test_presence_agents`): the cloud in this
process, a station agent at crimp-01 (badge reader, run input, and here a breakdown button). One
press, one crimp operator (OP-ANNA), and an order due soon that needs her and the press:

- Anna does not badge in: once the grace is over the order is late and its cause chain says no
  operator with the skill crimp is present, naming her; her badge read puts it back on time;
- then crimp-01 stops and its operator presses breakdown: the order is late again, its cause is
  the breakdown at crimp-01 since the stop, and the root cause (walked back through the cloud's
  log) is the run signal's fall that began it.

A late lorry (the lorry unit's role on a real gpsd fed by gpsfake, its package reader on an
emulated chip) is in `test_late_delivery_through_the_lorry_unit` below.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.config import parse_config
from agent.runtime import Agent, start_role
from cloud.registry import apply_registry
from cloud.service import CloudService, CloudSettings
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import Tag
from hardware.nmea.make_logs import PLANT as NMEA_PLANT
from taktline.clock import SystemClock, utc_iso
from taktline.private_broker import PrivateMosquitto, free_port
from tests.agent.gpsd_fixture import GpsFake, gpsfake  # noqa: F401 - the fixture
from tests.floor.test_presence_agents import ANNA, AREA, SITE, _badge, _floor, _presence
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

RUN, BREAKDOWN = 17, 6
REPAIR_MIN = 60
TICKET = "0A0F0001"
READERS = [
    {"name": "crimp-01-rfid", "device": 0, "reset_pin": 25, "reads": ["badge"]},
    {"name": "crimp-01-tickets", "device": 1, "reset_pin": 24, "reads": ["ticket"]},
]


def _stamp(moment: datetime) -> str:
    return utc_iso(moment)[:19] + "Z"


def _order(cloud: CloudService, order: str) -> dict[str, Any] | None:
    """The order's row in the gap report (None: on time)."""
    assert cloud.replanner is not None
    rows = cloud.replanner.current_gap_report()["orders"]
    return next((o for o in rows if o["order"] == order), None)


def _late_because(cloud: CloudService, order: str, kind: str) -> bool:
    row = _order(cloud, order)
    return (
        row is not None
        and row["status"] == "late"
        and any(c["kind"] == kind for c in row["causes"])
    )


def test_a_late_orders_cause_is_the_absence_then_the_breakdown(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    now = SystemClock().now()
    # 20 minutes of crimping due in 45: on time if Anna and crimp-01 are there now.
    orders = tmp_path / "orders.json"
    due = _stamp(now + timedelta(minutes=45))
    orders.write_text(
        json.dumps({"orders": [{"id": "O-1", "product": "P", "quantity": 20, "due": due}]})
    )
    with _floor(
        tmp_path, mosquitto, crimpers=["OP-ANNA"], machines=("crimp-01",), orders=orders,
        station={"stop_buttons": {"breakdown": BREAKDOWN}, "reader": READERS},
        repair_minutes=REPAIR_MIN,
    ) as (cloud, chip, hardware):  # fmt: skip
        # Anna never badged: absent after the grace, and the order waits for her next shift.
        wait_for(lambda: _late_because(cloud, "O-1", "absent"), 30, "O-1 late for Anna")
        row = _order(cloud, "O-1")
        assert row is not None
        (absence,) = [c for c in row["causes"] if c["kind"] == "absent"]
        assert absence["event"] == "no operator with skill crimp present: OP-ANNA absent"
        assert absence["step"] == "crimp" and absence["group"] == "crimp-operators"
        assert row["cause"].startswith(absence["text"])
        assert _presence(cloud, ANNA) == "absent"
        found = cloud.root_cause_of("O-1")
        assert found is not None and found["kind"] == "absent", found
        assert "OP-ANNA" in found["summary"], found

        # She badges in at crimp-01: the order is on time again.
        _badge(chip, ANNA)
        wait_for(lambda: _presence(cloud, ANNA) == "present", 20, "Anna present")
        wait_for(lambda: _order(cloud, "O-1") is None, 20, "O-1 on time with Anna here")

        # A job ticket (rework, not in the plan) at crimp-01: it runs, stops, and its operator
        # presses breakdown: out for an hour.
        tickets = hardware.wiring.target(0, 1)  # wired by the agent for the ticket reader
        assert tickets is not None
        _badge(tickets, TICKET)
        pins = hardware.pin_factory()
        pins.pin(RUN).drive_low()
        time.sleep(0.3)
        pins.pin(RUN).drive_high()
        time.sleep(0.3)
        stopped = SystemClock().now()
        pins.pin(BREAKDOWN).drive_low()
        time.sleep(0.2)
        pins.pin(BREAKDOWN).drive_high()
        wait_for(lambda: _late_because(cloud, "O-1", "breakdown"), 30, "O-1 late for crimp-01")
        row = _order(cloud, "O-1")
        assert row is not None and row["tardiness_min"] > 0
        (breakdown,) = [c for c in row["causes"] if c["kind"] == "breakdown"]
        assert breakdown["resource"] == "crimp-01"
        since = datetime.fromisoformat(breakdown["from"].replace("Z", "+00:00"))
        assert abs(since - stopped) < timedelta(seconds=5), (since, stopped)
        assert breakdown["event"] == f"breakdown at crimp-01 since {since:%H:%M}"
        assert not [c for c in row["causes"] if c["kind"] == "absent"]
        found = cloud.root_cause_of("O-1")
        assert found is not None and found["kind"] == "breakdown", found
        assert found["first"]["type"] == "machine.signal", found
        assert found["summary"].startswith("crimp-01 broke down at "), found


# ----- a late lorry: the lorry unit on a real gpsd (gpsfake), its packages on an emulated chip --

LORRY_AGENT = "lorry-01"
PACKAGE = "04C0FFEE"
#: The plant a degree of latitude (111 km) north of where the recorded drive ends: hours away.
PLANT_LAT, PLANT_LON = NMEA_PLANT[0] + 1.0, NMEA_PLANT[1]


def _lorry_plant(folder: Path, now: datetime) -> tuple[Path, Path]:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    step = {"id": "assemble", "per_unit_min": 1, "materials": ["connector-12p"],
            "holds": [{"group": "boards"}]}  # fmt: skip
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200},
        "calendars": [{"id": "always",
                       "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]}],
        "resources": [{"id": "board-01", "kind": "machine", "calendar": "always"}],
        "groups": [{"id": "boards", "kind": "machine", "members": ["board-01"]}],
        "materials": [{"id": "connector-12p", "supplier": "SUP-CONN"}],
        "suppliers": [{"id": "SUP-CONN", "name": "Connector supply", "lorries": [LORRY_AGENT]}],
        "logistics": {"lat": PLANT_LAT, "lon": PLANT_LON, "cruise_kmh": 50},
        "products": [{"id": "P", "steps": [step]}],
    }  # fmt: skip
    # 20 minutes of assembly due in an hour: on time while the connectors are in stock.
    orders = [{"id": "O-2", "product": "P", "quantity": 20,
               "due": _stamp(now + timedelta(minutes=60))}]  # fmt: skip
    (folder / "plant.json").write_text(json.dumps(plant))
    (folder / "orders.json").write_text(json.dumps({"orders": orders}))
    manifest = {
        "supplier": "SUP-CONN",
        "deliveries": [
            {
                "delivery": "D-2002",
                "lines": [
                    {
                        "tag": PACKAGE,
                        "material": "connector-12p",
                        "order": "PO-2002",
                        "quantity": 500,
                    }
                ],
            }
        ],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))  # fmt: skip
    return folder / "plant.json", folder / "orders.json"


def _deliveries(cloud: CloudService) -> dict[str, Any]:
    return dict(cloud.live_snapshot()["deliveries"]["deliveries"])


def test_late_delivery_through_the_lorry_unit(
    tmp_path: Path,
    mosquitto: PrivateMosquitto,
    gpsfake: Callable[..., GpsFake],  # noqa: F811
) -> None:
    clock = SystemClock()
    now = clock.now()
    plant, orders = _lorry_plant(tmp_path, now)
    settings = CloudSettings(
        database=tmp_path / "cloud.db", broker=mosquitto.url, site=SITE, web_port=None,
        plant=plant, orders=orders, frozen_minutes=0,
    )  # fmt: skip
    port = free_port()  # gpsd comes once the connectors are on the lorry
    config = parse_config(
        {
            "agent": LORRY_AGENT, "site": SITE, "area": AREA, "broker": mosquitto.url,
            "outbox": str(tmp_path / "lorry.db"), "role": "lorry", "hardware": "emulated",
            "lorry": {"id": LORRY_AGENT, "gpsd": f"127.0.0.1:{port}", "stage": "load",
                      "manifest": "manifest.json", "reader": {"device": 0, "reset_pin": 25},
                      "gps_poll_s": 0.05, "fix_hold_s": 0.5, "gps_retry_max_s": 0.5,
                      "min_gap_s": 0.2, "interval_s": 1,
                      "gps_time_bound_s": 4e9},  # the log's date is not today's
        },
        "agent.toml",
        tmp_path,
    )  # fmt: skip
    cloud = CloudService(settings, clock=clock)
    apply_registry(
        cloud.log,
        [{"agent": LORRY_AGENT, "site": SITE, "area": AREA, "devices": [
            {"source": f"{LORRY_AGENT}-gps"}, {"source": f"{LORRY_AGENT}-packages"}]}],
    )  # fmt: skip
    cloud.ingest.reload_registry()
    hardware = EmulatedHardware(clock)
    chip = hardware.add_mfrc522(0, 0, reset_pin=25)
    fake: GpsFake | None = None
    with cloud, hardware, Agent(config, clock=clock) as agent:
        role: Any = start_role(agent, hardware)
        try:
            wait_for(lambda: _order(cloud, "O-2") is None, 30, "O-2 planned on time")
            # The connectors are loaded onto the lorry at the supplier (held in the reader's
            # field until the cloud has the read: the role's poll may be waiting for gpsd) ...
            held = chip.add_tag(Tag(bytes.fromhex(PACKAGE)))
            wait_for(lambda: "D-2002" in _deliveries(cloud), 30, "D-2002 loaded")
            chip.remove_tag(held)
            # ... and it drives, 111 km from the plant: the recorded drive through a real gpsd.
            fake = gpsfake("drive.nmea", port=port)
            wait_for(lambda: _late_because(cloud, "O-2", "delivery"), 60, "O-2 late for D-2002")
            row = _order(cloud, "O-2")
            assert row is not None and row["tardiness_min"] > 0
            (cause,) = [c for c in row["causes"] if c["kind"] == "delivery"]
            assert (cause["step"], cause["material"]) == ("assemble", "connector-12p")
            ready = datetime.fromisoformat(cause["until"].replace("Z", "+00:00"))
            assert ready > now + timedelta(hours=1)  # 111 km away, and 35 minutes at the plant
            shown = f"{ready:%H:%M}" if ready.date() == now.date() else f"{ready:%Y-%m-%d %H:%M}"
            assert cause["event"] == f"delivery D-2002 ready {shown}"
            delivery = _deliveries(cloud)["D-2002"]
            assert delivery["lorry"] == LORRY_AGENT and delivery["materials"] == ["connector-12p"]
            # The root cause walks back to the loading scan the lorry's reader made.
            found = cloud.root_cause_of("O-2")
            assert found is not None and found["kind"] == "road_slow", found
            first = found["first"]
            assert (first["type"], first["source"]) == ("package.read", f"{LORRY_AGENT}-packages")
            assert first["text"] == f"D-2002 loaded onto {LORRY_AGENT}"
        finally:
            role.stop()
            if fake is not None:
                fake.kill()  # the drive is over: gpsd need not linger (SIGKILL, never SIGTERM)
