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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.service import CloudService
from taktline.clock import SystemClock, utc_iso
from taktline.private_broker import PrivateMosquitto
from tests.floor.test_presence_agents import ANNA, _badge, _floor, _presence
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
