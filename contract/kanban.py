"""The e-kanban, smart-bin and edge-rule events: replenishment facts from the floor.

Recorded by agents:

- `kanban.empty`: an empty container's kanban `card` (an RFID tag) was tapped at a line-side
  reader or a supermarket board: the loop must replenish one container;
- `kanban.card`: a card moved on in its loop: `state` is `in_transit` (collected), `at_supplier`
  (or at the supermarket) or `full` (back at the line with a full container);
- `bin.level`: a smart bin's load cell crossed its threshold (`below` true: replenish; false: it
  was refilled). `quantity` is the pieces in the bin, `threshold` the dynamic threshold at that
  moment (consumption rate x lead time x (1 + safety), at least the bin's floor), `rate_per_h`
  the consumption rate it came from;
- `rule.fired`: an edge rule acted on the agent without the cloud; `trigger` says what set it
  off, `actions` what it did (a permissive output, a light, a buzzer, a kanban signal: never a
  safety function).

Recorded by the cloud only (source `cloud-kanban`, agent `cloud`):

- `kanban.loop`: a planner set a loop's size (`cards`, null: unchanged) or safety factor
  (`safety`, null: unchanged), with the `reason`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from contract.fields import ID_RE, check_keys, fail, integer, match, number
from contract.tags import validate_tag_id

__all__ = [
    "CARD_STATES",
    "KANBAN_AGENT_TYPES",
    "KANBAN_CLOUD_TYPES",
    "KANBAN_SOURCE",
    "KANBAN_VALIDATORS",
    "MAX_CARDS",
    "MAX_RULE_ACTIONS",
    "MAX_SAFETY",
]

#: The source id of the cloud's kanban recorder (planner actions on loops).
KANBAN_SOURCE: Final = "cloud-kanban"
#: Where a card is after it left the line empty (`kanban.empty` puts it in state `empty`).
CARD_STATES: Final = ("in_transit", "at_supplier", "full")
MAX_CARDS: Final = 10_000
MAX_SAFETY: Final = 10.0
MAX_QUANTITY: Final = 1e9
MAX_RULE_ACTIONS: Final = 8
MAX_TEXT: Final = 200
MAX_REASON: Final = 1000


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


def _real(value: Any, where: str, high: float) -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(where, f"{value!r} is not a finite number")
    return number(value, where, 0.0, high)


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise fail(where, f"must be a string of at most {limit} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise fail(where, "must not hold control characters")
    return value


_CARD = _keys("card")


def _empty_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _CARD, _CARD, where)
    validate_tag_id(payload["card"])


_MOVE = _keys("card", "state")


def _card_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _MOVE, _MOVE, where)
    validate_tag_id(payload["card"])
    if type(payload["state"]) is not str or payload["state"] not in CARD_STATES:
        raise fail(f"{where}.state", f"{payload['state']!r} is not one of {', '.join(CARD_STATES)}")


_BIN = _keys("bin", "quantity", "threshold", "below", "rate_per_h")


def _bin_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _BIN, _BIN, where)
    match(payload["bin"], ID_RE, f"{where}.bin")
    _real(payload["quantity"], f"{where}.quantity", MAX_QUANTITY)
    _real(payload["threshold"], f"{where}.threshold", MAX_QUANTITY)
    _real(payload["rate_per_h"], f"{where}.rate_per_h", MAX_QUANTITY)
    if type(payload["below"]) is not bool:
        raise fail(f"{where}.below", f"{payload['below']!r} is not a boolean")


_RULE = _keys("rule", "trigger", "actions")


def _rule_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _RULE, _RULE, where)
    match(payload["rule"], ID_RE, f"{where}.rule")
    _text(payload["trigger"], f"{where}.trigger", MAX_TEXT)
    actions = payload["actions"]
    if type(actions) is not list or not 1 <= len(actions) <= MAX_RULE_ACTIONS:
        raise fail(f"{where}.actions", f"must list 1 to {MAX_RULE_ACTIONS} actions")
    for index, action in enumerate(actions):
        _text(action, f"{where}.actions[{index}]", MAX_TEXT)


_LOOP = _keys("loop", "cards", "safety", "by", "reason")


def _loop_payload(payload: Mapping[str, Any], where: str) -> None:
    check_keys(payload, _LOOP, _LOOP, where)
    match(payload["loop"], ID_RE, f"{where}.loop")
    if payload["cards"] is not None:
        integer(payload["cards"], f"{where}.cards", 1, MAX_CARDS)
    if payload["safety"] is not None:
        _real(payload["safety"], f"{where}.safety", MAX_SAFETY)
    if payload["cards"] is None and payload["safety"] is None:
        raise fail(where, "changes nothing: give cards, safety or both")
    by = payload["by"]
    if not isinstance(by, str) or not 1 <= len(by) <= 100:
        raise fail(f"{where}.by", "must name the planner (1 to 100 characters)")
    _text(by, f"{where}.by", 100)
    _text(payload["reason"], f"{where}.reason", MAX_REASON)


KANBAN_VALIDATORS: Final = {
    "kanban.empty": _empty_payload,
    "kanban.card": _card_payload,
    "bin.level": _bin_payload,
    "rule.fired": _rule_payload,
    "kanban.loop": _loop_payload,
}
KANBAN_CLOUD_TYPES: Final = frozenset({"kanban.loop"})
KANBAN_AGENT_TYPES: Final = frozenset(KANBAN_VALIDATORS) - KANBAN_CLOUD_TYPES
