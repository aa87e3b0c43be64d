"""The fault soak's short run (issue 19): one agent, cloud and broker kill, one database restart
and one full disk while three agents stream, and every acknowledged event in the log once.

`bench/faults_soak.py --smoke` as a process, as an operator would run it; the full run and
`--quick` stay in `bench/`. It starts its own Mosquitto and PostgreSQL; without them it fails
under CI (the soak raises) and is skipped elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taktline.private_broker import mosquitto_binary
from taktline.private_postgres import postgres_bin_dir
from tests.conftest import service_missing

ROOT = Path(__file__).parents[2]


@pytest.mark.faults
@pytest.mark.slow
def test_one_of_each_fault_loses_and_doubles_nothing() -> None:
    if mosquitto_binary() is None or postgres_bin_dir() is None:
        service_missing("the soak needs mosquitto and PostgreSQL (make services)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "faults_soak.py"), "--smoke", "--seed", "3"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["acknowledged"] > 100  # the agents streamed through the faults
    assert (result["lost"], result["duplicated"], result["dead_letters"]) == (0, 0, 0), result
    assert result["stuck_workers"] == 0 and result["drained"], result
    assert sum(result["faults"].values()) >= 4, result  # the full disk needs root and tmpfs
