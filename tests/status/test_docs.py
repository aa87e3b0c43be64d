"""docs/status.md states the rules the code has: reasons and losses, CSV columns, pages."""

from __future__ import annotations

import re
from pathlib import Path

from cloud.master import SECTIONS
from cloud.status import OEE_LOSS
from cloud.web import PAGES

DOC = (Path(__file__).parents[2] / "docs/status.md").read_text()


def test_every_stop_reason_and_its_loss_is_documented() -> None:
    for reason, loss in OEE_LOSS.items():
        assert re.search(rf"^\| {reason} \| {loss}\b", DOC, re.M), reason


def test_every_csv_section_and_its_columns_are_documented() -> None:
    rows = {}
    for line in DOC.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2:
            for name in cells[0].split(", "):
                rows[name] = cells[1]
    for section, (_, _, _, columns) in SECTIONS.items():
        assert section in rows, section
        if columns:
            listed = ", ".join(c.name + ("!" if c.required else "") for c in columns)
            assert rows[section] == listed, section


def test_every_page_is_documented() -> None:
    for page in PAGES:
        assert f"`{page}`" in DOC, page
