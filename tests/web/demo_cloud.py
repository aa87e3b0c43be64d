"""A demo-like cloud for the web and browser tests: the demo's plant, orders and floor, restarted.

The demo's master data (`demo.plant_model.write_master_data`: the harness line, its operators,
tools, the lorry's supplier, twelve orders, Europe/Berlin) from the start, 40 minutes before now
on the real clock, and a log as the demo's agents would have sent it since: every station of the
line badged in and running its job tickets (runs of cycles at the station's cycle time, the
simulated machines' pattern of tests/warnings/machine_day.py, with a good or, one in twenty, a
scrap pulse per cycle as demo/floor.py's), crimp-02 broken down ten minutes ago, and the lorry
loaded with delivery D-2001 (wire and terminals for the seat harness) on its way in, 11 km out
as the crow flies. The log is written first and the cloud started on it, as after a restart: a
real `CloudService` (status, replanner, reports, the web on a free port) with a real Mosquitto
and the users of tests/web/auth.py.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.service import CloudService, CloudSettings
from cloud.store import EventLog, LogRecord
from demo.plant import ABSENT, DELIVERIES, HARNESS_LINE, LORRY, SITE
from demo.plant_model import write_master_data
from hardware.nmea.make_logs import PLANT
from taktline.clock import SystemClock, utc_iso
from tests.warnings import machine_day
from tests.web.auth import Grants

__all__ = ["BROKEN", "DELIVERY", "DemoCloud", "demo_cloud"]

#: The machine that broke down, and the delivery on its way.
BROKEN = "crimp-02"
DELIVERY = "D-2001"
#: Minutes of floor data before now, and how long ago crimp-02 broke down.
_SPAN_MIN = 40
_BROKEN_MIN = 10


@dataclass
class DemoCloud:
    """The running cloud, when its floor began, when crimp-02 broke down, the users' tokens."""

    cloud: CloudService
    start: datetime
    broke: datetime
    grants: Grants

    @property
    def url(self) -> str:
        """The web interface's base URL (ends with /)."""
        assert self.cloud.web is not None
        return self.cloud.web.url


def _floor(start: datetime, now: datetime) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(time, agent, source, event) of the demo's floor from `start` to `now`."""
    shift = start - machine_day.START
    hours = (now - start).total_seconds() / 3600
    broke = now - timedelta(minutes=_BROKEN_MIN)
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    for n, plan in enumerate(HARNESS_LINE):
        source = f"{plan.station}-io"
        rng = random.Random(n)
        badge = next(tag for tag in plan.operators if tag != ABSENT)
        badged = {"type": "badge.read", "station": plan.station, "payload": {"tag": badge}}
        out.append((utc_iso(start), plan.agent, f"{plan.station}-reader", badged))
        for event, at in machine_day.machine_day(
            plan.station, plan.cycle_s, hours, seed=n + 1, tickets=plan.tickets
        ):
            moment = datetime.fromisoformat(at.replace("Z", "+00:00")) + shift
            if plan.station == BROKEN and moment >= broke:
                break
            out.append((utc_iso(moment), plan.agent, source, event))
            if event["payload"].get("signal") == "cycle":  # a good or a scrap pulse per cycle
                made = "good" if rng.random() > 0.05 else "scrap"
                pulse = {**event, "payload": {"signal": made, "count": 1}}
                out.append((utc_iso(moment + timedelta(milliseconds=1)), plan.agent, source, pulse))
        if plan.station == BROKEN:
            stop = {"type": "machine.signal", "station": BROKEN,
                    "payload": {"signal": "run", "on": False}}  # fmt: skip
            why = {"type": "machine.stop_reason", "station": BROKEN,
                   "payload": {"reason": "breakdown"}}  # fmt: skip
            out.append((utc_iso(broke), plan.agent, source, stop))
            out.append((utc_iso(broke + timedelta(seconds=20)), plan.agent, source, why))
    agent, lorry = LORRY
    for k, (tag, (material, order, quantity)) in enumerate(DELIVERIES[DELIVERY].items()):
        line = {"material": material, "order": order, "quantity": quantity}
        package = {"tag": tag, "stage": "load", "delivery": DELIVERY, "manifest": line}
        loaded = start + timedelta(minutes=1, seconds=10 * k)
        out.append((utc_iso(loaded), agent, f"{lorry}-packages",
                    {"type": "package.read", "payload": package}))  # fmt: skip
    lat, lon = PLANT
    for m in range(5):  # driving in at 15 m/s: about 11 km out now
        moment = now - timedelta(minutes=4 - m)
        position = {"lat": lat - 0.1 - 0.008 * (4 - m), "lon": lon, "speed_mps": 15.0,
                    "heading_deg": 0.0, "fix": "3d", "gps_time": utc_iso(moment)}  # fmt: skip
        out.append((utc_iso(moment), agent, f"{lorry}-gps",
                    {"type": "gps.position", "payload": position}))  # fmt: skip
    return sorted(out, key=lambda item: item[0])


def _write_log(database: Path, start: datetime, now: datetime) -> int:
    records = []
    seqs: dict[str, int] = {}
    for at, agent, source, event in _floor(start, now):
        instance = hashlib.sha256(agent.encode()).hexdigest()[:32]
        seq = seqs[agent] = seqs.get(agent, 0) + 1
        body = {"v": 1, "source": source, "agent": agent, "instance": instance, "seq": seq,
                "time": at, "mono_ns": seq, "boot": "demo", **event}  # fmt: skip
        line = json.dumps(body, separators=(",", ":"))
        station = event.get("station")
        kind = event["type"]
        record = LogRecord(
            instance, seq, kind, source, agent, station, at, at, "monotonic", at, line, body
        )
        records.append(record)
    with EventLog(database) as log:
        log.commit(records, [])
    return len(records)


@contextmanager
def demo_cloud(folder: Path, broker_url: str) -> Iterator[DemoCloud]:
    """The demo-like cloud, started on its log; stopped on exit."""
    now = SystemClock().now().replace(microsecond=0)
    start = now - timedelta(minutes=_SPAN_MIN)
    plant, orders = write_master_data(folder, start)
    database = folder / "cloud.db"
    until = now - timedelta(seconds=30)
    _write_log(database, start, until)
    settings = CloudSettings(
        database=database, broker=broker_url, site=SITE, web_port=0, plant=plant,
        orders=orders, frozen_minutes=0,
    )  # fmt: skip
    with CloudService(settings, clock=SystemClock()) as cloud:
        grants = Grants(database)
        try:
            broke = until - timedelta(minutes=_BROKEN_MIN)
            yield DemoCloud(cloud, start.astimezone(UTC), broke.astimezone(UTC), grants)
        finally:
            grants.close()
