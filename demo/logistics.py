"""The demo's logistics scene: a JIT/JIS call-off to the cable supplier, an AGV feeding the line.

The plant model gives the demo's supplier call-off terms, makes the 12-pin connector of the seat
harness just in sequence at the assembly board, and adds one AGV (`AGV`) that brings the 8-pin
connectors to the board ahead of each planned assembly (and a bin for every kanban signal).
`pull_forward` is the ERP moving one seat harness's due date before another's: the replan
reorders them at the board and the JIS call-off is re-issued in the new sequence. `start_agv`
runs the simulated AGV (`hardware.agv_sim`) as a process of its own on the demo's
broker; `LogisticsWatch` prints each new call-off version with what changed, and each transport's
state as the cloud records it (`/api/calloffs`, `/api/transports`, docs/calloffs.md).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from demo.plant import PLANT_TZ
from taktline.humane import local_time

__all__ = [
    "AGV",
    "JIS_MATERIAL",
    "LogisticsWatch",
    "pull_forward",
    "start_agv",
    "transport_section",
]

#: The demo's AGV: (manufacturer, serial number), as VDA 5050 names it.
AGV: Final = ("taktline-sim", "agv-01")
#: The seat harness's connector, called off just in sequence at the assembly board.
JIS_MATERIAL: Final = "connector-12p"
POINT_OF_USE: Final = "assy-01"
#: Seconds the simulated AGV takes per edge and per action (a transport: about 4 of them).
STEP_S: Final = 1.0


def supplier_terms() -> dict[str, Any]:
    """The cable supplier's call-off terms (plant model `suppliers`)."""
    # short, as the demo's lorry is on its way at the start: it ships within its promise
    return {"transit_min": 5, "window_min": 5, "bucket_min": 5}


def material_terms(material: str) -> dict[str, Any]:
    """What the plant model says of a material for call-offs (JIS, point of use)."""
    if material == JIS_MATERIAL:
        return {"jis": True, "point_of_use": POINT_OF_USE}
    return {}


def transport_section() -> dict[str, Any]:
    """The plant model's `transport`: one AGV feeds the 8-pin connectors from the supermarket."""
    return {
        "agvs": [{"manufacturer": AGV[0], "serial": AGV[1]}],
        "pick": "SM-LINE-1",
        "lead_min": 120,
        "late_after_min": 5,
        "materials": ["connector-8p"],
    }


def _hhmm_of(text: str | None) -> str:
    """An ISO time of the API (UTC) as HH:MM on the plant's clock ("-" when there is none)."""
    if not text:
        return "-"
    return local_time(datetime.fromisoformat(text.replace("Z", "+00:00")), PLANT_TZ, label=False)


def pull_forward(desk: Any, orders: dict[str, Any], order: str, before: str) -> str:
    """The ERP wants `order` due 20 minutes before `before`: an order change for the desk."""
    wanted = orders[before].due - timedelta(minutes=20)
    desk.accept([replace(orders[order], due=wanted)], [], "erp", "demo:erp")
    return f"{order} is now due {local_time(wanted, PLANT_TZ, label=False)}, before {before}"


def start_agv(broker_url: str) -> subprocess.Popen[bytes]:
    """The simulated AGV as a process of its own (stop it with `terminate`)."""
    command = [
        sys.executable, "-m", "hardware.agv_sim", "--broker", broker_url,
        "--manufacturer", AGV[0], "--serial", AGV[1], "--step-s", str(STEP_S),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


class LogisticsWatch:
    """Prints new call-off versions and transport states (call `look` now and then)."""

    def __init__(self, view: Callable[[], dict[str, Any]], say: Callable[[str, str], None]) -> None:
        self.view = view
        self.say = say
        self.versions: dict[str, int] = {}
        self.states: dict[str, tuple[str, bool]] = {}
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()

    def look(self) -> None:
        """Compares the call-offs and transports with the last look."""
        with self._lock:
            seen = self.view()
            for supplier, calloff in seen["calloffs"].items():
                version = int(calloff["version"])
                if self.versions.get(supplier) == version:
                    continue
                self.versions[supplier] = version
                jis = " ".join(s["order"] for s in calloff["sequence"])
                changes = sorted(calloff["changes"], key=lambda c: not c.startswith("sequence"))
                more = f" (+{len(changes) - 2} more)" if len(changes) > 2 else ""
                self.say(
                    "call-off",
                    f"{supplier} v{version}: {len(calloff['lines'])} line(s), first ship by "
                    f"{_hhmm_of(calloff['ship_by'])}, JIS {jis or '-'}; changed: "
                    f"{'; '.join(changes[:2])}{more}",
                )
            for transport in reversed(seen["transports"]):
                tid = transport["transport"]
                now = (transport["state"], transport["late"])
                if self.states.get(tid) == now:
                    continue
                self.states[tid] = now
                self.done += transport["state"] == "done"
                self.failed += transport["state"] == "failed"
                order, step = transport["order"], transport["step"]
                feeds = f" for {order}/{step}" if order else ""
                self.say(
                    transport["serial"],
                    f"transport {tid} {transport['state']}{' LATE' if transport['late'] else ''}: "
                    f"{transport['material']} {transport['pick']} -> {transport['drop']}{feeds}",
                )
