"""A small, hand-checkable event log written into a real EventLog, and its plant model."""

from __future__ import annotations

import json
from typing import Any

from cloud.plant import Plant, parse_plant
from cloud.store import EventLog, LogRecord
from contract import Event
from tests.status.events import BOOT, INSTANCE, at

#: Monday 06:00-14:00 UTC with a break 10:00-10:30: 450 planned minutes for "day" machines.
PLANT_DOCUMENT: dict[str, Any] = {
    "site": "report-test",
    "timezone": "UTC",
    "calendars": [
        {
            "id": "day",
            "shifts": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "06:00",
                        "end": "14:00"}],
            "breaks": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "10:00",
                        "end": "10:30"}],
        }
    ],
    "resources": [
        {"id": "PRESS-1", "kind": "machine", "calendar": "day", "station": "m1"},
        {"id": "PRESS-2", "kind": "machine", "calendar": "day", "station": "m2"},
    ],
    "groups": [{"id": "presses", "kind": "machine", "members": ["PRESS-1", "PRESS-2"]}],
    "products": [
        {"id": "P", "steps": [{"id": "press", "per_unit_min": 1.0,
                               "holds": [{"group": "presses"}]}]}
    ],
    "tags": [{"tag": "0A000001", "kind": "ticket", "ref": "ORD-1", "product": "P",
              "step": "press", "quantity": 300}],
}  # fmt: skip
TICKET = "0A000001"


def plant() -> Plant:
    """The test plant: two presses (standard 60 s per unit) on the "day" calendar."""
    return parse_plant(PLANT_DOCUMENT)


class Writer:
    """Appends valid contract events to an event log, one commit each, in the order given."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.seq = 0

    def __call__(
        self, kind: str, payload: dict[str, Any], minutes: float, station: str | None = None
    ) -> int:
        """Appends one event at T0 + `minutes`; returns its sequence number."""
        self.seq += 1
        stamp = at(minutes)
        event = Event(
            type=kind, source="pi-01", agent="pi-01", instance=INSTANCE, seq=self.seq,
            time=stamp, mono_ns=self.seq, boot=BOOT, payload=payload, station=station,
        ).validate()  # fmt: skip
        body = event.to_dict()
        record = LogRecord(
            INSTANCE, self.seq, kind, "pi-01", "pi-01", station, stamp, stamp, "monotonic",
            stamp, json.dumps(body, separators=(",", ":")), body,
        )  # fmt: skip
        assert self.log.commit([record], []).committed
        return self.seq

    def run(self, on: bool, minutes: float, station: str = "m1") -> None:
        """The run input of `station` switched."""
        self("machine.signal", {"signal": "run", "on": on}, minutes, station)

    def count(self, signal: str, count: int, minutes: float, station: str = "m1") -> int:
        """A count signal (cycle, good, scrap)."""
        return self("machine.signal", {"signal": signal, "count": count}, minutes, station)

    def correct(self, kind: str, minutes: float, recorded: float, **fields: Any) -> None:
        """A correction recorded at `recorded` about a fact at `minutes`."""
        payload = {"correction": kind, "by": "kim", "reason": "test", "at": at(minutes),
                   "station": None, "tag": None, "value": None, "voids": None}  # fmt: skip
        payload.update(fields)
        self("correction", payload, recorded, fields.get("station"))


def shift_log(write: Writer, *, corrections: bool = True) -> int:
    """Machine m1's shift (minutes from 06:00; period 06:00-14:00 is minutes 0-480).

    m1: job from -30 (STOPPED), runs -10..60, breakdown 60..90, runs 90..200, unexplained
    200..215, runs 215..300 (over the 240..270 break), changeover 300..340 (corrected to
    material_shortage), runs 340..480 and beyond. Cycles 5 at -5 (before), 40 at 30, 50 at 120,
    150 at 400, 20 at 410 (voided); good 230 and scrap 10 at 470, scrap +5 by correction.
    m3 (not in the plant model): runs 100..200 with no job, then IDLE; 20 good at 150.
    Returns the sequence number of the wrongly counted 20 cycles.
    """
    write("job.ticket", {"tag": TICKET, "action": "start"}, -30, "m1")
    write.run(True, -10)
    write.count("cycle", 5, -5)
    write.count("cycle", 40, 30)
    write.run(False, 60)
    write("machine.stop_reason", {"reason": "breakdown"}, 62, "m1")
    write.run(True, 90)
    write.run(True, 100, station="m3")
    write.count("cycle", 50, 120)
    write.count("good", 20, 150, station="m3")
    write.run(False, 200)
    write.run(False, 200, station="m3")
    write.run(True, 215)
    write.run(False, 300)
    write("machine.stop_reason", {"reason": "changeover"}, 301, "m1")
    write.run(True, 340)
    write.count("cycle", 150, 400)
    wrong = write.count("cycle", 20, 410)
    write.count("good", 230, 470)
    write.count("scrap", 10, 470)
    write.run(False, 500)
    if corrections:
        write.correct("stop_reason", 310, 505, station="m1", value="material_shortage")
        write.correct("scrap", 450, 506, station="m1", value=5)
        write.correct("void", 410, 507, voids=[INSTANCE, wrong])
    return wrong
