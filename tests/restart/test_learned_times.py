"""Learned standard times through the real floor: offered, accepted, planned, kept over a kill -9.

Real processes as in the cloud restart test (its fixtures): a private Mosquitto, `taktline
cloud` on a SQLite log, and three station agents on emulated chips and pins. crimp-01's operator
runs O-0's job ticket four times, five cycle pulses each; one run is held up (a jam): the rule
drops it. Under the plant's default setting (`accept`) the learned time is offered but the plan
keeps the standard (30 min for 30 units) until a planner accepts it over REST; then every crimp
step not started is planned with it. After a kill -9 the restarted cloud plans with it still.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from taktline.private_broker import PrivateMosquitto
from tests.restart.harness import STATIONS, TICKET, CloudProcess, Retained, StationProcess, at
from tests.restart.test_cloud_restart import cloud, plant, stations  # noqa: F401 (fixtures)
from tests.sync.harness import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.faults, pytest.mark.slow]

KEY = {"product": "P", "step": "crimp", "station": "crimp-01"}


@pytest.fixture
def database(tmp_path: Path) -> str:
    """SQLite only: the log's backends are covered by the cloud restart test."""
    return str(tmp_path / "cloud.db")


def _durations(proc: CloudProcess) -> dict[str, timedelta]:
    """Each order's crimp step's planned duration, for steps not started yet."""
    plan = proc.call("get", "/api/plan")[1]
    out: dict[str, timedelta] = {}
    for jobs in plan["resources"].values():
        for job in jobs:
            if job["order"] not in ("O-0", "O-T"):  # O-0's ticket ran (real progress); O-T is
                # the tool test's order, of another product
                out[job["order"]] = at(job["end"]) - at(job["start"])
    return out


def _published(retained: Retained) -> set[timedelta]:
    """The durations of product P's crimp jobs (O-0's aside) in the retained schedules."""
    with retained.lock:
        schedules = [retained.latest[s] for s in STATIONS if s in retained.latest]
    return {
        at(j.end) - at(j.start) for s in schedules for j in s.jobs if j.order not in ("O-0", "O-T")
    }


def _row(proc: CloudProcess) -> dict[str, Any] | None:
    code, body = proc.call("get", "/api/plan/times")
    assert code == 200, body
    return next((r for r in body["times"] if {k: r[k] for k in KEY} == KEY), None)


def _job(station: StationProcess, hold_s: float = 0.0) -> None:
    station.send(f"ticket {TICKET}")  # starts the job
    time.sleep(0.6)  # the reader takes the same tag again once it has left for 0.5 s
    station.send("cycles 5")
    time.sleep(hold_s)
    station.send(f"ticket {TICKET}")  # ends it
    time.sleep(0.6)


def test_learned_times_wait_for_a_planner_change_the_plan_and_survive_a_restart(
    mosquitto: PrivateMosquitto,
    cloud: CloudProcess,  # noqa: F811
    stations: dict[str, StationProcess],  # noqa: F811
) -> None:
    wait_for(lambda: all(s in p.held for s, p in stations.items()), 30, "first schedules")
    retained = Retained(mosquitto.port)
    try:
        _offered_accepted_and_kept(cloud, stations, retained)
    finally:
        retained.close()


def _offered_accepted_and_kept(
    cloud: CloudProcess,  # noqa: F811
    stations: dict[str, StationProcess],  # noqa: F811
    retained: Retained,
) -> None:
    standard = timedelta(minutes=30)
    wait_for(lambda: _published(retained) == {standard}, 20, "the stations' schedules")
    assert set(_durations(cloud).values()) == {standard}
    crimp1 = stations["crimp-01"]
    for hold in (0.0, 0.0, 3.0, 0.0):  # the third run is held up: an outlier
        _job(crimp1, hold)

    def offered() -> bool:
        row = _row(cloud)
        return row is not None and row["learned_s"] is not None and row["dropped"] == 1

    wait_for(offered, 20, "the learned time offered with the held-up run dropped")
    row = _row(cloud)
    assert row is not None and row["jobs"] == 3 and row["standard_s"] == 60.0
    assert 0 < row["learned_s"] < 1.0, row  # a tenth of a second or so per pulse, not 60 s
    assert row["accepted_s"] is None and row["plan_s"] == 60.0
    time.sleep(1.0)  # the job tickets' replans settle: with the standard still
    assert set(_durations(cloud).values()) == {standard}, "nothing changes before acceptance"
    assert _published(retained) == {standard}

    code, body = cloud.call("post", "/api/plan/times", {}, user="cleo")
    assert code == 200 and body["accepted"] == [KEY], body
    learned = timedelta(minutes=1)  # 30 units x well under 2 s: one 1-minute slot

    def planned_with_it() -> bool:
        return set(_durations(cloud).values()) == {learned}

    wait_for(planned_with_it, 20, "the crimp steps planned with the accepted time")
    wait_for(lambda: _published(retained) == {learned}, 20, "the stations' schedules with it")
    row = _row(cloud)
    assert row is not None and row["accepted_by"] == "cleo"
    assert row["plan_s"] == row["accepted_s"] == row["learned_s"]

    cloud.kill()
    cloud.start()
    wait_for(cloud.up, 30, "the web interface again")
    wait_for(planned_with_it, 20, "the restarted cloud planning with the accepted time")
    again = _row(cloud)
    assert again is not None and again["accepted_s"] == row["accepted_s"]
    audit = [(a["who"], a["what"]) for a in cloud.call("get", "/api/audit")[1]]
    assert ("cleo", "learned_times_accepted") in audit
