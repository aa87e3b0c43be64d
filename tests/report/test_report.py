"""The report's figures, each computed by hand from a small log, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from cloud.report import PeriodInvalid, build_report, machine_processes
from cloud.report.figures import weighted_median
from cloud.store import EventLog
from tests.report.log import Writer, plant, shift_log
from tests.status.events import T0

FROM, TO = T0, T0 + timedelta(hours=8)  # Monday 06:00-14:00 UTC: minutes 0-480


@pytest.fixture
def shift(database: str) -> Iterator[EventLog]:
    with EventLog(database) as log:
        shift_log(Writer(log))
        yield log


def report(log: EventLog, start: Any = FROM, end: Any = TO, corrections: bool = True) -> Any:
    entries = (e for e in log.replay() if corrections or e[1]["type"] != "correction")
    return build_report(entries, plant(), start, end).to_dict()


def rows(data: dict[str, Any], table: str, key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in data[table]}


def test_figures_of_the_shift_by_hand(shift: EventLog) -> None:
    data = report(shift)
    m1 = rows(data, "machines", "station")["m1"]
    # Planned: 8 h shift minus the 30 min break = 450 min. Running in the period: 0-60, 90-200,
    # 215-300, 340-480 = 60 + 110 + 85 + 140 = 395 min, of which 30 fall in the break: 365.
    assert (m1["process"], m1["planned_basis"]) == ("press", "calendar")
    assert (m1["period_min"], m1["planned_min"]) == (480, 450)
    assert (m1["run_total_min"], m1["run_min"]) == (395, 365)
    # Downtime: breakdown 60-90 (30), unexplained 200-215 (15), material_shortage 300-340 (40).
    assert (m1["downtime_min"], m1["idle_min"], m1["no_data_min"], m1["stops"]) == (85, 0, 0, 3)
    # Counts in the period: 40 + 50 + 150 cycles (5 before it, 20 voided); good 230, scrap 10+5.
    assert (m1["cycles"], m1["good"], m1["scrap"], m1["total_count"]) == (240, 230, 15, 240)
    availability = 365 / 450
    performance = (60 * 240) / (395 * 60)
    quality = 230 / 245
    assert m1["availability"] == pytest.approx(availability, abs=1e-4)
    assert m1["performance"] == pytest.approx(performance, abs=1e-4)
    assert m1["quality"] == pytest.approx(quality, abs=1e-4)
    assert m1["oee"] == pytest.approx(availability * performance * quality, abs=1e-4)
    assert m1["utilisation"] == pytest.approx(395 / 480, abs=1e-4)
    assert m1["avg_cycle_s"] == pytest.approx(395 * 60 / 240, abs=1e-3)
    assert m1["standard_s"] == 60
    assert m1["cycle_ratio"] == pytest.approx(395 * 60 / 240 / 60, abs=1e-4)
    # Samples: 40 cycles in 35 running min (since the count at -5), 50 in 60 min (30-60,
    # 90-120), 150 in 225 min (120-200, 215-300, 340-400): 52.5 s x40, 72 s x50, 90 s x150.
    assert m1["median_cycle_s"] == 90
    pareto = [
        (d["reason"], d["minutes"], d["share"], d["cumulative_share"]) for d in m1["downtime"]
    ]
    assert pareto == [
        ("material_shortage", 40, round(40 / 85, 4), round(40 / 85, 4)),
        ("breakdown", 30, round(30 / 85, 4), round(70 / 85, 4)),
        ("unexplained", 15, round(15 / 85, 4), 1.0),
    ]
    assert data["downtime"] == m1["downtime"]  # no other machine stopped


def test_unknown_is_never_a_number(shift: EventLog) -> None:
    data = report(shift)
    machines = rows(data, "machines", "station")
    m2 = machines["m2"]  # in the plant model, no event at all
    assert (m2["planned_min"], m2["no_data_min"]) == (450, 450)
    assert m2["availability"] is m2["performance"] is m2["quality"] is m2["oee"] is None
    m3 = machines["m3"]  # not in the plant model: planned all period, no standard time
    assert (m3["process"], m3["planned_basis"], m3["planned_min"]) == ("unassigned", "period", 480)
    assert (m3["run_min"], m3["idle_min"], m3["no_data_min"]) == (100, 280, 100)
    assert m3["availability"] == pytest.approx(100 / 480, abs=1e-4)
    assert m3["total_count"] == 20  # no cycles counted: good + scrap
    assert m3["performance"] is None and m3["oee"] is None and m3["standard_s"] is None
    assert "no standard time known for 20 counted units" in m3["notes"]
    assert m3["quality"] == 1.0


def test_processes_sum_their_machines(shift: EventLog) -> None:
    press = rows(report(shift), "processes", "process")["press"]
    assert (press["machines"], press["planned_min"], press["run_min"]) == (2, 900, 365)
    assert press["availability"] == pytest.approx(365 / 900, abs=1e-4)
    assert press["performance"] == pytest.approx(240 / 395, abs=1e-4)
    assert press["oee"] == pytest.approx(365 / 900 * 240 / 395 * 230 / 245, abs=1e-4)


def test_corrections_change_the_report(shift: EventLog) -> None:
    m1 = rows(report(shift, corrections=False), "machines", "station")["m1"]
    assert (m1["cycles"], m1["scrap"]) == (260, 10)
    assert [d["reason"] for d in m1["downtime"]] == ["changeover", "breakdown", "unexplained"]
    assert m1["quality"] == pytest.approx(230 / 240, abs=1e-4)
    assert m1["median_cycle_s"] == 90  # the wrong 20 cycles' sample (30 s) is still in
    corrected = rows(report(shift), "machines", "station")["m1"]
    assert (corrected["cycles"], corrected["scrap"]) == (240, 15)
    assert corrected["downtime"][0]["reason"] == "material_shortage"


def test_the_period_boundary_splits_intervals(shift: EventLog) -> None:
    # 06:30-07:30: running 30-60, breakdown 60-90; the run began before the period.
    data = report(shift, FROM + timedelta(minutes=30), FROM + timedelta(minutes=90))
    m1 = rows(data, "machines", "station")["m1"]
    assert (m1["planned_min"], m1["run_min"], m1["downtime_min"]) == (60, 30, 30)
    assert [(d["reason"], d["minutes"]) for d in m1["downtime"]] == [("breakdown", 30)]
    assert m1["cycles"] == 40  # counted at minute 30: inside [30, 90)
    # 05:00-06:30: the job's stop before the run (-30..-10) is outside the calendar.
    early = rows(report(shift, FROM - timedelta(hours=1), FROM + timedelta(minutes=30)),
                 "machines", "station")["m1"]  # fmt: skip
    assert (early["planned_min"], early["run_min"], early["run_total_min"]) == (30, 30, 40)
    assert early["downtime_min"] == 0


def test_a_period_must_end_after_it_starts(shift: EventLog) -> None:
    with pytest.raises(PeriodInvalid):
        report(shift, TO, FROM)


def test_weighted_median_and_processes() -> None:
    assert weighted_median([(1.0, 1), (3.0, 1)]) == 2.0
    assert weighted_median([(5.0, 3), (1.0, 1)]) == 5.0
    assert weighted_median([]) is None
    processes, own = machine_processes(plant())
    assert processes == {"m1": "press", "m2": "press"} and own == {"m1": 60.0, "m2": 60.0}
