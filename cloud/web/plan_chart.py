"""What the Plan page's Gantt draws besides the bars: down time, arrivals, progress, orders.

`chart_state` reads one replanner's engine under its lock and returns the parts of
`GET /api/plan/state` the chart needs beyond the plan document: every window a resource cannot
work (`down`: a breakdown or other loss the replanner was told of, with its reason; a calendar's
closures and holidays; master-data maintenance; an operator's leave), each calendar's closed
hours (`calendars`: off shift and breaks too, six weeks ahead), when each material is
ready at the line (`arrivals`, late ones flagged and named by their delivery), the real progress
of the floor (`actual`: the steps started and ended, from the tickets' events, with the share of
the standard time used so far), the orders' master fields the order list filters on (`orders`),
and the plant's time zone. Read-only; no I/O; windows far outside the planning horizon are left
out so a plant with years of holidays stays small.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from cloud.plant import Plant
from cloud.replan import Engine, Replanner
from cloud.scheduler.calendar import closed_windows
from cloud.web.plan_view import iso

__all__ = ["DOWN_KINDS", "chart_state"]

#: What a down window may be: a loss the replanner was told of (its reason), or master data.
DOWN_KINDS: Final = (
    "breakdown",
    "maintenance",
    "stop",
    "tool_missing",
    "absent",
    "closure",
    "holiday",
    "unavailable",
    "leave",
)
#: How far back from now windows and progress are shown (the chart's past).
PAST: Final = timedelta(days=7)
#: How far ahead of now the calendars' closed hours are sent (the horizon may be a year).
CALENDAR_AHEAD: Final = timedelta(days=42)


def chart_state(replanner: Replanner) -> dict[str, Any]:
    """The chart's parts of the plan state (see the module docstring), read under the lock."""
    now = replanner.clock.now()
    with replanner._lock:  # a replan changes the engine's dicts while it runs
        engine = replanner.engine
        plant = engine.plant
        lo, hi = now - PAST, now + timedelta(days=plant.horizon_days)
        return {
            "timezone": plant.timezone,
            "down": _down(engine, lo, hi),
            "calendars": _calendars(plant, lo, min(hi, now + CALENDAR_AHEAD)),
            "arrivals": _arrivals(engine),
            "actual": _actual(engine, now),
            "orders": _orders(engine),
        }


def _window(
    resource: str, kind: str, start: datetime, end: datetime | None, reason: str
) -> dict[str, Any]:
    return {
        "resource": resource,
        "kind": kind,
        "start": iso(start),
        "end": iso(end) if end is not None else None,
        "reason": reason,
    }


def _down(engine: Engine, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    plant = engine.plant
    out: list[dict[str, Any]] = []

    def keep(start: datetime, end: datetime | None) -> bool:
        return start < hi and (end is None or end > lo)

    for resource, losses in engine.circumstances.losses.items():
        for loss in losses:
            if keep(loss.start, loss.end):
                kind = loss.reason if loss.reason in DOWN_KINDS else "stop"
                out.append(_window(resource, kind, loss.start, loss.end, loss.reason))
    holidays = _holidays(plant, lo, hi)
    for r in plant.resources:
        calendar = plant.calendars.get(r.calendar)
        if calendar is not None:
            for w in calendar.closures:
                if keep(w.start, w.end):
                    out.append(_window(r.id, "closure", w.start, w.end, w.reason or "closure"))
            for day, (start, end) in holidays.get(calendar.id, {}).items():
                out.append(_window(r.id, "holiday", start, end, f"holiday {day.isoformat()}"))
        for w in r.unavailable:
            if keep(w.start, w.end):
                out.append(_window(r.id, "unavailable", w.start, w.end, w.reason or "maintenance"))
    for leave in plant.leave:
        if keep(leave.start, leave.end):
            out.append(_window(leave.operator, "leave", leave.start, leave.end, leave.kind))
    out.sort(key=lambda w: (w["resource"], w["start"]))
    return out


def _calendars(plant: Plant, lo: datetime, hi: datetime) -> dict[str, list[dict[str, str]]]:
    """Per calendar, when it does not work (off shift, breaks, holidays, closures)."""
    return {
        cid: [{"start": iso(a), "end": iso(b)} for a, b in closed_windows(plant, cal, lo, hi)]
        for cid, cal in plant.calendars.items()
    }


def _holidays(plant: Plant, lo: datetime, hi: datetime) -> dict[str, dict[Any, tuple[Any, Any]]]:
    """Per calendar, its holidays within [lo, hi) as whole local days in UTC."""
    tz = ZoneInfo(plant.timezone)
    out: dict[str, dict[Any, tuple[Any, Any]]] = {}
    for calendar in plant.calendars.values():
        days = {}
        for day in calendar.holidays:
            start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
            if start < hi and end > lo:
                days[day] = (start, end)
        out[calendar.id] = days
    return out


def _arrivals(engine: Engine) -> list[dict[str, Any]]:
    """When each material is ready at the line; a late delivery or transport says so."""
    told = engine.circumstances
    out: list[dict[str, Any]] = []
    for m in engine.plant.materials.values():
        if m.ready is None:
            continue
        late = told.deliveries.get(m.id)
        out.append(
            {
                "material": m.id,
                "ready": iso(m.ready),
                "needed": iso(m.needed) if m.needed is not None else None,
                "supplier": m.supplier,
                "late": late is not None or (m.needed is not None and m.ready > m.needed),
                "delivery": late.delivery if late is not None else "",
                "order": None,
                "step": None,
            }
        )
    for t in told.transports.values():
        out.append(
            {
                "material": t.material,
                "ready": iso(t.ready),
                "needed": None,
                "supplier": "",
                "late": True,
                "delivery": "",
                "order": t.order,
                "step": t.step,
            }
        )
    out.sort(key=lambda a: (a["ready"], a["material"]))
    return out


def _actual(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """The steps the floor started, with where they ran and how far they are."""
    model, plan = engine.model, engine.plan
    p = model.problem
    index = {(model.orders[o].id, step.id): s for s, (o, step) in enumerate(model.steps)}
    res_ids = [r.id for r in model.plant.resources]
    slot = timedelta(minutes=engine.plant.slot_minutes)
    out: list[dict[str, Any]] = []
    for key, start in sorted(engine.actual_start.items(), key=lambda kv: (kv[1], kv[0])):
        end = engine.actual_end.get(key)
        s = index.get(key)
        resources: list[str] = []
        progress = 1.0 if end is not None else 0.0
        if s is not None:
            qs = range(int(p.req_ptr[s]), int(p.req_ptr[s + 1]))
            resources = [res_ids[int(plan.res[q])] for q in qs if plan.res[q] >= 0]
            standard = slot * int(p.dur[s])
            if end is None and standard > timedelta(0):
                progress = min(1.0, max(0.0, (now - start) / standard))
        out.append(
            {
                "order": key[0],
                "step": key[1],
                "start": iso(start),
                "end": iso(end) if end is not None else None,
                "resources": resources,
                "progress": round(progress, 3),
            }
        )
    for key, end in engine.actual_end.items():  # ended without a start heard: the end alone
        if key not in engine.actual_start:
            out.append(
                {
                    "order": key[0],
                    "step": key[1],
                    "start": None,
                    "end": iso(end),
                    "resources": [],
                    "progress": 1.0,
                }
            )
    return out


def _orders(engine: Engine) -> list[dict[str, Any]]:
    return [
        {
            "order": o.id,
            "product": o.product,
            "quantity": o.quantity,
            "customer": getattr(o, "customer", ""),
            "due": iso(o.due),
            "release": iso(o.release) if o.release is not None else None,
            "priority": o.priority,
        }
        for o in sorted(engine.orders.values(), key=lambda o: o.id)
    ]
