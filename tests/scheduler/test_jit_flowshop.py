"""The flow-shop bench family: its generator follows the documentation, its run checks plans."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import jit_flowshop  # noqa: E402
import jit_jobshop  # noqa: E402

sys.path.remove(str(BENCH))


def test_generator_follows_the_documented_rules() -> None:
    inst = jit_flowshop.generate(20, 5, 0.4, 0.2, 1, seed=3)
    assert len(inst.jobs) == 20 and inst.n_machines == 5
    p = np.array([[op[1] for op in job] for job in inst.jobs])
    assert p.min() >= 1 and p.max() <= 99
    assert all([op[0] for op in job] == list(range(5)) for job in inst.jobs)
    big_p = jit_flowshop.makespan_bound(p)
    assert big_p >= p.sum(axis=1).max()
    for job, total in zip(inst.jobs, p.sum(axis=1), strict=True):
        *middle, last = job
        assert all(op[3] == op[4] == 0.0 for op in middle)  # only the last operation is due
        lo = int(np.floor(big_p * (1 - 0.4 - 0.1)))
        hi = int(np.floor(big_p * (1 - 0.4 + 0.1)))
        assert last[2] == total or lo <= last[2] <= hi
        assert 1 <= last[3] <= 10 and 1 <= last[4] <= 15
    again = jit_flowshop.generate(20, 5, 0.4, 0.2, 1, seed=3)
    assert again.jobs == inst.jobs


def test_makespan_bound_is_tight_on_one_machine() -> None:
    assert jit_flowshop.makespan_bound(np.array([[3], [4], [5]])) == 12


def test_a_plan_that_breaks_the_routing_is_refused() -> None:
    inst = jit_flowshop.generate(3, 2, 0.2, 0.6, 0)
    with pytest.raises(ValueError):
        jit_jobshop.evaluate(inst, [[0, 0], [0, 0], [0, 0]])


def test_family_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert jit_flowshop.main(["--sizes", "6x3", "--per", "1", "--iters", "60"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["family"] == "jit_flowshop" and summary["instances"] == 2


def test_permutation_search_is_feasible_deterministic_and_helps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cloud.scheduler.improve as improve
    from cloud.scheduler.permutation import flow_route

    better = 0
    for k in range(3):
        inst = jit_flowshop.generate(10, 3, 0.4, 0.2, k)
        p = jit_jobshop.to_problem(inst)
        assert flow_route(p, p.cand_res) is not None
        ours = jit_jobshop.evaluate(inst, jit_jobshop.solve(inst, 60.0, 0, 300)[0])
        again = jit_jobshop.evaluate(inst, jit_jobshop.solve(inst, 60.0, 0, 300)[0])
        assert ours == again  # same seed, same budget, same plan
        monkeypatch.setattr(improve, "_PERMUTATION_SHARE", 0.0)
        without = jit_jobshop.evaluate(inst, jit_jobshop.solve(inst, 60.0, 0, 300)[0])
        monkeypatch.undo()
        better += ours < without - 1e-9
        assert ours <= without * 1.05
    assert better >= 2
