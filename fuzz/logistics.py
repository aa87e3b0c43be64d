"""A target for what AGVs send: VDA 5050 `state` and `connection` messages into the dispatcher.

- `vda5050`: one message on an AGV's `state` (or, first byte odd, `connection`) topic through
  `Transports.on_message` with a transport under way for that AGV and a real SQLite store: no
  exception escapes, and whatever it records (`transport.state`) passes the contract — an AGV's
  error text with control characters or of any length included. The transport is put back under
  way after each input, so every input meets one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from fuzz.targets import OneInput, Target

__all__ = ["TARGETS"]

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TRANSPORT = "tr-000000000001"


def _vda5050(folder: Path) -> OneInput:
    from cloud.plant import parse_plant
    from cloud.recorder import CloudRecorder
    from cloud.status import ResourceStatus
    from cloud.store import EventLog
    from cloud.transport import Transports
    from contract.logistics import LOGISTICS_SOURCE
    from taktline.clock import FakeClock

    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = {"days": days, "start": "00:00", "end": "24:00"}
    plant = parse_plant(
        {
            "site": "plant1", "timezone": "UTC",
            "calendars": [{"id": "c", "shifts": [always]}],
            "resources": [{"id": "m", "kind": "machine", "calendar": "c"}],
            "groups": [{"id": "g", "kind": "machine", "members": ["m"]}],
            "materials": [{"id": "bin"}],
            "products": [{"id": "p", "steps": [{"id": "s", "per_unit_min": 1,
                                                  "holds": [{"group": "g"}]}]}],
            "transport": {"agvs": [{"manufacturer": "acme", "serial": "agv-1"}]},
        }
    )  # fmt: skip
    status = ResourceStatus()
    clock = FakeClock(NOW)
    recorder = CloudRecorder(EventLog(folder / "cloud.db"), status, LOGISTICS_SOURCE, clock=clock)
    transports = Transports(recorder, lambda: plant, clock=clock)
    recorder.record(
        "transport.order",
        {"transport": TRANSPORT, "manufacturer": "acme", "serial": "agv-1", "material": "bin",
         "pick": "SM", "drop": "m", "quantity": 1, "reason": "kanban", "order": None,
         "step": None, "due": "2026-11-23T08:10:00Z"},
    )  # fmt: skip
    known = status.logistics.transports[TRANSPORT]

    def one_input(data: bytes) -> None:
        kind = "connection" if data[:1] and data[0] & 1 else "state"
        transports.on_message(f"uagv/v2/acme/agv-1/{kind}", data[1:])
        known.state = "sent"  # under way again for the next input

    return one_input


def vda5050_seeds() -> list[bytes]:
    """States that accept, drive, finish and fail the transport, and a connection lost."""
    head = {"headerId": 1, "timestamp": "2026-11-23T08:00:00Z", "version": "2.0.0",
            "manufacturer": "acme", "serialNumber": "agv-1"}  # fmt: skip
    state = {
        **head, "orderId": TRANSPORT, "orderUpdateId": 0, "lastNodeId": "SM",
        "lastNodeSequenceId": 0, "nodeStates": [], "edgeStates": [], "driving": True,
        "actionStates": [], "batteryState": {"batteryCharge": 80, "charging": False},
        "operatingMode": "AUTOMATIC", "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }  # fmt: skip
    failed = {**state, "driving": False, "errors": [
        {"errorType": "blocked", "errorLevel": "FATAL", "errorDescription": "a\\nb\\x00" * 100}
    ]}  # fmt: skip
    done = {**state, "driving": False, "actionStates": [
        {"actionId": "x", "actionStatus": "FINISHED", "actionType": "drop"}
    ]}  # fmt: skip
    lost = {**head, "connectionState": "CONNECTIONBROKEN"}
    return [
        b"\x00" + json.dumps(state).encode(),
        b"\x00" + json.dumps(failed).encode(),
        b"\x00" + json.dumps(done).encode(),
        b"\x01" + json.dumps(lost).encode(),
    ]


TARGETS = (
    Target("vda5050", "VDA 5050 state and connection messages from AGVs", _vda5050, vda5050_seeds),
)
