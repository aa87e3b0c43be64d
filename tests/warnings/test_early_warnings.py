"""Early warnings: an injected cycle-time drift raises an alert hours before the slowdown
crosses the maintenance threshold, with a projection of when it will; eight hours of a healthy
machine raise none; more frequent stops raise `stops_rising`; maintenance resets the baseline."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cloud.early_warnings import THRESHOLD, EarlyWarnings
from tests.warnings.machine_day import START, machine_day


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_drift_is_flagged_hours_before_the_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    # healthy for two hours, then 6 % slower every hour: 1.25x is crossed at about 6.2 h
    def slower(hours: float) -> float:
        return 1.0 + max(0.0, hours - 2.0) * 0.06

    crossed = 2.0 + (THRESHOLD - 1.0) / 0.06
    watch = EarlyWarnings(process_of=lambda ticket: "crimp")
    raised, projected_then = [], None
    for event, at in machine_day("crimp-01", 1.5, 8.0, slower=slower):
        alert = watch.apply(event, at)
        if alert is not None:
            raised.append(alert)
            projected_then = alert.crossing_at  # as the alert first said it
    assert [a.kind for a in raised] == ["cycle_drift"]
    alert = raised[0]
    lead_h = crossed - (_at(alert.raised_at) - START).total_seconds() / 3600
    assert alert.station == "crimp-01" and alert.process == "crimp"
    assert lead_h >= 2.0, f"raised {alert.raised_at}, only {lead_h:.1f} h before the threshold"
    assert projected_then is not None
    projected = (_at(projected_then) - START).total_seconds() / 3600
    assert abs(projected - crossed) < 1.5, (projected, crossed)  # projected at the alert
    assert alert.crossed_at is not None  # and it came true
    came = (_at(alert.crossed_at) - START).total_seconds() / 3600
    assert abs(came - crossed) < 0.5, (came, crossed)
    with capsys.disabled():
        print(
            f"\ncycle drift of +6 %/h from 2 h: alert at {alert.raised_at} ({lead_h:.1f} h "
            f"before the threshold at {crossed:.1f} h); projected then {projected:.2f} h, "
            f"crossed at {came:.2f} h"
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_eight_healthy_hours_raise_nothing(seed: int) -> None:
    watch = EarlyWarnings()
    for station, cycle_s in (("cut-01", 2.0), ("crimp-01", 1.5), ("twist-01", 2.5)):
        for event, at in machine_day(station, cycle_s, 8.0, seed=seed * 10 + len(station)):
            assert watch.apply(event, at) is None, (station, event, at)
    assert watch.alerts() == []
    assert all(d.samples > 3_000 for d in watch.drift.values())


def test_more_frequent_stops_raise_stops_rising() -> None:
    watch = EarlyWarnings()
    at = START
    raised = []
    for hour in range(12):
        stops = 2 if hour < 6 else 8  # four times as many stops from the seventh hour on
        for n in range(stops):
            moment = at + timedelta(hours=hour, minutes=60 * n / stops)
            for on in (True, False):
                event = {"type": "machine.signal", "station": "seal-01",
                         "payload": {"signal": "run", "on": on}}  # fmt: skip
                alert = watch.apply(event, moment.isoformat().replace("+00:00", "Z"))
                raised += [alert] if alert else []
    assert [a.kind for a in raised] == ["stops_rising"]
    assert _at(raised[0].raised_at) - START <= timedelta(hours=9)
    assert raised[0].baseline == 2.0


def test_maintenance_learns_the_baseline_anew_and_the_alert_offers_a_what_if() -> None:
    watch = EarlyWarnings()
    for event, at in machine_day("crimp-02", 1.5, 6.0, slower=lambda h: 1.0 + h * 0.1):
        watch.apply(event, at)
    (alert,) = watch.view()["alerts"]
    assert alert["scenario"]["changes"] == [
        {"kind": "machine_down", "resource": "crimp-02", "hours": 1.0}
    ]
    watch.apply(
        {
            "type": "machine.stop_reason",
            "station": "crimp-02",
            "payload": {"reason": "maintenance"},
        },
        "2026-12-07T12:00:00Z",
    )
    assert watch.alerts() == [] and not watch.drift
