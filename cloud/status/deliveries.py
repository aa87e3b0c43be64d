"""Material deliveries: where each lorry is, what it carries, when its material is ready.

The fold keeps each lorry's (agent's) newest position by event time (an older position arriving
late never moves the lorry back) and fix state (`gps.fix` "none" is shown as no fix), and each
delivery's manifest lines from `package.read` (loaded, then unloaded). The estimate is made when
shown (`estimate`): the straight-line distance to the plant times a road factor, over the
lorry's smoothed speed (or a cruising speed while it stands), plus what the `ArrivalAdjuster`
plug-ins add for traffic and weather; then the mean unloading, inspection and shelving times
give the material-ready time. A delivery whose ready time is later than the earliest time one of its
materials is needed is flagged late.

The speed filter (`LorryState.observe`): the median of the speeds of the lorry's last
`SPEED_WINDOW` (3) positions no older than `SPEED_MAX_AGE_S` (5 min) before the newest, so a
misread speed among three changes nothing, and a real change (a jam, the motorway) is followed
from the second position on (the demo's jam must show within seconds). A standing/moving
hysteresis decides whether that speed or the cruising speed is used: a moving lorry counts as
standing once the median falls below `STANDING_MPS` (0.5 m/s), a standing one as moving once it
reaches `MOVING_MPS` (1 m/s). At a constant true speed the median is that speed, so the ETA
stays put from position to position (tested in tests/agent/test_lorry_receivers.py: steps of at
most 2 minutes from a receiver whose GGA-derived speeds are noise). The filter folds positions in
the log's order, so a rebuilt projection has the same state.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from cloud.plant import Logistics

__all__ = [
    "ArrivalAdjuster",
    "DeliveryState",
    "Logistics",
    "LorryState",
    "distance_m",
    "estimate",
]

_EARTH_RADIUS_M = 6_371_000.0
#: Below this (smoothed) speed a moving lorry counts as standing; its ETA uses the cruising speed.
STANDING_MPS: Final = 0.5
#: From this (smoothed) speed on a standing lorry counts as moving (the hysteresis' upper edge;
#: a lorry crawling in a jam at 1 m/s is moving, and late).
MOVING_MPS: Final = 1.0
#: The speed filter: the median of the speeds of this many newest positions ...
SPEED_WINDOW: Final = 3
#: ... that are at most this old, seen from the newest.
SPEED_MAX_AGE_S: Final = 300.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


class ArrivalAdjuster(Protocol):
    """A plug-in for what distance and speed do not know: traffic, weather, road works."""

    def extra_seconds(
        self, lorry: str, lat: float, lon: float, remaining_m: float, at: datetime
    ) -> float:
        """Seconds to add to (or, negative, take from) the lorry's travel time from `at`."""
        ...


@dataclass
class LorryState:
    """One lorry unit's newest position and fix, and its smoothed speed.

    Attributes:
        speed_mps: The newest position's speed, as reported.
        smoothed_mps: The speed filter's output (see the module's docstring).
        moving: The hysteresis' state; None before the first `observe` (a state built from
            one position directly: its speed is used as it is).
    """

    lorry: str
    lat: float | None = None
    lon: float | None = None
    speed_mps: float = 0.0
    position_at: str | None = None
    fix: str = "none"
    fix_at: str | None = None
    delivery: str | None = None
    smoothed_mps: float = 0.0
    moving: bool | None = None
    recent: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=SPEED_WINDOW))

    def observe(self, lat: float, lon: float, speed_mps: float, at: str) -> None:
        """Folds in a position newer than the last (`at`: its event time, ISO 8601)."""
        self.lat, self.lon, self.speed_mps, self.position_at = lat, lon, speed_mps, at
        now = _utc(at).timestamp()
        self.recent.append((now, speed_mps))
        speeds = [v for t, v in self.recent if t >= now - SPEED_MAX_AGE_S]
        self.smoothed_mps = statistics.median(speeds)
        if self.moving is None:
            self.moving = self.smoothed_mps >= MOVING_MPS
        elif self.moving and self.smoothed_mps < STANDING_MPS:
            self.moving = False
        elif not self.moving and self.smoothed_mps >= MOVING_MPS:
            self.moving = True

    def eta_speed_mps(self, cruise_mps: float) -> float:
        """The speed the ETA divides by: the smoothed speed moving, `cruise_mps` standing."""
        if self.moving is None:
            return self.speed_mps if self.speed_mps >= MOVING_MPS else cruise_mps
        return self.smoothed_mps if self.moving else cruise_mps


@dataclass
class DeliveryState:
    """One delivery: its lorry and manifest lines as packages were read."""

    delivery: str
    lorry: str
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded_at: str | None = None
    arrived_at: str | None = None
    unloaded: set[str] = field(default_factory=set)
    unknown_packages: int = 0

    @property
    def orders(self) -> list[str]:
        """The purchase orders on the manifest lines read."""
        return sorted({line["order"] for line in self.lines.values()})

    @property
    def materials(self) -> list[str]:
        """The materials on the manifest lines read."""
        return sorted({line["material"] for line in self.lines.values()})


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def estimate(
    delivery: DeliveryState,
    lorry: LorryState | None,
    logistics: Logistics,
    needed: datetime | None,
    adjusters: tuple[ArrivalAdjuster, ...] = (),
    handling: tuple[float, float, float] | None = None,
) -> dict[str, Any]:
    """ETA, material-ready time and lateness of one delivery, JSON-ready.

    `handling` is the supplier's (unload, inspect, shelve) minutes when it has its own means.
    """
    unload, inspect, shelve = handling or (
        logistics.unload_min,
        logistics.inspect_min,
        logistics.shelve_min,
    )
    out: dict[str, Any] = {
        "delivery": delivery.delivery,
        "lorry": delivery.lorry,
        "orders": delivery.orders,
        "materials": delivery.materials,
        "packages": len(delivery.lines),
        "unloaded": len(delivery.unloaded),
        "unknown_packages": delivery.unknown_packages,
        "fix": lorry.fix if lorry else "none",
        "position": None,
        "distance_km": None,
        "eta": None,
        "ready": None,
        "needed": _iso(needed) if needed else None,
        "late": False,
        #: the first loading scan: where the root cause starts looking (`cloud.rootcause`)
        "loaded_at": delivery.loaded_at,
        "arrived_at": delivery.arrived_at,
        #: why ready is later than arrival: these minutes at the plant, in this order
        "handling": {"unload_min": unload, "inspect_min": inspect, "shelve_min": shelve},
    }
    if lorry is not None and lorry.lat is not None and lorry.lon is not None:
        out["position"] = {
            "lat": lorry.lat,
            "lon": lorry.lon,
            "speed_mps": lorry.speed_mps,
            "at": lorry.position_at,
        }
    arrival: datetime | None = None
    if delivery.arrived_at is not None:
        arrival = _utc(delivery.arrived_at)
    elif (
        lorry is not None
        and lorry.fix != "none"
        and lorry.lat is not None
        and lorry.lon is not None
        and lorry.position_at is not None
        and logistics.lat is not None
        and logistics.lon is not None
    ):
        road = distance_m(lorry.lat, lorry.lon, logistics.lat, logistics.lon)
        road *= logistics.road_factor
        speed = lorry.eta_speed_mps(logistics.cruise_kmh / 3.6)
        at = _utc(lorry.position_at)
        travel = road / speed
        for adjuster in adjusters:
            travel += adjuster.extra_seconds(lorry.lorry, lorry.lat, lorry.lon, road, at)
        arrival = at + timedelta(seconds=max(0.0, travel))
        out["distance_km"] = round(road / 1000, 2)
    if arrival is None:
        return out
    out["eta"] = _iso(arrival)
    ready = arrival + timedelta(minutes=unload + inspect + shelve)
    out["ready"] = _iso(ready)
    out["late"] = needed is not None and ready > needed
    return out
