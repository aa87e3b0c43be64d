"""The scale-out benchmark's short run: every event logged once, the failover within target.

`bench/scale_out.py --smoke` (1,000 events from 50 agents; one process, then 1 and 2 ingest
workers; then a planner failover) as a process, on a private PostgreSQL and Mosquitto it starts
itself. It exits 1 when an event is lost or duplicated or the failover takes longer than 10 s.
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
@pytest.mark.mqtt
def test_the_scale_out_benchmark_loses_nothing_and_fails_over() -> None:
    if postgres_bin_dir() is None:
        service_missing("the scale-out benchmark needs PostgreSQL (make services)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale_out.py"), "--smoke"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["lost"], result["duplicated"]) == (0, 0)
    assert set(result["throughput_by_workers"]) == {"1", "2"}
    assert 0 < result["failover_s"] <= 10
