"""Material deliveries: where each lorry is, what it carries, when its material is ready.

The fold keeps each lorry's (agent's) newest position by event time (an older position arriving
late never moves the lorry back) and fix state (`gps.fix` "none" is shown as no fix), and each
delivery's manifest lines from `package.read` (loaded, then unloaded). The estimate is made when
shown (`estimate`): the straight-line distance to the plant times a road factor, over the
lorry's speed (or a cruising speed while it stands), plus what the `ArrivalAdjuster` plug-ins
add for traffic and weather; then the mean unloading, inspection and shelving times give the
material-ready time. A delivery whose ready time is later than the earliest time one of its
materials is needed is flagged late.
"""

from __future__ import annotations

import math
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
#: Below this speed a lorry is standing; its ETA uses the cruising speed instead.
STANDING_MPS: Final = 1.0


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
    """One lorry unit's newest position and fix."""

    lorry: str
    lat: float | None = None
    lon: float | None = None
    speed_mps: float = 0.0
    position_at: str | None = None
    fix: str = "none"
    fix_at: str | None = None
    delivery: str | None = None


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
        "arrived_at": delivery.arrived_at,
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
        speed = lorry.speed_mps
        if speed < STANDING_MPS:
            speed = logistics.cruise_kmh / 3.6
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
