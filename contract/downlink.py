"""Cloud -> shop floor messages of contract v1: stack-light commands and station schedules.

A `command` goes to one agent's `command` channel (QoS 1, not retained) and names the station it
is for; the agent drives that station's output, or forwards it to the firmware node serving the
station. The cloud sends the current light again whenever an agent comes online, so a restarted
agent never shows a stale light.

A station's schedule is retained on `plan/station/{station}/schedule` under the site: a station (or
anyone, `mosquitto_sub` included) gets the current version at once on subscribing. `version` grows
by one per published change and `changed` names the jobs that are new, moved or gone since the
previous version, so a station can tell its operator what changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from contract.errors import MalformedMessage
from contract.fields import (
    ID_RE,
    check_keys,
    fail,
    integer,
    loads,
    match,
    number,
    parse_time,
)

__all__ = [
    "COMMANDS",
    "LIGHT_COLOURS",
    "GapReport",
    "OperatorSchedule",
    "PlanSnapshot",
    "ScheduledJob",
    "StackLightCommand",
    "StationSchedule",
]

CONTRACT_VERSION: Final = 1
COMMANDS: Final = ("stack_light",)
LIGHT_COLOURS: Final = ("off", "green", "amber", "red")
_COMMAND_ID_RE: Final = re.compile(r"^[0-9A-Za-z-]{1,64}$", re.ASCII)
MAX_JOBS: Final = 10_000


def _decode(raw: bytes, what: str) -> dict[str, Any]:
    obj = loads(raw, what)  # strict: no NaN or Infinity, no crash on depth or digits
    if not isinstance(obj, dict):
        raise MalformedMessage(f"{what} is a JSON {type(obj).__name__}, not an object")
    if obj.get("v") != CONTRACT_VERSION or type(obj.get("v")) is not int:
        raise fail(f"{what}.v", f"{obj.get('v')!r} is not contract version {CONTRACT_VERSION}")
    return obj


def _encode(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


_COMMAND_KEYS = frozenset({"v", "id", "station", "command", "colour", "blink", "time"})


@dataclass(frozen=True, slots=True)
class StackLightCommand:
    """Set a station's stack light: one colour (or off), steady or blinking."""

    id: str
    station: str
    colour: str
    blink: bool
    time: str

    def __post_init__(self) -> None:
        self._check(self.to_dict(), "command")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "v": CONTRACT_VERSION,
            "id": self.id,
            "station": self.station,
            "command": "stack_light",
            "colour": self.colour,
            "blink": self.blink,
            "time": self.time,
        }

    def encode(self) -> bytes:
        """The message body."""
        return _encode(self.to_dict())

    @staticmethod
    def _check(obj: Mapping[str, Any], where: str) -> None:
        check_keys(obj, _COMMAND_KEYS, _COMMAND_KEYS, where)
        match(obj["id"], _COMMAND_ID_RE, f"{where}.id")
        match(obj["station"], ID_RE, f"{where}.station")
        if obj["command"] not in COMMANDS:
            raise fail(f"{where}.command", f"{obj['command']!r} is not one of {COMMANDS}")
        if obj["colour"] not in LIGHT_COLOURS:
            raise fail(f"{where}.colour", f"{obj['colour']!r} is not one of {LIGHT_COLOURS}")
        if type(obj["blink"]) is not bool:
            raise fail(f"{where}.blink", f"{obj['blink']!r} is not a boolean")
        parse_time(obj["time"], f"{where}.time")

    @classmethod
    def decode(cls, raw: bytes) -> StackLightCommand:
        """Parses and validates a command message."""
        obj = _decode(raw, "command")
        if type(obj.get("command")) is not str or obj.get("command") not in COMMANDS:
            raise fail("command.command", f"{obj.get('command')!r} is not one of {COMMANDS}")
        cls._check(obj, "command")
        return cls(obj["id"], obj["station"], obj["colour"], obj["blink"], obj["time"])


_JOB_REQUIRED = frozenset({"order", "step", "start", "end"})
_JOB_ALLOWED = _JOB_REQUIRED | {"product", "quantity", "operators", "tools"}


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """One job step planned on a station."""

    order: str
    step: str
    start: str
    end: str
    product: str | None = None
    quantity: float | None = None
    operators: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """`order/step`: how `changed` names a job."""
        return f"{self.order}/{self.step}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (optional fields only when known)."""
        out: dict[str, Any] = {
            "order": self.order,
            "step": self.step,
            "start": self.start,
            "end": self.end,
        }
        if self.product is not None:
            out["product"] = self.product
        if self.quantity is not None:
            out["quantity"] = self.quantity
        if self.operators:
            out["operators"] = list(self.operators)
        if self.tools:
            out["tools"] = list(self.tools)
        return out

    @classmethod
    def parse(cls, obj: Any, where: str) -> ScheduledJob:
        """Validates one job of a schedule message."""
        if not isinstance(obj, dict):
            raise fail(where, "is not an object")
        check_keys(obj, _JOB_REQUIRED, _JOB_ALLOWED, where)
        if parse_time(obj["end"], f"{where}.end") < parse_time(obj["start"], f"{where}.start"):
            raise fail(where, f"ends ({obj['end']}) before it starts ({obj['start']})")
        lists = {}
        for name in ("operators", "tools"):
            items = obj.get(name, [])
            if not isinstance(items, list):
                raise fail(f"{where}.{name}", "is not a list")
            lists[name] = tuple(match(x, ID_RE, f"{where}.{name}") for x in items)
        quantity = obj.get("quantity")
        return cls(
            order=match(obj["order"], ID_RE, f"{where}.order"),
            step=match(obj["step"], ID_RE, f"{where}.step"),
            start=obj["start"],
            end=obj["end"],
            product=None if "product" not in obj else match(obj["product"], ID_RE, where),
            quantity=None if quantity is None else number(quantity, f"{where}.quantity"),
            operators=lists["operators"],
            tools=lists["tools"],
        )


def _schedule_body(owner: str, value: str, schedule: Any) -> dict[str, Any]:
    """The JSON form shared by station and operator schedules (`owner`: the key naming whose)."""
    return {
        "v": CONTRACT_VERSION,
        "site": schedule.site,
        owner: value,
        "version": schedule.version,
        "generated": schedule.generated,
        "jobs": [job.to_dict() for job in schedule.jobs],
        "changed": list(schedule.changed),
    }


def _schedule_fields(obj: dict[str, Any], owner: str, where: str) -> dict[str, Any]:
    """Validates a station or operator schedule; returns its fields (`owner` names whose)."""
    keys = frozenset({"v", "site", owner, "version", "generated", "jobs", "changed"})
    check_keys(obj, keys, keys, where)
    parse_time(obj["generated"], f"{where}.generated")
    jobs, changed = obj["jobs"], obj["changed"]
    if not isinstance(jobs, list) or len(jobs) > MAX_JOBS:
        raise fail(f"{where}.jobs", f"must be a list of at most {MAX_JOBS} jobs")
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise fail(f"{where}.changed", "must be a list of order/step keys")
    return {
        "site": match(obj["site"], ID_RE, f"{where}.site"),
        owner: match(obj[owner], ID_RE, f"{where}.{owner}"),
        "version": integer(obj["version"], f"{where}.version", 1),
        "generated": obj["generated"],
        "jobs": tuple(ScheduledJob.parse(j, f"{where}.jobs[{i}]") for i, j in enumerate(jobs)),
        "changed": tuple(changed),
    }


@dataclass(frozen=True, slots=True)
class StationSchedule:
    """The retained plan of one station: its jobs in start order, versioned."""

    site: str
    station: str
    version: int
    generated: str
    jobs: tuple[ScheduledJob, ...] = field(default_factory=tuple)
    changed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return _schedule_body("station", self.station, self)

    def encode(self) -> bytes:
        """The message body."""
        return _encode(self.to_dict())

    def next_jobs(self, now: str, count: int = 3) -> list[ScheduledJob]:
        """The jobs not yet ended at `now` (UTC contract time), first `count` of them."""
        moment = parse_time(now)
        return [job for job in self.jobs if parse_time(job.end) > moment][:count]

    @classmethod
    def decode(cls, raw: bytes) -> StationSchedule:
        """Parses and validates a station schedule message."""
        return cls(**_schedule_fields(_decode(raw, "schedule"), "station", "schedule"))


@dataclass(frozen=True, slots=True)
class OperatorSchedule:
    """The retained plan of one operator: the job steps they are planned on, versioned.

    Retained on `plan/operator/{operator}/schedule`; `version` and `changed` work as for a
    station's schedule.
    """

    site: str
    operator: str
    version: int
    generated: str
    jobs: tuple[ScheduledJob, ...] = field(default_factory=tuple)
    changed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return _schedule_body("operator", self.operator, self)

    def encode(self) -> bytes:
        """The message body."""
        return _encode(self.to_dict())

    @classmethod
    def decode(cls, raw: bytes) -> OperatorSchedule:
        """Parses and validates an operator schedule message."""
        obj = _decode(raw, "operator_schedule")
        return cls(**_schedule_fields(obj, "operator", "operator_schedule"))


_PLAN_KEYS = frozenset({"v", "site", "version", "generated", "plan"})
_GAPS_KEYS = frozenset({"v", "site", "version", "generated", "digest", "gaps", "orders"})


@dataclass(frozen=True, slots=True)
class PlanSnapshot:
    """The whole current plan for planners (the schedule document), retained and versioned.

    `plan` follows `docs/schemas/schedule.schema.json` (what `taktline plan --out` writes).
    """

    site: str
    version: int
    generated: str
    plan: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "v": CONTRACT_VERSION,
            "site": self.site,
            "version": self.version,
            "generated": self.generated,
            "plan": dict(self.plan),
        }

    def encode(self) -> bytes:
        """The message body."""
        return _encode(self.to_dict())

    @classmethod
    def decode(cls, raw: bytes) -> PlanSnapshot:
        """Parses and validates a plan message (the schedule document is checked by its schema)."""
        obj = _decode(raw, "plan")
        check_keys(obj, _PLAN_KEYS, _PLAN_KEYS, "plan")
        parse_time(obj["generated"], "plan.generated")
        if not isinstance(obj["plan"], dict):
            raise fail("plan.plan", "is not an object")
        return cls(
            site=match(obj["site"], ID_RE, "plan.site"),
            version=integer(obj["version"], "plan.version", 1),
            generated=obj["generated"],
            plan=obj["plan"],
        )


@dataclass(frozen=True, slots=True)
class GapReport:
    """The resource check's gap report for planners, retained and versioned.

    `gaps`: per resource group and run of time, how many members are short and which orders it
    makes early or late by how many minutes; `orders`: every order that ends early or late.
    `digest` is the SHA-256 of the canonical report (without `version` and `generated`): equal
    digests, equal reports.
    """

    site: str
    version: int
    generated: str
    digest: str
    gaps: tuple[Mapping[str, Any], ...] = ()
    orders: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "v": CONTRACT_VERSION,
            "site": self.site,
            "version": self.version,
            "generated": self.generated,
            "digest": self.digest,
            "gaps": [dict(g) for g in self.gaps],
            "orders": [dict(o) for o in self.orders],
        }

    def encode(self) -> bytes:
        """The message body."""
        return _encode(self.to_dict())

    @classmethod
    def decode(cls, raw: bytes) -> GapReport:
        """Parses and validates a gap report message."""
        obj = _decode(raw, "gaps")
        check_keys(obj, _GAPS_KEYS, _GAPS_KEYS, "gaps")
        parse_time(obj["generated"], "gaps.generated")
        for name in ("gaps", "orders"):
            items = obj[name]
            if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
                raise fail(f"gaps.{name}", "must be a list of objects")
        if not isinstance(obj["digest"], str) or len(obj["digest"]) != 64:
            raise fail("gaps.digest", f"{obj['digest']!r} is not a SHA-256 hex digest")
        return cls(
            site=match(obj["site"], ID_RE, "gaps.site"),
            version=integer(obj["version"], "gaps.version", 1),
            generated=obj["generated"],
            digest=obj["digest"],
            gaps=tuple(obj["gaps"]),
            orders=tuple(obj["orders"]),
        )
