r"""Field rules shared by every contract message: id, time and number patterns and their bounds.

The checks raise `SchemaViolation` with the field's path (`events[3].payload.tag`) and the value,
so a dead-letter record says exactly what was wrong. Messages are built only on failure: ingest
runs these on every event.

The bounds of hostile input are defined here once: integers in [0, 2^63) (sequence numbers from
1), finite numbers only (no NaN, no Infinity), patterns matched whole (`fullmatch`, ASCII only: a
trailing newline or a non-ASCII digit never passes), no NUL or other control character in ids and
enumerations and none but `\n` and `\t` in free text, contract times between 1970 and 2100,
and the plausibility window a corrected time must fall in (`plausibility_problem`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from contract.errors import MalformedMessage, SchemaViolation

__all__ = [
    "BOOT_PATTERN",
    "EARLIEST_TIME",
    "ID_PATTERN",
    "INSTANCE_PATTERN",
    "LATEST_TIME",
    "MAX_SEQ",
    "PLAUSIBLE_AHEAD",
    "PLAUSIBLE_BEHIND",
    "TIME_PATTERN",
    "check_keys",
    "check_time",
    "fail",
    "finite",
    "integer",
    "loads",
    "match",
    "number",
    "parse_time",
    "plausibility_problem",
    "string_field",
    "text",
    "valid_key",
]

MAX_SEQ: Final = 2**63 - 1

ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
INSTANCE_PATTERN: Final = r"^[0-9a-f]{32}$"
BOOT_PATTERN: Final = r"^[0-9A-Za-z-]{1,64}$"
TIME_PATTERN: Final = r"^(19[7-9]\d|20\d{2})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"

# ASCII: `\d` would otherwise match every Unicode digit. Always used with `fullmatch`: `$` alone
# lets a trailing newline through.
ID_RE: Final = re.compile(ID_PATTERN, re.ASCII)
INSTANCE_RE: Final = re.compile(INSTANCE_PATTERN, re.ASCII)
BOOT_RE: Final = re.compile(BOOT_PATTERN, re.ASCII)
TIME_RE: Final = re.compile(TIME_PATTERN, re.ASCII)

#: Every contract time lies in [EARLIEST_TIME, LATEST_TIME): 1970 is a Pi that has not yet set its
#: clock (its events are placed by the monotonic clock), and nothing a plant records is dated 2100.
EARLIEST_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME: Final = datetime(2100, 1, 1, tzinfo=UTC)
#: The plausibility window of the time the cloud files an event under (its corrected time), around
#: the moment the cloud received it: an outbox holds events for days, never for a year, and a
#: device clock a day ahead of the cloud is a fault, not a fact.
PLAUSIBLE_BEHIND: Final = timedelta(days=366)
PLAUSIBLE_AHEAD: Final = timedelta(days=1)
_BEHIND_US: Final = PLAUSIBLE_BEHIND // timedelta(microseconds=1)
_AHEAD_US: Final = PLAUSIBLE_AHEAD // timedelta(microseconds=1)

#: Control characters: none in ids or enumerations; free text keeps only line feeds and tabs.
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ANY_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


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
        raise fail(where, f"{_show(value)} is not an integer in [{low}, {high}]")
    return value


def finite(value: Any) -> bool:
    """Whether `value` is an int or float (not a bool) other than NaN and ±Infinity."""
    return type(value) is int or (type(value) is float and math.isfinite(value))


def number(value: Any, where: str, low: float = 0.0, high: float | None = None) -> float:
    """A finite int or float (not a bool) in [low, high]."""
    if (
        not finite(value)
        or value < low
        or (high is not None and value > high)
        or (type(value) is int and abs(value) > MAX_SEQ)
    ):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise fail(where, f"{_show(value)} is not a finite number {bound}")
    return float(value)


def _show(value: Any) -> str:
    """`repr` bounded: an error message never carries a megabyte of hostile input."""
    if type(value) is int and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def match(value: Any, pattern: re.Pattern[str], where: str) -> str:
    """A string matching `pattern` whole."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise fail(where, f"{_show(value)} does not match {pattern.pattern}")
    return value


def string_field(obj: Mapping[str, Any], name: str, pattern: re.Pattern[str], where: str) -> str:
    """`obj[name]`, a string matching `pattern` whole."""
    value = obj[name]
    if type(value) is not str or not pattern.fullmatch(value):
        raise fail(f"{where}.{name}", f"{_show(value)} does not match {pattern.pattern}")
    return value


def text(value: Any, where: str, limit: int, *, lines: bool = True) -> str:
    r"""Free text of at most `limit` characters: no NUL or control character but `\n` and `\t`.

    With `lines=False` not even those (a name, an enumeration-like label).
    """
    if not isinstance(value, str) or len(value) > limit:
        raise fail(where, f"must be a string of at most {limit} characters")
    bad = (_CONTROL_RE if lines else _ANY_CONTROL_RE).search(value)
    if bad is not None:
        raise fail(where, f"control character {bad.group()!r} at {bad.start()} is not allowed")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


#: JSON as RFC 8259 has it: `NaN`, `Infinity` and `-Infinity` are not numbers.
STRICT_JSON: Final = json.JSONDecoder(parse_constant=_no_constant)


def loads(raw: bytes | str, what: str = "message") -> Any:
    """Decodes JSON from outside, raising only `MalformedMessage`.

    Rejects NaN and Infinity, invalid UTF-8, integers of more digits than Python converts, and
    nesting deeper than the interpreter's recursion limit, each with the reason.
    """
    try:
        textual = raw.decode() if isinstance(raw, bytes) else raw
        return STRICT_JSON.decode(textual)
    except RecursionError as exc:
        raise MalformedMessage(f"{what} is not JSON: nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN, too many digits
        raise MalformedMessage(f"{what} is not JSON: {exc}") from exc


def check_time(value: str) -> bool:
    """Whether `value` is a valid contract timestamp (the fast check; `parse_time` says why not)."""
    if not TIME_RE.fullmatch(value):
        return False
    try:
        moment = datetime.fromisoformat(value[:-1])
    except ValueError:
        return False
    return _EARLIEST_NAIVE <= moment < _LATEST_NAIVE


_EARLIEST_NAIVE: Final = EARLIEST_TIME.replace(tzinfo=None)
_LATEST_NAIVE: Final = LATEST_TIME.replace(tzinfo=None)


def parse_time(value: Any, where: str = "time") -> datetime:
    """Parses the contract's UTC timestamp (`2026-11-23T09:32:19.123456Z`), 1970 to 2099."""
    match(value, TIME_RE, where)
    try:
        moment = datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise fail(where, f"{value!r} is not a valid date and time") from exc
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise fail(where, f"{value!r} is outside [1970-01-01, 2100-01-01)")
    return moment


def valid_key(instance: Any, seq: Any) -> tuple[str, int] | None:
    """`(instance, seq)` when both are within the contract's bounds (1 <= seq < 2^63), else None.

    For every path that takes an event's key from input that failed validation (dead letters,
    settlements of a broken message): such a key is written to the database and sent back, so
    it must fit the columns and the contract even when nothing else in the item does.
    """
    if (
        type(instance) is str
        and INSTANCE_RE.fullmatch(instance)
        and type(seq) is int
        and 1 <= seq <= MAX_SEQ
    ):
        return (instance, seq)
    return None


def plausibility_problem(at_us: int, received_us: int, what: str = "corrected time") -> str | None:
    """Why a time (µs since the epoch) is implausible for an event received at `received_us`.

    None when it lies within [received - PLAUSIBLE_BEHIND, received + PLAUSIBLE_AHEAD].
    """
    if received_us - _BEHIND_US <= at_us <= received_us + _AHEAD_US:
        return None
    try:
        shown = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=at_us)).isoformat()
    except OverflowError:
        shown = f"{at_us} µs from the epoch"
    side = "before" if at_us < received_us else "after"
    limit = PLAUSIBLE_BEHIND if side == "before" else PLAUSIBLE_AHEAD
    return (
        f"implausible {what} {shown}: more than {limit.days} day(s) {side} the time it was received"
    )
