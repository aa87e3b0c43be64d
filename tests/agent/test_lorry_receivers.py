"""The lorry unit against real receivers' habits: a real gpsd fed by gpsfake with the trip logs.

`hardware/nmea/make_logs.py` writes one route as a u-blox sends it (RMC first) and as a
GGA-first receiver does (with position noise in a second log). From a GGA-first receiver gpsd
publishes two TPV reports a second, the first without a course and with a speed it derived from
position deltas (checked below with a raw watcher, so the trap is really there). The three logs
run at once, five times faster than the receiver's seconds (a `ScaledClock` gives the role the
receiver's time base, so the real lorry's sampling rule applies unchanged); each role reaches
its gpsd through the port in its `[lorry]` config. A fourth run, at the receiver's own pace on
the system clock, checks the start-up and the first position. About 60 s in all.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agent.gps import ReportPicker, is_complete
from agent.roles.lorry import LorryUnit, parse_lorry
from agent.runtime import Agent
from cloud.plant import Logistics
from cloud.status.deliveries import DeliveryState, LorryState, estimate
from hardware.factory import EmulatedHardware
from hardware.nmea.make_logs import LOGS, NMEA_DIR, START, TRIP_END, Epoch
from taktline.clock import Clock, ScaledClock, SystemClock
from taktline.private_broker import free_port
from tests.agent.gpsd_fixture import INSTALL, GpsFake, have_gpsfake, remove_shm
from tests.agent.roles.conftest import events, make_agent
from tests.conftest import service_missing

pytestmark = pytest.mark.slow

EPOCH_S = 0.2  # real seconds per receiver second in the accelerated runs
TRIPS = ("trip-rmc-first.nmea", "trip-gga-first.nmea", "trip-gga-first-noisy.nmea")


@dataclass
class Run:
    """One log replayed through gpsd into one lorry role."""

    name: str
    port: int
    agent: Agent
    lorry: LorryUnit
    fake: GpsFake
    reports: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    positions: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def events(self, *types: str) -> list[dict[str, Any]]:
        return events(self.agent, *types)


def watch(address: tuple[str, int], into: list[tuple[float, dict[str, Any]]]) -> None:
    """Records every TPV gpsd streams, with the monotonic time it came (until gpsd ends)."""
    with (
        contextlib.suppress(OSError, ValueError),
        socket.create_connection(address, timeout=120) as sock,
    ):
        stream = sock.makefile("rw")
        stream.readline()
        stream.write('?WATCH={"enable":true,"json":true}\n')
        stream.flush()
        for line in stream:
            report = json.loads(line)
            if report.get("class") == "TPV":
                into.append((time.monotonic(), report))


def start_run(name: str, folder: Path, clock: Clock, cycle_s: float, **section: Any) -> Run:
    """gpsfake on a free port, a watcher, and a lorry role configured with that port."""
    port = free_port()
    fake = GpsFake(NMEA_DIR / name, folder, port=port, cycle_s=cycle_s, linger_s=1)
    fake.wait_ready()
    agent = make_agent(folder, clock, role="lorry", agent=f"pi-{name.split('.')[0]}")  # type: ignore[arg-type]
    config = parse_lorry(
        {"id": "lorry-01", "gpsd": f"127.0.0.1:{port}", **section}, "agent.toml", folder
    )
    hardware = EmulatedHardware(clock)  # no emulated receiver: the configured gpsd is used
    lorry = LorryUnit(agent, config, hardware)
    run = Run(name, port, agent, lorry, fake)
    threading.Thread(target=watch, args=(fake.address, run.reports), daemon=True).start()
    recorder = lorry.gps_recorder
    position = recorder.position

    def timed(*args: Any) -> Any:  # the real recorder, with the moment of each position noted
        event = position(*args)
        run.positions.append((time.monotonic(), dict(zip(_POSITION_KEYS, args, strict=True))))
        return event

    recorder.position = timed  # type: ignore[method-assign]
    lorry.start()
    return run


_POSITION_KEYS = ("lat", "lon", "speed_mps", "heading_deg", "fix", "gps_time")


@pytest.fixture(scope="module")
def trips() -> Iterator[dict[str, Run]]:
    """The three trip logs replayed at once (about 50 s), each into its own lorry role."""
    if not have_gpsfake():
        service_missing(f"gpsd/gpsfake not found: {INSTALL}")
    folder = Path(tempfile.mkdtemp(prefix="gpstrip-"))
    runs: dict[str, Run] = {}
    try:
        for name in TRIPS:
            clock = ScaledClock(START, 1 / EPOCH_S)
            runs[name] = start_run(name, folder, clock, EPOCH_S / 4)
        for run in runs.values():
            run.fake.wait_end(120)
        for run in runs.values():
            run.lorry.stop()
        yield runs
    finally:
        for run in runs.values():
            run.lorry.stop()
            run.fake.close()
            run.agent.outbox.close()
        shutil.rmtree(folder, ignore_errors=True)


def epoch_at(name: str, gps_time: str) -> Epoch:
    """The log's epoch of the second `gps_time` names."""
    at = datetime.fromisoformat(gps_time.replace("Z", "+00:00"))
    return LOGS[name][round((at - START).total_seconds())]


# ----- the trap is there ----------------------------------------------------------------------


def test_gpsd_sends_two_reports_a_second_for_gga_first_logs(trips: dict[str, Run]) -> None:
    for name, run in trips.items():
        fixed = [r for _, r in run.reports if r.get("mode", 0) >= 2 and "time" in r]
        seconds = {r["time"] for r in fixed}
        without_course = [r for r in fixed if "track" not in r and r.get("speed", 0) >= 0.5]
        if "gga-first" in name:
            assert len(fixed) > 1.5 * len(seconds), (name, len(fixed), len(seconds))
            assert len(without_course) > 60, name  # moving, yet no course: GGA's report
        else:
            assert len(fixed) < 1.1 * len(seconds), name
    noisy = trips["trip-gga-first-noisy.nmea"].reports
    standing = [r["speed"] for _, r in noisy if "track" not in r and "speed" in r]
    assert max(standing) > 25.0  # gpsd's derived speeds: noise, even far above the cruise


# ----- what the role made of it ---------------------------------------------------------------


def test_a_configured_gpsd_port_is_used(trips: dict[str, Run]) -> None:
    for run in trips.values():
        assert run.lorry.gps.address == ("127.0.0.1", run.port)
        assert run.lorry.gps.connects >= 1 and run.positions


def test_no_heading_or_speed_the_receivers_rmc_did_not_send(trips: dict[str, Run]) -> None:
    for name, run in trips.items():
        positions = [p for _, p in run.positions]
        assert len(positions) >= 20, name
        alarms = [e["payload"] for e in run.events("agent.alarm")]
        untimed = [p for p in positions if p["gps_time"] is None]
        assert len(untimed) <= 2, (name, untimed, alarms)  # gpsd's first report may lack time
        courses = {e.course_deg for e in LOGS[name] if e.speed_mps >= 0.5}
        for p in untimed:
            assert p["heading_deg"] is None or p["heading_deg"] in courses, (name, p)
        for p in positions:
            if p["gps_time"] is None:
                continue
            epoch = epoch_at(name, p["gps_time"])
            # The speed is RMC's (the receiver's Doppler), never gpsd's position-derived one.
            assert p["speed_mps"] == pytest.approx(epoch.speed_mps, abs=0.02), (name, p, epoch)
            if p["heading_deg"] is not None:
                assert epoch.speed_mps >= 0.5 and p["heading_deg"] == epoch.course_deg, (name, p)
            elif epoch.speed_mps >= 0.5:
                pytest.fail(f"{name}: the receiver's course {epoch.course_deg} was lost: {p}")
        published = run.events("gps.position")
        assert [e["payload"]["heading_deg"] for e in published] == [
            p["heading_deg"] for p in positions
        ]


def test_positions_per_hour_match_the_rmc_first_receiver(trips: dict[str, Run]) -> None:
    hours = len(LOGS["trip-rmc-first.nmea"]) / 3600
    rates = {name: len(run.positions) / hours for name, run in trips.items()}
    reference = rates["trip-rmc-first.nmea"]
    for rate in rates.values():
        assert abs(rate - reference) <= 0.10 * reference, rates
    reasons = trips["trip-gga-first.nmea"].lorry.reasons
    assert reasons.get("heading", 0) <= 4, reasons  # two turns; no flip to a false north


def test_fix_states_of_the_trip(trips: dict[str, Run]) -> None:
    for name, run in trips.items():
        fixes = [e["payload"]["fix"] for e in run.events("gps.fix")]
        # A fix, lost under the bridge, and back (RMC-first: "2d" for a second until GGA's
        # altitude, reported at once, as a fix gained is; "3d" once it held).
        fixed = [f != "none" for f in fixes]
        runs = [v for i, v in enumerate(fixed) if i == 0 or v != fixed[i - 1]]
        assert runs[:3] == [True, False, True], (name, fixes)
        if name == "trip-rmc-first.nmea":
            # Between the tall buildings. (From the GGA-first receivers gpsd reports "3d" at
            # RMC in those seconds, though GGA has no altitude and GSA says 2D: gpsd's view.)
            assert "2d" in fixes, fixes
        alarms = [e["payload"]["alarm"] for e in run.events("agent.alarm")]
        assert alarms[:2] == ["gps_lost", "gps_restored"], (name, alarms)  # the bridge
        timed = [p for _, p in run.positions if p["gps_time"] is not None]
        under = [p for p in timed if not epoch_at(name, p["gps_time"]).fix]
        assert not under, (name, under)


def test_eta_steps_at_constant_speed_stay_within_two_minutes(trips: dict[str, Run]) -> None:
    run = trips["trip-gga-first-noisy.nmea"]
    # The plant 30 km north of the trip's end: an ETA of about half an hour at 72 km/h.
    plant = Logistics(lat=TRIP_END[0] + 30_000 / 111_195, lon=TRIP_END[1])
    lorry = LorryState("pi-trip-gga-first-noisy")
    lorry.fix = "3d"
    delivery = DeliveryState("D-1", lorry.lorry)
    steady: list[float] = []
    previous: datetime | None = None
    history: list[float | None] = []  # the log's true speed at each position
    for event in run.events("gps.position"):
        p = event["payload"]
        lorry.observe(p["lat"], p["lon"], p["speed_mps"], event["time"])
        eta = datetime.fromisoformat(estimate(delivery, lorry, plant, None)["eta"])
        timed = p["gps_time"] is not None
        history.append(epoch_at(run.name, p["gps_time"]).speed_mps if timed else None)
        constant = len(history) >= 4 and all(v == 20.0 for v in history[-4:])
        if constant and previous is not None:
            steady.append(abs((eta - previous).total_seconds()))
        previous = eta
    assert len(steady) >= 5, steady
    assert max(steady) <= 120, steady


# ----- the receiver's own pace: start-up, first position, receiver time ------------------------


def test_start_up_first_position_and_a_receiver_time_off_the_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not have_gpsfake():
        service_missing(f"gpsd/gpsfake not found: {INSTALL}")
    folder = Path(tempfile.mkdtemp(prefix="gpsfirst-"))
    caplog.set_level("INFO", logger="agent.roles.lorry")
    # 0.1 s between sentences: GGA and RMC of one second 0.2 s apart, as at 4,800 baud.
    run = start_run("trip-gga-first.nmea", folder, SystemClock(), 0.1)
    try:
        deadline = time.monotonic() + 20
        while not run.positions and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
    finally:
        run.fake.kill()  # the rest of the trip is not needed (SIGKILL: gpsfake ends cleanly)
        run.lorry.stop()
        run.fake.close()
        remove_shm(run.port)
    try:
        assert run.positions, "no position within 20 s"
        usable = next(t for t, r in run.reports if r.get("mode", 0) >= 2 and "lat" in r)
        first_position = run.positions[0][0]
        assert first_position - usable <= 1.0, first_position - usable
        # Start-up: gpsd opens the receiver only when a client watches; meanwhile the role
        # waits and says so, instead of reporting "no active GPS receiver" as a fault.
        fixes = run.events("gps.fix")
        assert fixes and fixes[0]["payload"]["fix"] in ("2d", "3d"), [f["payload"] for f in fixes]
        assert not [f for f in fixes if "no active GPS receiver" in f["payload"]["detail"]]
        # The log's date is not today's: the receiver's time is left out and flagged once.
        assert all(p["gps_time"] is None for _, p in run.positions)
        alarms = [e["payload"] for e in run.events("agent.alarm")]
        assert [a["alarm"] for a in alarms] == ["gps_time_off"], alarms
        assert "2026-11-23T09:30" in alarms[0]["detail"] and "rollover" in alarms[0]["detail"]
    finally:
        run.agent.outbox.close()
        shutil.rmtree(folder, ignore_errors=True)


# ----- the pieces, without gpsd --------------------------------------------------------------


def tpv(second: int, **keys: Any) -> dict[str, Any]:
    return {"class": "TPV", "mode": 3, "time": f"2026-11-23T09:30:{second:02d}.000Z", **keys}


def test_report_picker_prefers_the_report_with_rmc_data() -> None:
    picker = ReportPicker()
    gga = tpv(1, lat=48.0, lon=9.0, speed=14.7)  # GGA's: no course, a derived speed
    picker.add(gga)
    assert picker.best is None and not is_complete(gga)
    rmc = tpv(1, lat=48.0, lon=9.0, speed=12.0, track=230.0)
    picker.add(rmc)
    assert picker.best is rmc
    picker.add(tpv(2, lat=48.1, lon=9.0, speed=9.3))  # the next second's GGA: not yet final
    assert picker.best is rmc
    picker.add(tpv(3, lat=48.2, lon=9.0, speed=17.0))  # second 2 had no RMC (an overrun)
    assert picker.best is rmc  # its GGA-only report is passed over for second 1's RMC
    standing = tpv(3, lat=48.2, lon=9.0, speed=0.0)  # RMC standing: no course (empty field)
    picker.add(standing)
    picker.add(tpv(4, lat=48.2, lon=9.0, speed=6.1))
    assert picker.best is standing  # its second is over: the last report of it is final
    nofix = {"class": "TPV", "mode": 1, "time": "2026-11-23T09:30:05.000Z"}
    picker.add(nofix)
    assert picker.best is nofix
    alone = tpv(6, lat=48.3, lon=9.0, speed=3.0)
    picker.add(alone)
    picker.add(tpv(7, lat=48.3, lon=9.0, speed=2.0))
    assert picker.best is alone  # no trusted report since the fix came back: the newest final
    picker.clear()
    assert picker.best is None
    picker.add({"class": "TPV", "mode": 3, "epv": 29.9})  # gpsd opening the receiver
    picker.add(tpv(9, lat=48.3, lon=9.0, speed=0.0))
    assert picker.best is None  # nothing final yet: the odd report was no report


def test_the_eta_holds_through_a_misread_speed_and_standing_uses_the_cruise() -> None:
    plant = Logistics(lat=48.9, lon=9.2, cruise_kmh=50)
    lorry = LorryState("pi-lorry-01", fix="3d")
    delivery = DeliveryState("D-1", lorry.lorry)
    etas = []
    lat = 48.6
    for i, speed in enumerate([12.0, 12.0, 12.0, 0.34, 12.0, 12.0, 15.0, 12.0]):
        lat += 12 * 8 / 111_195
        lorry.observe(lat, 9.2, speed, f"2026-11-23T10:00:{i * 8:02d}Z")
        etas.append(datetime.fromisoformat(estimate(delivery, lorry, plant, None)["eta"]))
        assert lorry.moving
    steps = [abs((b - a).total_seconds()) for a, b in itertools.pairwise(etas)]
    assert max(steps) <= 120, steps
    for i in range(3):  # parked: the median falls below 0.5 m/s: the cruise speed is used
        lorry.observe(lat, 9.2, 0.0, f"2026-11-23T10:02:{i * 20:02d}Z")
    assert lorry.moving is False
    view = estimate(delivery, lorry, plant, None)
    parked_at = datetime.fromisoformat("2026-11-23T10:02:40Z")
    travel = (datetime.fromisoformat(view["eta"]) - parked_at).total_seconds()
    assert travel == pytest.approx(view["distance_km"] * 1000 / (50 / 3.6), rel=0.01)
    lorry.observe(lat, 9.2, 1.05, "2026-11-23T10:03:00Z")  # one crawl reading: still standing
    assert lorry.moving is False
    lorry.observe(lat, 9.2, 1.05, "2026-11-23T10:03:05Z")  # the second: a jam, moving
    assert lorry.moving and lorry.eta_speed_mps(13.9) == pytest.approx(1.05)
