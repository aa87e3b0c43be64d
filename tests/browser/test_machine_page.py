"""The Machine page in real headless Chromium, on a planning cloud's web (`full_stack`).

crimp-01 worked the last five hours: a job step (order ORD-1, step crimp: the ticket 0A000001)
allocated, runs and short stops, a breakdown with its reason, the step ended with its cycles,
then a second step: 64 state changes in all. The page must show the state timeline with axis
ticks and a legend (each state's time) and each stretch's duration on hover, the history newest
first 50 to a page, the plan's upcoming job steps on crimp-01 by order and step, the job steps
by order and step with the ticket's tag only on hover, and the cycle time against its standard
(60 s a unit).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_pages import CHROMIUM, HERE, SHOTS, driver, login_as
from tests.status.events import T0, Feed
from tests.web.app import FullStack, full_stack

pytestmark = pytest.mark.browser

__all__ = ["driver"]  # the module-scoped fixture, shared with test_pages

STATION = "crimp-01"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FullStack]:
    with full_stack(tmp_path) as running:
        yield running


def _a_morning(feed: Feed) -> None:
    """crimp-01 over the last 5 hours (on the wall clock, as the page's "now" is): 63 state
    changes, a breakdown, two job steps."""
    minute = (datetime.now(UTC) - T0).total_seconds() // 60 - 300
    feed("job.ticket", {"tag": "0A000001", "action": "start"}, minute, station=STATION)
    minute += 1
    for n in range(30):  # running 6 min, short stop 1 min (unexplained), 30 times
        feed("machine.signal", {"signal": "run", "on": True}, minute, station=STATION)
        feed("machine.signal", {"signal": "cycle", "count": 5}, minute + 5.5, station=STATION)
        feed("machine.signal", {"signal": "run", "on": False}, minute + 6, station=STATION)
        if n == 12:  # one long stop: a breakdown of 26 minutes
            feed("machine.stop_reason", {"reason": "breakdown"}, minute + 6.5, station=STATION)
            minute += 25
        minute += 7
    feed("job.ticket", {"tag": "0A000001", "action": "end"}, minute, station=STATION)
    feed("job.ticket", {"tag": "0A000003", "action": "start"}, minute + 3, station=STATION)
    feed("machine.signal", {"signal": "run", "on": True}, minute + 4, station=STATION)


def _drive(stack: FullStack) -> dict[str, Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(HERE / "drive_machine.mjs"), stack.web.url, str(SHOTS), STATION],
        cwd=HERE, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CHROMIUM": CHROMIUM, **login_as("sam")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in result, result["failed"]
    assert result["errors"] == []
    return result


def test_the_machine_page_has_an_axis_a_legend_pages_and_the_upcoming_schedule(
    driver: Path, stack: FullStack
) -> None:
    _a_morning(Feed(stack.status, stack.log))
    result = _drive(stack)
    # The timeline: ticks on the plant's clock, a legend with each state's time, hover texts.
    assert len(result["ticks"]) >= 3 and result["tick_marks"] == len(result["ticks"])
    assert all(":" in tick for tick in result["ticks"]), result["ticks"]
    for words in ("running:", "stopped (a job allocated):", "idle (no job):", "no data"):
        assert words in result["legend"], result["legend"]
    assert any(s.startswith("STOPPED — breakdown: ") and s.endswith(", 26 min") for s in
               result["stretches"]), result["stretches"]  # fmt: skip
    moment = r"(\d{4}-\d\d-\d\d )?\d\d:\d\d"
    running = re.compile(f"^RUNNING: {moment} to {moment}, 6 min$")
    assert sum(1 for s in result["stretches"] if running.match(s)) >= 25, result["stretches"]
    # The history: newest first, 50 a page, the rest on the older page.
    assert result["history_rows"] == 50 and result["history_first"].startswith("RUNNING")
    assert "now" in result["history_first"]
    assert "1\N{EN DASH}50 of 64 state changes (page 1 of 2" in result["pager"], result["pager"]
    assert result["older_rows"] == 14 and "51\N{EN DASH}64 of 64" in result["older_pager"]
    assert "page 2 of 2" in result["page_after_span"]  # the page survives a redraw
    start, end = result["span_1h"]
    assert start and end and start < end
    # The plan's upcoming steps on crimp-01, by order and step.
    replanner = stack.replanner
    planned = replanner.document()["resources"][STATION]
    assert planned and len(result["upcoming"]) == min(20, len(planned))
    assert all(" / crimp" in row for row in result["upcoming"]), result["upcoming"]
    # Job steps by order and step, the ticket's tag on hover only; cycle time vs standard.
    assert result["jobs"][0].startswith("ORD-2 / cut") and "running" in result["jobs"][0]
    assert result["jobs"][1].startswith("ORD-1 / crimp") and "0A000001" not in result["jobs"][1]
    assert "ticket 0A000001" in result["job_titles"]
    assert "60 s" in result["jobs"][1]  # crimp of HARNESS-DOOR: 1 minute a unit
    assert "standard 60 s per unit" in result["cycle"] and "% of standard" in result["cycle"]
