"""The payload of every event type in contract v1, and the value lists they draw on.

One validator per type; `PAYLOAD_VALIDATORS` maps the type to it and is the list of record of the
types (`EVENT_TYPES`). `docs/schemas/event.schema.json` states the same rules; the docs-agreement
test checks both with generated documents.

Meaning of the types, by the role that records them:

- machine station: `badge.read` (operator badge in/out), `tool.read` (tooling at the machine),
  `machine.signal` (run/stop, cycle, good and scrap counts), `machine.stop_reason` (a stop-reason
  button), `job.ticket` (a job ticket's tag at start or end of a job step);
- tool-crib gate: `tool.gate` (a tool through the gate, its direction from the order of reads);
- rest zone: `rest.read` (an operator's badge at a rest-zone reader);
- lorry unit: `gps.position`, `gps.fix` (fix gained or lost), `package.read` (a package's tag at
  loading or unloading, with the manifest line it matched, or none);
- every agent: `agent.heartbeat`, `agent.alarm`;
- e-kanban, smart bins and edge rules (`contract.kanban`): `kanban.empty`, `kanban.card`,
  `bin.level`, `rule.fired` from agents, `kanban.loop` (a planner's loop size or safety factor)
  from the cloud;
- the cloud, for a person: `correction` (a forgotten badge-out, a wrong stop reason, missed
  counts), a new fact in the log that names who made it and why;
- the cloud, for the ERP and the planners: the `plan.*` events of `contract.planning` (orders,
  decisions, pins, manual mode), so a restart keeps the planning state;
- the cloud, for suppliers and the line's AGVs (`contract.logistics`): `calloff.issued`,
  `transport.order`, `transport.state`;
- the cloud, for its web interface: `web.request`, the audit of every state-changing request
  (who — the session's user or the token's name —, the route, the outcome);
- the cloud, for a supervisor at the andon board (`contract.andon`): `andon.ack`, an alarm
  acknowledged (who, which alarm; the event's time is when).

`CLOUD_EVENT_TYPES` are the types only the cloud itself records; ingest refuses them from agents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from contract.andon import ANDON_SOURCE, ANDON_VALIDATORS
from contract.errors import UnknownEventType
from contract.fields import (
    ID_RE,
    INSTANCE_RE,
    MAX_SEQ,
    check_keys,
    fail,
    finite,
    integer,
    match,
    number,
    parse_time,
    text,
)
from contract.kanban import KANBAN_CLOUD_TYPES, KANBAN_SOURCE, KANBAN_VALIDATORS
from contract.logistics import LOGISTICS_SOURCE, LOGISTICS_VALIDATORS
from contract.planning import PLANNING_SOURCE, PLANNING_VALIDATORS
from contract.tags import validate_tag_id

__all__ = [
    "AGENT_ALARMS",
    "CLOUD_EVENT_TYPES",
    "CLOUD_SOURCES",
    "CORRECTIONS",
    "EVENT_TYPES",
    "FIX_STATES",
    "GATE_DIRECTIONS",
    "JOB_ACTIONS",
    "MACHINE_SIGNALS",
    "PACKAGE_STAGES",
    "PAYLOAD_VALIDATORS",
    "STOP_REASONS",
    "WEB_METHODS",
    "WEB_ROLES",
    "WEB_VIA",
    "validate_payload",
]

AGENT_ALARMS: Final = (
    "outbox_full",
    "outbox_accepting",
    "publish_refused",
    "reader_lost",
    "reader_restored",
    "gps_lost",
    "gps_restored",
    "node_lost",
    "node_restored",
    "plc_lost",
    "plc_restored",
    "plc_counter_reset",
    "unknown_tag",
    "disk_full",
    "disk_ok",
    "worker_fault",
    "worker_recovered",
    "unconfirmed",
    "gps_time_off",
)
MACHINE_SIGNALS: Final = ("run", "cycle", "good", "scrap")
COUNT_SIGNALS: Final = ("cycle", "good", "scrap")
STOP_REASONS: Final = (
    "changeover",
    "maintenance",
    "breakdown",
    "material_shortage",
    "quality",
    "other",
)
JOB_ACTIONS: Final = ("start", "end")
#: "in": into the crib (returned); "out": out of the crib (issued); "unpaired": one reader only.
GATE_DIRECTIONS: Final = ("in", "out", "unpaired")
#: "none" is the explicit no-fix state (no satellites, or no receiver).
FIX_STATES: Final = ("none", "2d", "3d")
PACKAGE_STAGES: Final = ("load", "unload")
#: What a planner or supervisor may correct by hand (see `_correction_payload`).
CORRECTIONS: Final = (
    "badge_out",
    "stop_reason",
    "tool_location",
    "tool_service",
    "cycles",
    "good",
    "scrap",
    "void",
)
COUNT_CORRECTIONS: Final = ("cycles", "good", "scrap")
MAX_COUNT: Final = 1_000_000
MAX_DETAIL: Final = 1000


def _one_of(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if type(value) is not str or value not in allowed:
        raise fail(where, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _text(value: Any, where: str, limit: int = MAX_DETAIL) -> str:
    return text(value, where, limit)


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


_TAG = _keys("tag")


def _tag_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _TAG, _TAG, where)
    validate_tag_id(payload["tag"])


_RUN, _COUNT = _keys("signal", "on"), _keys("signal", "count")


def _signal_payload(payload: Mapping[str, Any], where: str) -> None:
    # The most frequent payload of all (a cycle count): checked without building anything.
    if payload.keys() == _COUNT:
        count = payload["count"]
        if payload["signal"] == "cycle" and type(count) is int and 1 <= count <= MAX_COUNT:
            return
    signal = payload.get("signal")
    if signal == "run":
        check_keys(payload, _RUN, _RUN, where)
        if type(payload["on"]) is not bool:
            raise fail(f"{where}.on", f"{payload['on']!r} is not a boolean")
    elif type(signal) is str and signal in COUNT_SIGNALS:
        check_keys(payload, _COUNT, _COUNT, where)
        integer(payload["count"], f"{where}.count", 1, MAX_COUNT)
    else:
        raise fail(f"{where}.signal", f"{signal!r} is not one of {', '.join(MACHINE_SIGNALS)}")


_REASON = _keys("reason")


def _stop_reason_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _REASON, _REASON, where)
    _one_of(payload["reason"], STOP_REASONS, f"{where}.reason")


_TICKET = _keys("tag", "action")


def _job_ticket_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _TICKET, _TICKET, where)
    validate_tag_id(payload["tag"])
    _one_of(payload["action"], JOB_ACTIONS, f"{where}.action")


_GATE = _keys("tag", "direction", "readers")


def _gate_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _GATE, _GATE, where)
    validate_tag_id(payload["tag"])
    direction = _one_of(payload["direction"], GATE_DIRECTIONS, f"{where}.direction")
    readers = payload["readers"]
    size = 1 if direction == "unpaired" else 2
    if type(readers) is not list or len(readers) != size:
        raise fail(f"{where}.readers", f"must list the {size} reader(s) in the order they read")
    for index, reader in enumerate(readers):
        match(reader, ID_RE, f"{where}.readers[{index}]")


_POSITION = _keys("lat", "lon", "speed_mps", "heading_deg", "fix", "gps_time")


def _position_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _POSITION, _POSITION, where)
    number(payload["lat"], f"{where}.lat", -90.0, 90.0)
    number(payload["lon"], f"{where}.lon", -180.0, 180.0)
    number(payload["speed_mps"], f"{where}.speed_mps", 0.0, 400.0)
    if payload["heading_deg"] is not None:
        number(payload["heading_deg"], f"{where}.heading_deg", 0.0, 360.0)
    _one_of(payload["fix"], FIX_STATES[1:], f"{where}.fix")
    if payload["gps_time"] is not None:
        parse_time(payload["gps_time"], f"{where}.gps_time")


_FIX = _keys("fix", "detail")


def _fix_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _FIX, _FIX, where)
    _one_of(payload["fix"], FIX_STATES, f"{where}.fix")
    _text(payload["detail"], f"{where}.detail")


_PACKAGE = _keys("tag", "stage", "delivery", "manifest")
_MANIFEST = _keys("material", "order", "quantity")


def _package_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _PACKAGE, _PACKAGE, where)
    validate_tag_id(payload["tag"])
    _one_of(payload["stage"], PACKAGE_STAGES, f"{where}.stage")
    if payload["delivery"] is not None:
        match(payload["delivery"], ID_RE, f"{where}.delivery")
    line = payload["manifest"]
    if line is None:
        return  # a tag the manifest does not list: reported as such, never guessed
    if type(line) is not dict:
        raise fail(f"{where}.manifest", "must be an object or null (tag not in the manifest)")
    check_keys(line, _MANIFEST, _MANIFEST, f"{where}.manifest")
    match(line["material"], ID_RE, f"{where}.manifest.material")
    match(line["order"], ID_RE, f"{where}.manifest.order")
    quantity = line["quantity"]
    if not finite(quantity) or not 0 < quantity <= 1e9:
        raise fail(f"{where}.manifest.quantity", f"{quantity!r} is not a number in (0, 1e9]")


_CORRECTION = _keys("correction", "by", "reason", "at", "station", "tag", "value", "voids")


def _correction_payload(payload: Mapping[str, Any], where: str) -> None:
    """A hand correction, recorded as a new fact: history is never edited.

    `at` is when the corrected fact happened. By kind: `badge_out` (operator `tag` left
    `station`), `stop_reason` (`value` is the reason for the stop at `station` covering `at`),
    `tool_location` (tool `tag` is at `value`: a station id or `crib`), `tool_service` (tool `tag`
    was serviced at `at`: its life counts from zero; `value` null), `cycles`/`good`/`scrap`
    (`value` more counts at `station` that a dead reader or input missed), `void` (the event
    `voids` = [instance, seq] is to be ignored; `value` null).
    """
    check_keys(payload, _CORRECTION, _CORRECTION, where)
    kind = _one_of(payload["correction"], CORRECTIONS, f"{where}.correction")
    by = payload["by"]
    if not isinstance(by, str) or not 1 <= len(by) <= 100:
        raise fail(f"{where}.by", "must name who corrected it (1 to 100 characters)")
    text(by, f"{where}.by", 100, lines=False)
    _text(payload["reason"], f"{where}.reason")
    parse_time(payload["at"], f"{where}.at")
    if payload["station"] is not None:
        match(payload["station"], ID_RE, f"{where}.station")
    if payload["tag"] is not None:
        validate_tag_id(payload["tag"])
    value, voids = payload["value"], payload["voids"]
    if kind == "void":
        if (
            type(voids) is not list
            or len(voids) != 2
            or not isinstance(voids[0], str)
            or not INSTANCE_RE.fullmatch(voids[0])
            or type(voids[1]) is not int
            or not 1 <= voids[1] <= MAX_SEQ
        ):
            raise fail(f"{where}.voids", "must be the [instance, seq] key of the voided event")
    elif voids is not None:
        raise fail(f"{where}.voids", "is only for a void correction; use null")
    if kind == "stop_reason":
        _one_of(value, STOP_REASONS, f"{where}.value")
    elif kind == "tool_location":
        match(value, ID_RE, f"{where}.value")
    elif kind in COUNT_CORRECTIONS:
        integer(value, f"{where}.value", 1, MAX_COUNT)
    elif value is not None:
        raise fail(f"{where}.value", f"must be null for a {kind} correction")


_HEARTBEAT = _keys("uptime_s", "outbox_depth", "outbox_oldest_age_s", "dead_letters")


def _heartbeat_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _HEARTBEAT, _HEARTBEAT, where)
    number(payload["uptime_s"], f"{where}.uptime_s")
    integer(payload["outbox_depth"], f"{where}.outbox_depth")
    if payload["outbox_oldest_age_s"] is not None:
        number(payload["outbox_oldest_age_s"], f"{where}.outbox_oldest_age_s")
    integer(payload["dead_letters"], f"{where}.dead_letters")


_ALARM = _keys("alarm", "detail")


def _alarm_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _ALARM, _ALARM, where)
    _one_of(payload["alarm"], AGENT_ALARMS, f"{where}.alarm")
    _text(payload["detail"], f"{where}.detail")


_WEB_REQUEST = _keys("actor", "role", "via", "token", "method", "route", "status", "address")
#: The roles of the web interface (cloud/auth/roles.py), lowest first.
WEB_ROLES: Final = ("viewer", "supervisor", "planner", "admin")
WEB_VIA: Final = ("session", "token", "anonymous")
WEB_METHODS: Final = ("POST", "PUT", "PATCH", "DELETE")


def _web_request_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _WEB_REQUEST, _WEB_REQUEST, where)
    for key in ("actor", "token", "address"):
        if payload[key] is not None:
            _text(payload[key], f"{where}.{key}", 100)
    if payload["role"] is not None:
        _one_of(payload["role"], WEB_ROLES, f"{where}.role")
    _one_of(payload["via"], WEB_VIA, f"{where}.via")
    _one_of(payload["method"], WEB_METHODS, f"{where}.method")
    _text(payload["route"], f"{where}.route", 200)
    integer(payload["status"], f"{where}.status", 100, 599)


PAYLOAD_VALIDATORS: Final[dict[str, Callable[[Mapping[str, Any], str], None]]] = {
    "badge.read": _tag_payload,
    "tool.read": _tag_payload,
    "machine.signal": _signal_payload,
    "machine.stop_reason": _stop_reason_payload,
    "job.ticket": _job_ticket_payload,
    "tool.gate": _gate_payload,
    "rest.read": _tag_payload,
    "gps.position": _position_payload,
    "gps.fix": _fix_payload,
    "package.read": _package_payload,
    "correction": _correction_payload,
    "agent.heartbeat": _heartbeat_payload,
    "agent.alarm": _alarm_payload,
    **PLANNING_VALIDATORS,
    **KANBAN_VALIDATORS,
    "web.request": _web_request_payload,
    **LOGISTICS_VALIDATORS,
    **ANDON_VALIDATORS,
}
EVENT_TYPES: Final = tuple(PAYLOAD_VALIDATORS)
#: Recorded by the cloud itself, for a person or another system; never accepted from an agent.
CLOUD_EVENT_TYPES: Final = frozenset(
    {
        "correction",
        *PLANNING_VALIDATORS,
        *KANBAN_CLOUD_TYPES,
        "web.request",
        *LOGISTICS_VALIDATORS,
        *ANDON_VALIDATORS,
    }
)
#: The cloud's own recorders' source ids (an agent's device may not take one of these names).
CLOUD_SOURCES: Final = frozenset(
    {
        "cloud-corrections",
        PLANNING_SOURCE,
        KANBAN_SOURCE,
        "cloud-audit",
        LOGISTICS_SOURCE,
        ANDON_SOURCE,
    }
)


def validate_payload(event_type: str, payload: Any, where: str = "payload") -> None:
    """Checks `payload` against the schema of `event_type`; raises a `SchemaViolation`."""
    validator = PAYLOAD_VALIDATORS.get(event_type) if type(event_type) is str else None
    if validator is None:
        raise UnknownEventType(f"type: {event_type!r} is not one of {', '.join(EVENT_TYPES)}")
    if not isinstance(payload, dict):
        raise fail(where, f"{type(payload).__name__} is not an object")
    validator(payload, where)
