"""The planning events: what the ERP and the planners tell the cloud, as facts in its event log.

The cloud records these itself (source `cloud-planning`, agent `cloud`); no agent may send them.
Folding them in log order gives the planning state a restart must keep (`docs/replan.md`):

- `plan.order`: an order as the intake accepted it. `action` says what it did: `created` (a new
  id), `pending` (a change of a known order waiting for a planner's decision) or `changed` (a
  change applied, with the `decision` `new` — the order is planned afresh, its pins dropped — or
  `adjust` — its pins kept; `by` is whoever decided: a planner or `policy:new` / `policy:adjust`,
  `submitted_by` whoever sent the change);
- `plan.cancel`: an order cancelled (its pending change and pins go with it);
- `plan.pin`: a planner's manual move: `step` of `order` pinned at `start` on `resources`;
- `plan.manual`: manual mode (the backup plan) switched `on` or off by `by`;
- `plan.times`: a planner accepted learned standard times (`docs/status.md`): each entry is the
  seconds per unit the plan takes for `step` of `product` on `station` from now on, or `null` to
  go back to the master data's standard;
- `plan.maintenance`: a planner planned maintenance of machine `resource` from `start` for
  `minutes` (a promoted what-if, an early warning acted on): the plan holds the machine out then;
- `plan.import`: the orders file given at start (`--orders`) was imported, by content `digest`,
  so the next start does not import it again (a changed file is imported as order changes).

`by` is the acting user; `source` says where an order came from (`api`, `file:NAME`,
`orders-file:NAME`). The order object has the fields of `docs/schemas/orders.schema.json`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from contract.fields import ID_RE, check_keys, fail, integer, match, number, parse_time

__all__ = [
    "DECISIONS",
    "MAX_MAINTENANCE_MIN",
    "ORDER_ACTIONS",
    "PLANNING_SOURCE",
    "PLANNING_TYPES",
    "PLANNING_VALIDATORS",
]

#: The source id of the cloud's planning recorder (its events' `source`; `agent` is `cloud`).
PLANNING_SOURCE: Final = "cloud-planning"
ORDER_ACTIONS: Final = ("created", "pending", "changed")
DECISIONS: Final = ("new", "adjust")
MAX_NAME: Final = 100
MAX_QUANTITY: Final = 1_000_000_000
MAX_WEIGHT: Final = 1e6
MAX_STEPS: Final = 1000
MAX_RESOURCES: Final = 64
MAX_TIMES: Final = 1000
MAX_PER_UNIT_S: Final = 1e6

# Names, order ids and sources: printable, no control characters, 1 to MAX_NAME long.
_NAME_RE: Final = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
_DIGEST_RE: Final = re.compile(r"[0-9a-f]{64}")


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise fail(where, f"must be 1 to {MAX_NAME} printable characters")
    return value


def _weight(value: Any, where: str) -> None:
    number(value, where, 0.0, MAX_WEIGHT)
    if value != value:  # NaN passes neither bound in Python's comparisons; say so plainly
        raise fail(where, "is not a number")


_ORDER_REQUIRED = _keys("id", "product", "quantity", "due")
_ORDER_ALLOWED = _ORDER_REQUIRED | _keys(
    "release", "priority", "earliness_weight", "tardiness_weight", "steps", "customer"
)
_STEP_REQUIRED = _keys("due")
_STEP_ALLOWED = _keys("due", "earliness_weight", "tardiness_weight")


def validate_order(order: Any, where: str) -> None:
    """An order object as in `docs/schemas/orders.schema.json` (times in the contract's form)."""
    if type(order) is not dict:
        raise fail(where, "must be an order object")
    check_keys(order, _ORDER_REQUIRED, _ORDER_ALLOWED, where)
    _name(order["id"], f"{where}.id")
    _name(order["product"], f"{where}.product")
    integer(order["quantity"], f"{where}.quantity", 1, MAX_QUANTITY)
    parse_time(order["due"], f"{where}.due")
    if order.get("release") is not None:
        parse_time(order["release"], f"{where}.release")
    if "customer" in order:
        _name(order["customer"], f"{where}.customer")
    if "priority" in order:
        integer(order["priority"], f"{where}.priority", -1_000_000, 1_000_000)
    for key in ("earliness_weight", "tardiness_weight"):
        if key in order:
            _weight(order[key], f"{where}.{key}")
    steps = order.get("steps", {})
    if type(steps) is not dict or len(steps) > MAX_STEPS:
        raise fail(f"{where}.steps", f"must be an object of at most {MAX_STEPS} steps")
    for sid, step in steps.items():
        sp = f"{where}.steps.{sid}"
        _name(sid, sp)
        if type(step) is not dict:
            raise fail(sp, "must be an object")
        check_keys(step, _STEP_REQUIRED, _STEP_ALLOWED, sp)
        parse_time(step["due"], f"{sp}.due")
        for key in ("earliness_weight", "tardiness_weight"):
            if key in step:
                _weight(step[key], f"{sp}.{key}")


_ORDER = _keys("action", "order", "by", "source", "decision", "submitted_by")


def _order_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _ORDER, _ORDER, where)
    action = payload["action"]
    if type(action) is not str or action not in ORDER_ACTIONS:
        raise fail(f"{where}.action", f"{action!r} is not one of {', '.join(ORDER_ACTIONS)}")
    validate_order(payload["order"], f"{where}.order")
    _name(payload["by"], f"{where}.by")
    _name(payload["source"], f"{where}.source")
    decision, submitted = payload["decision"], payload["submitted_by"]
    if action == "changed":
        if type(decision) is not str or decision not in DECISIONS:
            raise fail(f"{where}.decision", f"{decision!r} is not one of {', '.join(DECISIONS)}")
        _name(submitted, f"{where}.submitted_by")
    elif decision is not None or submitted is not None:
        raise fail(where, "decision and submitted_by are only for a changed order; use null")


_CANCEL = _keys("order", "by", "source")


def _cancel_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _CANCEL, _CANCEL, where)
    _name(payload["order"], f"{where}.order")
    _name(payload["by"], f"{where}.by")
    _name(payload["source"], f"{where}.source")


_PIN = _keys("order", "step", "start", "resources", "by")


def _pin_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _PIN, _PIN, where)
    _name(payload["order"], f"{where}.order")
    _name(payload["step"], f"{where}.step")
    parse_time(payload["start"], f"{where}.start")
    resources = payload["resources"]
    if type(resources) is not list or len(resources) > MAX_RESOURCES:
        raise fail(f"{where}.resources", f"must list at most {MAX_RESOURCES} resource ids")
    for index, resource in enumerate(resources):
        match(resource, ID_RE, f"{where}.resources[{index}]")
    _name(payload["by"], f"{where}.by")


_MAINTENANCE = _keys("resource", "start", "minutes", "by")
#: The longest maintenance a planner plans in one go (two weeks).
MAX_MAINTENANCE_MIN: Final = 20_160


def _maintenance_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _MAINTENANCE, _MAINTENANCE, where)
    match(payload["resource"], ID_RE, f"{where}.resource")
    parse_time(payload["start"], f"{where}.start")
    integer(payload["minutes"], f"{where}.minutes", 1, MAX_MAINTENANCE_MIN)
    _name(payload["by"], f"{where}.by")


_MANUAL = _keys("on", "by")


def _manual_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _MANUAL, _MANUAL, where)
    if type(payload["on"]) is not bool:
        raise fail(f"{where}.on", f"{payload['on']!r} is not a boolean")
    _name(payload["by"], f"{where}.by")


_IMPORT = _keys("file", "digest", "orders", "by")


def _import_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _IMPORT, _IMPORT, where)
    _name(payload["file"], f"{where}.file")
    if not isinstance(payload["digest"], str) or not _DIGEST_RE.fullmatch(payload["digest"]):
        raise fail(f"{where}.digest", "must be the file's SHA-256 in lower-case hex")
    integer(payload["orders"], f"{where}.orders", 0, MAX_QUANTITY)
    _name(payload["by"], f"{where}.by")


_TIMES = _keys("times", "by")
_TIME = _keys("product", "step", "station", "per_unit_s")


def _times_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _TIMES, _TIMES, where)
    times = payload["times"]
    if type(times) is not list or not 1 <= len(times) <= MAX_TIMES:
        raise fail(f"{where}.times", f"must list 1 to {MAX_TIMES} accepted times")
    for index, item in enumerate(times):
        tp = f"{where}.times[{index}]"
        if type(item) is not dict:
            raise fail(tp, "must be an object")
        check_keys(item, _TIME, _TIME, tp)
        _name(item["product"], f"{tp}.product")
        _name(item["step"], f"{tp}.step")
        match(item["station"], ID_RE, f"{tp}.station")
        if item["per_unit_s"] is not None:
            number(item["per_unit_s"], f"{tp}.per_unit_s", 0.0, MAX_PER_UNIT_S)
    _name(payload["by"], f"{where}.by")


PLANNING_VALIDATORS: Final = {
    "plan.order": _order_payload,
    "plan.cancel": _cancel_payload,
    "plan.pin": _pin_payload,
    "plan.manual": _manual_payload,
    "plan.import": _import_payload,
    "plan.times": _times_payload,
    "plan.maintenance": _maintenance_payload,
}
PLANNING_TYPES: Final = frozenset(PLANNING_VALIDATORS)
