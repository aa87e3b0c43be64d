"""Presence through the whole loop: badges on an emulated reader, a real Mosquitto, the cloud.

A station agent (the real station role on an emulated MFRC522 and pins) reads badges; the cloud
(`CloudService` in this process: ingest, status, floor reactions, floor clock, replanner) plans
two crimp presses whose crimp step needs an operator with the skill `crimp`. The operators' shift
starts on the minute of the test's start and the plant's grace ends a few seconds later. An
operator who does not badge in is absent once the grace is over — noticed by the floor clock, not
by an event (nobody badges anything then) — and:

- with another qualified operator badged in and free, the plan gives the work to them;
- with no qualified operator here, the gap report names the skill.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.config import parse_config
from agent.runtime import Agent, start_role
from cloud.registry import apply_registry
from cloud.replan.gap_view import gap_view
from cloud.service import CloudService, CloudSettings
from hardware.factory import EmulatedHardware
from hardware.mfrc522_chip import Tag
from taktline.clock import SystemClock, utc_iso
from taktline.private_broker import PrivateMosquitto
from tests.floor.test_presence_plan import _holders
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

SITE, AREA, AGENT = "plant1", "harness", "pi-crimp"
STATIONS = ("crimp-01", "crimp-02")
GRACE_S = 4.0
#: badge -> (operator, skills); OP-ANNA comes first in the crimp group: the plan starts with her.
OPERATORS = {
    "04A1B2C3": ("OP-ANNA", ["crimp"]),
    "04D4E5F6": ("OP-BEN", ["crimp"]),
    "04112233": ("OP-CARLA", ["assemble"]),
}
ANNA, BEN, CARLA = OPERATORS


def _plant(
    folder: Path, start: datetime, crimpers: list[str], machines: tuple[str, ...] = STATIONS
) -> Path:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    shift = start.replace(second=0, microsecond=0)
    grace_min = ((start - shift).total_seconds() + GRACE_S) / 60
    hhmm = f"{shift:%H:%M}"
    step = {
        "id": "crimp", "per_unit_min": 1,
        "holds": [{"group": "crimpers"}, {"group": "crimp-operators"}],
    }  # fmt: skip
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200,
                     "absent_grace_min": round(grace_min, 4)},
        "calendars": [
            {"id": "always", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]},
            {"id": "day", "shifts": [{"days": days, "start": hhmm, "end": hhmm}]},
        ],
        "resources": [
            *({"id": s, "kind": "machine", "calendar": "always"} for s in machines),
            *({"id": op, "kind": "operator", "calendar": "day", "tag": tag,
               "skills": skills if op in crimpers or "crimp" not in skills else ["test"]}
              for tag, (op, skills) in OPERATORS.items()),
        ],
        "groups": [
            {"id": "crimpers", "kind": "machine", "members": list(machines)},
            {"id": "crimp-operators", "kind": "operator", "skill": "crimp"},
        ],
        "products": [{"id": "P", "steps": [step]}],
    }  # fmt: skip
    path = folder / "plant.json"
    path.write_text(json.dumps(plant))
    return path


def _orders(folder: Path, now: datetime) -> Path:
    # One operator at a time can crimp: six 20-minute orders keep an operator busy for 2 hours.
    orders = [
        {"id": f"O-{n}", "product": "P", "quantity": 20,
         "due": utc_iso(now + timedelta(minutes=30 + 20 * n))[:19] + "Z"}
        for n in range(6)
    ]  # fmt: skip
    path = folder / "orders.json"
    path.write_text(json.dumps({"orders": orders}))
    return path


@contextmanager
def _floor(
    tmp_path: Path,
    mosquitto: PrivateMosquitto,
    crimpers: list[str],
    *,
    machines: tuple[str, ...] = STATIONS,
    orders: Path | None = None,
    station: dict[str, Any] | None = None,
    repair_minutes: float | None = None,
) -> Iterator[tuple[CloudService, Any, EmulatedHardware]]:
    """The cloud and one station agent reading badges at crimp-01: (cloud, chip, hardware).

    `machines` are the crimp presses (crimp-01 has the agent), `orders` replace the six,
    `station` adds (or replaces) keys of crimp-01's station section (stop buttons, readers)
    and `repair_minutes` is the cloud's mean time to repair.
    """
    clock = SystemClock()
    now = clock.now()
    settings = CloudSettings(
        database=tmp_path / "cloud.db", broker=mosquitto.url, site=SITE, web_port=None,
        plant=_plant(tmp_path, now, crimpers, machines), orders=orders or _orders(tmp_path, now),
        frozen_minutes=0, floor_tick_s=0.5, repair_minutes=repair_minutes,
    )  # fmt: skip
    config = parse_config(
        {
            "agent": AGENT, "site": SITE, "area": AREA, "broker": mosquitto.url,
            "outbox": str(tmp_path / "agent.db"), "role": "station", "hardware": "emulated",
            "station": [{
                "id": "crimp-01", "inputs": {"run": 17},
                "reader": [{"name": "crimp-01-rfid", "device": 0, "reset_pin": 25,
                            "reads": ["badge"]}],
                **(station or {}),
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
            {"source": "crimp-01-tickets", "station": "crimp-01"},  # a reader `station` may add
        ]}],
    )  # fmt: skip
    cloud.ingest.reload_registry()
    hardware = EmulatedHardware(clock)
    chip = hardware.add_mfrc522(0, 0, reset_pin=25)
    with cloud, hardware, Agent(config, clock=clock) as agent:
        role: Any = start_role(agent, hardware)
        try:
            yield cloud, chip, hardware
        finally:
            role.stop()


def _badge(chip: Any, tag: str) -> None:
    held = chip.add_tag(Tag(bytes.fromhex(tag)))
    time.sleep(0.5)
    chip.remove_tag(held)


def _presence(cloud: CloudService, tag: str) -> str:
    return str(cloud.live_snapshot()["labour"].get(tag, {}).get("presence"))


def _absent_planned(cloud: CloudService) -> set[str]:
    """Resources the replanner's engine holds out of the plan (no machine is lost here)."""
    assert cloud.replanner is not None
    return set(cloud.replanner.engine.down)


def test_an_operator_not_badged_in_is_replaced_by_one_who_is(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    with _floor(tmp_path, mosquitto, crimpers=["OP-ANNA", "OP-BEN"]) as (cloud, chip, _):
        replanner = cloud.replanner
        assert replanner is not None
        start = cloud._clock.now()
        later = start + timedelta(hours=4)
        assert replanner.engine.plan is not None
        assert _holders(replanner.engine, start - timedelta(minutes=1), later).get("OP-ANNA")
        labour = cloud.live_snapshot()["labour"]
        if labour[ANNA]["presence"] == "expected":  # not here yet, and the plan relies on her
            assert labour[ANNA]["relied_on"] and labour[ANNA]["planned_jobs"] > 0, labour
            # the Gap report page lists her among whom the plan relies on who is not here
            shown = gap_view(replanner.gap_report, replanner.engine.plant, labour.values())
            assert "OP-ANNA" in [r["operator"] for r in shown["relied_on"]], shown["relied_on"]
        _badge(chip, BEN)  # Ben badges in at crimp-01; Anna never comes
        wait_for(lambda: _presence(cloud, BEN) == "present", 20, "Ben present")
        assert _presence(cloud, ANNA) in ("expected", "absent")  # on shift, not here
        wait_for(lambda: "OP-ANNA" in _absent_planned(cloud), 20, "Anna planned out as absent")
        assert "OP-BEN" not in _absent_planned(cloud)
        assert replanner.stats.replans >= 1

        def anna_planned_out() -> bool:
            held = _holders(replanner.engine, cloud._clock.now(), later)
            return "OP-ANNA" not in held and bool(held.get("OP-BEN"))

        wait_for(anna_planned_out, 20, "Anna's work given to Ben")
        assert (_presence(cloud, ANNA), _presence(cloud, BEN)) == ("absent", "present")
        labour = cloud.live_snapshot()["labour"]
        assert labour[BEN]["planned_jobs"] > 0 and not labour[BEN]["relied_on"]
        assert labour[ANNA]["planned_jobs"] == 0 and not labour[ANNA]["relied_on"]
        shown = gap_view(replanner.gap_report, replanner.engine.plant, labour.values())
        assert shown["relied_on"] == []  # her work is Ben's now: no one is relied on in vain


def test_with_no_qualified_operator_here_the_gap_names_the_skill(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    with _floor(tmp_path, mosquitto, crimpers=["OP-ANNA"]) as (cloud, chip, _):
        replanner = cloud.replanner
        assert replanner is not None
        _badge(chip, CARLA)  # Carla is here, but cannot crimp
        wait_for(lambda: _presence(cloud, CARLA) == "present", 20, "Carla present")
        wait_for(lambda: "OP-ANNA" in _absent_planned(cloud), 20, "Anna planned out as absent")

        def named() -> list[dict[str, Any]]:
            report = replanner.current_gap_report()
            return [g for g in report["gaps"] if "crimp" in g.get("skills", ())]

        wait_for(lambda: any(g.get("none_present") for g in named()), 20, "the skill gap")
        gap = next(g for g in named() if g.get("none_present"))
        assert gap["absent"] == ["OP-ANNA"]
        anna = cloud.live_snapshot()["labour"][ANNA]
        assert anna["presence"] == "absent"
