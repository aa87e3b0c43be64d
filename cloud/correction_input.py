"""What a person types into a correction, checked in words before the contract sees it.

The contract (`contract.payloads`) is the last word on a `correction` event, but its messages
are for programs (a regular expression for a bad time, "1 to 1000 characters" for a missing
reason). This module sits in front of it for people: it says what is missing or wrong in plain
words, turns a wall-clock time in the plant's time zone (or any ISO time with an offset) into
the contract's UTC, and lists the choices a correction form offers (`choices`): the kinds, the
plant's stations, operators by name, machines, tools and stop reasons. Whether a named station,
badge or tool exists is checked by `cloud.corrections` against the same master data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from cloud.status import ResourceStatus
from contract.payloads import CORRECTIONS, COUNT_CORRECTIONS, MAX_COUNT, MAX_DETAIL, STOP_REASONS

__all__ = ["KINDS", "InputRefused", "check_words", "choices", "plant_zone", "read_time"]

#: Each kind in words, and what it needs besides a reason.
KINDS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "badge_out": ("forgotten badge-out (an operator left a station)", ("station", "tag")),
    "stop_reason": ("wrong or missing stop reason", ("station", "value")),
    "tool_location": ("where a tool really is", ("tag", "value")),
    "tool_service": ("a tool was serviced", ("tag",)),
    "cycles": ("machine cycles a reader missed", ("station", "value")),
    "good": ("good parts a reader missed", ("station", "value")),
    "scrap": ("scrap parts a reader missed", ("station", "value")),
    "void": ("ignore a wrong event", ("voids",)),
}
_NEEDS_IN_WORDS: Final = {
    ("badge_out", "station"): "the station the operator left",
    ("badge_out", "tag"): "the operator",
    ("stop_reason", "station"): "the station that stopped",
    ("stop_reason", "value"): "the stop reason",
    ("tool_location", "tag"): "the tool",
    ("tool_location", "value"): "where the tool is (a station or the tool crib)",
    ("tool_service", "tag"): "the serviced tool",
    ("void", "voids"): "the event to ignore (its source instance and number)",
}
_TIME_EXAMPLE: Final = "2026-12-06 14:30"


class InputRefused(ValueError):
    """A correction as typed cannot be recorded; the message says why in words."""


def plant_zone(status: ResourceStatus) -> ZoneInfo:
    """The plant model's time zone (UTC without a plant model)."""
    plant = status.master.plant
    return plant.tz if plant is not None else ZoneInfo("UTC")


def read_time(value: Any, zone: ZoneInfo) -> datetime:
    """A moment from ISO text: with an offset as given, without one in the plant's `zone`.

    Raises:
        InputRefused: the text is not a date and time, or not within 1970 to 2099.
    """
    zone_name = str(zone)
    hint = (
        f"enter a date and time such as {_TIME_EXAMPLE} (plant time, {zone_name}) "
        "or ISO 8601 with an offset"
    )
    if not isinstance(value, str) or not value.strip():
        raise InputRefused(f"the time is empty: {hint}")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise InputRefused(f"{value!r} is not a date and time: {hint}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    moment = moment.astimezone(UTC)
    if not 1970 <= moment.year < 2100:
        raise InputRefused(f"{value!r} is not between the years 1970 and 2099")
    return moment


def check_words(fields: Mapping[str, Any]) -> None:
    """Refuses, in words, a correction that lacks what its kind needs or has a wrong value.

    Raises:
        InputRefused: the first thing wrong, said for a person.
    """
    kind = fields.get("correction")
    if kind not in CORRECTIONS:
        listed = "; ".join(f"{k} ({words})" for k, (words, _) in KINDS.items())
        shown = "nothing" if kind in (None, "") else repr(kind)
        raise InputRefused(f"choose what to correct ({shown} is not a kind): {listed}")
    reason = fields.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InputRefused("say why you make this correction: the reason is empty")
    if len(reason) > MAX_DETAIL:
        raise InputRefused(f"the reason is {len(reason)} characters long; keep it to {MAX_DETAIL}")
    _, needs = KINDS[kind]
    for key in needs:
        if fields.get(key) in (None, ""):
            words = _NEEDS_IN_WORDS.get((kind, key), "a count" if key == "value" else key)
            raise InputRefused(f"a {KINDS[kind][0]} correction needs {words}")
    value = fields.get("value")
    if kind == "stop_reason" and value not in STOP_REASONS:
        raise InputRefused(
            f"{value!r} is not a stop reason; choose one of {', '.join(STOP_REASONS)}"
        )
    if kind in COUNT_CORRECTIONS and (type(value) is not int or not 1 <= value <= MAX_COUNT):
        raise InputRefused(
            f"the count must be a whole number from 1 to {MAX_COUNT:,}, not {value!r}"
        )
    if kind not in ("stop_reason", "tool_location", *COUNT_CORRECTIONS) and value is not None:
        raise InputRefused(f"a {KINDS[kind][0]} correction takes no value (got {value!r})")


def choices(status: ResourceStatus) -> dict[str, Any]:
    """The pick lists of a correction form, from the plant model and what events named.

    Stations are the plant's machines and every station an event named; operators are listed by
    name with their badge (the value the form sends); tools by name with their tag.
    """
    master = status.master
    seen = set(status.station_names())
    machines = [
        {"station": station, "name": resource.name or resource.id}
        for station, resource in sorted(master.machines.items())
    ]
    named = {m["station"] for m in machines}
    stations = machines + [{"station": s, "name": s} for s in sorted(seen - named)]
    operators: list[dict[str, str]] = []
    tools: list[dict[str, str]] = []
    for tag, entry in sorted(master.tags.items()):
        resource = master.resources.get(entry.ref)
        name = (resource.name or resource.id) if resource is not None else entry.ref
        if entry.kind == "badge":
            operators.append({"tag": tag, "name": name, "operator": entry.ref})
        elif entry.kind == "tool":
            tools.append({"tag": tag, "name": name, "tool": entry.ref})
    operators.sort(key=lambda o: o["name"])
    tools.sort(key=lambda t: t["name"])
    return {
        "kinds": [
            {"kind": kind, "label": words, "needs": list(needs)}
            for kind, (words, needs) in KINDS.items()
        ],
        "stations": stations,
        "machines": machines,
        "operators": operators,
        "tools": tools,
        "places": [
            {"place": "crib", "name": "tool crib"},
            *({"place": s["station"], "name": s["name"]} for s in stations),
        ],
        "stop_reasons": list(STOP_REASONS),
        "timezone": str(plant_zone(status)),
    }
