"""The What-if page in real headless Chromium on a planning web server: scenarios built from the
pick lists, run side by side with the live plan, and a scenario of order changes promoted."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_pages import CHROMIUM, HERE, SHOTS, driver, login_as
from tests.sync.harness import wait_for
from tests.web.app import FullStack, full_stack

pytestmark = pytest.mark.browser

__all__ = ["driver"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FullStack]:
    with full_stack(tmp_path) as running:
        yield running


def test_scenarios_are_compared_and_an_order_change_is_promoted(
    driver: Path, stack: FullStack
) -> None:
    order = sorted(stack.replanner.engine.orders)[-1]
    SHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(HERE / "drive_whatif.mjs"), stack.web.url, str(SHOTS)],
        cwd=HERE, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CHROMIUM": CHROMIUM, **login_as("pia"), "ORDER": order},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in result, result["failed"]
    assert result["errors"] == []
    assert result["machines"]  # the pick list from the plan's machines
    header = result["table"].splitlines()[0]
    assert "base" in header and "press down" in header and "drop one" in header
    assert "on time %" in result["table"] and "utilisation %" in result["table"]
    # an order change and a machine down (planned maintenance) are a planner's to promote
    assert result["promote_enabled"] and result["floor_promote_enabled"]
    assert 'promoted "drop one" by pia' in result["promoted"]
    wait_for(lambda: order not in stack.replanner.engine.orders, 10, "the promoted cancellation")
