"""The common-due-date bench: its exact reference is exact, its search and ours are checked."""

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import jit_suite  # noqa: E402

sys.path.remove(str(BENCH))


@pytest.mark.parametrize("h", jit_suite.TIGHTNESS)
def test_exact_reference_matches_every_permutation(h: float) -> None:
    inst = jit_suite.generate(7, h, 3)
    perms = np.array(list(itertools.permutations(range(7))), dtype=np.int64)
    best = float(jit_suite.sequence_costs(inst, perms).min())
    cost, seq = jit_suite.exact(inst)
    assert cost == round(best)
    # the exact sequence, timed, is a feasible plan of that cost
    assert sorted(seq) == list(range(7))
    assert jit_suite.vshape_search(inst) >= cost


def test_generator_follows_the_documented_ranges() -> None:
    inst = jit_suite.generate(200, 0.6, 0, seed=5)
    assert inst.p.min() >= 1 and inst.p.max() <= 20
    assert inst.a.min() >= 1 and inst.a.max() <= 10
    assert inst.b.min() >= 1 and inst.b.max() <= 15
    assert inst.d == int(0.6 * inst.p.sum())
    again = jit_suite.generate(200, 0.6, 0, seed=5)
    np.testing.assert_array_equal(inst.p, again.p)


def test_linear_cost_agrees_with_the_breakpoint_search() -> None:
    inst = jit_suite.generate(9, 0.4, 1)
    rng = np.random.default_rng(0)
    for _ in range(30):
        seq = rng.permutation(9).astype(np.int64)
        assert jit_suite._linear_cost(inst, seq) == pytest.approx(
            float(jit_suite.sequence_costs(inst, seq[None])[0])
        )


def test_cost_check_rejects_overlaps() -> None:
    inst = jit_suite.generate(3, 0.4, 0)
    with pytest.raises(ValueError, match="overlap"):
        jit_suite.cost_of(inst, np.zeros(3, dtype=np.int64))


def test_bench_runs_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    assert jit_suite.main(["--sizes", "6,14", "--per", "1", "--iters", "40"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["instances"] == 8
    assert summary["per_size"]["6"]["reference"] == "optimum"
    assert summary["per_size"]["6"]["mean_gap_pct"] >= 0  # nothing beats the optimum
    assert summary["per_size"]["14"]["reference"] == "best known"  # never called a bound
    assert summary["per_size"]["14"]["mean_gap_pct"] >= 0  # ours is one of the candidates
