"""The monitoring pages in real headless Chromium (Debian's, driven by playwright-core).

The overview must show a machine going from RUNNING to STOPPED when the event arrives, pushed by
the server (no reload) within 5 s; every page is rendered and saved as a screenshot into
build/screenshots (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import service_missing
from tests.status.events import at
from tests.web.app import Stack, monitoring_stack
from tests.web.auth import ADMIN, PASSWORD


def login_as(name: str) -> dict[str, str]:
    """What the drivers log in with through the login page (in their environment, not argv)."""
    return {"TAKTLINE_USER": name, "TAKTLINE_PASSWORD": PASSWORD}


HERE = Path(__file__).parent
SHOTS = HERE.parents[1] / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.browser
#: The screenshots this test saves (`make screenshots` copies them to docs/ui/).
PAGE_SHOTS = ("overview", "machine", "tooling", "labour", "deliveries", "kanban", "corrections")


@pytest.fixture(scope="module")
def driver() -> Path:
    """The driver script, with Chromium, Node.js and playwright-core in place."""
    if not Path(CHROMIUM).exists():
        service_missing(f"Chromium not found at {CHROMIUM} (Debian package: chromium)")
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        service_missing("Node.js and npm are needed to drive Chromium (Debian: nodejs, npm)")
        raise AssertionError("unreachable")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            service_missing(f"npm ci for playwright-core failed: {done.stderr[-500:]}")
    return HERE / "drive.mjs"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with monitoring_stack(tmp_path) as running:
        _plant_at_work(running)
        yield running


def _plant_at_work(stack: Stack) -> None:
    feed = stack.feed
    feed("job.ticket", {"tag": "0A000001", "action": "start"}, 0, station="crimp-01")
    feed("badge.read", {"tag": "04D4E5F6"}, 0, station="crimp-01")
    feed("badge.read", {"tag": "04112233"}, 1, station="crimp-02")  # lacks the crimp skill
    readers = ["crib-01-crib", "crib-01-floor"]
    gate = {"source": "crib-01", "agent": "pi-crib-01"}
    feed("tool.gate", {"tag": "E0020001", "direction": "out", "readers": readers}, 2, **gate)
    feed("tool.read", {"tag": "E0020001"}, 3, station="crimp-01")
    feed("machine.signal", {"signal": "run", "on": True}, 4, station="crimp-01")
    feed("machine.signal", {"signal": "cycle", "count": 120}, 30, station="crimp-01")
    feed("rest.read", {"tag": "04A1B2C3"}, 31, source="rest-01", agent="pi-rest-01")
    lorry = {"source": "lorry-12-gps", "agent": "lorry-12"}
    line = {"material": "connector-12p", "order": "PO-77", "quantity": 500}
    package = {"tag": "C0000001", "stage": "load", "delivery": "D-1001", "manifest": line}
    feed("package.read", package, 5, **lorry)
    position = {"lat": 47.9, "lon": 11.6, "speed_mps": 22.0, "heading_deg": 10.0, "fix": "3d",
                "gps_time": at(32)}  # fmt: skip
    feed("gps.position", position, 32, **lorry)
    feed("kanban.empty", {"card": "0C000002"}, 33, station="assy-01", source="assy-01-badge")


def test_overview_follows_a_stop_without_reload_and_every_page_renders(
    driver: Path, stack: Stack
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in PAGE_SHOTS:  # its own only: the other browser tests' pictures stay
        (SHOTS / f"{name}.png").unlink(missing_ok=True)
    process = subprocess.Popen(
        ["node", str(driver), stack.web.url, str(SHOTS)],
        cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "CHROMIUM": CHROMIUM, **login_as(ADMIN)},
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        first = process.stdout.readline()
        if first.strip() != "RUNNING":
            _, errors = process.communicate(timeout=30)
            pytest.fail(f"the overview never showed crimp-01 RUNNING: {first!r} {errors[-2000:]}")
        stack.feed("machine.signal", {"signal": "run", "on": False}, 40, station="crimp-01")
        process.stdin.write("stopped\n")
        process.stdin.flush()
        output, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors[-3000:]
    result = json.loads(output.strip().splitlines()[-1])
    assert result["same_document"] is True  # pushed: the page was not reloaded
    assert result["stopped_after_ms"] <= 5000
    assert result["stopped_text"] == "STOPPED — unexplained"
    assert result["tile_colour"] == "rgb(217, 48, 37)"  # red, beside the text
    assert result["errors"] == []
    text = result["text"]
    assert "State timeline" in text["machine"] and "RUNNING" in text["machine"]
    assert "APP-A1" in text["tooling"] and "CRIMP-1" in text["tooling"]  # names, not ids
    assert "service soon: 120/130 cycles (92 %)" in text["tooling"]  # tool life, warned
    assert "lacks the skill" in text["labour"] and "rest" in text["labour"]
    assert "D-1001" in text["deliveries"] and "PO-77" in text["deliveries"]
    assert "TCS truck 12 (M-TC 1212)" in text["deliveries"]  # the lorry by name, not its id
    assert "good (3D fix)" in text["deliveries"]  # the fix in words
    assert "+ unloading 20 min + inspection" in text["deliveries"]  # why ready is after arrival
    assert "Record correction" in text["corrections"]
    assert "KB-TERM-A" in text["kanban"] and "card 0C000002" in text["kanban"]
    for name in PAGE_SHOTS:
        shot = SHOTS / f"{name}.png"
        assert shot.stat().st_size > 5000, name
