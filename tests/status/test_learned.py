"""Learned standard times: the rule (median of the last jobs, outliers dropped) and its inputs.

The rule is checked on plain numbers, then on finished job steps folded from contract events
through a real SQLite event log (the harness plant: HARNESS-DOOR's crimp step has a 20 min setup
and a standard of 60 s per unit; its ticket is 0A000001), and the planning side: under
`accept` nothing reaches the plan until a planner accepts, under `auto` at once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cloud.plant import load_orders, load_plant
from cloud.replan import Engine, Replanner, StandardTimes
from cloud.replan.times import planning_times
from cloud.status import ResourceStatus, StatusMaster
from cloud.status.learned import learn, learned_times
from cloud.store import EventLog
from tests.status.events import Feed

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
PLANT = load_plant(EXAMPLES / "harness_plant_monitoring.json")
TICKET = "0A000001"  # ORD-1, HARNESS-DOOR crimp


def test_the_median_of_the_kept_samples_with_outliers_dropped() -> None:
    result = learn([10.0, 10.5, 9.8, 30.0, 10.2])
    assert (result.seconds, result.kept, result.dropped) == (10.1, 4, 1)
    low = learn([10.0, 10.5, 9.8, 1.0, 10.2])
    assert (low.seconds, low.dropped) == (10.1, 1)  # too fast is an outlier too


def test_near_equal_samples_are_all_kept() -> None:
    # MAD 0: without the 10 % floor every sample but the median's equals would be dropped
    result = learn([10.0, 10.0, 10.0, 10.0, 11.0, 9.2])
    assert (result.kept, result.dropped, result.seconds) == (6, 0, 10.0)


def test_only_the_newest_jobs_count_and_too_few_offer_nothing() -> None:
    old, new = [100.0] * 30, [10.0, 11.0, 12.0]
    assert learn(old + new, jobs=3).seconds == 11.0
    assert learn(old + new, jobs=20).seconds == 100.0  # 17 old, 3 new: the new ones are dropped
    assert learn([10.0, 11.0], min_jobs=3).seconds is None
    assert learn([], min_jobs=1).seconds is None


def _jobs(status: ResourceStatus, path: Path, minutes: list[float]) -> None:
    """Jobs of TICKET on crimp-01, each 10 cycles taking `minutes` from start to end."""
    feed = Feed(status, EventLog(path))
    t = 0.0
    for length in minutes:
        feed("job.ticket", {"tag": TICKET, "action": "start"}, t, station="crimp-01")
        feed("machine.signal", {"signal": "cycle", "count": 10}, t + length / 2, station="crimp-01")
        feed("job.ticket", {"tag": TICKET, "action": "end"}, t + length, station="crimp-01")
        t += length + 5
    assert feed.store is not None
    feed.store.close()


def _status(plant: object = PLANT) -> ResourceStatus:
    status = ResourceStatus()
    status.set_master(StatusMaster.of(plant))  # type: ignore[arg-type]
    return status


def test_finished_jobs_give_the_learned_time_per_step_and_station(tmp_path: Path) -> None:
    status = _status()
    # 20 min setup + 10 units: 28 min is 48 s per unit; the 50-minute job (a jam) is dropped
    _jobs(status, tmp_path / "cloud.db", [28, 28.5, 27.5, 50])
    (row,) = learned_times(status)
    assert (row.product, row.step, row.station) == ("HARNESS-DOOR", "crimp", "crimp-01")
    assert row.standard_s == 60.0
    assert (row.learned.seconds, row.learned.kept, row.learned.dropped) == (48.0, 3, 1)
    assert row.to_dict()["learned_s"] == 48.0


@pytest.mark.parametrize("mode", ["accept", "auto"])
def test_the_setting_decides_when_the_plan_takes_them(tmp_path: Path, mode: str) -> None:
    plant = dataclasses.replace(PLANT, learned_times=mode)
    status = _status(plant)
    _jobs(status, tmp_path / "cloud.db", [28, 28.5, 27.5, 50])
    orders = load_orders(EXAMPLES / "harness_orders.json", plant)
    engine = Engine(plant, orders, orders[0].due.replace(hour=4))
    replanner = Replanner(engine, improve=False)
    times = StandardTimes(status, replanner)

    def crimp_slots() -> list[int]:
        p = engine.model.problem
        return [
            int(p.dur[s])
            for s, (o, step) in enumerate(engine.model.steps)
            if step.id == "crimp" and engine.model.orders[o].product == "HARNESS-DOOR"
        ]

    before = crimp_slots()
    told = times.update()
    replanner.flush()
    if mode == "accept":
        assert not told and crimp_slots() == before  # offered, not planned
        assert times.view()["times"][0]["plan_s"] == 60.0
        assert times.accept(None, "cleo") == [("HARNESS-DOOR", "crimp", "crimp-01")]
        assert status.planning.times[("HARNESS-DOOR", "crimp", "crimp-01")].by == "cleo"
        replanner.flush()
    assert engine.times == (("HARNESS-DOOR", "crimp", 48.0),)
    after = crimp_slots()
    assert all(a < b for a, b in zip(after, before, strict=True)), (before, after)
    row = times.view()["times"][0]
    assert (row["learned_s"], row["in_use_s"], row["plan_s"]) == (48.0, 48.0, 48.0)
    # back to the standard for that station: the plan's times are the master data's again
    times.accept([{**{k: row[k] for k in ("product", "step", "station")}, "per_unit_s": None}], "x")
    replanner.flush()
    if mode == "accept":
        assert engine.times == () and crimp_slots() == before


def test_a_step_is_planned_with_the_slowest_station_in_use() -> None:
    in_use = {("P", "crimp", "crimp-01"): 40.0, ("P", "crimp", "crimp-02"): 55.0}
    assert planning_times(in_use) == (("P", "crimp", 55.0),)
