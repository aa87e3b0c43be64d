"""The Gap report page's data (`cloud.replan.gap_view`): heat strip, units, why late, who is away.

A report as the replanner makes it, on the example plant (Europe/Berlin): two groups short in
overlapping hours, an order made late by a gap, an order late for a delivery that no gap names,
an early order; Labour rows of which one operator is relied on but not here.
"""

from __future__ import annotations

from pathlib import Path

from cloud.plant import load_plant
from cloud.replan.gap_view import BUCKETS_MAX, gap_view

PLANT = load_plant(Path(__file__).parents[2] / "docs/examples/harness_plant.json")
GAPS = [
    {"group": "crimpers", "start": "2026-03-24T08:35:00Z", "end": "2026-03-24T10:05:00Z",
     "shortfall": 1, "orders": ["SO-1002", "SO-1004"], "earliness_min": 30, "tardiness_min": 9},
    {"group": "crimp-operators", "start": "2026-03-24T09:10:00Z", "end": "2026-03-24T09:40:00Z",
     "shortfall": 2, "orders": ["SO-1002"], "earliness_min": 0, "tardiness_min": 9,
     "skills": ["crimp"], "absent": ["OP-BEN"], "none_present": False},
]  # fmt: skip
DELIVERY = "delivery D-2002 ready 11:07"
ORDERS = [
    {"order": "SO-1002", "status": "late", "earliness_min": 0, "tardiness_min": 14,
     "cause": "crimp: blocked by crimpers (capacity)", "causes": [{"text": "crimp: capacity"}]},
    {"order": "H-102", "status": "late", "earliness_min": 0, "tardiness_min": 12,
     "cause": f"cut: waits for material ({DELIVERY})", "causes": [{"text": DELIVERY}]},
    {"order": "SO-1004", "status": "early", "earliness_min": 30, "tardiness_min": 0},
]  # fmt: skip
LABOUR = [
    {"tag": "04D4E5F6", "operator": "OP-ANNA", "name": "Anna", "presence": "present",
     "planned_jobs": 3, "next_job": "SO-1002/crimp at 10:00", "relied_on": False},
    {"tag": "04112233", "operator": "OP-BEN", "name": "Ben", "presence": "expected",
     "planned_jobs": 2, "next_job": "SO-1005/crimp at 11:00", "relied_on": True},
]  # fmt: skip


def test_strip_units_every_late_order_and_who_is_relied_on() -> None:
    view = gap_view({"digest": "ab" * 32, "gaps": GAPS, "orders": ORDERS}, PLANT, LABOUR)
    strip = view["strip"]
    # 08:35-10:05 UTC spans 1.5 h: 15-minute columns from 09:30 local (CET, UTC+1), on the hour
    assert strip["bucket_min"] == 15 and len(strip["ticks"]) <= BUCKETS_MAX
    labels = [tick["label"] for tick in strip["ticks"]]
    assert labels[:2] == ["Tue 24 Mar 09:30", "09:45"]
    rows = {r["group"]: r for r in strip["rows"]}
    assert rows["crimpers"]["unit"] == "machine" and rows["crimp-operators"]["unit"] == "operator"
    assert rows["crimp-operators"]["cells"].count(2) == 3  # 10:10-10:40 local: three columns
    assert max(rows["crimpers"]["cells"]) == 1 and strip["max"] == 2
    assert sum(1 for c in rows["crimpers"]["cells"] if c) == 7  # 09:35-11:05 local: seven
    assert [g["short"] for g in view["gaps"]] == ["1 machine", "2 operators"]
    assert view["gaps"][0]["from_local"] == "Tue 24 Mar 09:35"
    assert view["gaps"][0]["late"] == ["SO-1002"] and view["gaps"][0]["early"] == ["SO-1004"]
    assert view["gaps"][1]["absent"] == ["OP-BEN"]
    # every late order, with its cause, even one that no gap names; one lateness figure each
    late = {o["order"]: o for o in view["late"]}
    assert set(late) == {"SO-1002", "H-102"}
    assert late["H-102"]["cause"].endswith(f"({DELIVERY})") and late["H-102"]["gaps"] == []
    assert late["SO-1002"]["tardiness_min"] == 14 and late["SO-1002"]["gaps"] == [
        "crimpers", "crimp-operators"]  # fmt: skip
    assert all("tardiness_min" not in g and "earliness_min" not in g for g in view["gaps"])
    assert view["summary"] == {"gaps": 2, "late": 2, "tardiness_min": 26, "early": 1,
                               "unplanned": 0, "relied_on": 1}  # fmt: skip
    ben = {"operator": "OP-BEN", "name": "Ben", "presence": "expected", "planned_jobs": 2,
           "next_job": "SO-1005/crimp at 11:00"}  # fmt: skip
    assert view["relied_on"] == [ben]
    assert "digest" not in view


def test_no_gaps_an_empty_strip() -> None:
    view = gap_view({"digest": "", "gaps": [], "orders": []}, PLANT, [])
    assert view["strip"]["rows"] == [] and view["late"] == [] and view["relied_on"] == []
