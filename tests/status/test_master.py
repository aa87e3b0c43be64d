"""Master data from CSV and JSON: row-level errors, nothing half-applied, saved and announced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from cloud.master import MasterData, MasterRejected
from cloud.plant import Plant

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "docs/examples/harness_plant_monitoring.json"


@pytest.fixture
def master(tmp_path: Path) -> MasterData:
    path = tmp_path / "plant.json"
    shutil.copy(EXAMPLE, path)
    return MasterData.load(path)


def test_the_example_follows_the_schema() -> None:
    schema = json.loads((ROOT / "docs/schemas/plant.schema.json").read_text())
    jsonschema.validate(json.loads(EXAMPLE.read_text()), schema)


def test_operators_from_csv_are_added_saved_and_announced(master: MasterData) -> None:
    seen: list[Plant] = []
    master.subscribe(seen.append)
    text = (
        "id,calendar,name,skills,tag\n"
        "OP-EVA,two-shift,Eva,crimp;test,04AABBCC\n"
        "OP-BEN,two-shift,Ben B.,crimp;assemble,04D4E5F6\n"
    )
    assert master.import_csv("operators", text) == 2
    by_id = {r.id: r for r in master.plant.resources}
    assert by_id["OP-EVA"].skills == ("crimp", "test") and by_id["OP-EVA"].kind == "operator"
    assert by_id["OP-BEN"].name == "Ben B."  # an existing key is replaced
    assert master.plant.tags["04AABBCC"].ref == "OP-EVA"
    assert len(seen) == 2 and seen[-1] is master.plant
    assert master.path is not None
    saved = json.loads(master.path.read_text())
    assert any(r["id"] == "OP-EVA" for r in saved["resources"])


def test_bad_rows_are_rejected_with_row_and_column_and_nothing_applied(
    master: MasterData,
) -> None:
    before = master.document()
    text = (
        "id,calendar,skills\n"
        "OP-OK,two-shift,crimp\n"
        "OP-BAD,no-such-calendar,crimp\n"
        ",two-shift,crimp\n"
    )
    with pytest.raises(MasterRejected) as caught:
        master.import_csv("operators", text)
    errors = [(e.row, e.column) for e in caught.value.errors]  # type: ignore[union-attr]
    assert (3, "calendar") in errors
    assert (4, "id") in errors
    assert master.document() == before  # OP-OK was not applied either
    assert "OP-OK" not in {r.id for r in master.plant.resources}


def test_a_number_column_with_text_names_the_cell(master: MasterData) -> None:
    with pytest.raises(MasterRejected) as caught:
        master.import_csv("suppliers", "id,unload_min\nSUP-X,soon\n")
    (error,) = caught.value.errors
    assert str(error) == "row 2, column unload_min: must be a number, got 'soon'"


def test_unknown_columns_are_rejected(master: MasterData) -> None:
    with pytest.raises(MasterRejected, match="column colour: unknown column"):
        master.import_csv("machines", "id,calendar,colour\nX-1,two-shift,red\n")


def test_leave_and_tags_from_json_rows(master: MasterData) -> None:
    rows = [
        {"operator": "OP-BEN", "start": "2026-03-30T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
    ]
    assert master.import_rows("leave", rows) == 1
    assert any(r.operator == "OP-BEN" for r in master.plant.leave)
    with pytest.raises(MasterRejected) as caught:
        master.import_rows("tags", [{"tag": "0A000009", "kind": "badge", "ref": "NOBODY"}])
    (error,) = caught.value.errors
    assert (error.row, error.column) == (1, "ref")  # type: ignore[union-attr]


def test_replacing_the_document_validates_it_whole(master: MasterData) -> None:
    document = master.document()
    document["logistics"]["road_factor"] = 0
    with pytest.raises(MasterRejected, match="road_factor"):
        master.replace(document)
    assert master.plant.logistics.road_factor == 1.3
