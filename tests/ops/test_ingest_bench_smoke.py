"""The ingest benchmark's short run: its events must reach the log, not the dead letters.

`bench/ingest.py --smoke` (2,000 events) as a process. The benchmark raises when ingest
dead-letters its events — as it did unnoticed once agents were confined to their registered
stations and the bench still registered agents only. It starts its own PostgreSQL; without one
it fails under CI and is skipped elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taktline.private_postgres import postgres_bin_dir
from tests.conftest import service_missing

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_the_ingest_benchmark_runs_and_logs_every_event() -> None:
    if postgres_bin_dir() is None:
        service_missing("the ingest benchmark needs PostgreSQL (make services)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ingest.py"), "--smoke"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["events"] == 2000
    assert result["sqlite_events_per_s"] > 0 and result["postgres_events_per_s"] > 0
