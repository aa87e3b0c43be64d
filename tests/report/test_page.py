"""The Report page in real headless Chromium (Debian's, driven by playwright-core).

Chromium opens `/report?from=..&to=..` on a web server over a real event log: the plant's
Pareto bars must be drawn in Pareto order and the machine table filled; then a shorter period is
picked with the page's own pickers and the report redrawn. A screenshot goes to
build/screenshots. playwright-core is the one `tests/browser` installs (`npm ci`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.report import Reports
from cloud.status import ResourceStatus
from cloud.store import EventLog
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from tests.browser.test_pages import driver
from tests.report.log import Writer, plant, shift_log

HERE = Path(__file__).parent
SHOTS = HERE.parents[1] / "build" / "screenshots"
PERIOD = "from=2026-03-23T06:00:00Z&to=2026-03-23T14:00:00Z"

pytestmark = pytest.mark.browser
__all__ = ["driver"]  # the fixture that puts Chromium, Node.js and playwright-core in place


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    with EventLog(tmp_path / "cloud.db") as log:
        shift_log(Writer(log))
        server = WebServer(
            lambda: {"applied": 0, "now": None, "machines": {}}, log.dead_letters, port=0,
            status=ResourceStatus(), reports=Reports(log, plant),
            auth=WebAuth(public_read=True),  # a read-only page: opened to anonymous viewers
        )  # fmt: skip
        with server:
            yield server


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
    assert "PRESS-1 (m1)" in result["machines"] and "81.1 %" in result["machines"]
    assert result["bars_after"] == ["breakdown"]
    assert "from=2026-03-23T06%3A30%3A00.000Z" in result["address"]
