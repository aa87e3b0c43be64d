"""The resource status report: cycle times, downtime Pareto, utilisation and OEE over a period.

`build_report` folds the event log for a period against the plant model (`report.py`, with the
fold in `fold.py`, planned time in `planned.py` and the formulas in `figures.py`); `export.py`
writes its tables as CSV; `cli.py` is `taktline report`. docs/report.md states every definition.
"""

from cloud.report.export import COLUMNS, TABLES, table_csv, write_csv
from cloud.report.report import (
    UNASSIGNED,
    PeriodInvalid,
    Report,
    Reports,
    build_report,
    machine_processes,
    parse_moment,
)
from cloud.report.shift import Period, default_period

__all__ = [
    "COLUMNS",
    "TABLES",
    "UNASSIGNED",
    "Period",
    "PeriodInvalid",
    "Report",
    "Reports",
    "build_report",
    "default_period",
    "machine_processes",
    "parse_moment",
    "table_csv",
    "write_csv",
]
