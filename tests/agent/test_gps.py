"""The GPS client: gpsd-py3's code against a real gpsd fed by gpsfake, and the demo's emulator."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import gpsd
import pytest

from agent.gps import Fix, GpsClient, GpsdUnreachable
from hardware.gpsd_emu import GpsdEmulator
from hardware.nmea.make_logs import LOGS, PLANT, SUPPLIER, checksum
from taktline.clock import FakeClock
from taktline.private_broker import free_port
from tests.agent.gpsd_fixture import GpsFake, gpsfake  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def read_until_gone(client: GpsClient, timeout: float = 40.0) -> tuple[list[Fix], str]:
    """Reads every 50 ms until gpsd goes away; returns the fixes and the final error."""
    fixes: list[Fix] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fixes.append(client.read())
        except GpsdUnreachable as exc:
            return fixes, str(exc)
        time.sleep(0.05)
    raise AssertionError("gpsd did not go away at the end of the log")


def runs(fixes: list[Fix]) -> list[str]:
    """The fix states with repeats collapsed: ["3d", "none", "3d"]."""
    out: list[str] = []
    for fix in fixes:
        if not out or out[-1] != fix.fix:
            out.append(fix.fix)
    return out


def test_nmea_logs_are_reproducible_and_checksummed() -> None:
    from hardware.nmea.make_logs import NMEA_DIR, RECEIVERS, log_lines

    for name in LOGS:
        text = (NMEA_DIR / name).read_text()
        assert text == "".join(f"{s}\n" for s in log_lines(name)), name
        broken = []
        for line in text.splitlines():
            body, _, check = line[1:].partition("*")
            if checksum(body) != check:
                broken.append(line)
        every = RECEIVERS[name].overrun_every if name in RECEIVERS else 0
        # An overrun second: GGA arrives whole, the three sentences after it corrupted.
        assert len(broken) == 3 * (len(LOGS[name]) // every if every else 0), name
    lost = [e for e in LOGS["fix-loss.nmea"] if not e.fix]
    assert len(lost) == 15
    assert "$GPGGA,093030.00,,,,,0," in (NMEA_DIR / "fix-loss.nmea").read_text()
    gga_first = (NMEA_DIR / "trip-gga-first.nmea").read_text().splitlines()
    assert gga_first[0].startswith("$GPGGA") and gga_first[2].startswith("$GPRMC")
    trip = LOGS["trip-rmc-first.nmea"]
    assert sum(not e.fix for e in trip) == 15 and sum(e.mode == 2 for e in trip) >= 10
    assert any(e.speed_mps == 0 for e in trip[40:-10])  # the traffic light
    assert {round(e.course_deg) for e in trip if e.speed_mps > 0} == {0, 90}


# ----- real gpsd, fed by gpsfake --------------------------------------------------------------


def test_positions_flow_and_the_no_fix_period_is_explicit(
    gpsfake: Callable[..., GpsFake],  # noqa: F811
) -> None:
    fake = gpsfake("fix-loss.nmea")
    fake.wait_ready()
    with GpsClient(fake.address, timeout_s=2.0) as client:
        fixes, end = read_until_gone(client)
    assert fake.wait_end() in (0, 1)  # 1: "Test timed out", gpsfake's normal end with -W
    # Until gpsd activates the device, and once gpsfake closes it, there is no receiver: "none"
    # may start and end the list.
    # Around a fix gained gpsd may say "2d" for a moment (RMC before GGA's altitude).
    start = next(i for i, f in enumerate(fixes) if f.has_fix)
    states = runs([f for f in fixes[start:] if f.fix != "2d"])
    assert states[:3] == ["3d", "none", "3d"], states
    assert "closed the connection" in end or "refused" in end, end
    fixed = [f for f in fixes if f.has_fix]
    lats = [f.lat for f in fixed if f.lat is not None]
    assert min(lats) >= SUPPLIER[0] - 1e-4 and max(lats) <= PLANT[0] + 1e-4
    assert all(0 <= (f.speed_mps or 0) <= 12.1 for f in fixed)
    assert {f.heading_deg for f in fixed} <= {None, 0.0, 90.0}
    timed = [f.time for f in fixed if f.time]
    assert len(timed) >= 0.9 * len(fixed), [f for f in fixed if not f.time]
    assert all(t.startswith("2026-11-23T09:3") for t in timed), timed
    nofix = [f for f in fixes if f.fix == "none"]
    assert all(f.lat is None and f.detail for f in nofix)
    # No position under the bridge (epochs 30-44); after it the lorry heads east.
    assert not [f for f in fixed if f.time and "09:30:30" <= f.time[11:19] < "09:30:45"]
    first_back = next(f for f in fixed if f.time and f.time[11:19] >= "09:30:45")
    assert first_back.heading_deg == 90.0 and first_back.lon is not None
    assert first_back.lon > SUPPLIER[1] + 1e-3


def test_gpsd_unreachable_is_a_clear_error_and_the_client_recovers(
    gpsfake: Callable[..., GpsFake],  # noqa: F811
) -> None:
    port = free_port()
    client = GpsClient(("127.0.0.1", port), backoff_s=0.2, backoff_max_s=0.4)
    with pytest.raises(GpsdUnreachable, match=rf"gpsd at 127.0.0.1:{port} unreachable"):
        client.read()
    assert "connection refused: is gpsd running?" in str(client.error)
    with pytest.raises(GpsdUnreachable, match="next attempt in"):
        client.read()  # within the backoff: no new attempt
    fake = gpsfake("drive.nmea", port=port, cycle_s=0.02)
    deadline = time.monotonic() + 20
    fix: Fix | None = None
    while time.monotonic() < deadline:
        try:
            fix = client.read()
            if fix.has_fix:
                break
        except GpsdUnreachable:
            pass
        time.sleep(0.1)
    assert fix is not None and fix.fix == "3d", fix
    assert client.error is None and client.connects == 1 and client.failures >= 1
    _, end = read_until_gone(client)
    assert "closed the connection" in end or "refused" in end
    client.close()
    fake.wait_end()


def test_a_silent_gpsd_times_out_instead_of_hanging() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        held: list[socket.socket] = []
        accepter = threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True)
        accepter.start()
        client = GpsClient(server.getsockname()[:2], timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(GpsdUnreachable, match="no answer in time"):
            client.read()
        assert time.monotonic() - started < 2
        for conn in held:
            conn.close()


def test_a_server_that_is_not_gpsd_is_named_as_such() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer() -> None:
            conn, _ = server.accept()
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            time.sleep(0.5)
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(GpsdUnreachable, match=r"not gpsd's JSON protocol: 'SSH-2\.0"):
            GpsClient(server.getsockname()[:2], timeout_s=1).read()


# ----- the demo's emulator, with gpsd-py3's own client code -----------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[GpsdEmulator]:
    with GpsdEmulator(LOGS["fix-loss.nmea"], clock=clock) as emulator:
        yield emulator


def test_emulator_serves_gpsd_py3_module_level_client(emu: GpsdEmulator, clock: FakeClock) -> None:
    gpsd.connect(*emu.address)
    try:
        assert gpsd.device() == {"path": "/dev/ttyACM0", "speed": 9600, "driver": "u-blox"}
        first = gpsd.get_current()
        assert first.mode == 3 and first.position() == pytest.approx(SUPPLIER)
        assert first.sats_valid == 8 and first.get_time().year == clock.now().year
        clock.advance(15)
        moving = gpsd.get_current()
        assert moving.lat > SUPPLIER[0] and moving.hspeed == pytest.approx(12.0)
        assert moving.movement()["track"] == 0.0
        clock.advance(20)  # epoch 35: under the bridge
        lost = gpsd.get_current()
        assert lost.mode == 1
        with pytest.raises(gpsd.NoFixError):
            lost.position()
        emu.attached = False
        with pytest.raises(UserWarning, match="GPS not active"):
            gpsd.get_current()
    finally:
        gpsd.gpsd_socket.close()


def test_emulator_through_the_client_states_and_two_clients(
    emu: GpsdEmulator, clock: FakeClock
) -> None:
    with (
        GpsdEmulator(LOGS["drive.nmea"], clock=clock, shuttle=True) as other,
        GpsClient(emu.address, clock=clock) as a,
        GpsClient(other.address, clock=clock) as b,
    ):
        clock.advance(35)
        assert a.read().fix == "none"
        fix_b = b.read()  # its own socket: the module-level one of gpsd-py3 is not shared
        assert fix_b.fix == "3d" and fix_b.heading_deg == 90.0
        clock.advance(15)
        assert a.read().heading_deg == 90.0
        clock.advance(len(LOGS["drive.nmea"]) - 50 + 20)  # on the way back: heading south
        back = b.read()
        assert back.heading_deg in (180.0, 270.0) and back.speed_mps is not None
        emu.attached = False
        unplugged = a.read()
        assert unplugged.fix == "none" and "no active GPS receiver" in unplugged.detail


def test_emulator_streams_tpv_and_sky_when_watched(emu: GpsdEmulator, clock: FakeClock) -> None:
    import json

    with socket.create_connection(emu.address, timeout=2) as sock:
        stream = sock.makefile("rw")
        assert json.loads(stream.readline())["class"] == "VERSION"
        stream.write('?WATCH={"enable":true,"json":true}\n')
        stream.flush()
        classes = [json.loads(stream.readline())["class"] for _ in range(4)]
        assert classes == ["DEVICES", "WATCH", "TPV", "SKY"]
        clock.advance(1)
        assert json.loads(stream.readline())["class"] == "TPV"
        stream.write("?FOO;\n")
        stream.flush()
        error = json.loads(stream.readline())
        assert error["class"] == "ERROR" and "FOO" in error["message"]


def test_emulator_gone_then_back_on_the_same_port(clock: FakeClock) -> None:
    emulator = GpsdEmulator(LOGS["drive.nmea"], clock=clock).start()
    address = emulator.address
    client = GpsClient(address, clock=clock, backoff_s=1.0)
    assert client.read().fix == "3d"
    emulator.close()
    with pytest.raises(GpsdUnreachable, match=r"closed the connection|refused|reset"):
        client.read()
    with GpsdEmulator(LOGS["drive.nmea"], clock=clock, port=address[1]):
        with pytest.raises(GpsdUnreachable, match="next attempt"):
            client.read()
        clock.advance(1.0)
        assert client.read().fix == "3d" and client.connects == 2
    client.close()
