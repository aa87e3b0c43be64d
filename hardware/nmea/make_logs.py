"""The lorry's route and the NMEA logs `gpsfake` replays in the tests, made reproducibly.

A lorry leaves the supplier's dock, drives about 700 m along three road segments (two right-angle
turns, slowing for each) and stops at the plant's goods-in dock. `route()` turns that into one
`Epoch` per second (position, speed, course, fix); `nmea_epoch()` writes an epoch as the
sentences a u-blox receiver sends (RMC, GGA, VTG, GSA, each with its checksum); `LOGS` names the
logs kept beside this file: `drive.nmea` (a fix throughout) and `fix-loss.nmea` (no fix for 15 s
mid-route, as under a bridge: GGA quality 0, RMC status V, GSA mode 1, then the fix back).
`hardware/gpsd_emu.py` serves the same epochs over gpsd's JSON protocol.

Real receivers differ in the order of their sentences, and gpsd's reports differ with them. The
`trip-*` logs drive one longer route (`trip()`: 1.5 km north at 72 km/h, a turn, a stop at a
traffic light, 15 s without a fix under a bridge, a turn, 20 s of a 2D fix between tall
buildings, the plant's dock) as three receivers would send it (`Receiver`):

- `trip-rmc-first.nmea`: a u-blox (RMC, GGA, VTG, GSA each second): gpsd sends one complete TPV
  report per second.
- `trip-gga-first.nmea`: a SiRF-style receiver (GGA, GSA, RMC, VTG; an empty course while
  standing) on a 4,800-baud link that overruns now and then: every 20th second the sentences after
  GGA arrive with broken checksums, gpsd drops them, and from the first such second on it takes
  GGA for an end of cycle. It then publishes two TPV reports per second, the first with no `track`
  and a `speed` it derived from position deltas, as gpsd does with real GGA-first receivers.
- `trip-gga-first-noisy.nmea`: the same receiver with positions scattered by multipath (4 m
  standard deviation, fixed seed): gpsd's derived speed of the GGA report is noise (several m/s
  while standing), while RMC's Doppler speed stays true.

Run `python -m hardware.nmea.make_logs` to rewrite every log after changing a route or a receiver;
`tests/agent/test_gps.py` checks the files are what this module makes.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

__all__ = [
    "LOGS",
    "NMEA_DIR",
    "PLANT",
    "RECEIVERS",
    "SUPPLIER",
    "TRIP_END",
    "Epoch",
    "Receiver",
    "checksum",
    "log_lines",
    "nmea_epoch",
    "route",
    "sentence",
    "trip",
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
    mode: int = 3  # 3: a 3D fix; 2: a 2D fix (no altitude)


def _to_latlon(east: float, north: float) -> tuple[float, float]:
    lat0, lon0 = SUPPLIER
    lat = lat0 + math.degrees(north / _EARTH_M)
    lon = lon0 + math.degrees(east / (_EARTH_M * math.cos(math.radians(lat0))))
    return lat, lon


PLANT: Final = _to_latlon(*_CORNERS[-1])


_Point = tuple[float, float]
#: One second of a drive: metres east, metres north, speed (m/s), course (degrees).
_Step = tuple[float, float, float, float]


def _leg(corners: Sequence[_Point], cruise_mps: float) -> list[_Step]:
    """Drives from standstill at the first corner to standstill at the last, one step a second.

    The lorry speeds up and slows down at `_ACCEL`, takes each inner corner at `_TURN_MPS` at
    most, and never exceeds `cruise_mps`.
    """
    segments = list(itertools.pairwise(corners))
    lengths = [math.dist(a, b) for a, b in segments]
    ends = [sum(lengths[: i + 1]) for i in range(len(lengths))]
    total = ends[-1]

    def at(s: float) -> tuple[float, float, float]:
        for (a, b), length, end in zip(segments, lengths, ends, strict=True):
            if s <= end or end == total:
                f = min(1.0, max(0.0, 1 - (end - s) / length))
                east, north = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
                course = math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360
                return east, north, course
        raise AssertionError("unreachable")

    steps: list[_Step] = []
    s, v = 0.0, 0.0
    while s < total:
        corner = min((end - s for end in ends[:-1] if end > s), default=math.inf)
        allowed = min(
            cruise_mps,
            math.sqrt(_TURN_MPS**2 + 2 * _ACCEL * corner),
            math.sqrt(2 * _ACCEL * (total - s)),
        )
        new_v = min(v + _ACCEL, allowed)
        s += (v + new_v) / 2
        v = new_v
        if total - s < 1.0 or v < 0.3:
            s, v = total, 0.0
        east, north, course = at(min(s, total))
        steps.append((east, north, round(v, 2), course))
    return steps


def _standing(point: _Point, course: float, seconds: int) -> list[_Step]:
    return [(point[0], point[1], 0.0, course)] * seconds


def _epochs(steps: Iterable[_Step], start: datetime) -> list[Epoch]:
    epochs = []
    for i, (east, north, speed, course) in enumerate(steps):
        lat, lon = _to_latlon(east, north)
        epochs.append(Epoch(start + timedelta(seconds=i), lat, lon, speed, course))
    return epochs


def route(start: datetime = START) -> list[Epoch]:
    """The drive from supplier to plant, one epoch per second, with a fix throughout."""
    leg = _leg(_CORNERS, _CRUISE_MPS)
    steps = _standing(_CORNERS[0], leg[0][3], _DWELL_S) + leg  # at the dock, facing the road
    steps += _standing(_CORNERS[-1], leg[-1][3], _DWELL_S - 1)
    return _epochs(steps, start)


#: The trip's two legs (metres east and north of the supplier's dock): the traffic light between.
_TRIP_LEGS: Final = (
    ((0.0, 0.0), (0.0, 1500.0), (600.0, 1500.0)),
    ((600.0, 1500.0), (1200.0, 1500.0), (1200.0, 2100.0)),
)
_TRIP_CRUISE_MPS: Final = 20.0  # 72 km/h on the main road
_TRIP_STOP_S: Final = 20
#: Seconds after leaving the traffic light when the bridge begins, and how long it lasts.
_BRIDGE_AFTER_S: Final = 12
_BRIDGE_S: Final = 15
#: North of this (metres) on the last stretch, tall buildings leave a 2D fix.
_CANYON_NORTH_M: Final = 1700.0


def trip(start: datetime = START) -> list[Epoch]:
    """The longer drive of the `trip-*` logs (see the module's docstring), one epoch a second."""
    first, second = (_leg(corners, _TRIP_CRUISE_MPS) for corners in _TRIP_LEGS)
    steps = _standing(_TRIP_LEGS[0][0], 0.0, 5) + first
    steps += _standing(_TRIP_LEGS[1][0], first[-1][3], _TRIP_STOP_S)
    bridge = len(steps) + _BRIDGE_AFTER_S
    steps += second + _standing(_TRIP_LEGS[1][-1], second[-1][3], 5)
    epochs = _epochs(steps, start)
    out = []
    for i, (epoch, step) in enumerate(zip(epochs, steps, strict=True)):
        if bridge <= i < bridge + _BRIDGE_S:
            epoch = replace(epoch, fix=False)
        elif step[1] >= _CANYON_NORTH_M and step[2] > 0:
            epoch = replace(epoch, mode=2)
        out.append(epoch)
    return out


#: The trip's end, the plant's dock of the `trip-*` logs (lat, lon).
TRIP_END: Final = _to_latlon(*_TRIP_LEGS[-1][-1])


def with_jitter(epochs: Iterable[Epoch], sigma_m: float, seed: int) -> list[Epoch]:
    """The epochs with each position moved by a random error (normal, `sigma_m` per axis)."""
    rng = random.Random(seed)
    out = []
    for epoch in epochs:
        d_lat, d_lon = _to_latlon(rng.gauss(0, sigma_m), rng.gauss(0, sigma_m))
        lat = epoch.lat + d_lat - SUPPLIER[0]
        lon = epoch.lon + d_lon - SUPPLIER[1]
        out.append(replace(epoch, lat=lat, lon=lon))
    return out


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


@dataclass(frozen=True, slots=True)
class Receiver:
    """How a receiver writes its epochs.

    Attributes:
        gga_first: GGA, GSA, RMC, VTG (SiRF, many Garmin units) instead of RMC, GGA, VTG, GSA
            (u-blox).
        still_course: Whether the course field is filled while standing (u-blox repeats the
            last course; others leave the field empty).
        overrun_every: Every so many seconds (0: never) the sentences after the first arrive
            with broken checksums, as over a 4,800-baud link that overruns.
    """

    gga_first: bool = False
    still_course: bool = True
    overrun_every: int = 0


def _broken(line: str) -> str:
    """`line` with a checksum that does not match (a corrupted sentence gpsd drops)."""
    body, _, check = line.partition("*")
    return f"{body}*{int(check, 16) ^ 0x5A:02X}"


def nmea_epoch(epoch: Epoch, receiver: Receiver = Receiver(), index: int = 0) -> list[str]:
    """The epoch as RMC, GGA, VTG and GSA sentences (a receiver's default set, minus GSV).

    `index` is the epoch's second in its log (for the receiver's `overrun_every`).
    """
    hms = epoch.time.strftime("%H%M%S.00")
    dmy = epoch.time.strftime("%d%m%y")
    if not epoch.fix:
        rmc = sentence(f"GPRMC,{hms},V,,,,,,,{dmy},,,N")
        gga = sentence(f"GPGGA,{hms},,,,,0,00,99.99,,,,,,")
        vtg = sentence("GPVTG,,T,,M,,N,,K,N")
        gsa = sentence("GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99")
    else:
        knots = epoch.speed_mps * _KNOTS_PER_MPS
        kmh = epoch.speed_mps * 3.6
        course = f"{epoch.course_deg:.1f}"
        if epoch.speed_mps == 0 and not receiver.still_course:
            course = ""
        position = f"{_lat(epoch.lat)},{_lon(epoch.lon)}"
        used = ",".join(f"{prn:02d}" for prn in _SATELLITES) + "," * (12 - len(_SATELLITES))
        rmc = sentence(f"GPRMC,{hms},A,{position},{knots:.2f},{course},{dmy},,,A")
        if epoch.mode == 2:  # no altitude: GGA's altitude fields empty, GSA says 2D
            gga = sentence(f"GPGGA,{hms},{position},1,04,2.8,,,,,,")
            gsa = sentence("GPGSA,A,2,04,09,24,29,,,,,,,,,3.1,2.8,1.0")
        else:
            gga = sentence(
                f"GPGGA,{hms},{position},1,{len(_SATELLITES):02d},0.9,{_ALTITUDE_M:.1f},M,"
                f"{_GEOID_M:.1f},M,,"
            )
            gsa = sentence(f"GPGSA,A,3,{used},1.6,0.9,1.3")
        vtg = sentence(f"GPVTG,{course},T,,M,{knots:.2f},N,{kmh:.2f},K,A")
    lines = [gga, gsa, rmc, vtg] if receiver.gga_first else [rmc, gga, vtg, gsa]
    every = receiver.overrun_every
    if every and index % every == every - 1:
        lines = lines[:1] + [_broken(line) for line in lines[1:]]
    return lines


_SIRF: Final = Receiver(gga_first=True, still_course=False, overrun_every=20)
#: file name -> epochs; the fix is lost under the bridge on the second segment.
LOGS: Final = {
    "drive.nmea": route(),
    "fix-loss.nmea": with_fix_loss(route(), first=30, count=15),
    "trip-rmc-first.nmea": trip(),
    "trip-gga-first.nmea": trip(),
    "trip-gga-first-noisy.nmea": with_jitter(trip(), sigma_m=4.0, seed=20),
}
#: file name -> the receiver that "sent" it (a u-blox when not listed).
RECEIVERS: Final = {
    "trip-gga-first.nmea": _SIRF,
    "trip-gga-first-noisy.nmea": _SIRF,
}


def log_lines(name: str) -> list[str]:
    """The sentences of the log `name` (a key of `LOGS`), in the order its receiver sends them."""
    receiver = RECEIVERS.get(name, Receiver())
    return [line for i, e in enumerate(LOGS[name]) for line in nmea_epoch(e, receiver, i)]


def write_logs(folder: Path = NMEA_DIR) -> list[Path]:
    """Writes every log in `LOGS` into `folder` (CRLF line ends, as a receiver sends)."""
    written = []
    for name in LOGS:
        path = folder / name
        path.write_bytes("".join(f"{line}\r\n" for line in log_lines(name)).encode("ascii"))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_logs():
        print(path)
