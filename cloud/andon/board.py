"""The andon board: the plant at a glance, built from the live status, master data and the plan.

`build` is pure (status snapshot, plant model, plan document, acknowledgements and the moment
in; a JSON-ready board out; no I/O, no clock). It lists the machines in line order (the plant
model's order of its machine resources; machines only the events named come after, by id), each
with its state and how long it has been in it ("down 4 min, breakdown"), and the alarms a
supervisor must see, each with its start, its cause and whether (who, when) it was acknowledged:

- `stop`: a machine stopped with a job on it — an unexplained stop until a reason is given;
- `absent`: an operator on shift, not badged in by the shift's start plus the plant's grace (the
  one presence rule of `cloud.status.labour`, as the Labour page shows it); since then;
- `late_order`: an order the current plan ends after its due time, or cannot place, with the
  plan's primary cause (`cloud.scheduler.causes`); its start is the due time;
- `late_delivery`: a delivery whose material will be ready after the time it is needed.

An alarm's id is its kind, its subject and its start: a new stop of the same machine is a new
alarm, an acknowledged one stays acknowledged. Times are ISO 8601 with the plant's offset (the
API's rule); the texts use the plant's clock and `taktline.humane`'s durations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

from cloud.plant import Plant, Resource
from cloud.status.labour import shift_at
from taktline.humane import duration, local_time

__all__ = ["Ack", "alarm_id", "build", "stamp"]

#: The order alarms are listed in among the unacknowledged (then acknowledged) ones.
KIND_ORDER: Final = {"stop": 0, "absent": 1, "late_delivery": 2, "late_order": 3}
#: Late orders listed on the board at most (the Plan page lists them all).
MAX_LATE_ORDERS: Final = 20


@dataclass(frozen=True)
class Ack:
    """An alarm's acknowledgement: who, when (UTC)."""

    by: str
    at: datetime


def stamp(moment: datetime, zone: tzinfo) -> str:
    """`moment` as the API writes board times: ISO 8601 to the second, with the plant's offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def alarm_id(kind: str, subject: str, start: datetime) -> str:
    """The id of the alarm of `kind` about `subject` that began at `start`."""
    return f"{kind}:{subject}:{start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _zone(plant: Plant | None) -> tzinfo:
    return plant.tz if plant is not None else UTC


def _station_order(plant: Plant | None, known: Iterable[str]) -> list[tuple[str, Resource | None]]:
    """Stations in line order: the plant model's machines first, then the others by id."""
    out: list[tuple[str, Resource | None]] = []
    seen: set[str] = set()
    if plant is not None:
        for resource in plant.resources:
            if resource.kind == "machine":
                station = resource.station or resource.id
                if station not in seen:
                    seen.add(station)
                    out.append((station, resource))
    out.extend((station, None) for station in sorted(set(known) - seen))
    return out


def _machine_text(m: Mapping[str, Any], elapsed: float | None) -> str:
    state = m.get("state")
    took = f" {duration(elapsed)}" if elapsed is not None else ""
    if state == "STOPPED":
        text = f"down{took}, {str(m.get('stop_reason') or 'unexplained').replace('_', ' ')}"
    elif state == "RUNNING":
        text = f"running{took}"
    else:
        text = f"idle{took}"
    return text + (", offline" if m.get("online") is False else "")


def _machines(
    snapshot: Mapping[str, Any], plant: Plant | None, now: datetime, zone: tzinfo
) -> list[dict[str, Any]]:
    shown = snapshot.get("machines", {})
    rows = []
    for station, resource in _station_order(plant, shown):
        m = shown.get(station, {})
        since = _when(m.get("since"))
        elapsed = max(0.0, (now - since).total_seconds()) if since is not None else None
        step = m.get("job_step")
        operators = [
            {"name": name, "tag": tag}
            for name, tag in zip(m.get("operator_names", []), m.get("operators", []), strict=False)
        ]
        rows.append(
            {
                "station": station,
                "id": resource.id if resource is not None else station,
                "name": m.get("name") or (resource.name if resource else "") or station,
                "state": m.get("state", "IDLE"),
                "reason": m.get("stop_reason"),
                "since": stamp(since, zone) if since is not None else None,
                "elapsed_s": round(elapsed) if elapsed is not None else None,
                "text": _machine_text(m, elapsed),
                "online": m.get("online"),
                "job": f"{step['order']} / {step['step']}" if step else None,
                "ticket": m.get("job"),
                "operators": operators,
                "tool": m.get("tool_name"),
            }
        )
    return rows


def _alarm(
    kind: str,
    subject: str,
    name: str,
    start: datetime,
    now: datetime,
    zone: tzinfo,
    text: str,
    cause: str,
    acks: Mapping[str, Ack],
    **extra: Any,
) -> dict[str, Any]:
    ident = alarm_id(kind, subject, start)
    ack = acks.get(ident)
    return {
        "id": ident,
        "kind": kind,
        "subject": subject,
        "name": name,
        "start": stamp(start, zone),
        "elapsed_s": round((now - start).total_seconds()),
        "text": text,
        "cause": cause,
        "ack": None if ack is None else {"by": ack.by, "at": stamp(ack.at, zone)},
        **extra,
    }


def _stops(
    machines: list[dict[str, Any]], now: datetime, zone: tzinfo, acks: Mapping[str, Ack]
) -> list[dict[str, Any]]:
    out = []
    for m in machines:
        if m["state"] != "STOPPED" or m["since"] is None:
            continue
        reason = str(m["reason"] or "unexplained")
        start = datetime.fromisoformat(m["since"])
        cause = (
            "unexplained stop: no reason given yet"
            if reason == "unexplained"
            else reason.replace("_", " ")
        )
        job = f" on {m['job']}" if m["job"] else ""
        text = f"{m['name']} {m['text']}{job}"
        out.append(
            _alarm("stop", m["station"], m["name"], start, now, zone, text, cause, acks,
                   reason=reason)
        )  # fmt: skip
    return out


def _absences(
    snapshot: Mapping[str, Any],
    plant: Plant | None,
    now: datetime,
    zone: tzinfo,
    acks: Mapping[str, Ack],
) -> list[dict[str, Any]]:
    if plant is None:
        return []
    operators = {r.id: r for r in plant.resources if r.kind == "operator"}
    grace = timedelta(minutes=plant.absent_grace_min)
    out = []
    for tag, row in sorted(snapshot.get("labour", {}).items()):
        if row.get("presence") != "absent":
            continue
        resource = operators.get(str(row.get("operator")))
        shift = shift_at(plant, resource.calendar, now) if resource is not None else None
        if shift is None:
            continue  # the presence rule said absent, so a shift covers now; be safe anyway
        start = shift.start + grace
        name = str(row.get("name") or row.get("operator") or tag)
        planned = row.get("planned_jobs") or 0
        cause = f"not badged in since the shift began at {local_time(shift.start, zone)}"
        if planned:
            cause += f"; planned on {planned} job step{'s' if planned != 1 else ''}"
        text = f"{name} absent {duration((now - start).total_seconds())}"
        out.append(
            _alarm("absent", str(row.get("operator") or tag), name, start, now, zone, text,
                   cause, acks, tag=tag)
        )  # fmt: skip
    return out


def _late_orders(
    plan: Mapping[str, Any] | None, now: datetime, zone: tzinfo, acks: Mapping[str, Ack]
) -> list[dict[str, Any]]:
    if plan is None:
        return []
    late = [r for r in plan.get("orders", []) if r.get("status") in ("late", "unplanned")]
    late.sort(key=lambda r: (-(r.get("tardiness_min") or 0), str(r.get("order"))))
    out = []
    for row in late[:MAX_LATE_ORDERS]:
        due = _when(row.get("due"))
        if due is None:
            continue
        order = str(row["order"])
        if row.get("status") == "unplanned":
            text = f"{order} cannot be planned (due {local_time(due, zone)})"
        else:
            minutes = int(row.get("tardiness_min") or 0)
            text = f"{order} late {duration(minutes * 60)} (due {local_time(due, zone)})"
        cause = str(row.get("cause") or "no cause found")
        out.append(
            _alarm("late_order", order, order, due, now, zone, text, cause, acks,
                   tardiness_min=row.get("tardiness_min"), product=row.get("product"))
        )  # fmt: skip
    return out


def _late_deliveries(
    snapshot: Mapping[str, Any], now: datetime, zone: tzinfo, acks: Mapping[str, Ack]
) -> list[dict[str, Any]]:
    out = []
    found = snapshot.get("deliveries", {}).get("deliveries", {})
    for key, d in sorted(found.items()):
        needed, ready = _when(d.get("needed")), _when(d.get("ready"))
        if not d.get("late") or needed is None:
            continue
        delivery = str(d.get("delivery") or key)
        lorry = str(d.get("lorry") or "the lorry")
        if ready is not None:
            behind = duration((ready - needed).total_seconds())
            cause = (
                f"{lorry}: material ready {local_time(ready, zone)}, "
                f"needed {local_time(needed, zone)} ({behind} late)"
            )
        else:
            cause = f"{lorry}: needed {local_time(needed, zone)}"
        materials = ", ".join(d.get("materials", []))
        text = f"delivery {delivery} late" + (f": {materials}" if materials else "")
        out.append(
            _alarm("late_delivery", delivery, delivery, needed, now, zone, text, cause, acks,
                   lorry=d.get("lorry"))
        )  # fmt: skip
    return out


def build(
    snapshot: Mapping[str, Any],
    plant: Plant | None,
    plan: Mapping[str, Any] | None,
    acks: Mapping[str, Ack],
    now: datetime,
) -> dict[str, Any]:
    """The board at `now`: machines in line order, alarms (unacknowledged first), counts."""
    zone = _zone(plant)
    machines = _machines(snapshot, plant, now, zone)
    alarms = [
        *_stops(machines, now, zone, acks),
        *_absences(snapshot, plant, now, zone, acks),
        *_late_deliveries(snapshot, now, zone, acks),
        *_late_orders(plan, now, zone, acks),
    ]
    alarms.sort(key=lambda a: (a["ack"] is not None, KIND_ORDER[a["kind"]], a["start"]))
    counts = {kind: 0 for kind in KIND_ORDER}
    for alarm in alarms:
        counts[alarm["kind"]] += 1
    return {
        "now": stamp(now, zone),
        "timezone": getattr(plant, "timezone", "UTC") if plant is not None else "UTC",
        "site": plant.site if plant is not None else None,
        "machines": machines,
        "alarms": alarms,
        "counts": counts,
        "unacknowledged": sum(1 for a in alarms if a["ack"] is None),
    }
