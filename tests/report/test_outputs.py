"""The report's outputs: CSV tables, `taktline report`, and the REST routes, on both databases."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cloud.report import COLUMNS, Reports, build_report, table_csv
from cloud.status import ResourceStatus
from cloud.store import EventLog
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from taktline.cli import main
from tests.report.log import PLANT_DOCUMENT, Writer, plant, shift_log
from tests.status.events import T0

FROM, TO = "2026-03-23T06:00:00Z", "2026-03-23T14:00:00Z"


@pytest.fixture
def shift(database: str) -> Iterator[EventLog]:
    with EventLog(database) as log:
        shift_log(Writer(log))
        yield log


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_tables_have_the_documented_columns(shift: EventLog) -> None:
    report = build_report(shift.replay(), plant(), T0, T0 + timedelta(hours=8))
    doc = (Path(__file__).parents[2] / "docs/report.md").read_text()
    for table, columns in COLUMNS.items():
        text = table_csv(report, table)
        assert text.splitlines()[0] == ",".join(columns)
        for column in columns:
            assert f"`{column}`" in doc, (table, column)
    machines = {row["station"]: row for row in parse(table_csv(report, "machines"))}
    assert machines["m1"]["availability"] == str(round(365 / 450, 4))
    assert machines["m2"]["oee"] == ""  # unknown: an empty cell, never a zero
    downtime = parse(table_csv(report, "downtime"))
    plant_rows = [(r["rank"], r["reason"], r["minutes"]) for r in downtime if r["scope"] == "plant"]
    assert plant_rows == [("1", "material_shortage", "40.0"), ("2", "breakdown", "30.0"),
                          ("3", "unexplained", "15.0")]  # fmt: skip
    assert {r["key"] for r in downtime if r["scope"] == "machine"} == {"m1"}
    assert {r["key"] for r in downtime if r["scope"] == "process"} == {"press"}


def test_the_command_writes_csv_and_json(
    shift: EventLog, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant_file = tmp_path / "plant.json"
    plant_file.write_text(json.dumps(PLANT_DOCUMENT))
    out = tmp_path / "csv"
    args = ["report", "--db", database, "--plant", str(plant_file), "--from", FROM, "--to", TO]
    assert main([*args, "--csv", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    m1 = next(row for row in printed["machines"] if row["station"] == "m1")
    assert (m1["run_min"], m1["downtime_min"]) == (365, 85)
    assert sorted(p.name for p in out.iterdir()) == [
        "downtime.csv",
        "machines.csv",
        "processes.csv",
    ]
    processes = parse((out / "processes.csv").read_text())
    assert [r["process"] for r in processes] == ["press", "unassigned"]
    assert main(args) == 0
    assert "material_shortage" in capsys.readouterr().out
    assert main(["report", "--db", database, "--from", TO, "--to", FROM]) == 2
    assert "ends" in capsys.readouterr().err


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_the_rest_routes(shift: EventLog) -> None:
    reports = Reports(shift, plant)
    web = WebServer(lambda: {}, shift.dead_letters, port=0, status=ResourceStatus(),
                    reports=reports, auth=WebAuth(public_read=True))  # fmt: skip
    with web:
        base = web.url.rstrip("/")
        code, kind, body = get(f"{base}/api/report?from={FROM}&to={TO}")
        assert code == 200 and kind.startswith("application/json")
        data = json.loads(body)
        assert [d["reason"] for d in data["downtime"]] == [
            "material_shortage", "breakdown", "unexplained",
        ]  # fmt: skip
        assert data["from"] == "2026-03-23T06:00:00+00:00"  # the API writes the offset
        code, kind, body = get(f"{base}/api/report.csv?table=machines&from={FROM}&to={TO}")
        assert code == 200 and kind.startswith("text/csv")
        assert [r["station"] for r in parse(body)] == ["m1", "m2", "m3"]
        assert get(f"{base}/api/report.csv?table=nope&from={FROM}&to={TO}")[0] == 400
        code, _, body = get(f"{base}/api/report?from={FROM}")
        assert code == 400 and "to is required" in body
        assert get(f"{base}/api/report?from=yesterday&to={TO}")[0] == 400
        code, kind, body = get(f"{base}/report")
        assert code == 200 and "report.js" in body
        assert get(f"{base}/static/report.js")[0] == 200
    bare = WebServer(lambda: {}, shift.dead_letters, port=0, auth=WebAuth(public_read=True))
    with bare:
        code, _, body = get(f"{bare.url}api/report?from={FROM}&to={TO}")
        assert code == 404 and "not enabled" in body
