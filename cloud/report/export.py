"""The report as CSV: one table per file — machines, processes, downtime (the Pareto).

Columns are fixed and documented in docs/report.md (`COLUMNS` is the list of record); an unknown
figure is an empty cell, never a zero. The downtime table holds the plant's Pareto (scope
`plant`) followed by each process's and each machine's, ranked within its scope.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Final

from cloud.report.report import Report

__all__ = ["COLUMNS", "TABLES", "table_csv", "write_csv"]

_FIGURES: Final = (
    "planned_min", "run_min", "run_total_min", "downtime_min", "idle_min", "no_data_min",
    "stops", "cycles", "good", "scrap", "total_count", "avg_cycle_s", "median_cycle_s",
    "standard_s", "cycle_ratio", "utilisation", "availability", "performance", "quality", "oee",
    "notes",
)  # fmt: skip
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "machines": ("from", "to", "station", "name", "process", "planned_basis", *_FIGURES),
    "processes": ("from", "to", "process", "machines", *_FIGURES),
    "downtime": (
        "from", "to", "scope", "key", "rank", "reason", "loss", "minutes", "stops", "share",
        "cumulative_share",
    ),
}  # fmt: skip
TABLES: Final = tuple(COLUMNS)


def _rows(report: Report, table: str) -> list[dict[str, Any]]:
    data = report.to_dict()
    period = {"from": data["from"], "to": data["to"]}
    if table == "machines":
        return [{**period, **row} for row in report.machines]
    if table == "processes":
        return [{**period, **row} for row in report.processes]
    rows = [{**period, "scope": "plant", "key": "", **row} for row in report.downtime]
    for scope, items, key in (
        ("process", report.processes, "process"),
        ("machine", report.machines, "station"),
    ):
        for item in items:
            rows.extend({**period, "scope": scope, "key": item[key], **r} for r in item["downtime"])
    return rows


def table_csv(report: Report, table: str) -> str:
    """One table as CSV text (header line first); raises KeyError for an unknown table."""
    columns = COLUMNS[table]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in _rows(report, table):
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    return out.getvalue()


def write_csv(report: Report, folder: Path) -> list[Path]:
    """Writes machines.csv, processes.csv and downtime.csv into `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in TABLES:
        path = folder / f"{table}.csv"
        path.write_text(table_csv(report, table), encoding="utf-8")
        paths.append(path)
    return paths
