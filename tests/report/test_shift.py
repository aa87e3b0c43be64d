"""The Report's default period: the last completed shift with data (cloud/report/shift.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cloud.plant import Plant, parse_plant
from cloud.report import Reports, default_period
from cloud.store import EventLog
from tests.report.log import PLANT_DOCUMENT, Writer, plant, shift_log
from tests.status.events import T0

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
#: Two back-to-back shifts (06-14, 14-22 Berlin), a break each, a holiday on Monday 30 March.
TWO_SHIFT: dict[str, Any] = {
    "id": "two-shift",
    "shifts": [
        {"days": WEEKDAYS, "start": "06:00", "end": "14:00"},
        {"days": WEEKDAYS, "start": "14:00", "end": "22:00"},
    ],
    "breaks": [{"days": WEEKDAYS, "start": "09:30", "end": "09:45"}],
    "holidays": ["2026-03-30"],
}
EVERY_DAY = [*WEEKDAYS, "sat", "sun"]
ALWAYS: dict[str, Any] = {
    "id": "always",
    "shifts": [{"days": EVERY_DAY, "start": "00:00", "end": "24:00"}],
}


def _plant(calendar: dict[str, Any]) -> Plant:
    document = copy.deepcopy(PLANT_DOCUMENT)
    document["timezone"] = "Europe/Berlin"
    document["calendars"] = [calendar]
    for resource in document["resources"]:
        resource["calendar"] = calendar["id"]
    return parse_plant(document)


def _local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_last_completed_shift_not_the_day_and_not_merged_with_the_shift_before() -> None:
    plant = _plant(TWO_SHIFT)
    period = default_period(plant, _local(24, 10), LONG_AGO, _local(24, 9))
    assert (period.rule, period.calendar) == ("last_shift", "two-shift")
    assert (period.start, period.end) == (_local(23, 14), _local(23, 22))
    # Monday afternoon, 15:00: the morning shift is the last completed one.
    period = default_period(plant, _local(23, 15), LONG_AGO, _local(23, 15))
    assert (period.start, period.end) == (_local(23, 6), _local(23, 14))


def test_weekends_and_holidays_are_skipped_across_the_change_to_summer_time() -> None:
    plant = _plant(TWO_SHIFT)
    # Sunday 29 March (clocks go forward): Friday's late shift, 13:00-21:00 UTC.
    period = default_period(plant, _local(29, 12), LONG_AGO, _local(29, 12))
    assert (period.start, period.end) == (_local(27, 14), _local(27, 22))
    assert period.start == datetime(2026, 3, 27, 13, tzinfo=UTC)
    # Tuesday 31 March 07:00 (summer time): Monday is a holiday, today's shift runs.
    period = default_period(plant, _local(31, 7), LONG_AGO, _local(31, 7))
    assert (period.start, period.end) == (_local(27, 14), _local(27, 22))


def test_the_start_moves_up_to_the_first_event_and_old_data_still_has_its_shift() -> None:
    plant = _plant(TWO_SHIFT)
    first = _local(23, 16, 30)
    period = default_period(plant, _local(24, 10), first, _local(24, 9))
    assert (period.start, period.end) == (first, _local(23, 22))
    # The newest event is months old: the shift that holds it, not an empty recent one.
    now = datetime(2026, 12, 6, 3, tzinfo=UTC)
    period = default_period(plant, now, LONG_AGO, _local(25, 10))
    assert (period.rule, period.start, period.end) == ("last_shift", _local(25, 6), _local(25, 14))


def test_a_plant_that_started_within_the_current_shift_gets_that_shift_so_far() -> None:
    plant = _plant(ALWAYS)  # the demo's machines: open around the clock
    now = _local(24, 15, 7)
    first = now - timedelta(minutes=12)
    period = default_period(plant, now, first, now)
    assert (period.rule, period.start, period.end) == ("current_shift", first, now)
    assert (period.shift_start, period.shift_end) == (_local(24, 0), _local(25, 0))


def test_without_a_plant_or_data_the_last_24_hours() -> None:
    now = _local(24, 10)
    for model, first in ((None, LONG_AGO), (_plant(TWO_SHIFT), None)):
        period = default_period(model, now, first, None if first is None else now)
        assert (period.rule, period.start, period.end) == ("last_24h", now - timedelta(1), now)
    assert default_period(None, now, None, None).to_dict()["calendar"] is None


def test_reports_take_the_span_from_the_log(tmp_path: Path) -> None:
    """Through `Reports` over a real event log: the shift log's Monday 06:00-14:00 (UTC)."""
    with EventLog(tmp_path / "cloud.db") as log:
        reports = Reports(log, plant)
        now = datetime(2026, 3, 24, 3, tzinfo=UTC)
        assert reports.default_period(now).rule == "last_24h"  # no data yet
        shift_log(Writer(log))
        period = reports.default_period(now)
        assert (period.rule, period.calendar) == ("last_shift", "day")
        assert (period.start, period.end) == (T0, T0 + timedelta(hours=8))
        assert Reports(log, lambda: None).default_period(now).rule == "last_24h"
