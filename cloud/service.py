"""The cloud as one service: event log, status rebuilt from it, ingest, web interface.

This is what `taktline cloud` and the demo run. At start the resource status is restored from
the newest snapshot plus the events after it, or rebuilt from the whole event log (the log is
the truth; the status is a projection of it); then ingest connects and applies new events as
they arrive, and the status is snapshotted every `snapshot_every` events and at a clean stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cloud.corrections import CorrectionRecorder
from cloud.ingest import Ingest
from cloud.master import MasterData
from cloud.registry import apply_registry, load_registry
from cloud.snapshots import Snapshotter
from cloud.status import ResourceStatus, StatusMaster
from cloud.store import EventLog
from cloud.web import WebServer
from taktline.clock import Clock, SystemClock
from taktline.mqtt import BrokerSettings

__all__ = ["CloudService", "CloudSettings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CloudSettings:
    """Where the cloud keeps its log, which broker and site it serves, where its web page is."""

    #: A SQLite file, or a database URL (`postgresql+psycopg://...`).
    database: Path | str
    broker: str = "mqtt://127.0.0.1:1883"
    site: str = "+"
    registry: Path | None = None
    web_host: str = "127.0.0.1"
    web_port: int | None = 8080
    client_id: str = "taktline-cloud-ingest"
    #: Snapshot the status every this many events (fast restarts; see cloud/snapshots.py).
    snapshot_every: int = 100_000
    #: The plant model (master data) the status is shown against; edits are saved back to it.
    plant: Path | None = None


class CloudService:
    """Starts and stops the cloud's parts together; a context manager."""

    def __init__(
        self,
        settings: CloudSettings,
        *,
        clock: Clock | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        if isinstance(settings.database, Path):
            settings.database.parent.mkdir(parents=True, exist_ok=True)
        self.log = EventLog(settings.database)
        if settings.registry is not None:
            apply_registry(self.log, load_registry(settings.registry))
        self.snapshots = Snapshotter(self.log, every_events=settings.snapshot_every)
        self.status, self.restored = self.snapshots.restore(ResourceStatus)
        self.rebuilt = self.restored.replayed
        self.ingest = Ingest(
            self.log,
            self.status,
            BrokerSettings.from_url(settings.broker),
            site=settings.site,
            clock=clock or SystemClock(),
            on_change=on_change,
            on_commit=lambda records: self.snapshots.committed(self.status, len(records)),
            client_id=settings.client_id,
        )
        self.master = MasterData.load(settings.plant) if settings.plant is not None else None
        if self.master is not None:
            self.master.subscribe(lambda plant: self.status.set_master(StatusMaster.of(plant)))
        self.corrections = CorrectionRecorder(
            self.log, self.status, clock=clock, write_lock=self.ingest.write_lock
        )
        self.web: WebServer | None = None
        if settings.web_port is not None:
            self.web = WebServer(
                self.status.snapshot,
                self.log.dead_letters,
                host=settings.web_host,
                port=settings.web_port,
                status=self.status,
                master=self.master,
                corrections=self.corrections,
            )

    def start(self) -> CloudService:
        """Starts ingest and the web interface."""
        self.ingest.start()
        if self.web is not None:
            self.web.start()
        return self

    def stop(self) -> None:
        """Stops the web interface and ingest, then closes the log."""
        if self.web is not None:
            self.web.stop()
        self.ingest.stop()
        if self.snapshots.pending:
            self.snapshots.take(self.status)  # the next start replays nothing
        self.log.close()

    def __enter__(self) -> CloudService:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
