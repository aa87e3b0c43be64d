"""The andon board and the names and times of every page, in real headless Chromium.

A supervisor lands on the andon board (`/`); crimp-02 broke down 4 minutes ago: its tile says so
and its alarm shows when it began, on the plant's clock (Europe/Berlin, CET in March), and can be
acknowledged without a reload — the acknowledgement is an `andon.ack` event in the log naming
the supervisor. Then every monitoring page shows master-data names, not tags (badges, tickets
and tool tags are on hover only). Screenshots go to build/screenshots.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.test_pages import CHROMIUM, HERE, SHOTS, driver, login_as
from tests.status.events import Feed
from tests.web.app import Stack, monitoring_stack

pytestmark = pytest.mark.browser
__all__ = ["driver"]  # the module-scoped fixture, shared with test_pages

SUPERVISOR = "sam"
#: The tags of the story: Ben's badge, ORD-1's crimp ticket, applicators APP-A1's and APP-A2's.
TAGS = ("04D4E5F6", "0A000001", "E0020001", "E0020002")
#: The screenshots this test saves (`make screenshots` copies the board's to docs/ui/).
ANDON_SHOTS = (
    "andon",
    "andon-acknowledged",
    "andon-history",
    *(
        f"names-{page}"
        for page in ("overview", "machine", "tooling", "labour", "deliveries", "corrections")
    ),
)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with monitoring_stack(tmp_path, public_read=False) as running:
        # minutes after 06:00 UTC, into the log too (the time slider reads it back); the
        # stack's clock says 07:00 UTC
        feed = Feed(running.status, running.log)
        feed("job.ticket", {"tag": "0A000001", "action": "start"}, 0, station="crimp-02")
        feed("badge.read", {"tag": "04D4E5F6"}, 0, station="crimp-02")
        feed("tool.read", {"tag": "E0020001"}, 0, station="crimp-02")
        feed("machine.signal", {"signal": "run", "on": True}, 1, station="crimp-02")
        feed("machine.signal", {"signal": "cycle", "count": 40}, 50, station="crimp-02")
        feed("machine.signal", {"signal": "run", "on": False}, 56, station="crimp-02")
        feed("machine.stop_reason", {"reason": "breakdown"}, 57, station="crimp-02")
        found = {"tag": "E0020002", "value": "crib", "reason": "found on the crib's shelf"}
        running.recorder.record({"correction": "tool_location", "by": "sam", **found})
        yield running


def test_breakdown_alarm_is_acknowledged_and_every_page_shows_names_on_the_plants_clock(
    driver: Path, stack: Stack
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in ANDON_SHOTS:
        (SHOTS / f"{name}.png").unlink(missing_ok=True)
    done = subprocess.run(
        ["node", str(HERE / "drive_andon.mjs"), stack.web.url, str(SHOTS)],
        cwd=HERE, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "CHROMIUM": CHROMIUM, **login_as(SUPERVISOR)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == []

    # The board is the landing page, machines in the plant model's line order.
    assert result["landing"] == "/"
    assert result["machine_order"] == [
        "cut-01", "cut-02", "crimp-01", "crimp-02", "crimp-03", "assy-01", "assy-02",
    ]  # fmt: skip
    assert result["crimp02"] == "down 4 min, breakdown"
    assert result["font_px"] >= 20  # readable from a distance
    alarm = result["alarm"]
    assert alarm["id"] == "stop:crimp-02:2026-03-23T06:56:00Z"
    assert alarm["text"] == "CRIMP-2 down 4 min, breakdown on ORD-1 / crimp"
    assert alarm["cause"] == "breakdown"
    # 06:56 UTC is 07:56 on the plant's clock (Europe/Berlin, CET in March).
    assert "07:56" in alarm["since"] and "4 min" in alarm["since"]
    assert alarm["since_title"] == "2026-03-23 07:56:00 CET"
    assert result["alarm_kinds"][0] == "stop" and "absent" in result["alarm_kinds"]

    # Acknowledged without a reload; who and when are an event in the log.
    assert result["same_document"] is True
    assert result["acked"].startswith(f"acknowledged by {SUPERVISOR} at ")
    assert "08:00" in result["acked"]
    acks = [e for _, e, _ in stack.log.replay() if e["type"] == "andon.ack"]
    assert [(e["payload"]["alarm"], e["payload"]["by"], e["source"]) for e in acks] == [
        (alarm["id"], SUPERVISOR, "cloud-andon")
    ]
    assert acks[0]["time"] == "2026-03-23T07:00:00.000000Z"
    assert result["header_now"] == "2026-03-23 08:00:00 CET"
    # The time slider: the board as it was a third into the log (crimp-02 still running), then live.
    assert result["history"].startswith("As it was at 2026-03-23 07:"), result["history"]
    assert result["crimp02_then"].startswith("running"), result["crimp02_then"]
    assert result["crimp02_live"] == "down 4 min, breakdown"

    # Names, not tags, on every page; the tags are on hover where the thing is shown.
    pages = result["pages"]
    for name, shown in pages.items():
        for tag in TAGS:
            assert tag not in shown["text"], f"{tag} shown on the {name} page"
    hover = {name: " | ".join(shown["titles"]) for name, shown in pages.items()}
    assert "ORD-1 / crimp" in pages["overview"]["text"] and "OP-BEN" in pages["overview"]["text"]
    tiles = pages["overview"]["text"]  # in line order too, as the plant model lists them
    assert tiles.index("Komax cutter 2") < tiles.index("CRIMP-1") < tiles.index("assembly board 1")
    assert "badge 04D4E5F6" in hover["overview"] and "ticket 0A000001" in hover["overview"]
    assert "CRIMP-2" in pages["machine"]["text"] and "station crimp-02" in hover["machine"]
    assert "ORD-1 / crimp" in pages["machine"]["text"] and "ticket 0A000001" in hover["machine"]
    assert "APP-A1" in pages["tooling"]["text"] and "tag E0020001" in hover["tooling"]
    assert "CRIMP-2" in pages["tooling"]["text"] and "crimp-02" not in pages["tooling"]["text"]
    assert "OP-BEN" in pages["labour"]["text"] and "badge 04D4E5F6" in hover["labour"]
    assert "APP-A2" in pages["corrections"]["text"] and "tag E0020002" in hover["corrections"]
    # Times on the plant's clock, to the minute (no microseconds, no UTC).
    assert "07:56" in pages["machine"]["text"] and "06:56" not in pages["machine"]["text"]
    assert ".000000" not in " ".join(shown["text"] for shown in pages.values())
    for name in ANDON_SHOTS:
        assert (SHOTS / f"{name}.png").stat().st_size > 5000, name
