"""The Plan page's Gantt (gantt.js, a canvas) in real headless Chromium, on a real planning cloud.

One assertion per item of issue 23 (a Gantt planners can work in): at the 1 h zoom an order's
label is drawn whole; each order's due marker is drawn at its due time in the due colour; a
breakdown of crimp-02 submitted to the replanner is pushed onto crimp-02's row as a hatched down
block from the breakdown on; a late order clicked on its bar is selected and shows its cause
chain ("breakdown at crimp-02 …"). Besides: a drag pans by what the pointer moved, and the order
list's "late only" and search filter. What the canvas drew is read from the chart's `info()` (the
records of its last frame) and from its pixels. `bench/ui_render.py --smoke` runs too, so the
benchmark beside the old Gantt keeps working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.replan import ResourceLost
from cloud.service import CloudService
from taktline.private_broker import PrivateMosquitto
from tests.browser.test_pages import CHROMIUM, HERE, SHOTS, driver, login_as
from tests.web.plan_app import planning_cloud

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

__all__ = ["driver"]  # the module-scoped fixture, shared with test_pages

ROOT = HERE.parents[1]


@pytest.fixture
def cloud(tmp_path: Path, mosquitto: PrivateMosquitto) -> Iterator[CloudService]:
    with planning_cloud(tmp_path, mosquitto.url, policy="new") as running:
        yield running


def _line(process: subprocess.Popen[str], prefix: str) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(prefix):
        _, errors = process.communicate(timeout=30)
        pytest.fail(f"expected {prefix} from the driver, got {line!r}: {errors[-2000:]}")
    return json.loads(line[len(prefix) :])  # type: ignore[no-any-return]


def test_the_gantt_shows_labels_due_markers_a_down_block_and_a_late_orders_cause(
    driver: Path, cloud: CloudService
) -> None:
    replanner = cloud.replanner
    assert replanner is not None and cloud.web is not None
    SHOTS.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        ["node", str(HERE / "drive_gantt.mjs"), cloud.web.url, str(SHOTS)],
        cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "CHROMIUM": CHROMIUM, **login_as("pia")},
    )  # fmt: skip
    try:
        ready = _line(process, "READY ")
        broken = replanner.clock.now()
        replanner.submit(ResourceLost("crimp-02", broken, reason="breakdown"))
        assert process.stdin is not None
        process.stdin.write("broken\n")
        process.stdin.flush()
        output, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors[-3000:]
    result = json.loads(output.strip().splitlines()[-1])
    assert result["errors"] == []

    # full order ids readable at the 1 h zoom
    one_hour = result["one_hour"]
    assert one_hour["span_h"] == 1 and one_hour["selected"] == "O-3"
    assert [label["text"] for label in one_hour["labels"]] == ["O-3 / crimp"]

    # a due marker at the due time (each order's, in the due colour: blue, or red when late)
    assert len(result["due"]) == 10
    for mark in result["due"]:
        on_grid = abs(mark["x"] - mark["x_of_due"]) <= 1  # drawn on the pixel grid
        assert mark["t"] == mark["due"] and on_grid, mark
        r, g, b = mark["colour"]
        assert (r > 180 and g < 90) if mark["late"] else (b > 180 and r < 90), mark

    # a down block after the crimp-02 breakdown, pushed (the page was not reloaded)
    down = result["down"]
    assert result["down_after_ms"] <= 5000
    assert abs(down["start"] / 1000 - broken.timestamp()) < 1.5  # from the breakdown on
    assert abs(down["x0"] - max(down["x_of_start"], down["label"])) <= 0.5
    assert down["red_pixels"] >= 3  # hatched in the breakdown colour

    # a selected late order shows its cause
    assert result["late_orders"], "the breakdown made no order late"
    assert result["clicked"] in result["late_orders"] and result["selected"] == result["clicked"]
    why = result["panel"].split("Why: ", 1)[1]
    assert "(breakdown at crimp-02 since" in why.splitlines()[0]

    # drag to pan; the order list's filters
    drag = result["drag"]  # the pointer 200 px to the left: the window 200 px later
    assert abs(drag["moved_ms"] - drag["expected_ms"]) <= 0.05 * drag["expected_ms"], drag
    assert result["late_only"] == ready["late_before"]
    assert [row.split("\t")[0] for row in result["search"]] == ["O-1"]
    for name in ("plan-gantt", "plan-gantt-1h"):
        assert (SHOTS / f"{name}.png").stat().st_size > 5000, name


def test_the_benchmark_beside_the_old_gantt_runs(driver: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ui_render.py"), "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CHROMIUM": CHROMIUM},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["orders"] == 200 and figures["pan_frames"] == 10
    assert figures["first_render_ms"] > 0 and figures["first_render_before_ms"] > 0
    assert figures["pan_p95_ms"] > 0 and figures["pan_p95_before_ms"] > 0
