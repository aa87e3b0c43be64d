"""The Plan and Gap report pages in real headless Chromium, on a real planning cloud.

The Plan page shows a bar per job step on its machine's row (the canvas Gantt, read through its
`info()`). A changed order (policy ask)
appears among the pending decisions without a reload, and the planner's click on "Adjust" is
recorded with the name typed into the page. A breakdown of crimp-01 submitted to the replanner
shows up as a shaded gap on crimp-01's row within 5 s, pushed (no reload). Manual mode is
toggled from the page. Plan and Gap report pages are saved to build/screenshots.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.replan import ResourceLost
from cloud.service import CloudService
from taktline.private_broker import PrivateMosquitto
from tests.browser.test_pages import CHROMIUM, HERE, SHOTS, driver, login_as
from tests.sync.harness import wait_for
from tests.web.plan_app import call, iso, planning_cloud

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

__all__ = ["driver"]  # the module-scoped fixture, shared with test_pages


@pytest.fixture
def cloud(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[CloudService]:
    with planning_cloud(tmp_path, mosquitto.url) as running:
        yield running


def _line(process: subprocess.Popen[str], prefix: str) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(prefix):
        _, errors = process.communicate(timeout=30)
        pytest.fail(f"expected {prefix} from the driver, got {line!r}: {errors[-2000:]}")
    return json.loads(line[len(prefix) :])  # type: ignore[no-any-return]


def _send(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()


def test_plan_page_follows_a_decision_and_a_breakdown_without_reload(
    driver: Path, cloud: CloudService
) -> None:
    replanner = cloud.replanner
    assert replanner is not None and cloud.web is not None and cloud.desk is not None
    SHOTS.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        ["node", str(HERE / "drive_plan.mjs"), cloud.web.url, str(SHOTS)],
        cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "CHROMIUM": CHROMIUM, **login_as("pia")},
    )  # fmt: skip
    try:
        before = _line(process, "READY ")
        assert before["gaps"] == 0 and before["now_line"] == 1
        assert before["crimp01"] + before["crimp02"] == 10
        assert "O-0 / crimp" in before["labels"]

        old = replanner.engine.orders["O-3"]
        change = {"id": "O-3", "product": "P", "quantity": 20, "due": iso(old.due)}
        code, body, _ = call(cloud, "post", "/api/orders", {"orders": [change]}, user="erp")
        assert (code, body["pending"]) == (202, ["O-3"])
        _send(process, "changed")
        _line(process, "DECIDED ")
        assert cloud.desk.pending == {}
        wait_for(lambda: replanner.engine.orders["O-3"].quantity == 20, 10, "the adjusted order")
        wait_for(lambda: not replanner._pending, 10, "the decision's replan")

        replanner.submit(ResourceLost("crimp-01", replanner.clock.now(), reason="breakdown"))
        _send(process, "lost")
        output, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors[-3000:]
    result = json.loads(output.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["same_document"] is True and result["loads_at_gap"] == 1  # pushed, not reloaded
    assert result["decision_after_ms"] <= 5000
    assert "O-3" in result["decision_row"] and "\u00d7 20" in result["decision_row"]
    assert result["gap_after_ms"] <= 5000
    assert result["at_breakdown"]["gaps"] == 0  # the gap comes with the breakdown
    assert result["after"]["crimp01"] < result["at_breakdown"]["crimp01"]  # moved to crimp-02
    assert any(lane.startswith("crimpers") for lane in result["after"]["gaps_lane"])
    assert result["export_href"] == "/api/plan/export"
    assert "crimpers" in result["gaps_text"] and "Orders made late" in result["gaps_text"]
    audit = [
        (a["who"], a["what"]) for a in call(cloud, "get", "/api/audit")[1] if a["who"] == "pia"
    ]
    assert audit == [
        ("pia", "order_change_adjust"),
        ("pia", "manual_mode_on"),
        ("pia", "manual_mode_off"),
    ]
    for name in ("plan", "plan-manual", "gaps"):
        assert (SHOTS / f"{name}.png").stat().st_size > 5000, name
