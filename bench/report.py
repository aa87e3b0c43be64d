"""Report benchmark: how fast the resource status report folds the event log, on both stores.

The 300-machine plant of `bench/ingest.py` (its realistic event mix, through `Ingest`) fills a
SQLite file and a PostgreSQL database; then the report of the middle half of the logged time is
built (`cloud.report.build_report` over `EventLog.replay()`, which folds the whole log), beside
a full status rebuild from the same log for scale, and the data span the default period needs
(`Reports.data_span`: two look-ups; a pass over the log, `log_span`, for scale). A report's cost
grows with the log.

    .venv/bin/python bench/report.py [--quick] [--pg-url postgresql+psycopg://...]

Prints each figure, then a JSON line with `sqlite_report_events_per_s` and
`postgres_report_events_per_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import plant_messages, postgres, through_ingest  # noqa: E402

from cloud.report import Reports, build_report  # noqa: E402
from cloud.report.report import log_span  # noqa: E402
from cloud.status import ResourceStatus  # noqa: E402
from cloud.store import EventLog  # noqa: E402

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # bench/ingest.py's first event, 1 ms apart


def measure(database: str, events: int) -> dict[str, float]:
    """Seconds to build the report and to rebuild the status, from `database`'s log."""
    span = timedelta(milliseconds=events)
    with EventLog(database) as log:
        began = time.perf_counter()
        report = build_report(log.replay(), None, START + span / 4, START + span * 3 / 4)
        report_s = time.perf_counter() - began
        began = time.perf_counter()
        first, last = log_span(log.replay())  # a pass over the log, for scale
        span_s = time.perf_counter() - began
        began = time.perf_counter()
        looked_up = Reports(log, lambda: None).data_span()  # what GET /api/report/period reads
        lookup_s = time.perf_counter() - began
        began = time.perf_counter()
        ResourceStatus().rebuild(log.replay())
        rebuild_s = time.perf_counter() - began
    if not report.machines:
        raise RuntimeError("the report found no machine")
    if first is None or last is None or first > START + span / 4 or None in looked_up:
        raise RuntimeError(f"the log's span is wrong: {first} to {last}, {looked_up}")
    return {"report_s": report_s, "rebuild_s": rebuild_s, "span_s": span_s,
            "lookup_s": lookup_s, "machines": len(report.machines)}  # fmt: skip


def main() -> int:
    """Runs the benchmark; prints the figures and a JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 events instead of 300,000")
    parser.add_argument("--pg-url", default=os.environ.get("TAKTLINE_TEST_PG_URL"))
    args = parser.parse_args()
    total = 50_000 if args.quick else 300_000
    messages, made = plant_messages(total)
    results: dict[str, Any] = {"events": made}
    with tempfile.TemporaryDirectory() as folder:
        database = str(Path(folder) / "cloud.db")
        through_ingest(database, messages)
        sqlite = measure(database, made)
    with postgres(args.pg_url) as (database, _):
        through_ingest(database, messages)
        pg = measure(database, made)
    for name, figures in (("sqlite", sqlite), ("postgres", pg)):
        rate = made / figures["report_s"]
        print(
            f"{name:<9} report {figures['report_s']:6.2f} s ({rate:9,.0f} events/s, "
            f"{figures['machines']:.0f} machines); status rebuild {figures['rebuild_s']:6.2f} s; "
            f"span by a pass {figures['span_s']:6.2f} s, by look-up {figures['lookup_s']:.4f} s"
        )
        results[f"{name}_report_events_per_s"] = round(rate)
        results[f"{name}_rebuild_s"] = round(figures["rebuild_s"], 2)
        results[f"{name}_default_period_s"] = round(figures["lookup_s"], 4)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
