"""The Modbus source against a real pymodbus server (the simulated PLC): TCP on loopback, RTU over
a pty pair; counts, wraps, a server restart and a stalled server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from pymodbus.client import ModbusTcpClient

from tests.agent.plc.conftest import SimulatedPlc, Station

pytestmark = pytest.mark.slow

REGISTERS = """\
registers = { run = "coil:0", cycle = "holding:0:u32", good = "holding:2:u16", \
scrap = "holding:3:u16", stop_reason = "holding:4" }
stop_codes = { 2 = "maintenance", 3 = "breakdown" }
interval_s = 0.05
keepalive_s = 1.0
reconnect_max_s = 0.5
"""


def tcp(port: int) -> str:
    return f'protocol = "modbus"\nurl = "modbus+tcp://127.0.0.1:{port}"\n{REGISTERS}'


def writer(port: int) -> ModbusTcpClient:
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
    assert client.connect()
    return client


def test_state_changes_counts_and_wraps_become_events(
    plc_factory: Callable[..., SimulatedPlc], station_factory: Callable[[str], Station], port: int
) -> None:
    sim = plc_factory("--modbus-tcp", str(port))
    sim.start("--init", "cycle=4294967294", "--init", "good=65533")
    station = station_factory(tcp(port))
    station.until(lambda: station.runs() == [False], 10, "the run state at start")
    plc = writer(port)
    try:
        plc.write_coil(0, True, device_id=1)
        station.until(lambda: station.runs() == [False, True], 5, "run on")
        plc.write_registers(0, [0, 3], device_id=1)  # 32-bit: 4294967294 -> 3 is 5 cycles
        plc.write_register(2, 2, device_id=1)  # 16-bit: 65533 -> 2 is 5 good parts
        plc.write_register(3, 1, device_id=1)
        station.until(
            lambda: (
                (station.count("cycle"), station.count("good"), station.count("scrap")) == (5, 5, 1)
            ),
            5,
            "the counts across the wraps",
        )
        plc.write_coil(0, False, device_id=1)
        plc.write_register(4, 2, device_id=1)
        station.until(lambda: station.events("machine.stop_reason"), 5, "the stop reason")
        assert station.events("machine.stop_reason")[0]["payload"]["reason"] == "maintenance"
        assert station.runs() == [False, True, False]
        sources = {e["source"] for e in station.events("machine.signal", "machine.stop_reason")}
        assert sources == {"press-01-plc"}
        assert {e["station"] for e in station.events()} == {"press-01"}
    finally:
        plc.close()


def test_a_restarted_plc_loses_or_doubles_no_count(
    plc_factory: Callable[..., SimulatedPlc], station_factory: Callable[[str], Station], port: int
) -> None:
    sim = plc_factory("--modbus-tcp", str(port)).start("--init", "cycle=100")
    station = station_factory(tcp(port))
    station.until(lambda: station.runs() == [False], 10, "connected")
    plc = writer(port)
    plc.write_registers(0, [0, 107], device_id=1)
    plc.close()
    station.until(lambda: station.count("cycle") == 7, 5, "7 cycles")
    sim.kill()  # the PLC restarts; it keeps its counters and counts 3 more meanwhile
    station.until(lambda: "plc_lost" in station.alarms(), 5, "plc_lost")
    sim.start("--init", "cycle=110")
    station.until(lambda: "plc_restored" in station.alarms(), 10, "plc_restored")
    station.until(lambda: station.count("cycle") >= 10, 5, "the cycles made while it was down")
    time.sleep(0.3)
    station.role.poll()
    assert station.count("cycle") == 10


def test_a_stalled_plc_raises_an_alarm_within_twice_the_keepalive(
    plc_factory: Callable[..., SimulatedPlc], station_factory: Callable[[str], Station], port: int
) -> None:
    sim = plc_factory("--modbus-tcp", str(port)).start()
    station = station_factory(tcp(port))
    station.until(lambda: station.runs() == [False], 10, "connected")
    sim.stall()  # the process stops answering; its socket stays open
    took = station.until(lambda: "plc_lost" in station.alarms(), 5, "plc_lost")
    assert took <= 2 * 1.0
    sim.resume()
    station.until(lambda: "plc_restored" in station.alarms(), 10, "plc_restored")


def test_rtu_over_a_serial_line(
    plc_factory: Callable[..., SimulatedPlc],
    station_factory: Callable[[str], Station],
    pty_pair: tuple[str, str],
) -> None:
    plc_tty, agent_tty = pty_pair
    plc_factory("--modbus-rtu", plc_tty).start("--init", "run=1", "--init", "scrap=65535")
    rtu = REGISTERS.replace('run = "coil:0"', 'run = "discrete:0"').replace(
        "keepalive_s = 1.0", "keepalive_s = 3.0"
    )
    station = station_factory(f'protocol = "modbus"\nurl = "modbus+rtu://{agent_tty}"\n{rtu}')
    station.until(lambda: station.runs() == [True], 10, "the run state over RTU")
    station.until(lambda: station.source.answers > 3, 10, "whole polls over RTU")
    assert station.source.worker.faults == 0
