"""A whole monitoring stack on a free port: event log, status, master data, recorder, web."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cloud.corrections import CorrectionRecorder
from cloud.master import MasterData
from cloud.status import ResourceStatus, StatusMaster
from cloud.store import EventLog
from cloud.web import WebServer
from taktline.clock import FakeClock
from tests.status.events import T0, Feed

EXAMPLE = Path(__file__).parents[2] / "docs/examples/harness_plant_monitoring.json"


@dataclass
class Stack:
    log: EventLog
    status: ResourceStatus
    master: MasterData
    recorder: CorrectionRecorder
    web: WebServer
    feed: Feed


@contextmanager
def monitoring_stack(folder: Path) -> Iterator[Stack]:
    shutil.copy(EXAMPLE, folder / "plant.json")
    master = MasterData.load(folder / "plant.json")
    status = ResourceStatus()
    master.subscribe(lambda plant: status.set_master(StatusMaster.of(plant)))
    with EventLog(folder / "cloud.db") as log:
        recorder = CorrectionRecorder(log, status, clock=FakeClock(T0 + timedelta(hours=1)))
        web = WebServer(
            status.snapshot,
            log.dead_letters,
            port=0,
            status=status,
            master=master,
            corrections=recorder,
        )
        with web:
            yield Stack(log, status, master, recorder, web, Feed(status))
