"""The Deliveries and Report pages in real headless Chromium, on a demo-like cloud.

The cloud is tests/web/demo_cloud.py's: the demo's plant, orders and forty minutes of its floor
(crimp-02 broken down, the lorry with delivery D-2001 on its way in), started on its log.
Deliveries: D-2001's row lists the production orders it feeds — the plan's steps that use its
wire and terminals — as the cloud computes them (`cloud.replan.feeds.delivery_feeds`). Report:
opened with no period, it shows the demo's shift (from its first event: the current shift so
far, or the last completed one when the plant's midnight fell within the forty minutes) with a
plausible OEE — every running machine's is between 40 % and 100 %, the broken press's lower when
its breakdown is in the period —
and the page shows the figures of the report it fetched. Screenshots: deliveries-feeds.png and
report-demo.png in build/screenshots.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from demo.plant import HARNESS_LINE, TIMEZONE
from tests.browser.test_pages import CHROMIUM, HERE, SHOTS, driver, login_as
from tests.conftest import started_mosquitto
from tests.sync.harness import wait_for
from tests.web.demo_cloud import BROKEN, DELIVERY, DemoCloud, demo_cloud

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

__all__ = ["driver"]  # the module-scoped fixture, shared with test_pages


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoCloud]:
    with started_mosquitto() as broker, demo_cloud(tmp_path, broker.url) as running:
        yield running


def _feeds(demo: DemoCloud) -> set[str]:
    """The orders D-2001 feeds, as the cloud computes them for the Deliveries page."""
    rows = demo.cloud.live_snapshot()["deliveries"]["deliveries"]
    return {f["order"] for f in rows[DELIVERY]["feeds"]}


def _drive(demo: DemoCloud) -> dict[str, Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(HERE / "drive_demo.mjs"), demo.url, str(SHOTS)],
        cwd=HERE, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CHROMIUM": CHROMIUM, "DELIVERY": DELIVERY, **login_as("vera")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    return result


def test_deliveries_list_the_orders_they_feed_and_the_report_opens_on_the_shift(
    driver: Path, demo: DemoCloud
) -> None:
    replanner = demo.cloud.replanner
    assert replanner is not None
    wait_for(lambda: bool(_feeds(demo)), 30, "the plan's steps using D-2001's materials")
    before = _feeds(demo)
    result = _drive(demo)
    after = _feeds(demo)
    # Deliveries: the production orders D-2001 feeds, each with its step and material.
    shown = {order for order, _ in result["feeds"]}
    assert shown in (before, after), (shown, before, after)
    for order, text in result["feeds"]:
        assert replanner.engine.orders[order].product == "HARNESS-SEAT", order
        assert any(f"{order} {step} (" in text for step in ("cut", "crimp")), text
        assert "wire-0.50-blue" in text or "terminal-b" in text, text
    assert "PO-4711" in result["row"] and "ACME truck 1" in result["row"]  # beside its lorry
    # Report: the demo's shift from its first event, with a plausible OEE.
    assert result["rule"] in ("current_shift", "last_shift"), result["period"]
    report = result["report"]
    start = datetime.fromisoformat(report["from"])
    assert start == demo.start, (report["from"], demo.start)
    assert result["from"] == f"{start.astimezone(ZoneInfo(TIMEZONE)):%Y-%m-%d %H:%M}"
    oee = {m["station"]: m["oee"] for m in report["machines"]}
    line = {plan.station for plan in HARNESS_LINE}
    assert line <= set(oee)
    for station in line - {BROKEN}:
        assert oee[station] is not None and 0.4 <= oee[station] <= 1.0, (station, oee[station])
    assert oee[BROKEN] is not None
    if datetime.fromisoformat(report["to"]) > demo.broke:  # the plant's midnight came after it
        assert oee[BROKEN] < min(oee[s] for s in line - {BROKEN})
    shown_oee = dict(result["oee"])
    for station, value in oee.items():
        if value is not None:
            assert shown_oee[f"station {station}"] == f"{value * 100:.1f}", station
