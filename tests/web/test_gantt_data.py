"""The Gantt's data module (`cloud/web/static/gantt_data.js`) under Node.js, without a browser.

`gantt_data_check.js` loads it, feeds it a small plan and prints what it made of it as JSON.

Time in the plant's zone: day lines at local midnight and hour ticks across both daylight-saving
changes of Europe/Berlin (a day of 23 and one of 25 hours), labels in local time, durations in
human form. The index: each row's bars sorted by start as typed arrays, an order's due marker on
the rows of its last step, an open down window (until further notice) drawn to the horizon, a
running step's progress on the rows it holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import service_missing

MODULE = Path(__file__).resolve().parents[2] / "cloud" / "web" / "static" / "gantt_data.js"

SCRIPT = Path(__file__).with_name("gantt_data_check.js")


def _run() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        service_missing("Node.js is needed to run the page's modules (Debian: nodejs)")
        raise AssertionError("unreachable")
    done = subprocess.run(
        [node, str(SCRIPT), str(MODULE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_time_in_the_plants_zone_across_daylight_saving_changes() -> None:
    got = _run()
    assert got["spring"] == [
        ["2026-03-27T23:00:00.000Z", "Sat 28.3. 00:00"],
        ["2026-03-28T23:00:00.000Z", "Sun 29.3. 00:00"],  # 23 hours long
        ["2026-03-29T22:00:00.000Z", "Mon 30.3. 00:00"],
    ]
    assert got["autumn"] == [
        ["2026-10-23T22:00:00.000Z", "Sat 24.10. 00:00"],
        ["2026-10-24T22:00:00.000Z", "Sun 25.10. 00:00"],  # 25 hours long
        ["2026-10-25T23:00:00.000Z", "Mon 26.10. 00:00"],
    ]
    assert got["hours"] == ["Sun 29.3. 01:00", "Sun 29.3. 03:00", "Sun 29.3. 04:00"]
    assert got["durations"] == ["1 h 35 min", "45 min", "3 days"]


def test_the_index_holds_what_the_chart_draws() -> None:
    got = _run()
    assert got["rows"] == ["arrivals", "gaps", "CUT-1", "CRIMP-1", "OP-1"]  # machines first
    assert got["labels"][2:] == ["Komax 1", "CRIMP-1", "Anna"]  # the name, else the id
    assert got["cut"] == ["2026-03-23T06:00:00.000Z", "2026-03-23T07:00:00.000Z"]  # by start
    assert got["due"] == [[], ["A-1"], ["A-1"]]  # on the rows of the last step
    assert got["open"] is True and got["down_end"] > "2026-04-01"  # until further notice
    assert got["running"] == [0.5] and got["customer"] == "K"
