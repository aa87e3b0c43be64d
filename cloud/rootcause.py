"""Root cause: from a late order's cause chain back through the event log to the first event.

The plan's cause chain (`cloud.scheduler.causes`) says which step was blocked by what: crimp-02
broken down since 07:12, material wire-0.50 ready only at 09:20, no crimp operator present. The
root cause walks the log backwards from there to the first event that made the order late, and
keeps the evidence on the way:

- **a machine stop** (`breakdown`, `maintenance`, `stop`): the `run` off that began it, the stop
  reasons given for it (a `quality` or `changeover` stop is named so), the machine's other stops
  in the `HISTORY_H` (24) hours before, and an early warning standing for it when there was one;
- **a late delivery**: the delivery's lorry and call-off. Shipped after the call-off's promised
  ship time (`ship_by`, the earliest of its lines for the delivery's materials) is *the supplier
  shipped late*: the first event is the loading scan. Shipped on time but later at the plant than
  shipping + the supplier's transit time is *the lorry slow on the road*: the first event is the
  first GPS position of its longest standstill (speed under `STANDING_MPS`), with where and how
  long it stood;
- **an absence**: the operator's shift start without a badge read (a non-event: the evidence is
  the last badge read before it, if any);
- **a transport to the line**: the AGV transport's `failed` or `late` state;
- **a step running late**: the job's start and its cycles so far; a slower machine behind it is
  an early warning's business (`cloud.early_warnings`), named when one stands.

Capacity, calendars, releases and the horizon are the plan's own reasons: no floor event stands
behind them, and the root cause says so. Reads only: a window of the log around the cause
(`EventLog.position_at`, `replay(after, until)`), never the whole log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from cloud.errors import EarlierThanTheLog
from cloud.scheduler.causes import Cause, OrderCauses
from cloud.store import EventLog
from taktline.clock import utc_iso

__all__ = ["HISTORY_H", "Evidence", "RootCause", "root_cause", "stock_out"]

#: How far back a machine's earlier stops are shown.
HISTORY_H: Final = 24.0
#: A lorry slower than this stands (as the delivery estimate's hysteresis says).
STANDING_MPS: Final = 0.5
#: A lorry later than shipping + transit by more than this share of the transit is slow.
ROAD_SLACK: Final = 0.2
_AROUND: Final = timedelta(minutes=30)
#: Causes that are the plan's own limits, with no floor event behind them.
_PLAN_LIMITS: Final = frozenset({"capacity", "release", "now", "calendar", "horizon"})
#: How much later than taken a lorry's events may reach the cloud (kept while out of coverage).
LATE_ARRIVAL: Final = timedelta(hours=6)


@dataclass(frozen=True)
class Evidence:
    """One event behind the cause (position None: a fact with no event, such as an absence)."""

    at: str
    text: str
    type: str = ""
    source: str = ""
    position: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


@dataclass
class RootCause:
    """Why an order is late, down to the first event, with the evidence in time order."""

    order: str
    status: str
    tardiness_min: int
    kind: str
    summary: str
    first: Evidence | None = None
    timeline: list[Evidence] = field(default_factory=list)
    chain: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "order": self.order,
            "status": self.status,
            "tardiness_min": self.tardiness_min,
            "kind": self.kind,
            "summary": self.summary,
            "first": None if self.first is None else self.first.as_dict(),
            "timeline": [e.as_dict() for e in sorted(self.timeline, key=lambda e: e.at)],
            "chain": self.chain,
        }


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _hhmm(text: str) -> str:
    return _when(text).strftime("%H:%M")


def _window(
    log: EventLog, start: datetime, end: datetime
) -> Iterable[tuple[int, dict[str, Any], str]]:
    """The events the cloud took between `start` and `end` (received time), in log order."""
    try:
        after = log.position_at(utc_iso(start))
    except EarlierThanTheLog:
        after = 0
    until = log.position_at(utc_iso(end))
    return log.replay(after=after, until=until) if until > after else ()


def _evidence(pos: int, event: Mapping[str, Any], at: str, text: str) -> Evidence:
    return Evidence(at, text, str(event["type"]), str(event.get("source", "")), pos)


def _machine(
    log: EventLog, cause: Cause, station: str, warnings: Iterable[Mapping[str, Any]]
) -> tuple[str, str, Evidence | None, list[Evidence]]:
    since = cause.start or datetime.fromtimestamp(0).astimezone()
    # every stop of the machine in the window, each with the reasons given for it
    stops: list[tuple[Evidence, list[Evidence]]] = []
    for pos, event, at in _window(log, since - timedelta(hours=HISTORY_H), since + _AROUND):
        if event.get("station") != station:
            continue
        payload = event["payload"]
        signal = event["type"] == "machine.signal" and payload.get("signal") == "run"
        if signal and not payload["on"] and _when(at) <= since + timedelta(minutes=1):
            stops.append((_evidence(pos, event, at, f"{station} stopped"), []))
        elif event["type"] == "machine.stop_reason" and stops:
            stops[-1][1].append(_evidence(pos, event, at, str(payload["reason"])))
    timeline: list[Evidence] = []
    stop: Evidence | None = None
    reasons: list[str] = []
    if stops:
        stop, given = stops[-1]
        reasons = [e.text for e in given]
        timeline.append(stop)
        timeline += [
            Evidence(e.at, f"stop reason given: {e.text}", e.type, e.source, e.position)
            for e in given
        ]
    for earlier_stop, given in stops[:-1]:
        why = ", ".join(e.text for e in given) or "no reason given"
        timeline.append(
            Evidence(earlier_stop.at, f"an earlier stop of {station}: {why}",
                     earlier_stop.type, earlier_stop.source, earlier_stop.position)
        )  # fmt: skip
    earlier = len(stops) - 1 if stops else 0
    reason = reasons[0] if reasons else cause.kind
    kind = {"quality": "quality_stop", "changeover": "changeover"}.get(reason, cause.kind)
    summary = f"{station} {'broke down' if reason == 'breakdown' else f'stopped ({reason})'}"
    if stop is not None:
        summary += f" at {_hhmm(stop.at)}"
    if earlier:
        summary += f"; its {earlier + 1}{_nth(earlier + 1)} stop in {HISTORY_H:g} h"
    for alert in warnings:
        if alert.get("station") == station and alert.get("raised_at", "~") <= utc_iso(since):
            timeline.append(
                Evidence(str(alert["raised_at"]), f"early warning: {alert['detail']}", "warning")
            )
            summary += f"; an early warning had flagged it at {_hhmm(str(alert['raised_at']))}"
    return kind, summary, stop, timeline


def _nth(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _delivery(
    log: EventLog,
    cause: Cause,
    deliveries: Mapping[str, Mapping[str, Any]],
    transit_min: Mapping[str, float],
) -> tuple[str, str, Evidence | None, list[Evidence]]:
    material = cause.material or ""
    found = [
        (name, d)
        for name, d in deliveries.items()
        if material in d.get("materials", ()) and (d.get("late") or name in cause.event)
    ]
    if not found:
        return (
            "delivery",
            f"material {material} ready late ({cause.event}); no delivery found",
            None,
            [],
        )
    name, delivery = found[0]
    lorry = str(delivery.get("lorry", ""))
    loaded, arrived = delivery.get("loaded_at"), delivery.get("arrived_at")
    ship_by = delivery.get("ship_by")
    timeline: list[Evidence] = []
    first: Evidence | None = None
    start = _when(str(loaded or ship_by or cause.start or "1970-01-01T00:00:00Z"))
    end = _when(str(arrived)) if arrived else (cause.end or start + timedelta(hours=12))
    standing: list[tuple[int, dict[str, Any], str]] = []
    longest: list[tuple[int, dict[str, Any], str]] = []
    # positions a lorry kept while out of coverage arrive later than they were taken
    for pos, event, at in _window(log, start - _AROUND, end + LATE_ARRIVAL):
        if event.get("agent") != lorry or not start - _AROUND <= _when(at) <= end + _AROUND:
            continue
        payload = event["payload"]
        if event["type"] == "package.read" and payload.get("stage") == "load" and first is None:
            first = _evidence(pos, event, at, f"{name} loaded onto {lorry}")
        elif event["type"] == "gps.position":
            if float(payload["speed_mps"]) < STANDING_MPS:
                standing.append((pos, event, at))
                if len(standing) > len(longest):
                    longest = list(standing)
            else:
                standing = []
    if first is not None:
        timeline.append(first)
    if ship_by is not None:
        timeline.append(
            Evidence(str(ship_by), f"the call-off's promised ship time ({name})", "calloff")
        )
    if arrived:
        timeline.append(Evidence(str(arrived), f"{name} arrived at the plant", "arrival"))
    if delivery.get("shipped_late") and first is not None and ship_by is not None:
        late = (_when(first.at) - _when(str(ship_by))).total_seconds() / 60
        summary = (
            f"the supplier shipped late: {name} left at {_hhmm(first.at)}, {late:.0f} min after "
            f"the promised {_hhmm(str(ship_by))}"
        )
        return "supplier_late", summary, first, timeline
    if first is None:
        return "delivery", f"{name} ready late; no loading scan in the log", None, timeline
    planned = transit_min.get(lorry)
    took = (end - _when(first.at)).total_seconds() / 60
    summary = f"the lorry was slow on the road: {took:.0f} min from loading"
    summary += f" against {planned:.0f} planned" if planned else ""
    jam = None
    if len(longest) >= 2:
        stood = (_when(longest[-1][2]) - _when(longest[0][2])).total_seconds() / 60
        pos, event, at = longest[0]
        where = f"{event['payload']['lat']:.4f}, {event['payload']['lon']:.4f}"
        jam = _evidence(pos, event, at, f"{lorry} stood still {stood:.0f} min at {where}")
        timeline.append(jam)
        summary += f"; it stood {stood:.0f} min at {where} from {_hhmm(at)}"
    if planned and took <= planned * (1 + ROAD_SLACK) and jam is None:
        return "delivery", f"{name} ready late, not for shipping or the road", first, timeline
    return "road_slow", summary, jam or first, timeline


def _operators(cause: Cause) -> list[str]:
    """The operators an absence cause names (one, or a whole group's)."""
    if cause.resource:
        return [cause.resource]
    text = cause.event
    if "present: " in text and text.endswith(" absent"):
        return [n.strip() for n in text.split("present: ", 1)[1][: -len(" absent")].split(",")]
    return []


def _absent(
    log: EventLog, cause: Cause, badges: Mapping[str, str]
) -> tuple[str, str, Evidence | None, list[Evidence]]:
    operators = _operators(cause)
    since = cause.start
    summary = f"{', '.join(operators) or 'operators'} not badged in"
    timeline: list[Evidence] = []
    if since is not None:
        summary += f" by {since:%H:%M} (shift start and grace)"
        tags = {badges[o]: o for o in operators if o in badges}
        last: dict[str, Evidence] = {}
        for pos, event, at in _window(log, since - timedelta(hours=HISTORY_H), since):
            if event["type"] in ("badge.read", "rest.read"):
                who = tags.get(str(event["payload"].get("tag")))
                if who is not None:
                    last[who] = _evidence(pos, event, at, f"{who}'s last badge read before")
        for operator in operators:
            timeline.append(
                Evidence(utc_iso(since), f"{operator} expected, no badge read", "absence")
            )
            if operator in last:
                timeline.append(last[operator])
    return "absent", summary, None, timeline


def root_cause(
    causes: OrderCauses,
    log: EventLog,
    *,
    deliveries: Mapping[str, Mapping[str, Any]] | None = None,
    transit_min: Mapping[str, float] | None = None,
    warnings: Iterable[Mapping[str, Any]] = (),
    badges: Mapping[str, str] | None = None,
    station_of: Mapping[str, str] | None = None,
) -> RootCause:
    """The root cause of one order's lateness (see the module text).

    `deliveries`: the status's deliveries as shown (with `loaded_at`, `ship_by`, `shipped_late`);
    `transit_min`: lorry -> its supplier's planned transit; `warnings`: the early warnings' alerts;
    `badges`: operator -> badge tag; `station_of`: machine resource -> the station id its events
    carry (the plant model's `station`; default: the same id).
    """
    chain = [c.to_dict() for c in causes.causes]
    out = RootCause(causes.order, causes.status, causes.tardiness_min, "none", causes.summary)
    out.chain = chain
    cause = causes.primary
    if cause is None:
        return out
    standing = list(warnings)
    stations = station_of or {}
    station = stations.get(cause.resource or "", cause.resource or "")
    if cause.kind in ("breakdown", "maintenance", "stop") and cause.resource:
        kind, summary, first, timeline = _machine(log, cause, station, standing)
    elif cause.kind == "step_late":
        kind, summary, first, timeline = "step_late", cause.text, None, []
        for alert in standing:
            if alert.get("station") == station:
                summary += f"; {station} runs slow: {alert['detail']}"
                timeline.append(
                    Evidence(
                        str(alert["raised_at"]), f"early warning: {alert['detail']}", "warning"
                    )
                )
    elif cause.kind == "delivery":
        kind, summary, first, timeline = _delivery(log, cause, deliveries or {}, transit_min or {})
    elif cause.kind == "absent":
        kind, summary, first, timeline = _absent(log, cause, badges or {})
    elif cause.kind == "transport":
        kind, summary, first, timeline = "transport", cause.text, None, []
    elif cause.kind in _PLAN_LIMITS:
        out.kind = cause.kind
        out.summary = f"{cause.text} (the plan's own limit: no floor event behind it)"
        return out
    else:  # a tool missing, on its way or due for service: its place is the evidence
        out.kind, out.summary = cause.kind, cause.text
        return out
    out.kind, out.summary, out.first, out.timeline = kind, summary, first, timeline
    return out


def _event_near(
    log: EventLog, at: str, kinds: frozenset[str], wanted: Mapping[str, Any], text: str
) -> Evidence:
    """The logged event of `kinds` whose payload has `wanted`, recorded at `at` (its evidence)."""
    moment = _when(at)
    for pos, event, when in _window(log, moment - timedelta(minutes=1), moment + _AROUND):
        payload = event["payload"]
        if event["type"] in kinds and all(payload.get(k) == v for k, v in wanted.items()):
            return _evidence(pos, event, when, text)
    return Evidence(at, text, sorted(kinds)[0])


def stock_out(
    material: str,
    point: str,
    status: Any,
    log: EventLog,
    now: datetime,
    *,
    loops: Iterable[Any] = (),
    deliveries: Mapping[str, Mapping[str, Any]] | None = None,
    transit_min: Mapping[str, float] | None = None,
) -> RootCause:
    """Why `material` ran out (or runs low) at `point`, down to the first event.

    In turn: the newest AMR/AGV transport of it to `point` failed or late; a kanban card of a
    loop of it (`loops`: the plant's `KanbanLoop`s) out longer than the loop's lead time; a
    late inbound delivery of it (the supplier or the road, as for a late order); else the line
    used more than the loop holds (`demand`). `status` is the `ResourceStatus` (its logistics
    and kanban ledgers); the log gives the evidence.
    """
    subject = f"{material} at {point}"
    out = RootCause(subject, "stock_out", 0, "demand", "")
    transports = [
        (tid, t)
        for tid, t in status.logistics.transports.items()
        if t.order.get("material") == material and t.order.get("drop") == point
    ]
    if transports:
        tid, newest = max(transports, key=lambda item: item[1].sent)
        if newest.state == "failed" or (newest.late and not newest.is_over):
            failed = newest.state == "failed"
            kinds = frozenset({"transport.state"})
            state = "failed" if failed else "late"
            first = _event_near(
                log, newest.since if failed else next(
                    (at for at, s, _ in newest.history if s == "late"), newest.since
                ), kinds, {"transport": tid, "state": state},
                f"transport {tid} {state}" + (f": {newest.detail}" if newest.detail else ""),
            )  # fmt: skip
            out.kind = "transport_failed" if failed else "transport_late"
            out.summary = (
                f"the transport of {material} to {point} ({tid}, AGV {newest.order.get('serial')})"
                f" {'failed' if failed else 'is late'} since {_hhmm(first.at)}"
                + (f": {newest.detail}" if failed and newest.detail else "")
            )
            out.first = first
            out.timeline = [
                Evidence(newest.sent, f"transport {tid} sent", "transport.order"),
                *[Evidence(at, f"transport {tid} {s}", "transport.state") for at, s, _ in
                  newest.history[1:]],
            ]  # fmt: skip
            return out
    for loop in loops:
        if loop.material != material:
            continue
        out_cards = [
            (tag, card)
            for tag in loop.cards
            if (card := status.kanban.cards.get(tag)) is not None
            and card.state in ("empty", "at_supplier", "in_transit")
        ]
        if not out_cards:
            continue
        tag, card = min(out_cards, key=lambda item: item[1].since)
        waited = (now - _when(card.since)).total_seconds() / 60
        if waited <= loop.lead_time_min:
            continue
        first = _event_near(
            log, card.since, frozenset({"kanban.empty", "kanban.card"}), {"card": tag},
            f"kanban card {tag} {card.state}",
        )  # fmt: skip
        by = loop.supplier or loop.supermarket or "its supplier"
        out.kind = "replenishment_late"
        out.summary = (
            f"the replenishment of {material} is late: card {tag} {card.state} since "
            f"{_hhmm(card.since)}, {waited:.0f} min against the loop's {loop.lead_time_min:g} "
            f"min lead time ({by})"
        )
        out.first, out.timeline = first, [first]
        return out
    cause = Cause("", "delivery", f"material {material}", material=material)
    kind, summary, arrived, timeline = _delivery(log, cause, deliveries or {}, transit_min or {})
    if "no delivery found" not in summary:
        out.kind, out.summary, out.first, out.timeline = kind, summary, arrived, timeline
        return out
    out.summary = (
        f"no late transport, replenishment or delivery of {material}: the line used more than "
        f"the loop holds at {point}"
    )
    return out
