"""The fuzz targets of fuzz/: every stored input passes, and a seeded run of each finds nothing.

`fuzz/corpus/TARGET/` keeps the inputs of issue 15 that once stopped a part of the system (and
any input a fuzzer later finds crashing): each runs through its target here, in-process, as a
regression test. The seeded run is the one `bench/fuzz.py` makes, short: at most 15 s a target.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.targets import all_targets, corpus_of

ROOT = Path(__file__).resolve().parents[2]
TARGETS = all_targets()
#: runs of the seeded run per target in `make test` (slow targets: their share of it)
SEEDED_RUNS = 20_000


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_stored_input_and_seed_passes(name: str, tmp_path: Path) -> None:
    target = TARGETS[name]
    one_input = target.make(tmp_path)
    stored = corpus_of(name)
    assert stored, f"fuzz/corpus/{name}/ holds no input"
    for label, data in [*stored, *((f"seed {i}", s) for i, s in enumerate(target.seeds()))]:
        try:
            one_input(data)
        except Exception as exc:  # the label says which input
            raise AssertionError(f"{name}: {label}: {exc!r}") from exc


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_seeded_run_finds_nothing(name: str) -> None:
    runs = max(200, round(SEEDED_RUNS * TARGETS[name].share))
    command = [sys.executable, "-m", "fuzz.run", name, f"--runs={runs}", "--seed=1"]
    done = subprocess.run(
        [*command, "--max-time=12"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "Done" in done.stdout + done.stderr
