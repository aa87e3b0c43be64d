"""The plant model: master data the scheduler plans on and the status pages show.

Machines, tools and operators are individual resources, each with a calendar; resource groups
name the alternatives a step may use (listed members, or every resource of a kind with a skill);
products have processes of ordered steps with standard times (set-up plus per unit), the groups
each step holds and when it holds them relative to the step's start, materials and transfer
times. Calendars (shifts, breaks, holidays, maintenance) are in the plant's local time zone;
everything else is UTC. Orders are a separate document. Both load from JSON (documented by
`docs/schemas/plant.schema.json` and `orders.schema.json`); validation collects every problem
with the path of the offending item before raising `PlantInvalid`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.errors import CloudError
from cloud.plant_tooling import Tooling, parse_tooling
from contract.errors import ContractError, InvalidTagId
from contract.fields import EARLIEST_TIME, LATEST_TIME, loads
from contract.tags import validate_tag_id

__all__ = [
    "DAYS",
    "MAX_HORIZON_DAYS",
    "MAX_IMPROVE_ITERATIONS",
    "MAX_IMPROVE_SECONDS",
    "MAX_MINUTES",
    "MAX_ORDERS_PER_BATCH",
    "MAX_QUANTITY",
    "Agv",
    "Calendar",
    "Group",
    "Hold",
    "KanbanLoop",
    "Leave",
    "Logistics",
    "Material",
    "Order",
    "OrderBatchTooLarge",
    "Plant",
    "PlantInvalid",
    "Product",
    "Resource",
    "Step",
    "StepDue",
    "Supplier",
    "TagEntry",
    "Tooling",
    "Transport",
    "WeeklyWindow",
    "Window",
    "load_orders",
    "load_plant",
    "order_to_json",
    "parse_orders",
    "parse_plant",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("machine", "tool", "operator")
TAG_KINDS = ("badge", "tool", "ticket")
_CLOCK = re.compile(r"([01]\d|2[0-4]):([0-5]\d)", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
T = TypeVar("T")

# --- bounds: what no plant can mean is refused with the path of the value ----------------------
#: The planning horizon by default (`planning.horizon_days`): due dates, releases and closures
#: further than this from now are refused, and the planner never plans past it.
HORIZON_DAYS = 366
MAX_HORIZON_DAYS = 3660
#: A step's standard times, transfers and holding windows, in minutes (about 2 years).
MAX_MINUTES = 1_000_000.0
#: An order's quantity.
MAX_QUANTITY = 10_000_000
#: The planner's improvement budget per plan (`planning.improve_seconds`, `improve_iterations`).
MAX_IMPROVE_SECONDS = 600.0
MAX_IMPROVE_ITERATIONS = 10_000_000
#: Weights and priorities.
MAX_WEIGHT = 1_000_000.0
#: Orders in one file or REST body; a larger batch is refused whole (HTTP 413).
MAX_ORDERS_PER_BATCH = 5_000


class PlantInvalid(CloudError, ValueError):
    """Plant or orders break the schema; `errors` lists every problem with its item's path."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        shown = "; ".join(self.errors[:10])
        more = f" (and {len(self.errors) - 10} more)" if len(self.errors) > 10 else ""
        super().__init__(f"{len(self.errors)} error(s): {shown}{more}")


class OrderBatchTooLarge(PlantInvalid):
    """More orders in one batch than `MAX_ORDERS_PER_BATCH`: refused whole, nothing read."""

    def __init__(self, count: int, limit: int = MAX_ORDERS_PER_BATCH) -> None:
        self.count, self.limit = count, limit
        super().__init__([f"orders: {count} orders in one batch, more than the limit of {limit}"])


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring window on some weekdays, local wall-clock times (end <= start: next day)."""

    days: tuple[str, ...]
    start: time
    end: time


@dataclass(frozen=True)
class Window:
    """A one-off window: maintenance, a breakdown, a closure."""

    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True)
class Calendar:
    """When resources on this calendar can work, in the plant's local time."""

    id: str
    shifts: tuple[WeeklyWindow, ...]
    breaks: tuple[WeeklyWindow, ...] = ()
    holidays: tuple[date, ...] = ()
    closures: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Resource:
    """One machine, tool or operator."""

    id: str
    kind: str
    calendar: str
    skills: tuple[str, ...] = ()
    name: str = ""
    unavailable: tuple[Window, ...] = ()
    #: status monitoring: the station id a machine's events carry (default: the resource id)
    station: str = ""
    #: status monitoring: an operator's badge or a tool's tag (also in the tag directory)
    tag: str = ""
    #: a tool's type, e.g. "crimp_applicator" (shared tooling)
    tool_type: str = ""
    #: a machine: an operator needs one of these skills to run it (none: anyone may)
    operator_skills: tuple[str, ...] = ()
    #: a tool: its service limits, machine cycles and hours on a machine since the last
    #: service (`docs/status.md`); past either it is not planned until a service is recorded
    service_cycles: int | None = None
    service_hours: float | None = None


@dataclass(frozen=True)
class Group:
    """Alternatives a step may use: listed members, or every resource of `kind` with `skill`."""

    id: str
    kind: str
    members: tuple[str, ...]
    #: the skill that chose the members (empty: listed members)
    skill: str = ""


@dataclass(frozen=True)
class Material:
    """A material and when it is ready at the line (UTC)."""

    id: str
    ready: datetime | None = None
    supplier: str = ""
    #: when the line needs it (UTC): a delivery ready later than this is flagged late
    needed: datetime | None = None
    #: just in sequence: the supplier delivers in the order the line uses it (`docs/calloffs.md`)
    jis: bool = False
    #: where the line uses it (a station, a rack); empty: at the station of the step using it
    point_of_use: str = ""
    #: how much of it one unit of product uses
    per_unit: float = 1.0


@dataclass(frozen=True)
class Hold:
    """A group held by a step from `start_min` to `end_min` after the step's start (None: end)."""

    group: str
    start_min: float = 0.0
    end_min: float | None = None


@dataclass(frozen=True)
class Step:
    """One step of a process."""

    id: str
    setup_min: float
    per_unit_min: float
    holds: tuple[Hold, ...]
    materials: tuple[str, ...] = ()
    transfer_min: float = 0.0
    spans_breaks: bool = False

    def minutes(self, quantity: int) -> float:
        """Standard time for `quantity` units."""
        return self.setup_min + self.per_unit_min * quantity


@dataclass(frozen=True)
class Product:
    """A product and its process (ordered steps)."""

    id: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class TagEntry:
    """What a tag is: an operator's badge, a tool, or a job ticket (an order's step)."""

    tag: str
    kind: str
    ref: str
    step: str = ""
    product: str = ""
    quantity: int = 0


@dataclass(frozen=True)
class Leave:
    """An operator's leave (holiday, sickness, training), UTC."""

    operator: str
    start: datetime
    end: datetime
    kind: str = "leave"


@dataclass(frozen=True)
class Supplier:
    """A supplier, its lorries (agent ids) and its own mean handling times, if any."""

    id: str
    name: str = ""
    lorries: tuple[str, ...] = ()
    #: a name per lorry (agent id -> a registration plate, a fleet number), shown instead of the id
    lorry_names: Mapping[str, str] = field(default_factory=dict)
    unload_min: float | None = None
    inspect_min: float | None = None
    shelve_min: float | None = None
    #: call-offs (`docs/calloffs.md`): minutes from shipping to arrival, the delivery window's
    #: length, the requirement's time bucket, and where call-offs are mailed (optional)
    transit_min: float = 60.0
    window_min: float = 60.0
    bucket_min: float = 60.0
    email: str = ""


@dataclass(frozen=True)
class Agv:
    """An AMR/AGV of the plant's fleet, as VDA 5050 names it (`docs/calloffs.md`)."""

    manufacturer: str
    serial: str


@dataclass(frozen=True)
class Transport:
    """Line feeding by AMR/AGV: the fleet, where bins are picked, when to send and when late.

    A planned need is sent `lead_min` before the step needing it starts (materials listed in
    `materials`; a kanban signal of any loop is sent at once); a transport not done
    `late_after_min` after it was due is late.
    """

    agvs: tuple[Agv, ...] = ()
    pick: str = "supermarket"
    lead_min: float = 15.0
    late_after_min: float = 5.0
    materials: tuple[str, ...] = ()


@dataclass(frozen=True)
class KanbanLoop:
    """A kanban loop: its cards (RFID tags) circulate between the line and a supplier.

    `per_unit` is the material used per unit of product; a card is lost when unseen for
    `lost_after` x `lead_time_min`. Either `supplier` or `supermarket` replenishes it.
    """

    id: str
    material: str
    container_qty: int
    lead_time_min: float
    safety: float = 0.2
    lost_after: float = 3.0
    per_unit: float = 1.0
    supplier: str = ""
    supermarket: str = ""
    cards: tuple[str, ...] = ()
    bins: tuple[str, ...] = ()


@dataclass(frozen=True)
class Logistics:
    """Where the plant is and the delivery constants behind the material-ready estimate."""

    lat: float | None = None
    lon: float | None = None
    road_factor: float = 1.3
    cruise_kmh: float = 50.0
    unload_min: float = 15.0
    inspect_min: float = 10.0
    shelve_min: float = 10.0


@dataclass(frozen=True)
class Plant:
    """The whole master data of one site."""

    site: str
    timezone: str
    slot_minutes: int
    calendars: Mapping[str, Calendar]
    resources: tuple[Resource, ...]
    groups: Mapping[str, Group]
    materials: Mapping[str, Material]
    products: Mapping[str, Product]
    #: seconds and timing solves the planner's improvement phase may spend per plan
    improve_seconds: float = 1.0
    improve_iterations: int = 10_000
    #: how far from now due dates, releases and closures may lie, and the planner may plan
    horizon_days: int = HORIZON_DAYS
    #: minutes after a shift starts before an operator not badged in is absent (`docs/status.md`)
    absent_grace_min: float = 15.0
    #: learned standard times (`docs/status.md`): `accept` — the plan uses them once a planner
    #: accepts them; `auto` — as soon as the rule offers them; the rule's window and minimum
    learned_times: str = "accept"
    learned_jobs: int = 20
    learned_min_jobs: int = 3
    #: status monitoring (optional sections; the scheduler ignores them)
    tags: Mapping[str, TagEntry] = field(default_factory=dict)
    leave: tuple[Leave, ...] = ()
    suppliers: Mapping[str, Supplier] = field(default_factory=dict)
    logistics: Logistics = field(default_factory=lambda: Logistics())
    #: e-kanban loops by id (cards and smart bins that trigger replenishment)
    kanban: Mapping[str, KanbanLoop] = field(default_factory=dict)
    #: line feeding by AMR/AGV (VDA 5050)
    transport: Transport = field(default_factory=lambda: Transport())
    #: tool transfer times and the tool-life warning threshold (`cloud.plant_tooling`)
    tooling: Tooling = field(default_factory=lambda: Tooling())

    @property
    def tz(self) -> ZoneInfo:
        """The plant's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class StepDue:
    """A due date and weights of one step of an order (overrides the order's for that step)."""

    due: datetime
    earliness_weight: float = 1.0
    tardiness_weight: float = 1.0


@dataclass(frozen=True)
class Order:
    """A production order."""

    id: str
    product: str
    quantity: int
    due: datetime
    release: datetime | None = None
    priority: int = 0
    earliness_weight: float = 1.0
    tardiness_weight: float = 1.0
    steps: Mapping[str, StepDue] = field(default_factory=dict)
    #: who it is for, as the ERP names the customer (empty: not given); shown, never planned on
    customer: str = ""


class _Reader:
    """Collects errors with paths while reading untyped JSON."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def get(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        conv: Callable[[Any, str], T],
        default: T | None = None,
        required: bool = True,
    ) -> T | None:
        if key not in obj:
            if required and default is None:
                self.fail(f"{path}.{key}", "is required")
            return default
        try:
            return conv(obj[key], f"{path}.{key}")
        except (TypeError, ValueError) as exc:
            self.fail(f"{path}.{key}", str(exc))
            return default

    def items(self, obj: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
        value = obj.get(key, [])
        if not isinstance(value, list):
            self.fail(f"{path}.{key}", "must be a list")
            return []
        out = []
        for i, item in enumerate(value):
            p = f"{path}.{key}[{i}]"
            if not isinstance(item, dict):
                self.fail(p, "must be an object")
                continue
            ident = item.get("id")
            out.append((f"{key}[{i}]" + (f" ({ident!r})" if ident else ""), item))
        return out


def _text(v: Any, _: str) -> str:
    if not isinstance(v, str) or not 1 <= len(v) <= 200:
        raise ValueError(f"must be a string of 1 to 200 characters, got {_show(v)}")
    if _CONTROL.search(v):
        raise ValueError(f"must hold no control character, got {v!r}")
    return v


def _customer(v: Any, where: str) -> str:
    text = _text(v, where)
    if len(text) > 100:  # the event log's names are at most 100 characters (contract.planning)
        raise ValueError(f"must be a string of 1 to 100 characters, got {_show(v)}")
    return text


def _finite(v: Any) -> bool:
    return type(v) is int or (type(v) is float and math.isfinite(v))


def _number(v: Any, _: str, high: float = MAX_MINUTES) -> float:
    if not _finite(v) or not 0 <= v <= high:
        raise ValueError(f"must be a number in [0, {high:g}] (finite), got {_show(v)}")
    return float(v)


def _weight_value(v: Any, where: str) -> float:
    return _number(v, where, MAX_WEIGHT)


def _seconds(v: Any, where: str) -> float:
    return _number(v, where, MAX_IMPROVE_SECONDS)


def _bounded_count(high: int) -> Callable[[Any, str], int]:
    def conv(v: Any, _: str) -> int:
        if type(v) is not int or not 1 <= v <= high:
            raise ValueError(f"must be an integer in [1, {high}], got {_show(v)}")
        return v

    return conv


_count = _bounded_count(MAX_QUANTITY)
_iterations = _bounded_count(MAX_IMPROVE_ITERATIONS)
_slot = _bounded_count(24 * 60)
_horizon = _bounded_count(MAX_HORIZON_DAYS)
_learn_count = _bounded_count(1000)
LEARNED_MODES: Final = ("accept", "auto")


def _learned_mode(v: Any, _: str) -> str:
    if v not in LEARNED_MODES:
        raise ValueError(f"must be one of {', '.join(LEARNED_MODES)}, got {_show(v)}")
    return str(v)


def _int(v: Any, _: str) -> int:
    if type(v) is not int or abs(v) > MAX_WEIGHT:
        raise ValueError(f"must be an integer in [-{MAX_WEIGHT:g}, {MAX_WEIGHT:g}], got {_show(v)}")
    return v


def _show(v: Any) -> str:
    if type(v) is int and v.bit_length() > 128:
        return f"an integer of {v.bit_length()} bits"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _in_window(moment: datetime, v: Any) -> datetime:
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise ValueError(f"must lie in [1970-01-01, 2100-01-01), got {_show(v)}")
    return moment


def _flag(v: Any, _: str) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, got {v!r}")
    return v


def _utc(v: Any, _: str) -> datetime:
    if not isinstance(v, str) or len(v) > 40:
        raise ValueError(f"must be an ISO 8601 UTC timestamp, got {_show(v)}")
    moment = datetime.fromisoformat(v.replace("Z", "+00:00"))
    if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"must be UTC (end in Z or +00:00), got {v!r}")
    return _in_window(moment.astimezone(UTC), v)


def _clock(v: Any, _: str) -> time:
    m = _CLOCK.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise ValueError(f"must be a local time HH:MM, got {v!r}")
    hour, minute = int(m.group(1)), int(m.group(2))
    return time(0, 0) if hour == 24 else time(hour, minute)


def _days(v: Any, _: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or any(not isinstance(d, str) or d not in DAYS for d in v):
        raise ValueError(f"must be a non-empty list of {', '.join(DAYS)}, got {v!r}")
    return tuple(v)


def _strings(v: Any, _: str) -> tuple[str, ...]:
    if not isinstance(v, list) or any(not isinstance(x, str) or not x for x in v):
        raise ValueError(f"must be a list of strings, got {v!r}")
    return tuple(v)


def _lorry_names(lorries: Sequence[str]) -> Callable[[Any, str], dict[str, str]]:
    """A supplier's `lorry_names`: an object naming some of its `lorries`."""

    def convert(v: Any, where: str) -> dict[str, str]:
        if not isinstance(v, dict):
            raise ValueError(f"must be an object of lorry id -> name, got {_show(v)}")
        for lorry, name in v.items():
            if lorry not in lorries:
                raise ValueError(f"names {lorry!r}, which is not one of its lorries")
            _text(name, where)
        return dict(v)

    return convert


def _dates(v: Any, _: str) -> tuple[date, ...]:
    if not isinstance(v, list) or any(not isinstance(x, str) for x in v):
        raise ValueError(f"must be a list of dates YYYY-MM-DD, got {_show(v)}")
    out = tuple(date.fromisoformat(x) for x in v)
    for day in out:
        if not EARLIEST_TIME.year <= day.year < LATEST_TIME.year:
            raise ValueError(f"must lie in [1970-01-01, 2100-01-01), got {day.isoformat()}")
    return out


def _weekly(r: _Reader, obj: Mapping[str, Any], key: str, path: str) -> tuple[WeeklyWindow, ...]:
    out = []
    for name, item in r.items(obj, key, path):
        p = f"{path}.{name}"
        days = r.get(item, "days", p, _days)
        start = r.get(item, "start", p, _clock)
        end = r.get(item, "end", p, _clock)
        if days and start is not None and end is not None:
            out.append(WeeklyWindow(days, start, end))
    return tuple(out)


def _windows(r: _Reader, obj: Mapping[str, Any], key: str, path: str, local: str | None) -> Any:
    out = []
    for name, item in r.items(obj, key, path):
        p = f"{path}.{name}"
        conv = _utc if local is None else _local_to_utc(local)
        start = r.get(item, "start", p, conv)
        end = r.get(item, "end", p, conv)
        reason = r.get(item, "reason", p, _text, default="", required=False) or ""
        if start is not None and end is not None:
            if end <= start:
                r.fail(p, f"ends ({end.isoformat()}) before it starts ({start.isoformat()})")
            else:
                out.append(Window(start, end, reason))
    return tuple(out)


def _local_to_utc(tz: str) -> Callable[[Any, str], datetime]:
    def conv(v: Any, _: str) -> datetime:
        if not isinstance(v, str):
            raise ValueError(f"must be a local timestamp YYYY-MM-DDTHH:MM, got {v!r}")
        moment = datetime.fromisoformat(v)
        if moment.tzinfo is not None:
            raise ValueError(f"calendar times are local wall-clock times, got offset in {v!r}")
        # Bounded before the conversion: 0001-01-01 in Asia/Tokyo is before datetime's year 1.
        if not EARLIEST_TIME.year < moment.year < LATEST_TIME.year - 1:
            raise ValueError(f"must lie in [1971, 2098], got {v!r}")
        return moment.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)

    return conv


def parse_plant(data: Any) -> Plant:
    """Builds and validates a `Plant` from decoded JSON; raises `PlantInvalid` with every error."""
    r = _Reader()
    if not isinstance(data, dict):
        raise PlantInvalid(["plant: must be a JSON object"])
    site = r.get(data, "site", "plant", _text) or ""
    tz = r.get(data, "timezone", "plant", _text) or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("plant.timezone", f"unknown time zone {tz!r}")
        tz = "UTC"
    slot = r.get(data, "slot_minutes", "plant", _slot, default=1, required=False) or 1
    planning = data.get("planning", {})
    if not isinstance(planning, dict):
        r.fail("plant.planning", "must be an object")
        planning = {}
    improve_s = r.get(planning, "improve_seconds", "plant.planning", _seconds, required=False)
    improve_n = r.get(planning, "improve_iterations", "plant.planning", _iterations, required=False)
    horizon = r.get(planning, "horizon_days", "plant.planning", _horizon, required=False)
    grace = r.get(planning, "absent_grace_min", "plant.planning", _number, required=False)
    learned = r.get(planning, "learned_times", "plant.planning", _learned_mode, required=False)
    learn_n = r.get(planning, "learned_jobs", "plant.planning", _learn_count, required=False)
    learn_min = r.get(planning, "learned_min_jobs", "plant.planning", _learn_count, required=False)
    calendars: dict[str, Calendar] = {}
    for name, item in r.items(data, "calendars", "plant"):
        p = f"plant.{name}"
        cid = r.get(item, "id", p, _text)
        if cid is None:
            continue
        if cid in calendars:
            r.fail(p, f"duplicate calendar id {cid!r}")
        shifts = _weekly(r, item, "shifts", p)
        if not shifts:
            r.fail(p, "has no shifts")
        calendars[cid] = Calendar(
            id=cid,
            shifts=shifts,
            breaks=_weekly(r, item, "breaks", p),
            holidays=r.get(item, "holidays", p, _dates, required=False) or (),
            closures=_windows(r, item, "closures", p, tz),
        )
    resources: list[Resource] = []
    seen: set[str] = set()
    for name, item in r.items(data, "resources", "plant"):
        p = f"plant.{name}"
        rid = r.get(item, "id", p, _text)
        kind = r.get(item, "kind", p, _text)
        cal = r.get(item, "calendar", p, _text)
        if rid is None or kind is None or cal is None:
            continue
        if rid in seen:
            r.fail(p, f"duplicate resource id {rid!r}")
        seen.add(rid)
        if kind not in KINDS:
            r.fail(f"{p}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        if cal not in calendars:
            r.fail(f"{p}.calendar", f"unknown calendar {cal!r}")
        resources.append(
            Resource(
                id=rid,
                kind=kind,
                calendar=cal,
                skills=r.get(item, "skills", p, _strings, required=False) or (),
                name=r.get(item, "name", p, _text, default="", required=False) or "",
                unavailable=_windows(r, item, "unavailable", p, None),
                station=r.get(item, "station", p, _text, default="", required=False) or "",
                tag=r.get(item, "tag", p, _text, default="", required=False) or "",
                tool_type=r.get(item, "tool_type", p, _text, default="", required=False) or "",
                operator_skills=r.get(item, "operator_skills", p, _strings, required=False) or (),
                service_cycles=r.get(item, "service_cycles", p, _count, required=False),
                service_hours=r.get(item, "service_hours", p, _factor, required=False),
            )
        )
        if kind != "tool" and ("service_cycles" in item or "service_hours" in item):
            r.fail(p, f"service limits are for tools, and {rid!r} is a {kind}")
    by_id = {res.id: res for res in resources}
    groups: dict[str, Group] = {}
    for name, item in r.items(data, "groups", "plant"):
        p = f"plant.{name}"
        gid = r.get(item, "id", p, _text)
        kind = r.get(item, "kind", p, _text)
        if gid is None or kind is None:
            continue
        if gid in groups:
            r.fail(p, f"duplicate group id {gid!r}")
        members = r.get(item, "members", p, _strings, required=False) or ()
        skill = r.get(item, "skill", p, _text, default="", required=False) or ""
        if members and skill:
            r.fail(p, "give either members or skill, not both")
        for m in members:
            if m not in by_id:
                r.fail(f"{p}.members", f"unknown resource {m!r}")
            elif by_id[m].kind != kind:
                r.fail(f"{p}.members", f"{m!r} is a {by_id[m].kind}, not a {kind}")
        if skill:
            members = tuple(x.id for x in resources if x.kind == kind and skill in x.skills)
        groups[gid] = Group(id=gid, kind=kind, members=tuple(members), skill=skill)
    materials: dict[str, Material] = {}
    for name, item in r.items(data, "materials", "plant"):
        p = f"plant.{name}"
        mid = r.get(item, "id", p, _text)
        if mid is not None:
            ready = r.get(item, "ready", p, _utc, required=False)
            supplier = r.get(item, "supplier", p, _text, default="", required=False) or ""
            needed = r.get(item, "needed", p, _utc, required=False)
            materials[mid] = Material(
                id=mid,
                ready=ready,
                supplier=supplier,
                needed=needed,
                jis=bool(r.get(item, "jis", p, _flag, default=False, required=False)),
                point_of_use=r.get(item, "point_of_use", p, _text, default="", required=False)
                or "",
                per_unit=_or(r.get(item, "per_unit", p, _factor, required=False), 1.0),
            )
    products: dict[str, Product] = {}
    for name, item in r.items(data, "products", "plant"):
        p = f"plant.{name}"
        pid = r.get(item, "id", p, _text)
        if pid is None:
            continue
        if pid in products:
            r.fail(p, f"duplicate product id {pid!r}")
        steps = []
        for sname, sitem in r.items(item, "steps", p):
            sp = f"{p}.{sname}"
            sid = r.get(sitem, "id", sp, _text) or "?"
            holds = []
            for hname, hitem in r.items(sitem, "holds", sp):
                hp = f"{sp}.{hname}"
                group = r.get(hitem, "group", hp, _text) or "?"
                if group not in groups:
                    r.fail(f"{hp}.group", f"unknown resource group {group!r}")
                h0 = r.get(hitem, "start_min", hp, _number, default=0.0, required=False) or 0.0
                h1 = r.get(hitem, "end_min", hp, _number, required=False)
                if h1 is not None and h1 <= h0:
                    r.fail(hp, f"holding window ends ({h1}) before it starts ({h0})")
                holds.append(Hold(group=group, start_min=h0, end_min=h1))
            if not holds:
                r.fail(sp, "holds no resource group")
            mats = r.get(sitem, "materials", sp, _strings, required=False) or ()
            for m in mats:
                if m not in materials:
                    r.fail(f"{sp}.materials", f"unknown material {m!r}")
            steps.append(
                Step(
                    id=sid,
                    setup_min=r.get(sitem, "setup_min", sp, _number, default=0.0, required=False)
                    or 0.0,
                    per_unit_min=r.get(sitem, "per_unit_min", sp, _number, default=0.0) or 0.0,
                    holds=tuple(holds),
                    materials=mats,
                    transfer_min=r.get(
                        sitem, "transfer_min", sp, _number, default=0.0, required=False
                    )
                    or 0.0,
                    spans_breaks=bool(
                        r.get(sitem, "spans_breaks", sp, _flag, default=False, required=False)
                    ),
                )
            )
        products[pid] = Product(id=pid, steps=tuple(steps))
    tags, leave, suppliers, logistics = _monitoring(r, data, resources, materials)
    kanban = _kanban(r, data, materials, suppliers, tags)
    transport = _transport(r, data, materials)
    places = {m.station or m.id: m.id for m in resources if m.kind == "machine"}
    places.update({m.id: m.id for m in resources if m.kind == "machine"})
    tooling = parse_tooling(data.get("tooling"), places, r.fail)
    if r.errors:
        raise PlantInvalid(r.errors)
    return Plant(
        tooling=tooling,
        transport=transport,
        kanban=kanban,
        tags=tags,
        leave=leave,
        suppliers=suppliers,
        logistics=logistics,
        site=site,
        timezone=tz,
        slot_minutes=slot,
        improve_seconds=1.0 if improve_s is None else improve_s,
        improve_iterations=10_000 if improve_n is None else improve_n,
        horizon_days=HORIZON_DAYS if horizon is None else horizon,
        absent_grace_min=15.0 if grace is None else grace,
        learned_times=learned or "accept",
        learned_jobs=learn_n or 20,
        learned_min_jobs=learn_min or 3,
        calendars=calendars,
        resources=tuple(resources),
        groups=groups,
        materials=materials,
        products=products,
    )


def _monitoring(
    r: _Reader, data: Mapping[str, Any], resources: list[Resource], materials: Mapping[str, Any]
) -> tuple[dict[str, TagEntry], tuple[Leave, ...], dict[str, Supplier], Logistics]:
    """The sections status monitoring adds: tag directory, leave, suppliers, logistics."""
    by_id = {res.id: res for res in resources}
    tags: dict[str, TagEntry] = {}

    def add_tag(entry: TagEntry, p: str) -> None:
        known = tags.get(entry.tag)
        if known is not None and known != entry:
            r.fail(p, f"tag {entry.tag!r} is already {known.kind} {known.ref!r}")
        tags[entry.tag] = entry

    for index, res in enumerate(resources):
        if res.tag and res.kind in ("operator", "tool"):
            tag_kind = "badge" if res.kind == "operator" else "tool"
            add_tag(TagEntry(res.tag, tag_kind, res.id), f"plant.resources[{index}].tag")
    for name, item in r.items(data, "tags", "plant"):
        p = f"plant.{name}"
        tag = r.get(item, "tag", p, _text)
        kind = r.get(item, "kind", p, _text)
        ref = r.get(item, "ref", p, _text)
        if tag is None or kind is None or ref is None:
            continue
        if kind not in TAG_KINDS:
            r.fail(f"{p}.kind", f"must be one of {', '.join(TAG_KINDS)}, got {kind!r}")
        elif kind != "ticket" and ref not in by_id:
            r.fail(f"{p}.ref", f"unknown resource {ref!r}")
        add_tag(
            TagEntry(
                tag,
                kind,
                ref,
                step=r.get(item, "step", p, _text, default="", required=False) or "",
                product=r.get(item, "product", p, _text, default="", required=False) or "",
                quantity=r.get(item, "quantity", p, _count, required=False) or 0,
            ),
            p,
        )
    leave: list[Leave] = []
    for name, item in r.items(data, "leave", "plant"):
        p = f"plant.{name}"
        who = r.get(item, "operator", p, _text)
        start = r.get(item, "start", p, _utc)
        end = r.get(item, "end", p, _utc)
        if who is not None and (who not in by_id or by_id[who].kind != "operator"):
            r.fail(f"{p}.operator", f"unknown operator {who!r}")
        if who is None or start is None or end is None:
            continue
        if end <= start:
            r.fail(p, f"ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        kind = r.get(item, "kind", p, _text, default="leave", required=False) or "leave"
        leave.append(Leave(who, start, end, kind))
    suppliers: dict[str, Supplier] = {}
    for name, item in r.items(data, "suppliers", "plant"):
        p = f"plant.{name}"
        sid = r.get(item, "id", p, _text)
        if sid is None:
            continue
        if sid in suppliers:
            r.fail(p, f"duplicate supplier id {sid!r}")
        lorries = r.get(item, "lorries", p, _strings, required=False) or ()
        suppliers[sid] = Supplier(
            id=sid,
            name=r.get(item, "name", p, _text, default="", required=False) or "",
            lorries=lorries,
            lorry_names=r.get(item, "lorry_names", p, _lorry_names(lorries), required=False) or {},
            unload_min=r.get(item, "unload_min", p, _number, required=False),
            inspect_min=r.get(item, "inspect_min", p, _number, required=False),
            shelve_min=r.get(item, "shelve_min", p, _number, required=False),
            transit_min=_or(r.get(item, "transit_min", p, _number, required=False), 60.0),
            window_min=_or(r.get(item, "window_min", p, _factor, required=False), 60.0),
            bucket_min=_or(r.get(item, "bucket_min", p, _factor, required=False), 60.0),
            email=r.get(item, "email", p, _text, default="", required=False) or "",
        )
    for mid, material in materials.items():
        if material.supplier and material.supplier not in suppliers:
            r.fail(f"plant.materials ({mid!r}).supplier", f"unknown supplier {material.supplier!r}")
    raw = data.get("logistics", {})
    if not isinstance(raw, dict):
        r.fail("plant.logistics", "must be an object")
        raw = {}
    p = "plant.logistics"
    lat = r.get(raw, "lat", p, _latitude, required=False)
    lon = r.get(raw, "lon", p, _longitude, required=False)
    base = Logistics()
    logistics = Logistics(
        lat=lat,
        lon=lon,
        road_factor=_or(r.get(raw, "road_factor", p, _factor, required=False), base.road_factor),
        cruise_kmh=_or(r.get(raw, "cruise_kmh", p, _factor, required=False), base.cruise_kmh),
        unload_min=_or(r.get(raw, "unload_min", p, _number, required=False), base.unload_min),
        inspect_min=_or(r.get(raw, "inspect_min", p, _number, required=False), base.inspect_min),
        shelve_min=_or(r.get(raw, "shelve_min", p, _number, required=False), base.shelve_min),
    )
    return tags, tuple(leave), suppliers, logistics


def _kanban(
    r: _Reader,
    data: Mapping[str, Any],
    materials: Mapping[str, Any],
    suppliers: Mapping[str, Supplier],
    tags: Mapping[str, TagEntry],
) -> dict[str, KanbanLoop]:
    """The `kanban` section: loops, each with its material, container, lead time and cards."""
    loops: dict[str, KanbanLoop] = {}
    card_of: dict[str, str] = {}
    for name, item in r.items(data, "kanban", "plant"):
        p = f"plant.{name}"
        lid = r.get(item, "id", p, _text)
        material = r.get(item, "material", p, _text)
        quantity = r.get(item, "container_qty", p, _count)
        lead = r.get(item, "lead_time_min", p, _factor)
        if lid is None or material is None or quantity is None or lead is None:
            continue
        if lid in loops:
            r.fail(p, f"duplicate kanban loop id {lid!r}")
        if material not in materials:
            r.fail(f"{p}.material", f"unknown material {material!r}")
        supplier = r.get(item, "supplier", p, _text, default="", required=False) or ""
        supermarket = r.get(item, "supermarket", p, _text, default="", required=False) or ""
        if bool(supplier) == bool(supermarket):
            r.fail(p, "give either a supplier or a supermarket that replenishes the loop")
        if supplier and supplier not in suppliers:
            r.fail(f"{p}.supplier", f"unknown supplier {supplier!r}")
        cards = r.get(item, "cards", p, _strings, required=False) or ()
        for card in cards:
            try:
                validate_tag_id(card)
            except InvalidTagId as exc:
                r.fail(f"{p}.cards", str(exc))
            if card in card_of or card in tags:
                r.fail(f"{p}.cards", f"tag {card!r} is already {card_of.get(card, 'a tag')}")
            card_of[card] = f"a card of loop {lid!r}"
        safety = r.get(item, "safety", p, _number, required=False)
        lost = r.get(item, "lost_after", p, _factor, required=False)
        loops[lid] = KanbanLoop(
            id=lid,
            material=material,
            container_qty=quantity,
            lead_time_min=lead,
            safety=0.2 if safety is None else safety,
            lost_after=3.0 if lost is None else lost,
            per_unit=_or(r.get(item, "per_unit", p, _factor, required=False), 1.0),
            supplier=supplier,
            supermarket=supermarket,
            cards=cards,
            bins=r.get(item, "bins", p, _strings, required=False) or (),
        )
    return loops


def _transport(r: _Reader, data: Mapping[str, Any], materials: Mapping[str, Any]) -> Transport:
    """The `transport` section: the AMR/AGV fleet and when line feeding orders go out."""
    raw = data.get("transport", {})
    if not isinstance(raw, dict):
        r.fail("plant.transport", "must be an object")
        return Transport()
    p = "plant.transport"
    agvs = []
    for name, item in r.items(raw, "agvs", p):
        maker = r.get(item, "manufacturer", f"{p}.{name}", _segment)
        serial = r.get(item, "serial", f"{p}.{name}", _segment)
        if maker is not None and serial is not None:
            agvs.append(Agv(maker, serial))
    if len({(a.manufacturer, a.serial) for a in agvs}) != len(agvs):
        r.fail(f"{p}.agvs", "lists an AGV twice")
    fed = r.get(raw, "materials", p, _strings, required=False) or ()
    for m in fed:
        if m not in materials:
            r.fail(f"{p}.materials", f"unknown material {m!r}")
    base = Transport()
    return Transport(
        agvs=tuple(agvs),
        pick=r.get(raw, "pick", p, _text, default="", required=False) or base.pick,
        lead_min=_or(r.get(raw, "lead_min", p, _number, required=False), base.lead_min),
        late_after_min=_or(
            r.get(raw, "late_after_min", p, _number, required=False), base.late_after_min
        ),
        materials=fed,
    )


_SEGMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def _segment(v: Any, _: str) -> str:
    if not isinstance(v, str) or not _SEGMENT_RE.fullmatch(v):
        raise ValueError(f"must be an MQTT topic segment [A-Za-z0-9._-] of 1 to 64, got {v!r}")
    return v


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _factor(v: Any, where: str) -> float:
    value = _number(v, where)
    if value <= 0:
        raise ValueError(f"must be a number > 0, got {v!r}")
    return value


def _latitude(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not -90 <= v <= 90:
        raise ValueError(f"must be a latitude in [-90, 90], got {v!r}")
    return float(v)


def _longitude(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not -180 <= v <= 180:
        raise ValueError(f"must be a longitude in [-180, 180], got {v!r}")
    return float(v)


def parse_orders(
    data: Any, plant: Plant | None = None, *, now: datetime | None = None
) -> list[Order]:
    """Builds and validates orders from decoded JSON; raises `PlantInvalid` with every error.

    Unknown products or steps are not errors here (the planner reports them per order, and
    plans the rest); with `plant`, an unknown step name in an order's `steps` is. With `now`,
    due dates and releases further than the plant's planning horizon from `now` are errors.
    More than `MAX_ORDERS_PER_BATCH` orders are refused whole (`OrderBatchTooLarge`).
    """
    r = _Reader()
    if not isinstance(data, dict):
        raise PlantInvalid(["orders: must be a JSON object with an 'orders' list"])
    listed = data.get("orders")
    if isinstance(listed, list) and len(listed) > MAX_ORDERS_PER_BATCH:
        raise OrderBatchTooLarge(len(listed))
    horizon = timedelta(days=plant.horizon_days if plant is not None else HORIZON_DAYS)

    def within(moment: datetime | None, path: str) -> None:
        if moment is not None and now is not None and abs(moment - now) > horizon:
            r.fail(path, f"{moment.isoformat()} is more than {horizon.days} days from now")

    out: list[Order] = []
    seen: set[str] = set()
    for name, item in r.items(data, "orders", "orders"):
        p = f"orders.{name}"
        oid = r.get(item, "id", p, _text)
        product = r.get(item, "product", p, _text)
        qty = r.get(item, "quantity", p, _count)
        due = r.get(item, "due", p, _utc)
        if oid is None or product is None or qty is None or due is None:
            continue
        if oid in seen:
            r.fail(p, f"duplicate order id {oid!r}")
        seen.add(oid)
        within(due, f"{p}.due")
        steps: dict[str, StepDue] = {}
        raw = item.get("steps", {})
        if not isinstance(raw, dict):
            r.fail(f"{p}.steps", "must be an object keyed by step id")
            raw = {}
        known = (
            {s.id for s in plant.products[product].steps}
            if plant is not None and product in plant.products
            else None
        )
        for sid, sitem in raw.items():
            sp = f"{p}.steps.{sid}"
            if known is not None and sid not in known:
                r.fail(sp, f"product {product!r} has no step {sid!r}")
            if not isinstance(sitem, dict):
                r.fail(sp, "must be an object")
                continue
            sdue = r.get(sitem, "due", sp, _utc)
            if sdue is None:
                continue
            within(sdue, f"{sp}.due")
            steps[sid] = StepDue(
                due=sdue,
                earliness_weight=r.get(
                    sitem, "earliness_weight", sp, _weight_value, default=1.0, required=False
                )
                or 0.0,
                tardiness_weight=r.get(
                    sitem, "tardiness_weight", sp, _weight_value, default=1.0, required=False
                )
                or 0.0,
            )
        release = r.get(item, "release", p, _utc, required=False)
        within(release, f"{p}.release")
        out.append(
            Order(
                id=oid,
                product=product,
                quantity=qty,
                due=due,
                release=release,
                priority=r.get(item, "priority", p, _int, default=0, required=False) or 0,
                earliness_weight=_weight(r, item, "earliness_weight", p),
                tardiness_weight=_weight(r, item, "tardiness_weight", p),
                steps=steps,
                customer=r.get(item, "customer", p, _customer, default="", required=False) or "",
            )
        )
    if r.errors:
        raise PlantInvalid(r.errors)
    return out


def _stamp(moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def order_to_json(order: Order) -> dict[str, Any]:
    """An order as its JSON object (`docs/schemas/orders.schema.json`); `parse_orders` reads it.

    Every field is written, defaults too, so two equal orders give equal objects (but for an
    empty `customer`, which is left out).
    """
    out: dict[str, Any] = {
        "id": order.id,
        "product": order.product,
        "quantity": order.quantity,
        "due": _stamp(order.due),
        "priority": order.priority,
        "earliness_weight": order.earliness_weight,
        "tardiness_weight": order.tardiness_weight,
    }
    if order.release is not None:
        out["release"] = _stamp(order.release)
    if order.customer:  # written only when given: orders without one read as they always did
        out["customer"] = order.customer
    if order.steps:
        out["steps"] = {
            sid: {
                "due": _stamp(step.due),
                "earliness_weight": step.earliness_weight,
                "tardiness_weight": step.tardiness_weight,
            }
            for sid, step in order.steps.items()
        }
    return out


def _weight(r: _Reader, item: Mapping[str, Any], key: str, path: str) -> float:
    value = r.get(item, key, path, _weight_value, default=1.0, required=False)
    return 1.0 if value is None else value


def load_plant(path: str | Path) -> Plant:
    """Reads and validates a plant JSON file."""
    return parse_plant(_read(path))


def load_orders(path: str | Path, plant: Plant | None = None) -> list[Order]:
    """Reads and validates an orders JSON file."""
    return parse_orders(_read(path), plant)


def _read(path: str | Path) -> Any:
    try:
        return loads(Path(path).read_bytes(), str(path))
    except OSError as exc:
        raise PlantInvalid([f"{path}: cannot read ({exc.strerror})"]) from exc
    except ContractError as exc:
        raise PlantInvalid([f"{path}: not valid JSON ({exc})"]) from exc
