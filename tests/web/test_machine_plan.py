"""The machine page's upcoming schedule from a plan document (cloud/web/machine_plan.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.web.machine_plan import upcoming

NOW = datetime(2026, 3, 23, 8, tzinfo=UTC)


def _at(minutes: int) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def test_steps_not_ended_by_start_the_running_one_flagged_the_rest_counted() -> None:
    jobs = [{"order": f"O-{n}", "step": "crimp", "start": _at(30 * n - 45), "end": _at(30 * n - 15)}
            for n in range(30)]  # fmt: skip
    jobs.append({"order": "X", "step": "crimp", "start": None, "end": None})  # unplaced: left out
    document = {"resources": {"CRIMP-1": list(reversed(jobs)), "CRIMP-2": []}}
    found = upcoming(document, "CRIMP-1", NOW, limit=5)
    assert found["planned"] is True
    # O-0 ended at 07:45; O-1 runs 07:45-08:15; O-2 on wait: 29 not ended, 5 shown.
    assert [s["order"] for s in found["steps"]] == ["O-1", "O-2", "O-3", "O-4", "O-5"]
    assert [s["running"] for s in found["steps"]] == [True, False, False, False, False]
    assert found["more"] == 24
    assert found["steps"][0] == {"order": "O-1", "step": "crimp", "start": _at(-15),
                                 "end": _at(15), "running": True}  # fmt: skip
    assert upcoming(document, "CRIMP-2", NOW) == {"planned": True, "steps": [], "more": 0}
    assert upcoming(document, "NOT-PLANNED", NOW)["steps"] == []


def test_without_a_plan_or_a_resource_nothing_is_planned() -> None:
    assert upcoming(None, "CRIMP-1", NOW) == {"planned": False, "steps": [], "more": 0}
    assert upcoming({"resources": {}}, None, NOW)["planned"] is False
