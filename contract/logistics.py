"""The logistics events and topics: call-offs to suppliers and AMR/AGV transports to the line.

Recorded by the cloud only (source `cloud-logistics`, agent `cloud`), because it decides them:

- `calloff.issued`: a new version of one supplier's call-off (`docs/calloffs.md`): its `lines`
  (per material and point of use, the quantity to deliver in a window, each with the promised
  ship time `ship_by` a lorry is matched against), for just-in-sequence materials the
  `sequence` of orders at the line, the `digest` of both (a new version only when it changes)
  and what `changes` from the version before;
- `transport.order`: a VDA 5050 order sent to an AGV (`transport` is its `orderId`) to bring a
  bin of `material` from `pick` to `drop` by `due`, for a kanban signal or a planned step;
- `transport.state`: what the AGV's `state` messages say of it — `accepted`, `driving`, `done`,
  `failed` — or `late` (not done `late_after_min` after it was due), with a `detail`.

Topics outside the agents' namespace: `calloff_topic` (retained, one per supplier) and the VDA
5050 v2 topics `uagv/v2/{manufacturer}/{serialNumber}/{order|state|connection}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from contract.fields import ID_RE, check_keys, fail, integer, match, number, parse_time, text

__all__ = [
    "LOGISTICS_SOURCE",
    "LOGISTICS_TYPES",
    "LOGISTICS_VALIDATORS",
    "MAX_CALLOFF_LINES",
    "MAX_CHANGES",
    "TRANSPORT_REASONS",
    "TRANSPORT_STATES",
    "VDA5050_TOPICS",
    "calloff_topic",
    "vda5050_topic",
]

#: The source id of the cloud's logistics recorder.
LOGISTICS_SOURCE: Final = "cloud-logistics"
TRANSPORT_STATES: Final = ("accepted", "driving", "done", "failed", "late")
TRANSPORT_REASONS: Final = ("kanban", "plan")
MAX_CALLOFF_LINES: Final = 1000
MAX_CHANGES: Final = 100
MAX_QUANTITY: Final = 1e9
#: VDA 5050 topics by name -> (direction seen from the cloud, retained, QoS as the spec asks).
VDA5050_TOPICS: Final = {
    "order": ("publish", False, 0),
    "state": ("subscribe", False, 0),
    "connection": ("subscribe", True, 1),
}

_NAME_RE: Final = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
_DIGEST_RE: Final = re.compile(r"[0-9a-f]{64}")
_SEGMENT_RE: Final = ID_RE


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise fail(where, "must be 1 to 100 printable characters")
    return value


def _list(value: Any, where: str, limit: int) -> list[Any]:
    if type(value) is not list or len(value) > limit:
        raise fail(where, f"must be a list of at most {limit} items")
    return value


_LINE = _keys("material", "point_of_use", "start", "end", "quantity", "ship_by")
_STEP = _keys("material", "point_of_use", "seq", "order", "step", "needed", "quantity")
_CALLOFF = _keys("supplier", "version", "digest", "ship_by", "lines", "sequence", "changes")


def _calloff_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _CALLOFF, _CALLOFF, where)
    match(payload["supplier"], ID_RE, f"{where}.supplier")
    integer(payload["version"], f"{where}.version", 1, 2**31 - 1)
    if not isinstance(payload["digest"], str) or not _DIGEST_RE.fullmatch(payload["digest"]):
        raise fail(f"{where}.digest", "must be a SHA-256 in lower-case hex")
    if payload["ship_by"] is not None:
        parse_time(payload["ship_by"], f"{where}.ship_by")
    for index, line in enumerate(_list(payload["lines"], f"{where}.lines", MAX_CALLOFF_LINES)):
        lp = f"{where}.lines[{index}]"
        if type(line) is not dict:
            raise fail(lp, "must be an object")
        check_keys(line, _LINE, _LINE, lp)
        _name(line["material"], f"{lp}.material")
        _name(line["point_of_use"], f"{lp}.point_of_use")
        for key in ("start", "end", "ship_by"):
            parse_time(line[key], f"{lp}.{key}")
        number(line["quantity"], f"{lp}.quantity", 0.0, MAX_QUANTITY)
    sequence = _list(payload["sequence"], f"{where}.sequence", MAX_CALLOFF_LINES)
    for index, item in enumerate(sequence):
        sp = f"{where}.sequence[{index}]"
        if type(item) is not dict:
            raise fail(sp, "must be an object")
        check_keys(item, _STEP, _STEP, sp)
        for key in ("material", "point_of_use", "order", "step"):
            _name(item[key], f"{sp}.{key}")
        integer(item["seq"], f"{sp}.seq", 1, MAX_CALLOFF_LINES)
        parse_time(item["needed"], f"{sp}.needed")
        number(item["quantity"], f"{sp}.quantity", 0.0, MAX_QUANTITY)
    for index, change in enumerate(_list(payload["changes"], f"{where}.changes", MAX_CHANGES)):
        text(change, f"{where}.changes[{index}]", 200, lines=False)


_ORDER = _keys(
    "transport", "manufacturer", "serial", "material", "pick", "drop", "quantity", "reason",
    "order", "step", "due",
)  # fmt: skip


def _order_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _ORDER, _ORDER, where)
    for key in ("transport", "manufacturer", "serial"):
        match(payload[key], _SEGMENT_RE, f"{where}.{key}")
    for key in ("material", "pick", "drop"):
        _name(payload[key], f"{where}.{key}")
    number(payload["quantity"], f"{where}.quantity", 0.0, MAX_QUANTITY)
    reason = payload["reason"]
    if type(reason) is not str or reason not in TRANSPORT_REASONS:
        raise fail(f"{where}.reason", f"{reason!r} is not one of {', '.join(TRANSPORT_REASONS)}")
    for key in ("order", "step"):
        if payload[key] is not None:
            _name(payload[key], f"{where}.{key}")
    parse_time(payload["due"], f"{where}.due")


_STATE = _keys("transport", "state", "detail")


def _state_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _STATE, _STATE, where)
    match(payload["transport"], _SEGMENT_RE, f"{where}.transport")
    state = payload["state"]
    if type(state) is not str or state not in TRANSPORT_STATES:
        raise fail(f"{where}.state", f"{state!r} is not one of {', '.join(TRANSPORT_STATES)}")
    text(payload["detail"], f"{where}.detail", 200, lines=False)


LOGISTICS_VALIDATORS: Final = {
    "calloff.issued": _calloff_payload,
    "transport.order": _order_payload,
    "transport.state": _state_payload,
}
LOGISTICS_TYPES: Final = frozenset(LOGISTICS_VALIDATORS)


def calloff_topic(site: str, supplier: str) -> str:
    """The retained call-off of one supplier: seven levels, like the plan's topics."""
    for name, value in (("site", site), ("supplier", supplier)):
        if not _SEGMENT_RE.fullmatch(value):
            raise ValueError(f"{name} {value!r} is not a valid topic segment")
    return f"taktline/v1/{site}/logistics/supplier/{supplier}/calloff"


def vda5050_topic(manufacturer: str, serial: str, topic: str) -> str:
    """`uagv/v2/{manufacturer}/{serialNumber}/{topic}` (VDA 5050 v2, section 6.5)."""
    if topic not in VDA5050_TOPICS:
        raise ValueError(f"unknown VDA 5050 topic {topic!r}; known: {', '.join(VDA5050_TOPICS)}")
    for name, value in (("manufacturer", manufacturer), ("serial", serial)):
        if not _SEGMENT_RE.fullmatch(value):
            raise ValueError(f"{name} {value!r} is not a valid topic segment")
    return f"uagv/v2/{manufacturer}/{serial}/{topic}"
