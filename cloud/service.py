"""The cloud as one service: event log, status, ingest, web interface, stack lights, planner.

This is what `taktline cloud` and the demo run. At start the resource status is restored from
the newest snapshot plus the events after it, or rebuilt from the whole event log (the log is
the truth; the status is a projection of it); then ingest connects and applies new events as
they arrive, and the status is snapshotted every `snapshot_every` events and at a clean stop.
After each ingest round the touched stations' stack lights follow their machines and, when the
cloud has orders to plan, breakdowns and late deliveries become replan triggers
(`cloud.reactions`); the replanner publishes every station's schedule over MQTT. With
`sparkplug` set, the touched stations also go to the Sparkplug B bridge (`cloud.sparkplug`),
which publishes them for plants on Ignition.

The planning state is restored the same way: orders, pending decisions, pins and manual mode are
`plan.*` events in the log (`cloud.replan.record`), folded with the status; the `--orders` file
is imported once per content. At start the replanner is told what the restored status knows
(ongoing breakdowns, started and ended steps, late deliveries, leave) and plans from there, and
every station gets a schedule whose version is above any it held (`docs/replan.md`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from cloud.andon import AndonRecorder
from cloud.auth import AUDIT_SOURCE, AuditTrail, AuthStore
from cloud.auth.shared import SharedSessions, SharedThrottle
from cloud.corrections import CorrectionRecorder
from cloud.early_warnings import REPLAY_HOURS, EarlyWarnings
from cloud.errors import CloudError, ConfigError, EarlierThanTheLog
from cloud.forecast.demand import ProductForecast, forecast_products, material_forecast
from cloud.health import Health, worker_check
from cloud.ingest import Ingest
from cloud.kanban import KanbanRecorder
from cloud.logistics import Logistics
from cloud.master import MasterData
from cloud.metrics import cloud_metrics
from cloud.plant import Order, parse_orders
from cloud.reactions import FloorReactions
from cloud.recorder import CloudRecorder
from cloud.registry import apply_registry, load_registry
from cloud.replan import (
    Engine,
    GapMailer,
    OrderDesk,
    OrderFolderWatcher,
    PlanPublisher,
    Replanner,
    SmtpSettings,
    StandardTimes,
)
from cloud.replan.feeds import delivery_feeds
from cloud.replan.intake import Policy
from cloud.replan.record import PlanningRecorder
from cloud.replan.restore import restore_planning
from cloud.replan.triggers import Trigger
from cloud.report import Reports
from cloud.roles import Role, ingest_options, planner_lock_key
from cloud.rootcause import root_cause, stock_out
from cloud.snapshots import Restored, Snapshotter
from cloud.sparkplug import SparkplugBridge
from cloud.stack_lights import StackLights
from cloud.status import ResourceStatus, StatusMaster
from cloud.status.labour import Settle
from cloud.store import EventLog, LogRecord
from cloud.timetravel import TimeTravel
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from cloud.web.replica import Leaders, ReplicaParts, ReplicaPlanView, RetainedPlan
from taktline.clock import Clock, SystemClock, utc_iso
from taktline.mqtt import BrokerSettings
from taktline.supervise import Worker

__all__ = ["CloudService", "CloudSettings"]

log = logging.getLogger(__name__)


#: How often the demand forecast is fitted again (after a replan; at start).
FORECAST_EVERY_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class CloudSettings:
    """Where the cloud keeps its log, which broker and site it serves, where its web page is."""

    #: A SQLite file, or a database URL (`postgresql+psycopg://...`).
    database: Path | str
    broker: str = "mqtt://127.0.0.1:1883"
    #: The broker password (from a file or the environment, never argv): overrides the URL's.
    broker_password: str | None = field(default=None, repr=False)
    #: TLS files for an mqtts:// broker (`BrokerSettings`): CA, the cloud's certificate and key.
    broker_tls: dict[str, str] = field(default_factory=dict)
    site: str = "+"
    registry: Path | None = None
    web_host: str = "127.0.0.1"
    web_port: int | None = 8080
    #: The web interface's address as people reach it; the gap e-mail links root causes there.
    web_url: str | None = None
    client_id: str = "taktline-cloud-ingest"
    #: A token that lets a non-loopback client read GET /metrics (None: loopback only).
    metrics_token: str | None = field(default=None, repr=False)
    #: How long a SQLite write waits for another process's lock before it fails (and ingest
    #: retries the round, not ready meanwhile).
    busy_timeout_s: float = 30.0
    #: Snapshot the status every this many events (fast restarts; see cloud/snapshots.py).
    snapshot_every: int = 25_000
    #: The plant model (master data) the status is shown against; edits are saved back to it.
    plant: Path | None = None
    #: The orders to plan (`docs/schemas/orders.schema.json`); with `plant`, the replanner runs:
    #: schedules published over MQTT, replans on breakdowns and late deliveries.
    orders: Path | None = None
    #: A folder watched for ERP order files (CSV/JSON); needs `orders`.
    order_drop: Path | None = None
    #: How the desk treats a changed order: "ask" (a planner decides), "new" or "adjust".
    order_policy: Policy = "ask"
    #: Steps starting within this many minutes stay put unless a resource in them is lost.
    frozen_minutes: float = 30.0
    #: Triggers closer together than this are one replan (a breakdown is a few events within
    #: milliseconds); a burst never waits longer than `replan_max_delay_s`.
    replan_quiet_s: float = 0.25
    replan_max_delay_s: float = 2.0
    #: A broken machine is planned back after this many minutes (its mean time to repair);
    #: None: out until it runs again.
    repair_minutes: float | None = None
    #: How often the floor clock looks at what time alone changes: an operator who has not
    #: badged in by shift start + the plant's grace is absent (`cloud.reactions`).
    floor_tick_s: float = 15.0
    #: After a start, an absence that fell due while the cloud was down waits this long: badge
    #: reads kept in the agents' outboxes meanwhile arrive first (`cloud.status.labour.Settle`).
    absent_settle_s: float = 30.0
    #: Where gap reports are mailed (only when the report changed).
    smtp: SmtpSettings | None = None
    mail_to: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: Anonymous viewers may read (docs/web.md); changes always need a login or a token.
    public_read: bool = False
    #: Host header names the web interface serves; None: those of `web_host`.
    allowed_hosts: frozenset[str] | None = None
    #: TLS for the web interface, served by uvicorn itself.
    certfile: Path | None = None
    keyfile: Path | None = None
    #: (group, edge node): publish every station as a Sparkplug B device (docs/sparkplug.md).
    sparkplug: tuple[str, str] | None = None
    #: What this process does (`cloud.roles`): "all" (one process), "ingest" (one of several
    #: workers sharing the uplink; commits and confirms, no status, no plan) or "planner" (the
    #: status, lights and plan from the log; run it under `cloud.roles.lead`, one at a time) or
    #: "web" (a web replica: status from the log, the leader's retained plan, changes sent on).
    role: Role = "all"
    #: The MQTT 5 shared-subscription group of the ingest workers.
    share_group: str = "taktline-ingest"


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
        self.log = EventLog(settings.database, busy_timeout_s=settings.busy_timeout_s)
        if settings.registry is not None:
            apply_registry(self.log, load_registry(settings.registry))
        self.snapshots = Snapshotter(self.log, every_events=settings.snapshot_every)
        if settings.role == "ingest":  # no status: the planner's
            self.status, self.restored = ResourceStatus(), Restored(False, 0, 0, 0.0)
        else:
            self.status, self.restored = self.snapshots.restore(ResourceStatus)
        self.rebuilt = self.restored.replayed
        self.ingest = Ingest(
            self.log,
            self.status,
            _broker(settings),
            site=settings.site,
            clock=clock or SystemClock(),
            on_change=on_change,
            on_commit=self._committed,
            on_agent_status=self._agent_status,
            **ingest_options(settings),
        )
        self.master = MasterData.load(settings.plant) if settings.plant is not None else None
        #: A web replica's own parts (`cloud.web.replica`): the leader's plan, where it is.
        self.replica: ReplicaParts | None = None
        if settings.role == "web":
            self.replica = _replica(settings, self.master, self.status)
        self.sparkplug: SparkplugBridge | None = None
        if settings.sparkplug is not None and settings.role != "web":
            group, node = settings.sparkplug
            self.sparkplug = SparkplugBridge(
                _broker(settings),
                group,
                node,
                self.status.machine_facts,
                self.status.station_names,
                sequences=self.log,
                client_id=f"{settings.client_id}-sparkplug",
                clock=clock,
            )
        #: When the plan needs each material (a delivery later than that is flagged late).
        self._needs: dict[str, datetime] = {}
        #: The plan's demand of each material (sizes the kanban loops).
        self._demand: dict[str, float] = {}
        #: The demand forecast per product, and per material (cloud/forecast/demand.py).
        self.forecasts: dict[str, ProductForecast] = {}
        self._forecast_rates: dict[str, float] = {}
        self._forecast_at = datetime.min.replace(tzinfo=UTC)
        if self.master is not None:
            self.master.subscribe(
                lambda plant: self.status.set_master(
                    StatusMaster.of(plant, self._needs, self._demand, self._forecast_rates)
                )
            )
        self.publisher: PlanPublisher | None = None
        #: Call-offs to suppliers and AGV line feeding (cloud/logistics.py), when planning.
        self.logistics: Logistics | None = None
        self.desk: OrderDesk | None = None
        #: Learned standard times offered, accepted and planned (cloud/replan/times.py).
        self.times: StandardTimes | None = None
        self._watcher: OrderFolderWatcher | None = None
        planning = settings.orders is not None and settings.role not in ("ingest", "web")
        self.replanner: Replanner | None = (
            self._plan(settings, clock or SystemClock()) if planning else None
        )
        self.lights = StackLights(self.ingest.publish, self.ingest.path_of_station, clock=clock)
        repair = settings.repair_minutes
        self.reactions = FloorReactions(
            self.status,
            lights=self.lights,
            replanner=self.replanner,
            repair_estimate=timedelta(minutes=repair) if repair is not None else None,
            jobs_of=self.replanner.jobs_of if self.replanner is not None else None,
        )
        self._clock = clock or SystemClock()
        self._on_change = on_change
        #: Cycle-time drift and stop trends per machine (predictive maintenance alerts).
        self.warnings = EarlyWarnings(process_of=self._process_of)
        #: Tells the reactions the time between events (absences happen without any event).
        self.floor_clock = Worker("floor-clock", self._tick_floor)
        if self.replanner is not None:
            self.replanner.tool_status = self.reactions.tools.summary  # tools in the gap report
        if self.master is not None and self.replanner is not None:
            self.master.subscribe(self.reactions.plant_changed)  # leave records: lost operators
            master = self.master
            self.logistics = Logistics(
                self.log,
                self.status,
                lambda: master.plant,
                _broker(settings),
                self.replanner.publisher.site if self.replanner.publisher else master.plant.site,
                submit=self._submit,
                clock=clock,
                write_lock=self.ingest.write_lock,
                mailer=self.replanner.mailer,
                client_id=f"{settings.client_id}-logistics",
            )
        self.corrections = CorrectionRecorder(
            self.log,
            self.status,
            clock=clock,
            write_lock=self.ingest.write_lock,
            on_recorded=self._corrected,
        )
        #: What /healthz and /readyz answer (cloud/health.py).
        self.health = self._health()
        self.kanban = KanbanRecorder(
            self.log,
            self.status,
            lambda: self.master.plant if self.master is not None else None,
            clock=clock,
            write_lock=self.ingest.write_lock,
        )
        #: Andon acknowledgements, as events in the log (cloud/andon/record.py).
        self.andon = AndonRecorder(
            self.log, self.status, clock=clock, write_lock=self.ingest.write_lock
        )
        #: The Prometheus metrics (cloud/metrics.py), on GET /metrics.
        self.metrics = cloud_metrics(self)
        self.auth_store = AuthStore(self.log.url)
        audit = CloudRecorder(
            self.log,
            self.status,
            f"{AUDIT_SOURCE}-{self.replica.name}"[:64] if self.replica else AUDIT_SOURCE,
            clock=clock,
            write_lock=self.ingest.write_lock,
        )
        self.audit = AuditTrail(audit)
        self.web: WebServer | None = None
        self.history: TimeTravel | None = None
        if settings.web_port is not None:
            auth = WebAuth(
                self.auth_store,
                self.audit,
                public_read=settings.public_read,
                allowed_hosts=settings.allowed_hosts,
            )
            if settings.role != "all":  # several web processes: sessions and throttle shared
                auth.sessions = SharedSessions(self.log.url)
                auth.throttle = SharedThrottle(self.log.url)
            # A connection of its own per jump: a long jump's reads never wait behind ingest's.
            database, busy = settings.database, settings.busy_timeout_s
            self.history = TimeTravel(
                lambda: EventLog(database, busy_timeout_s=busy),
                master=lambda: self.status.master,
            )
            self.web = WebServer(
                self.live_snapshot,
                self.log.dead_letters,
                host=settings.web_host,
                port=settings.web_port,
                status=self.status,
                master=self.master,
                corrections=self.corrections,
                replanner=self.replanner,
                desk=self.desk,
                times=self.times,
                history=self.history,
                warnings=self.warnings.view,
                forecast=self.forecast_view if settings.orders is not None else None,
                root_cause=self.root_cause_of,
                stock_out=self.stock_out_of,
                reports=Reports(self.log, lambda: self.master.plant if self.master else None),
                health=self.health,
                kanban=self.kanban,
                andon=self.andon,
                metrics=self.metrics.exposition,
                metrics_token=settings.metrics_token,
                auth=auth,
                certfile=settings.certfile,
                keyfile=settings.keyfile,
                replica=self.replica,
            )

    def _plan(self, settings: CloudSettings, clock: Clock) -> Replanner:
        """The planner, restored from the log's planning events; the orders file imported once."""
        if self.master is None:
            raise ConfigError("orders need a plant model: give the plant too (--plant)")
        assert settings.orders is not None
        plant = self.master.plant
        try:
            raw = settings.orders.read_bytes()
            orders = parse_orders(json.loads(raw), plant)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the orders {settings.orders}: {exc}") from exc
        site = settings.site if settings.site != "+" else plant.site
        restored = restore_planning(self.status.planning, plant)
        engine = Engine(
            plant, restored.orders, clock.now(), frozen=timedelta(minutes=settings.frozen_minutes)
        )
        engine.manual.update(restored.pins)
        recorder = PlanningRecorder(
            self.log, self.status, clock=clock, write_lock=self.ingest.write_lock
        )
        self.publisher = PlanPublisher(
            _broker(settings),
            site,
            client_id=f"{settings.client_id}-plan",
            versions=self.log,
        )
        mailer = (
            GapMailer(settings.smtp, settings.mail_to, web_url=settings.web_url)
            if settings.smtp
            else None
        )
        replanner = Replanner(
            engine,
            publisher=self.publisher,
            mailer=mailer,
            clock=clock,
            quiet=timedelta(seconds=settings.replan_quiet_s),
            max_delay=timedelta(seconds=settings.replan_max_delay_s),
            on_replan=self._replanned,
            recorder=recorder,
        )
        replanner.restore(restored.manual, restored.maintenance)
        self.desk = OrderDesk(replanner, policy=settings.order_policy, recorder=recorder)
        self.desk.restore(restored.pending)
        self.times = StandardTimes(self.status, replanner, recorder)
        self._import_orders(settings.orders.name, raw, orders, recorder)
        if settings.order_drop is not None:
            self._watcher = OrderFolderWatcher(settings.order_drop, self.desk)
        return replanner

    def _import_orders(
        self, name: str, raw: bytes, orders: list[Order], recorder: PlanningRecorder
    ) -> None:
        """The `--orders` file, once per content: the log's orders win on a restart."""
        digest = hashlib.sha256(raw).hexdigest()
        if digest in self.status.planning.imported:
            return
        assert self.desk is not None
        result = self.desk.accept(orders, [], "orders-file", f"orders-file:{name}")
        recorder.imported(name[:100], digest, len(orders), "orders-file")
        log.info("orders file %s imported: %s", name, {k: len(v) for k, v in result.items()})

    def _submit(self, trigger: Trigger) -> None:
        """A logistics trigger, through the reactions' replanner (the demo's console sees it)."""
        target = self.reactions.replanner or self.replanner
        if target is not None:
            target.submit(trigger)

    def _replanned(self, outcome: object) -> None:
        if self.logistics is not None and self.replanner is not None:
            try:
                self.logistics.replanned(self.replanner)
            except Exception:  # call-offs must not stop planning; the next replan tries again
                log.exception("issuing call-offs failed")
        if self.replanner is not None and self.master is not None:
            self._needs = self.replanner.material_needs()
            self._demand = self.replanner.material_demand()
            self._refresh_forecast()
            self.status.set_master(
                StatusMaster.of(self.master.plant, self._needs, self._demand, self._forecast_rates)
            )
        if self.web is not None:
            self.web.plan_changed()  # the Plan and Gap pages fetch again

    def _refresh_forecast(self, *, force: bool = False) -> None:
        """The demand forecast again, at most every `FORECAST_EVERY_S` (cheap, but not free)."""
        if self.master is None:
            return
        now = self._clock.now()
        if not force and now - self._forecast_at < timedelta(seconds=FORECAST_EVERY_S):
            return
        self._forecast_at = now
        plant = self.master.plant
        try:
            orders = list(self.status.planning.orders.values())
            today = now.astimezone(plant.tz).date()
            self.forecasts = forecast_products(orders, plant.timezone, today)
            self._forecast_rates = material_forecast(self.forecasts, plant)
        except Exception:  # a forecast is advice: planning goes on without it
            log.exception("the demand forecast failed")

    def forecast_view(self) -> dict[str, Any]:
        """The products' forecasts with their expected orders (`GET /api/forecast`)."""
        return {
            "products": [f.as_dict() for _, f in sorted(self.forecasts.items())],
            "material_per_h": {
                m: round(r * 60, 3) for m, r in sorted(self._forecast_rates.items())
            },
        }

    def live_snapshot(self) -> dict[str, Any]:
        """The status as the web shows it: at the clock's time (absences need no event).

        A replayed log's newest event can lie ahead of the clock (a test's plant day, a Pi's
        future time): then at that event, as `ResourceStatus.snapshot` does by default.
        """
        now = self._clock.now()
        latest = self.status.latest
        if latest is not None:
            now = max(now, datetime.fromisoformat(latest.replace("Z", "+00:00")))
        shown: dict[str, Any] = self.status.snapshot(now)
        if self.replanner is not None:
            jobs = self.replanner.jobs_snapshot()
            _plan_of_operators(shown.get("labour", {}), jobs, now)
            rows = shown.get("deliveries", {}).get("deliveries", {})
            delivery_feeds(rows, jobs, self.replanner.engine.plant, now)
        return shown

    def _tick_floor(self, worker: Worker) -> None:
        while not worker.wait(self.settings.floor_tick_s):
            self.reactions.tick(self._clock.now())
            worker.beat()

    def _corrected(self, event: dict[str, Any]) -> None:
        """A hand correction was folded: a tool's place or service may free or hold the tool."""
        try:
            self.reactions.tools_changed(
                datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
            )
        except Exception:  # a reaction's bug must not refuse a recorded correction
            log.exception("reacting to a correction failed")

    def _committed(self, records: list[LogRecord]) -> None:
        """After each ingest round: lights and replan triggers, then maybe a snapshot."""
        if self.settings.role == "web":  # a replica reads: the leader lights, plans, snapshots
            self._warn(records)
            return
        try:
            self.reactions.committed(records)
            if self.times is not None:
                self.times.committed(records)
            if self.logistics is not None:
                self.logistics.committed(records)
        except Exception:  # a reaction's bug must not stop ingest
            log.exception("reacting to an ingest round failed")
        self._warn(records)
        if self.sparkplug is not None:
            self.sparkplug.changed({r.station for r in records if r.station})
        # under the write lock: no correction or planning event is committed but not yet
        # folded while the snapshot records the log's position and pickles the status
        with self.ingest.write_lock:
            if self.ingest.feed == "log":  # as of the tail's position, when nothing is between
                if self.log.pending_own() == 0:
                    self.snapshots.committed(self.status, len(records), self.ingest.position)
            else:
                self.snapshots.committed(self.status, len(records))

    def root_cause_of(self, order: str) -> dict[str, Any] | None:
        """Why `order` of the live plan is late, down to the first event (None: no such order)."""
        replanner = self.replanner
        if replanner is None or self.master is None:
            return None
        engine = replanner.engine_copy()
        if order not in engine.orders:
            return None
        now = self._clock.now()
        causes = engine.causes(now).get(order)
        if causes is None:
            return {"order": order, "status": "on_time", "tardiness_min": 0, "kind": "none",
                    "summary": "not late", "first": None, "timeline": [], "chain": []}  # fmt: skip
        plant = self.master.plant
        shown = self.live_snapshot().get("deliveries", {}).get("deliveries", {})
        found = root_cause(
            causes,
            self.log,
            deliveries=shown,
            transit_min={
                lorry: s.transit_min for s in plant.suppliers.values() for lorry in s.lorries
            },
            warnings=[a.as_dict() for a in self.warnings.alerts()],
            badges={r.id: r.tag for r in plant.resources if r.kind == "operator" and r.tag},
            station_of={r.id: r.station or r.id for r in plant.resources},
        )
        return found.as_dict()

    def stock_out_of(self, material: str, point: str) -> dict[str, Any] | None:
        """Why `material` runs out at `point`, down to the first event (None: no such material)."""
        if self.master is None or material not in self.master.plant.materials:
            return None
        plant = self.master.plant
        shown = self.live_snapshot().get("deliveries", {}).get("deliveries", {})
        found = stock_out(
            material,
            point,
            self.status,
            self.log,
            self._clock.now(),
            loops=plant.kanban.values(),
            deliveries=shown,
            transit_min={
                lorry: s.transit_min for s in plant.suppliers.values() for lorry in s.lorries
            },
        )
        return found.as_dict()

    def _process_of(self, ticket: str) -> str | None:
        entry = self.status.master.ticket(ticket)
        return entry.step if entry is not None and entry.step else None

    def _warn(self, records: Iterable[LogRecord]) -> None:
        """Feeds the early warnings; a new alert is logged (and told, in the demo)."""
        try:
            for record in records:
                event = record.event or json.loads(record.body)
                alert = self.warnings.apply(event, record.corrected_time)
                if alert is not None:
                    line = f"early warning at {alert.station}: {alert.kind}, {alert.detail}"
                    if alert.crossing_at:
                        line += f"; the threshold is projected for {alert.crossing_at}"
                    log.warning(line)
                    if self._on_change is not None:
                        self._on_change(line)
        except Exception:  # a detector's bug must not stop ingest
            log.exception("feeding the early warnings failed")

    def _warm_warnings(self) -> None:
        """At start: the last hours of the log through the detectors (they are not snapshotted)."""
        since = self._clock.now() - timedelta(hours=REPLAY_HOURS)
        try:
            after = max(0, self.log.position_at(utc_iso(since)))
        except EarlierThanTheLog:
            after = 0
        for _, event, corrected in self.log.replay(after=after):
            self.warnings.apply(event, corrected)

    def reload_registry(self) -> None:
        """Reads the registry file again into the database and ingest (SIGHUP)."""
        if self.settings.registry is not None:
            try:
                apply_registry(self.log, load_registry(self.settings.registry))
            except (CloudError, OSError) as exc:
                log.error("registry %s not reloaded: %s", self.settings.registry, exc)
                return
        self.ingest.reload_registry()
        log.info("registry reloaded")

    def _health(self) -> Health:
        health = Health()
        health.add("ingest", self.ingest.health, self.ingest.worker)
        if self.replanner is not None:
            publisher = self.publisher

            def publisher_up() -> str | None:
                if publisher is not None and not publisher.is_connected:
                    return "the plan publisher is not connected to the broker"
                return None

            def publisher_running() -> str | None:
                if publisher is None:
                    return None
                state = publisher.worker.health()
                if state.state == "running":
                    return None
                return f"{publisher.worker.name} {state.state}: {state.last_error}"

            floor_clock = self.floor_clock

            def floor_clock_running() -> str | None:
                state = floor_clock.health()
                if state.ok:
                    return None
                return f"{floor_clock.name} {state.state}: {state.last_error}"

            workers = [self.replanner.worker, floor_clock]
            workers += [publisher.worker] if publisher else []
            check = worker_check(
                self.replanner.worker, publisher_up, publisher_running, floor_clock_running
            )
            health.add("planner", check, *workers)
        replica = self.replica
        if replica is not None:
            retained = replica.view.plan

            def plan_received() -> str | None:
                return None if retained.is_connected else "not connected to the broker"

            health.add(
                "retained_plan", worker_check(retained.worker, plan_received), retained.worker
            )
        if self._watcher is not None:
            health.add("order_drop", worker_check(self._watcher.worker), self._watcher.worker)
        bridge = self.sparkplug
        if bridge is not None:

            def bridge_up() -> str | None:
                return None if bridge.is_connected else "the Sparkplug bridge is not connected"

            health.add("sparkplug", worker_check(bridge.worker, bridge_up), bridge.worker)
        if self.logistics is not None:
            link = self.logistics.link
            health.add("logistics", worker_check(link.worker), link.worker)
        return health

    def _agent_status(self, agent: str, online: bool) -> None:
        if self.settings.role == "web":
            return
        if online:
            self.lights.agent_online(agent)  # a restarted agent gets its lights again
        if self.sparkplug is not None:
            self.sparkplug.agent_changed()  # its stations die or are born again

    def start(self) -> CloudService:
        """Starts the planner (when there are orders), ingest and the web interface."""
        try:
            self._warm_warnings()
        except Exception:  # early warnings are advice: a start does not fail for them
            log.exception("bringing the early warnings back from the log failed")
        if self.publisher is not None and self.replanner is not None:
            self.publisher.start()
            if self.logistics is not None:
                self.logistics.start()
            started = self._clock.now()
            known = self.status.latest
            self.status.settle = Settle(
                datetime.fromisoformat(known.replace("Z", "+00:00")) if known else None,
                started,
                started + timedelta(seconds=self.settings.absent_settle_s),
            )
            self.reactions.catch_up()  # the floor as the log left it: breakdowns, progress
            if self.times is not None:
                self.times.update()  # learned times accepted (or, auto, learned) before the stop
            self.replanner.flush(restore=True)  # plan from there; every schedule goes out
            self.replanner.publish_all()
            # A tool's transfer hold needs the plan's jobs (which machine wants it next): with the
            # job book filled, the tools are looked at again and any hold is planned at once.
            self.reactions.tools_changed(self._clock.now())
            self.replanner.flush()
            if self.master is not None:
                self._needs = self.replanner.material_needs()
                self._demand = self.replanner.material_demand()
                self._refresh_forecast(force=True)
                self.status.set_master(
                    StatusMaster.of(
                        self.master.plant, self._needs, self._demand, self._forecast_rates
                    )
                )
            self.replanner.start()
            self.floor_clock.start()
        if self._watcher is not None:
            self._watcher.start()
        if self.sparkplug is not None:
            self.sparkplug.start()  # births from the restored status, before new events
        if self.replica is not None:
            self.replica.view.plan.start()
        self.ingest.start()
        if self.web is not None:
            self.web.start()
        return self

    def stop(self) -> None:
        """Stops the web interface, ingest and the planner, then closes the log."""
        if self.web is not None:
            self.web.stop()
        if self.replica is not None:
            self.replica.view.plan.close()
            self.replica.leaders.close()
        self.ingest.stop()
        if self.sparkplug is not None:
            self.sparkplug.close()  # its NDEATH goes out
        if self._watcher is not None:
            self._watcher.close()
        self.floor_clock.stop()
        if self.replanner is not None:
            self.replanner.close()
        if self.logistics is not None:
            self.logistics.close()
        if self.publisher is not None:
            self.publisher.close()
        if self.snapshots.pending and self.settings.role == "all":
            with self.ingest.write_lock:
                self.snapshots.take(self.status)  # the next start replays nothing
        elif self.snapshots.pending and self.settings.role == "planner":
            with self.ingest.write_lock:
                if self.log.pending_own() == 0:
                    self.snapshots.take(self.status, self.ingest.position)
        self.audit.close()
        self.andon.close()
        self.auth_store.close()
        if self.web is not None:
            for shared in (self.web.auth.sessions, self.web.auth.throttle):
                if isinstance(shared, SharedSessions | SharedThrottle):
                    shared.close_all()
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


#: Presences in which an operator is not here: planned work of theirs is relied on in vain.
NOT_HERE: Final = frozenset({"expected", "absent", "on_leave", "off_shift"})


def _plan_of_operators(
    labour: dict[str, dict[str, Any]], jobs: Mapping[str, Mapping[str, Any]], now: datetime
) -> None:
    """Adds to each Labour row the plan's work for the operator from `now`.

    `planned_jobs` (job steps holding them that have not ended), `next_job` (the earliest
    start, `order/step at time`) and `relied_on` — planned work while the operator is not
    here (expected but not badged in yet, absent, on leave or off shift): whom the plan relies
    on who is not here.
    """
    # A job step is in the book of every resource it holds (its machine's, the operator's):
    # counted once per operator, by order and step.
    held: dict[str, dict[tuple[str, str], Any]] = {}
    for per in jobs.values():
        for job in per.values():
            if datetime.fromisoformat(job.end.replace("Z", "+00:00")) <= now:
                continue
            for operator in job.operators:
                held.setdefault(operator, {})[(job.order, job.step)] = job
    for row in labour.values():
        own = held.get(row.get("operator") or "", {})
        mine = sorted(own.values(), key=lambda j: j.start)
        row["planned_jobs"] = len(mine)
        row["next_job"] = f"{mine[0].order}/{mine[0].step} at {mine[0].start}" if mine else None
        row["relied_on"] = bool(mine) and row.get("presence") in NOT_HERE


def _replica(
    settings: CloudSettings, master: MasterData | None, status: ResourceStatus
) -> ReplicaParts:
    """A web replica's parts: the retained plan of its site, the leader's address, its name."""
    site = settings.site if settings.site != "+" else master.plant.site if master else "+"
    if site == "+":
        raise ConfigError(
            "--role web serves the plan of one site: give --site SITE (or the plant, --plant)"
        )
    # a new name each start, so no two replicas ever write one audit source (or share a client
    # id on the broker), wherever and however many run
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40]
    name = f"web-{host}-{secrets.token_hex(4)}"
    plan = RetainedPlan(_broker(settings), site, client_id=f"{settings.client_id}-{name}")
    return ReplicaParts(
        ReplicaPlanView(plan, lambda: status.planning),
        Leaders(str(settings.database), planner_lock_key(settings.site)),
        name,
    )


def _broker(settings: CloudSettings) -> BrokerSettings:
    """The broker settings, with the password given apart from the URL when there is one."""
    if settings.broker_password is None:
        return BrokerSettings.from_url(settings.broker, **settings.broker_tls)
    return BrokerSettings.from_url(
        settings.broker, password=settings.broker_password, **settings.broker_tls
    )
