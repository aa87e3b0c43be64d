"""The Corrections and Gap report pages in real headless Chromium, on a planning cloud's web.

Corrections: the form's pick lists come from master data, and a station the plant does not know
(`cut-1`) is refused in words before anything is recorded — the log gains no correction. Gap
report: every late order of the plan is on the page with its cause, beside a group-by-time heat
strip and the operators the plan relies on who are not here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.corrections import SOURCE
from cloud.replan import ResourceLost
from tests.browser.test_pages import CHROMIUM, HERE, SHOTS, driver, login_as
from tests.sync.harness import wait_for
from tests.web.app import FullStack, full_stack

pytestmark = pytest.mark.browser

__all__ = ["driver"]  # the module-scoped fixture, shared with test_pages


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FullStack]:
    with full_stack(tmp_path) as running:
        yield running


def _drive(stack: FullStack, **env: str) -> dict[str, Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(HERE / "drive_screens.mjs"), stack.web.url, str(SHOTS)],
        cwd=HERE, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CHROMIUM": CHROMIUM, **login_as("sam"), **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in result, result["failed"]
    assert result["errors"] == []
    return result


def _corrections(stack: FullStack) -> int:
    return sum(1 for _, event, _ in stack.log.replay() if event["source"] == SOURCE)


def test_corrections_refuse_an_unknown_station_and_the_gap_report_lists_every_late_order(
    driver: Path, stack: FullStack
) -> None:
    machines = stack.status.master.machines
    station = sorted(machines)[0]
    replanner = stack.replanner
    replanner.submit(ResourceLost("crimp-01", replanner.clock.now(), reason="breakdown"))

    def late() -> list[str]:
        return [o["order"] for o in replanner.gap_report["orders"] if o["status"] == "late"]

    wait_for(lambda: bool(late()), 30, "late orders after the breakdown")
    result = _drive(stack, STATION=station, PLANT_TIME="2026-03-23 07:45", GAPS="1")
    # Corrections: pick lists by name from master data; cut-1 refused before anything recorded.
    names = {resource.name for resource in machines.values()}
    assert names & {option.split(" (")[0] for option in result["station_options"]}
    assert not any(option[:1].isdigit() for option in result["operator_options"][1:])
    assert "station 'cut-1' is not known" in result["refusal"], result["refusal"]
    assert "nothing was recorded" in result["refusal"]
    assert "none" in result["recorded_after_refusal"]
    assert "forgot to tap out" in result["recorded"]
    assert _corrections(stack) == 1  # only the correct one reached the log
    # Gap report: every late order is on the page with its cause; the heat strip has its axis.
    shown = dict(result["late_orders"])
    assert set(shown) == set(late()) and shown
    for order in late():
        cause = next(o["cause"] for o in replanner.gap_report["orders"] if o["order"] == order)
        assert cause and cause in shown[order], (order, shown[order])
    assert "crimpers" in result["heat_rows"] and result["heat_cells"] > 0 and result["heat_axis"]
    assert "1 machine" in result["gaps_text"] and "digest" not in result["gaps_text"]
    assert "everyone the plan relies on is here" in result["relied_on"]
