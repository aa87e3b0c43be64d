"""The Report page in real headless Chromium (Debian's, driven by playwright-core).

Chromium opens `/report?from=..&to=..` on a web server over a real event log: the plant's
Pareto bars must be drawn in Pareto order and the machine table filled; then a shorter period is
picked with the page's own fields and the report redrawn. Opened with no period, the page shows
the last completed shift (the default period) with its columns grouped under headings that name
the unit, explained headers, the rarely needed columns behind "All columns", and a cycle-time
chart per process. Standard vs learned times are shown
below the tables (three short jobs and a jammed one on m2 after the period: 48 s per unit
learned against the 60 s standard, the jam dropped). A screenshot goes to
build/screenshots. playwright-core is the one `tests/browser` installs (`npm ci`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.replan import Engine, Replanner, StandardTimes
from cloud.report import Reports
from cloud.status import ResourceStatus, StatusMaster
from cloud.store import EventLog
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from tests.browser.test_pages import driver
from tests.report.log import TICKET, Writer, plant, shift_log

HERE = Path(__file__).parent
SHOTS = HERE.parents[1] / "build" / "screenshots"
PERIOD = "from=2026-03-23T06:00:00Z&to=2026-03-23T14:00:00Z"

pytestmark = pytest.mark.browser
__all__ = ["driver"]  # the fixture that puts Chromium, Node.js and playwright-core in place


def _jobs_on_m2(write: Writer) -> None:
    """Four jobs of 10 cycles after the period: 8, 8.5, 7.5 and (jammed) 30 minutes."""
    start = 600.0
    for minutes in (8.0, 8.5, 7.5, 30.0):
        write("job.ticket", {"tag": TICKET, "action": "start"}, start, "m2")
        write.count("cycle", 10, start + 1, station="m2")
        write("job.ticket", {"tag": TICKET, "action": "end"}, start + minutes, "m2")
        start += minutes + 5


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    with EventLog(tmp_path / "cloud.db") as log:
        write = Writer(log)
        shift_log(write)
        _jobs_on_m2(write)
        status = ResourceStatus()
        status.set_master(StatusMaster.of(plant()))
        status.rebuild(log.replay())
        now = datetime(2026, 3, 23, 18, tzinfo=UTC)
        times = StandardTimes(status, Replanner(Engine(plant(), [], now), improve=False))
        server = WebServer(
            lambda: {"applied": 0, "now": None, "machines": {}}, log.dead_letters, port=0,
            status=status, reports=Reports(log, plant), times=times,
            auth=WebAuth(public_read=True),  # a read-only page: opened to anonymous viewers
        )  # fmt: skip
        with server:
            yield server


def _row(table: str, name: str) -> list[str]:
    """The cells of the row of `table` (innerText: tab-separated) that starts with `name`."""
    return next(r for r in table.split("\n") if r.startswith(name)).split("\t")


def test_the_report_page_draws_the_pareto_and_follows_the_pickers(
    driver: Path, web: WebServer
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(HERE / "drive_report.mjs"), f"{web.url}report?{PERIOD}",
         str(SHOTS / "report.png")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["bars"] == ["material_shortage", "breakdown", "unexplained"]
    assert "PRESS-1" in result["machines"] and "(m1)" not in result["machines"]  # m1 on hover
    assert _row(result["machines"], "PRESS-1")[-5] == "81.1"  # availability, in the OEE (%) group
    assert result["bars_after"] == ["breakdown"]
    assert "from=2026-03-23T06%3A30%3A00.000Z" in result["address"]
    learned = result["learned"].split("\n")[-1].split("\t")
    assert learned == ["P", "press", "m2", "60", "48", "3", "1", "—", "—", "60"]
    # No period asked: the last completed shift that holds data (Monday 06:00-14:00), whose
    # OEE is the shift's own, not diluted by the hours around it; 24-hour fields, units.
    assert result["default_rule"] == "last_shift"
    assert (result["default_from"], result["default_to"]) == (
        "2026-03-23 06:00",
        "2026-03-23 14:00",
    )
    assert "the last completed shift" in result["default_period"]
    press = _row(result["default_machines"], "PRESS-1")
    assert press[2:6] == ["7 h 30 min", "6 h 5 min", "1 h 25 min", "240"]
    assert press[-2] == "46.3"  # OEE: 81.1 % x 60.8 % x 93.9 %
    # Grouped columns, the group naming the unit; the rarely needed ones behind "All columns".
    assert result["groups"] == [["", 1], ["", 1], ["TIME (H MIN)", 3], ["OUTPUT (PCS)", 1],
                                ["CYCLE TIME (S)", 2], ["OEE (%)", 4], ["", 1]]  # fmt: skip
    assert result["hidden_heads"] == ["Idle", "No data", "Good / scrap", "Avg cycle"]
    every = _row(result["all_machines"], "PRESS-1")
    assert every[2:10] == ["7 h 30 min", "6 h 5 min", "1 h 25 min", "0 min", "0 min", "240",
                           "230 / 15", "98.8"] and every[-2] == "46.3"  # fmt: skip
    assert [g[1] for g in result["all_groups"]] == [1, 1, 5, 2, 3, 4, 1]
    tips = dict(result["header_tips"])
    assert "middle" in tips["Median cycle"] and "running time divided" in tips["Avg cycle"]
    assert "Median cycle" in result["legend"]
    # One cycle-time chart per process with counted cycles: a time axis, actual and standard.
    [chart] = result["cycle_charts"]
    assert chart["process"] == "press" and chart["actual"] == 1 and chart["standard"] == 1
    assert chart["ticks"][0] == "06:00" and chart["ticks"][-1] == "14:00"
    assert result["inline_styles"] == 0  # the styles come from report.css (the CSP)
