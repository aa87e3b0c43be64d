"""The demo's PLC: one station's machine is a simulated PLC, not GPIO pins.

`SimulatedPlc` runs `python -m hardware.plc_sim` (a real pymodbus Modbus TCP server or a real
asyncua OPC UA server, on a free loopback port) in its own process with `--simulate`: the
machine runs by itself, counts cycles, good and scrap parts in its registers and now and then
stops with a stop-reason code. `plc_table()` is the `[station.plc]` table the station's agent
reads it with (`agent/plc/`, `hardware/plc-maps.md`), so the demo's station runs exactly what a
Pi beside a PLC runs.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

from taktline.private_broker import free_port

__all__ = ["PLC_STATION", "SimulatedPlc", "plc_table"]

#: The demo station whose machine signals come from the simulated PLC.
PLC_STATION: Final = "twist-01"
Protocol = Literal["modbus", "opcua"]
#: The simulator's stop-reason codes (hardware/plc-maps.md); none takes the machine out of the
#: plan (the demo's scripted breakdown is crimp-02's).
STOP_CODES: Final = {"1": "changeover", "2": "other", "3": "other", "4": "material_shortage"}
_READY_S: Final = 20.0


def plc_table(protocol: Protocol, port: int, station: str = PLC_STATION) -> dict[str, Any]:
    """The `[station.plc]` table that reads the simulator on `port` over `protocol`."""
    table: dict[str, Any] = {
        "id": f"{station}-plc",
        "protocol": protocol,
        "interval_s": 0.5,
        "keepalive_s": 5,
        "stop_codes": dict(STOP_CODES),
    }
    if protocol == "modbus":
        table["url"] = f"modbus+tcp://127.0.0.1:{port}"
        table["registers"] = {
            "run": "coil:0",
            "cycle": "holding:0:u32",
            "good": "holding:2:u16",
            "scrap": "holding:3:u16",
            "stop_reason": "holding:4",
        }
    else:
        table["url"] = f"opc.tcp://127.0.0.1:{port}/taktline/plc-sim/"
        table["nodes"] = {
            "run": "ns=2;s=Machine.Running",
            "cycle": "ns=2;s=Machine.Cycles",
            "good": "/Objects/2:Machine/2:Good",
            "scrap": "ns=2;s=Machine.Scrap",
            "stop_reason": "ns=2;s=Machine.StopCode",
        }
    return table


class SimulatedPlc:
    """The simulator in its own process; a context manager (started on enter, killed on exit).

    Args:
        protocol: Which server the station reads.
        cycle_s: The machine's cycle time.
        seed: The simulation's seed (its stops and scrap).
    """

    def __init__(self, protocol: Protocol, cycle_s: float, seed: int) -> None:
        self.protocol = protocol
        self.port = free_port()
        self.cycle_s = cycle_s
        self.seed = seed
        self.process: subprocess.Popen[str] | None = None

    def table(self, station: str = PLC_STATION) -> dict[str, Any]:
        """The station's `[station.plc]` table for this simulator."""
        return plc_table(self.protocol, self.port, station)

    @property
    def url(self) -> str:
        """Where the simulator serves."""
        return str(self.table()["url"])

    def start(self) -> SimulatedPlc:
        """Starts the simulator; returns once it serves.

        Raises:
            RuntimeError: it did not start within 20 s (its error output says why).
        """
        option = "--modbus-tcp" if self.protocol == "modbus" else "--opcua"
        command = [
            sys.executable, "-m", "hardware.plc_sim", option, str(self.port),
            "--simulate", str(self.cycle_s), "--seed", str(self.seed),
        ]  # fmt: skip
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        ready = threading.Event()
        stdout = self.process.stdout
        assert stdout is not None
        line: list[str] = []

        def read_first_line() -> None:  # "ready" once the server listens
            line.append(stdout.readline())
            ready.set()

        threading.Thread(target=read_first_line, daemon=True).start()
        if not ready.wait(_READY_S) or line[0].strip() != "ready":
            self.close()
            raise RuntimeError(f"the simulated PLC did not start: {' '.join(command)}")
        return self

    def close(self) -> None:
        """Stops the simulator (SIGKILL: a PLC has no clean stop to wait for)."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.communicate(timeout=10)

    def __enter__(self) -> SimulatedPlc:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
