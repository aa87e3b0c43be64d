"""The gap report as a planner reads it: a heat strip, shortfalls with units, and why late.

`gap_view` reshapes the replanner's gap report (`Replanner.gap_report`: gaps and the orders they
make early or late, each with its cause chain) for the Gap report page: a group-by-time heat strip
(per resource group and time bucket the largest shortfall, buckets on whole local hours or days of
the plant's time zone), each gap's shortfall with its unit ("1 machine"), one tardiness figure per
order (how late the order ends; the per-gap sums of moved minutes are left out so one order
never shows two figures), every late order with its cause even when no gap names it, and the
operators the plan relies on who are not here (the Labour rows' `relied_on`). It only reads; the
report itself, its digest and the e-mail stay with `cloud.replan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cloud.plant import Plant
from cloud.scheduler.check import group_unit

__all__ = ["BUCKETS_MAX", "gap_view"]

#: At most this many columns in the heat strip.
BUCKETS_MAX: Final = 48
#: Bucket widths (minutes) to choose from: the first that covers the span in BUCKETS_MAX.
_BUCKET_MIN: Final = (15, 30, 60, 120, 240, 480, 720, 1440, 2880, 10080)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _strip(plant: Plant, gaps: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows of groups, columns of time buckets, each cell the largest shortfall in it."""
    if not gaps:
        return {"start": None, "end": None, "bucket_min": 0, "ticks": [], "rows": [], "max": 0}
    tz = plant.tz
    first = min(_utc(g["start"]) for g in gaps)
    last = max(_utc(g["end"]) for g in gaps)
    span_min = max((last - first).total_seconds() / 60, 1)
    width = next((b for b in _BUCKET_MIN if span_min / b <= BUCKETS_MAX - 1), _BUCKET_MIN[-1])
    local = first.astimezone(tz).replace(second=0, microsecond=0)
    local = local.replace(minute=local.minute - local.minute % width if width < 60 else 0)
    if width >= 1440:
        local = local.replace(hour=0)
    elif width >= 60:
        local = local.replace(hour=local.hour - local.hour % (width // 60))
    start = local.astimezone(UTC)
    count = max(1, -(-int((last - start).total_seconds() // 60) // width))
    edges = [start + timedelta(minutes=width * i) for i in range(count + 1)]
    rows: dict[str, list[int]] = {}
    for g in gaps:
        cells = rows.setdefault(str(g["group"]), [0] * count)
        a, b = _utc(g["start"]), _utc(g["end"])
        for i in range(count):
            if a < edges[i + 1] and edges[i] < b:
                cells[i] = max(cells[i], int(g["shortfall"]))
    ticks, day = [], None
    for edge in edges[:-1]:
        moment = edge.astimezone(tz)
        label = f"{moment:%H:%M}"
        if moment.date() != day:
            label, day = f"{moment:%a %d %b} {label}", moment.date()
        ticks.append({"at": _iso(edge), "label": label})
    return {
        "start": _iso(edges[0]),
        "end": _iso(edges[-1]),
        "bucket_min": width,
        "ticks": ticks,
        "rows": [
            {"group": name, "unit": group_unit(plant, name), "cells": cells}
            for name, cells in sorted(rows.items())
        ],
        "max": max(max(cells) for cells in rows.values()),
    }


def _local(moment: str, plant: Plant) -> str:
    return f"{_utc(moment).astimezone(plant.tz):%a %d %b %H:%M}"


def gap_view(
    report: Mapping[str, Any], plant: Plant, labour: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The Gap report page's data from the replanner's `report` and the Labour rows.

    Args:
        report: `Replanner.gap_report` (`gaps`, `orders` with `cause` and `causes`).
        plant: the plant model (groups' kinds for units, the time zone).
        labour: the status's Labour rows (with the plan's `relied_on`, `planned_jobs`, ...).
    """
    gaps = list(report.get("gaps", []))
    orders = {str(o["order"]): o for o in report.get("orders", [])}
    named: dict[str, list[str]] = {}
    shown = []
    for g in gaps:
        unit = group_unit(plant, str(g["group"]))
        made = [orders[o] for o in g.get("orders", []) if o in orders]
        for o in g.get("orders", []):
            named.setdefault(o, []).append(str(g["group"]))
        minutes = round((_utc(g["end"]) - _utc(g["start"])).total_seconds() / 60)
        shown.append(
            {
                "group": g["group"],
                "unit": unit,
                "short": _plural(int(g["shortfall"]), unit),
                "start": g["start"],
                "end": g["end"],
                "from_local": _local(g["start"], plant),
                "to_local": _local(g["end"], plant),
                "minutes": minutes,
                "late": [o["order"] for o in made if o["status"] == "late"],
                "early": [o["order"] for o in made if o["status"] == "early"],
                **{k: g[k] for k in ("skills", "absent", "none_present", "tools") if k in g},
            }
        )

    def row(o: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "order": o["order"],
            "status": o["status"],
            "tardiness_min": int(o.get("tardiness_min", 0)),
            "earliness_min": int(o.get("earliness_min", 0)),
            "cause": o.get("cause") or "",
            "causes": [c.get("text", "") for c in o.get("causes", [])],
            "gaps": named.get(str(o["order"]), []),
        }

    off = [row(o) for o in orders.values()]
    late = sorted((o for o in off if o["status"] == "late"), key=lambda o: -o["tardiness_min"])
    relied = [
        {
            "operator": r.get("operator") or r.get("tag"),
            "name": r.get("name") or r.get("operator") or r.get("tag"),
            "presence": str(r.get("presence") or "").replace("_", " "),
            "planned_jobs": r.get("planned_jobs", 0),
            "next_job": r.get("next_job"),
        }
        for r in labour
        if r.get("relied_on")
    ]
    return {
        "timezone": plant.timezone,
        "summary": {
            "gaps": len(gaps),
            "late": len(late),
            "tardiness_min": sum(o["tardiness_min"] for o in late),
            "early": sum(1 for o in off if o["status"] == "early"),
            "unplanned": sum(1 for o in off if o["status"] == "unplanned"),
            "relied_on": len(relied),
        },
        "strip": _strip(plant, gaps),
        "gaps": shown,
        "late": late,
        "early": [o for o in off if o["status"] == "early"],
        "unplanned": [o for o in off if o["status"] == "unplanned"],
        "relied_on": relied,
    }
