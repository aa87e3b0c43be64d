"""Field rules shared by every contract message: id, time and number patterns and their checks.

The checks raise `SchemaViolation` with the field's path (`events[3].payload.tag`) and the value,
so a dead-letter record says exactly what was wrong. Messages are built only on failure: ingest
runs these on every event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from contract.errors import SchemaViolation

__all__ = [
    "BOOT_PATTERN",
    "ID_PATTERN",
    "INSTANCE_PATTERN",
    "MAX_SEQ",
    "TIME_PATTERN",
    "check_keys",
    "check_time",
    "fail",
    "integer",
    "match",
    "number",
    "parse_time",
    "string_field",
]

MAX_SEQ: Final = 2**63 - 1

ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
INSTANCE_PATTERN: Final = r"^[0-9a-f]{32}$"
BOOT_PATTERN: Final = r"^[0-9A-Za-z-]{1,64}$"
TIME_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"

ID_RE: Final = re.compile(ID_PATTERN)
INSTANCE_RE: Final = re.compile(INSTANCE_PATTERN)
BOOT_RE: Final = re.compile(BOOT_PATTERN)
TIME_RE: Final = re.compile(TIME_PATTERN)


def fail(where: str, message: str) -> SchemaViolation:
    """The violation to raise for the field at `where`."""
    return SchemaViolation(f"{where}: {message}")


def check_keys(
    obj: Mapping[str, Any], required: frozenset[str], allowed: frozenset[str], where: str
) -> None:
    """Raises unless `obj` has every required key and no key outside `allowed`."""
    keys = obj.keys()
    missing = required - keys
    if missing:
        raise fail(where, f"missing {', '.join(sorted(missing))}")
    extra = keys - allowed
    if extra:
        raise fail(where, f"unexpected {', '.join(sorted(extra))}")


def integer(value: Any, where: str, low: int = 0, high: int = MAX_SEQ) -> int:
    """An int (not a bool, not a float) in [low, high]."""
    if type(value) is not int or not low <= value <= high:
        raise fail(where, f"{value!r} is not an integer in [{low}, {high}]")
    return value


def number(value: Any, where: str, low: float = 0.0, high: float | None = None) -> float:
    """An int or float (not a bool) in [low, high]."""
    if type(value) not in (int, float) or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise fail(where, f"{value!r} is not a number {bound}")
    return float(value)


def match(value: Any, pattern: re.Pattern[str], where: str) -> str:
    """A string matching `pattern`."""
    if not isinstance(value, str) or not pattern.match(value):
        raise fail(where, f"{value!r} does not match {pattern.pattern}")
    return value


def string_field(obj: Mapping[str, Any], name: str, pattern: re.Pattern[str], where: str) -> str:
    """`obj[name]`, a string matching `pattern`."""
    value = obj[name]
    if type(value) is not str or not pattern.match(value):
        raise fail(f"{where}.{name}", f"{value!r} does not match {pattern.pattern}")
    return value


def check_time(value: str) -> bool:
    """Whether `value` is a valid contract timestamp (the fast check; `parse_time` says why not)."""
    if not TIME_RE.match(value):
        return False
    try:
        datetime.fromisoformat(value[:-1])
    except ValueError:
        return False
    return True


def parse_time(value: Any, where: str = "time") -> datetime:
    """Parses the contract's UTC timestamp (`2026-11-23T09:32:19.123456Z`)."""
    match(value, TIME_RE, where)
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise fail(where, f"{value!r} is not a valid date and time") from exc
