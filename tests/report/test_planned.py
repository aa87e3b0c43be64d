"""Planned time from the example plant's calendar: shifts, breaks, closures, holidays, time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.plant import load_plant
from cloud.report import machine_processes
from cloud.report.planned import overlap, planned_intervals, subtract, union

EXAMPLE = Path(__file__).parents[2] / "docs/examples/harness_plant_monitoring.json"
PLANT = load_plant(EXAMPLE)  # Europe/Berlin; two-shift 06:00-22:00 Mon-Fri, breaks 09:30-09:45
CRIMP = next(r for r in PLANT.resources if r.id == "CRIMP-1")  # and 18:00-18:30


def minutes(day: datetime, days: int = 1) -> float:
    start = day.timestamp()
    spans, basis = planned_intervals(PLANT, CRIMP, start, start + days * 86400)
    assert basis == "calendar"
    return sum(b - a for a, b in spans) / 60


def test_a_working_day_a_closure_and_a_holiday() -> None:
    monday = datetime(2026, 3, 23, tzinfo=UTC)  # midnight UTC = 01:00 in Berlin (CET)
    assert minutes(monday) == 16 * 60 - 45
    spans, _ = planned_intervals(
        PLANT, CRIMP, monday.timestamp(), (monday + timedelta(1)).timestamp()
    )
    assert datetime.fromtimestamp(spans[0][0], UTC) == datetime(2026, 3, 23, 5, 0, tzinfo=UTC)
    assert minutes(monday + timedelta(days=2)) == 16 * 60 - 45 - 120  # closure 06:00-08:00
    assert minutes(monday + timedelta(days=7)) == 0  # 2026-03-30 is a holiday
    assert minutes(monday + timedelta(days=5), days=2) == 0  # the weekend


def test_after_the_clocks_change_shifts_keep_local_time() -> None:
    tuesday = datetime(2026, 3, 31, tzinfo=UTC)  # CEST from 29 March: 06:00 local = 04:00 UTC
    spans, _ = planned_intervals(
        PLANT, CRIMP, tuesday.timestamp(), (tuesday + timedelta(1)).timestamp()
    )
    assert datetime.fromtimestamp(spans[0][0], UTC) == datetime(2026, 3, 31, 4, 0, tzinfo=UTC)
    assert minutes(tuesday) == 16 * 60 - 45


def test_without_a_calendar_the_whole_period_is_planned() -> None:
    assert planned_intervals(None, None, 0.0, 600.0) == ([(0.0, 600.0)], "period")


def test_interval_arithmetic() -> None:
    assert union([(5, 9), (0, 3), (2, 4), (9, 9)]) == [(0, 4), (5, 9)]
    assert subtract([(0, 10)], [(2, 3), (5, 12)]) == [(0, 2), (3, 5)]
    assert overlap(1, 6, [(0, 2), (3, 4), (5, 9)]) == 1 + 1 + 1


def test_the_example_plant_processes() -> None:
    processes, own = machine_processes(PLANT)
    assert processes["crimp-01"] == "crimp" and processes["cut-02"] == "cut"
    assert own["crimp-01"] is None  # crimp is 1.0 min for one product, 1.2 for the other
    assert own["assy-01"] is None and own["cut-01"] is None
