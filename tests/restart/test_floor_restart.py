"""The floor's new inputs survive a kill -9 of the cloud: who is absent, where a tool is.

Real processes as in the cloud restart test: a private Mosquitto, `taktline cloud` on a SQLite
log, and a station agent at crimp-01 (its own process, the station role on emulated chips) whose
reader takes badges. Two crimp operators are on a shift that starts on the test's minute; the
plant's grace ends seconds later. OP-BEN badges in at crimp-01, OP-ANNA never does: she is absent
and her work is Ben's. A supervisor records applicator APP-1 back in the tool crib: O-T's crimp
step, which holds it, starts no earlier than the crib -> press transfer allows. After kill -9
and a start the new process, whose status is rebuilt from the log, plans the same: Anna absent
and planned out, Ben here, APP-1 in the crib and O-T behind its transfer. (Tool life and
service are in `test_cloud_restart`, accepted learned times in `test_learned_times`.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from taktline.clock import SystemClock
from taktline.private_broker import PrivateMosquitto
from tests.restart.harness import (
    APP_1,
    SITE,
    CloudProcess,
    StationProcess,
    at,
    stamp,
    station_config,
)
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults, pytest.mark.slow]

PRESSES = ("crimp-01", "crimp-02")
ANNA, BEN = "04A1B2C3", "04D4E5F6"
GRACE_S = 3.0
TRANSFER_MIN = 20


def _write(folder: Path, now: datetime) -> None:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    shift = now.replace(second=0, microsecond=0)
    grace_min = ((now - shift).total_seconds() + GRACE_S) / 60
    hhmm = f"{shift:%H:%M}"
    plant = {
        "site": SITE, "timezone": "UTC", "slot_minutes": 1,
        "planning": {"improve_seconds": 0.2, "improve_iterations": 200,
                     "absent_grace_min": round(grace_min, 4)},
        "calendars": [
            {"id": "always", "shifts": [{"days": days, "start": "00:00", "end": "24:00"}]},
            {"id": "day", "shifts": [{"days": days, "start": hhmm, "end": hhmm}]},
        ],
        "resources": [
            *({"id": s, "kind": "machine", "calendar": "always"} for s in PRESSES),
            {"id": "APP-1", "kind": "tool", "calendar": "always", "tag": APP_1},
            {"id": "OP-ANNA", "kind": "operator", "calendar": "day", "tag": ANNA,
             "skills": ["crimp"]},
            {"id": "OP-BEN", "kind": "operator", "calendar": "day", "tag": BEN,
             "skills": ["crimp"]},
        ],
        "groups": [
            {"id": "crimpers", "kind": "machine", "members": list(PRESSES)},
            {"id": "crimp-operators", "kind": "operator", "skill": "crimp"},
            {"id": "applicators", "kind": "tool", "members": ["APP-1"]},
        ],
        "products": [
            {"id": "P", "steps": [{"id": "crimp", "per_unit_min": 1, "holds": [
                {"group": "crimpers"}, {"group": "crimp-operators"}]}]},
            {"id": "T", "steps": [{"id": "crimp", "per_unit_min": 1, "holds": [
                {"group": "crimpers"}, {"group": "applicators"}]}]},
        ],
        "tooling": {"transfers": [
            {"from": "crib", "to": s, "minutes": TRANSFER_MIN} for s in PRESSES]},
    }  # fmt: skip
    # One operator crimps at a time: four 20-minute orders keep one busy for 80 minutes.
    orders = [
        {"id": f"O-{n}", "product": "P", "quantity": 20,
         "due": stamp(now + timedelta(minutes=30 + 20 * n))}
        for n in range(4)
    ]  # fmt: skip
    # O-T holds APP-1, not an operator; just in time it starts ~10 minutes from now.
    orders.append({"id": "O-T", "product": "T", "quantity": 10,
                   "due": stamp(now + timedelta(minutes=20))})  # fmt: skip
    registry = [{"agent": "pi-crimp-01", "site": SITE, "area": "harness", "devices": [
        {"source": "crimp-01-io", "station": "crimp-01"},
        {"source": "crimp-01-rfid", "station": "crimp-01"}]}]  # fmt: skip
    (folder / "plant.json").write_text(json.dumps(plant))
    (folder / "orders.json").write_text(json.dumps({"orders": orders}))
    (folder / "registry.json").write_text(json.dumps({"agents": registry}))


@pytest.fixture
def floor(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[tuple[CloudProcess, Any]]:
    _write(tmp_path, SystemClock().now())
    config = station_config(tmp_path, "crimp-01", mosquitto.url)
    raw = json.loads(config.read_text())
    raw["station"][0]["reader"][0]["reads"] = ["badge"]  # `ticket HEX` taps a badge here
    config.write_text(json.dumps(raw))
    cloud = CloudProcess(tmp_path, mosquitto.url, str(tmp_path / "cloud.db"))
    cloud.start()
    station: StationProcess | None = None
    try:
        wait_for(cloud.up, 30, "the cloud's web interface")
        station = StationProcess(config)
        station.wait_ready()
        yield cloud, station
    finally:
        if station is not None:
            station.quit()
        cloud.stop()


def _labour(cloud: CloudProcess, tag: str) -> str | None:
    code, body = cloud.call("get", "/api/status")
    return body["labour"].get(tag, {}).get("presence") if code == 200 else None


def _plan(cloud: CloudProcess) -> dict[str, Any]:
    code, body = cloud.call("get", "/api/plan")
    assert code == 200, body
    return dict(body)


def _jobs(plan: dict[str, Any], resource: str) -> list[dict[str, Any]]:
    return list(plan["resources"].get(resource, []))


def _ben_not_anna(cloud: CloudProcess) -> bool:
    plan = _plan(cloud)
    return not _jobs(plan, "OP-ANNA") and len(_jobs(plan, "OP-BEN")) == 4


def _ot_start(cloud: CloudProcess) -> datetime | None:
    found = [j for j in _jobs(_plan(cloud), "APP-1") if j["order"] == "O-T"]
    return at(found[0]["start"]) if found else None


def test_absence_and_tool_place_survive_a_cloud_restart(
    floor: tuple[CloudProcess, StationProcess],
) -> None:
    cloud, station = floor
    wait_for(lambda: "crimp-01" in station.held, 30, "crimp-01's first schedule")
    first = _ot_start(cloud)
    assert first is not None and first < SystemClock().now() + timedelta(minutes=TRANSFER_MIN)

    station.send(f"ticket {BEN}")  # Ben badges in at crimp-01; Anna never comes
    wait_for(lambda: _labour(cloud, BEN) == "present", 20, "Ben present")
    wait_for(lambda: _labour(cloud, ANNA) == "absent", 20, "Anna absent after the grace")
    wait_for(lambda: _ben_not_anna(cloud), 20, "Anna's work given to Ben")

    code, body = cloud.call(
        "post",
        "/api/corrections",
        {"correction": "tool_location", "reason": "back in the crib", "tag": APP_1,
         "value": "crib"},
        user="sam",
    )  # fmt: skip
    assert code == 201, body
    tools = cloud.call("get", "/api/status")[1]["tools"]
    assert tools[APP_1]["place"] == "crib", tools
    earliest = at(tools[APP_1]["since"]) + timedelta(minutes=TRANSFER_MIN - 1)

    def behind_transfer() -> bool:
        start = _ot_start(cloud)
        return start is not None and start >= earliest

    wait_for(behind_transfer, 20, "O-T behind APP-1's transfer from the crib")

    cloud.kill()
    cloud.start()
    wait_for(cloud.up, 30, "the web interface again")
    assert _labour(cloud, ANNA) == "absent" and _labour(cloud, BEN) == "present"
    assert cloud.call("get", "/api/status")[1]["tools"][APP_1]["place"] == "crib"
    # A new order: the new process replans with what it rebuilt, not the old process's record.
    due = stamp(SystemClock().now() + timedelta(hours=3))
    code, body = cloud.call(
        "post", "/api/orders", {"orders": [{"id": "O-NEW", "product": "P", "quantity": 5,
                                            "due": due}]}, user="erp-bridge",
    )  # fmt: skip
    assert code == 202 and body["created"] == ["O-NEW"], body

    def replanned() -> bool:
        plan = _plan(cloud)
        ben = {j["order"] for j in _jobs(plan, "OP-BEN")}
        return "O-NEW" in ben and not _jobs(plan, "OP-ANNA") and len(ben) == 5

    wait_for(replanned, 20, "O-NEW planned on Ben, Anna still out")
    assert behind_transfer(), _jobs(_plan(cloud), "APP-1")
    labour = cloud.call("get", "/api/status")[1]["labour"]
    assert labour[ANNA]["planned_jobs"] == 0 and labour[BEN]["planned_jobs"] == 5, labour
