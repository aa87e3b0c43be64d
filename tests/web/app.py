"""Web servers on free ports: a monitoring stack, and one with every part the web serves.

Both keep users and tokens in their event log's database (`tests/web/auth.py`: a user per role,
the first admin among them) and audit every change there; `public_read` opens the reads.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cloud.andon import AndonRecorder
from cloud.auth import AUDIT_SOURCE, AuditTrail
from cloud.corrections import CorrectionRecorder
from cloud.master import MasterData
from cloud.plant import load_orders, load_plant
from cloud.recorder import CloudRecorder
from cloud.replan import Engine, OrderDesk, Replanner, StandardTimes
from cloud.replan.record import PlanningRecorder
from cloud.report import Reports
from cloud.status import ResourceStatus, StatusMaster
from cloud.store import EventLog
from cloud.timetravel import TimeTravel
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from cloud.web.parts import Snapshot
from taktline.clock import Clock, FakeClock, SystemClock
from tests.status.events import T0, Feed
from tests.web.auth import Grants

EXAMPLE = Path(__file__).parents[2] / "docs/examples/harness_plant_monitoring.json"


@dataclass
class Stack:
    log: EventLog
    status: ResourceStatus
    master: MasterData
    recorder: CorrectionRecorder
    web: WebServer
    feed: Feed
    grants: Grants
    clock: FakeClock


def guarded(
    log: EventLog,
    status: ResourceStatus,
    lock: threading.Lock,
    *,
    public_read: bool,
    clock: Clock | None = None,
) -> tuple[WebAuth, Grants]:
    """The guard's settings over `log`'s database, with the users of tests/web/auth.py.

    The audit's clock is the other recorders' (its events move the status's "now" too).
    """
    grants = Grants(log.url)
    audit = AuditTrail(CloudRecorder(log, status, AUDIT_SOURCE, clock=clock, write_lock=lock))
    return WebAuth(grants.store, audit, public_read=public_read), grants


@contextmanager
def monitoring_stack(folder: Path, *, public_read: bool = True) -> Iterator[Stack]:
    shutil.copy(EXAMPLE, folder / "plant.json")
    master = MasterData.load(folder / "plant.json")
    status = ResourceStatus()
    master.subscribe(lambda plant: status.set_master(StatusMaster.of(plant)))
    with EventLog(folder / "cloud.db") as log:
        lock = threading.Lock()
        clock = FakeClock(T0 + timedelta(hours=1))
        recorder = CorrectionRecorder(log, status, clock=clock, write_lock=lock)
        auth, grants = guarded(log, status, lock, public_read=public_read, clock=clock)
        andon = AndonRecorder(log, status, clock=clock, write_lock=lock)
        web = WebServer(
            status.snapshot,
            log.dead_letters,
            port=0,
            status=status,
            master=master,
            corrections=recorder,
            andon=andon,
            auth=auth,
            history=TimeTravel(log, master=lambda: status.master),
        )
        with web:
            yield Stack(log, status, master, recorder, web, Feed(status), grants, clock)
        andon.close()
        grants.close()


@dataclass
class FullStack:
    """Every part the web server can serve, on a fresh store, no broker: see `full_stack`."""

    log: EventLog
    status: ResourceStatus
    replanner: Replanner
    desk: OrderDesk
    web: WebServer
    grants: Grants


@contextmanager
def full_stack(
    folder: Path, *, snapshot: Snapshot | None = None, public_read: bool = False
) -> Iterator[FullStack]:
    """A fresh event log, status, master data, corrections, reports and a running replanner.

    The replanner plans ten orders on two crimpers (tests/web/plan_app.py) without a publisher;
    the master data is the monitoring example. `snapshot` replaces the status's own.
    """
    from tests.web.plan_app import write_orders, write_plant

    shutil.copy(EXAMPLE, folder / "plant.json")
    master = MasterData.load(folder / "plant.json")
    status = ResourceStatus()
    master.subscribe(lambda plant: status.set_master(StatusMaster.of(plant)))
    plant = load_plant(write_plant(folder))
    now = SystemClock().now()
    orders = load_orders(write_orders(folder, now), plant)
    replanner = Replanner(
        Engine(plant, orders, now), improve=False, quiet=timedelta(seconds=0.05)
    ).start()
    desk = OrderDesk(replanner, policy="ask")
    try:
        with EventLog(folder / "cloud.db") as log:
            lock = threading.Lock()
            auth, grants = guarded(log, status, lock, public_read=public_read)
            andon = AndonRecorder(log, status, write_lock=lock)
            web = WebServer(
                snapshot or status.snapshot, log.dead_letters, port=0, status=status,
                master=master, corrections=CorrectionRecorder(log, status, write_lock=lock),
                replanner=replanner, desk=desk,
                reports=Reports(log, lambda: master.plant), auth=auth, andon=andon,
                times=StandardTimes(
                    status, replanner, PlanningRecorder(log, status, write_lock=lock)
                ),
            )  # fmt: skip
            with web:
                yield FullStack(log, status, replanner, desk, web, grants)
            andon.close()
            grants.close()
    finally:
        replanner.close()
