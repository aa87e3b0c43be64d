"""The lorry's route and the NMEA logs `gpsfake` replays in the tests, made reproducibly.

A lorry leaves the supplier's dock, drives about 700 m along three road segments (two right-angle
turns, slowing for each) and stops at the plant's goods-in dock. `route()` turns that into one
`Epoch` per second (position, speed, course, fix); `nmea_epoch()` writes an epoch as the
sentences a u-blox receiver sends (RMC, GGA, VTG, GSA, each with its checksum); `LOGS` names the
logs kept beside this file: `drive.nmea` (a fix throughout) and `fix-loss.nmea` (no fix for 15 s
mid-route, as under a bridge: GGA quality 0, RMC status V, GSA mode 1, then the fix back).
`hardware/gpsd_emu.py` serves the same epochs over gpsd's JSON protocol. Run
`python -m hardware.nmea.make_logs` to rewrite the logs after changing the route.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

__all__ = [
    "LOGS",
    "NMEA_DIR",
    "PLANT",
    "SUPPLIER",
    "Epoch",
    "checksum",
    "nmea_epoch",
    "route",
    "sentence",
    "write_logs",
]

NMEA_DIR: Final = Path(__file__).resolve().parent
#: The supplier's loading dock and the plant's goods-in dock (lat, lon); the route joins them.
SUPPLIER: Final = (48.689200, 9.191500)
START: Final = datetime(2026, 11, 23, 9, 30, 0, tzinfo=UTC)
#: Route corners in metres east and north of the supplier's dock.
_CORNERS: Final = ((0.0, 0.0), (0.0, 250.0), (350.0, 250.0), (350.0, 330.0))
_CRUISE_MPS: Final = 12.0  # 43 km/h on the industrial estate's road
_TURN_MPS: Final = 4.0
_ACCEL: Final = 1.5  # m/s² up and down: a loaded lorry
_DWELL_S: Final = 6
_ALTITUDE_M: Final = 312.0
_GEOID_M: Final = 48.0
_SATELLITES: Final = (4, 5, 9, 12, 24, 25, 29, 31)
_EARTH_M: Final = 6_371_000.0
_KNOTS_PER_MPS: Final = 3600 / 1852


@dataclass(frozen=True, slots=True)
class Epoch:
    """One second of the receiver's output: where, how fast, which way, and whether fixed."""

    time: datetime
    lat: float
    lon: float
    speed_mps: float
    course_deg: float
    fix: bool = True


def _to_latlon(east: float, north: float) -> tuple[float, float]:
    lat0, lon0 = SUPPLIER
    lat = lat0 + math.degrees(north / _EARTH_M)
    lon = lon0 + math.degrees(east / (_EARTH_M * math.cos(math.radians(lat0))))
    return lat, lon


PLANT: Final = _to_latlon(*_CORNERS[-1])


def route(start: datetime = START) -> list[Epoch]:
    """The drive from supplier to plant, one epoch per second, with a fix throughout."""
    segments = list(itertools.pairwise(_CORNERS))
    lengths = [math.dist(a, b) for a, b in segments]
    ends = [sum(lengths[: i + 1]) for i in range(len(lengths))]
    total = ends[-1]

    def at(s: float) -> tuple[float, float, float]:
        for (a, b), length, end in zip(segments, lengths, ends, strict=True):
            if s <= end or end == total:
                f = min(1.0, max(0.0, 1 - (end - s) / length))
                east, north = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
                course = math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360
                return *_to_latlon(east, north), course
        raise AssertionError("unreachable")

    epochs: list[Epoch] = []

    def emit(s: float, speed: float) -> None:
        lat, lon, course = at(s)
        epochs.append(Epoch(start + timedelta(seconds=len(epochs)), lat, lon, speed, course))

    for _ in range(_DWELL_S):
        emit(0.0, 0.0)
    s, v = 0.0, 0.0
    while s < total:
        corner = min((end - s for end in ends[:-1] if end > s), default=math.inf)
        allowed = min(
            _CRUISE_MPS,
            math.sqrt(_TURN_MPS**2 + 2 * _ACCEL * corner),
            math.sqrt(2 * _ACCEL * (total - s)),
        )
        new_v = min(v + _ACCEL, allowed)
        s += (v + new_v) / 2
        v = new_v
        if total - s < 1.0 or v < 0.3:
            s, v = total, 0.0
        emit(min(s, total), round(v, 2))
    for _ in range(_DWELL_S - 1):
        emit(total, 0.0)
    return epochs


def with_fix_loss(epochs: Iterable[Epoch], first: int, count: int) -> list[Epoch]:
    """The epochs with no fix from index `first` for `count` seconds."""
    return [
        replace(e, fix=False) if first <= i < first + count else e for i, e in enumerate(epochs)
    ]


# ----- NMEA 0183 ----------------------------------------------------------------------------------


def checksum(body: str) -> str:
    """The XOR of the characters between `$` and `*`, as two hex digits."""
    value = 0
    for char in body:
        value ^= ord(char)
    return f"{value:02X}"


def sentence(body: str) -> str:
    """`$body*hh`: one NMEA sentence with its checksum (no line end)."""
    return f"${body}*{checksum(body)}"


def _lat(value: float) -> str:
    degrees = int(abs(value))
    return f"{degrees:02d}{(abs(value) - degrees) * 60:07.4f},{'N' if value >= 0 else 'S'}"


def _lon(value: float) -> str:
    degrees = int(abs(value))
    return f"{degrees:03d}{(abs(value) - degrees) * 60:07.4f},{'E' if value >= 0 else 'W'}"


def nmea_epoch(epoch: Epoch) -> list[str]:
    """The epoch as RMC, GGA, VTG and GSA sentences (a receiver's default set, minus GSV)."""
    hms = epoch.time.strftime("%H%M%S.00")
    dmy = epoch.time.strftime("%d%m%y")
    if not epoch.fix:
        return [
            sentence(f"GPRMC,{hms},V,,,,,,,{dmy},,,N"),
            sentence(f"GPGGA,{hms},,,,,0,00,99.99,,,,,,"),
            sentence("GPVTG,,T,,M,,N,,K,N"),
            sentence("GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"),
        ]
    knots = epoch.speed_mps * _KNOTS_PER_MPS
    kmh = epoch.speed_mps * 3.6
    position = f"{_lat(epoch.lat)},{_lon(epoch.lon)}"
    used = ",".join(f"{prn:02d}" for prn in _SATELLITES) + "," * (12 - len(_SATELLITES))
    return [
        sentence(f"GPRMC,{hms},A,{position},{knots:.2f},{epoch.course_deg:.1f},{dmy},,,A"),
        sentence(
            f"GPGGA,{hms},{position},1,{len(_SATELLITES):02d},0.9,{_ALTITUDE_M:.1f},M,"
            f"{_GEOID_M:.1f},M,,"
        ),
        sentence(f"GPVTG,{epoch.course_deg:.1f},T,,M,{knots:.2f},N,{kmh:.2f},K,A"),
        sentence(f"GPGSA,A,3,{used},1.6,0.9,1.3"),
    ]


#: file name -> epochs; the fix is lost under the bridge on the second segment.
LOGS: Final = {
    "drive.nmea": route(),
    "fix-loss.nmea": with_fix_loss(route(), first=30, count=15),
}


def write_logs(folder: Path = NMEA_DIR) -> list[Path]:
    """Writes every log in `LOGS` into `folder` (CRLF line ends, as a receiver sends)."""
    written = []
    for name, epochs in LOGS.items():
        path = folder / name
        lines = [line for epoch in epochs for line in nmea_epoch(epoch)]
        path.write_bytes("".join(f"{line}\r\n" for line in lines).encode("ascii"))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_logs():
        print(path)
