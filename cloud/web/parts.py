"""What the web application is built from: the cloud's parts, passed in (no globals).

`WebParts` names every part a route may reach; a part left out (None) turns its routes into
404/409 problems saying how to get it, as the cloud runs with or without a plant, orders, an
event log. `create_app` (cloud/web/app.py) takes one of these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloud.andon import AndonRecorder
from cloud.corrections import CorrectionRecorder
from cloud.health import Health
from cloud.kanban import KanbanRecorder
from cloud.master import MasterData
from cloud.replan import OrderDesk, Replanner, StandardTimes
from cloud.report import Reports
from cloud.status import ResourceStatus
from cloud.timetravel import TimeTravel
from cloud.web.guard import WebAuth

__all__ = ["DeadLetters", "Snapshot", "WebParts"]

Snapshot = Callable[[], dict[str, Any]]
DeadLetters = Callable[[int], list[dict[str, Any]]]


@dataclass(frozen=True)
class WebParts:
    """The cloud's parts the routes serve; all but the first two are optional."""

    #: The whole status as JSON-ready data (`ResourceStatus.snapshot` in the cloud).
    snapshot: Snapshot
    #: The newest dead letters, newest first (`EventLog.dead_letters`).
    dead_letters: DeadLetters
    status: ResourceStatus | None = None
    master: MasterData | None = None
    corrections: CorrectionRecorder | None = None
    replanner: Replanner | None = None
    desk: OrderDesk | None = None
    reports: Reports | None = None
    #: What /healthz and /readyz answer (cloud/health.py); None: always alive and ready.
    health: Health | None = None
    #: Records planners' kanban loop changes (cloud/kanban/); None: the loops are read-only.
    kanban: KanbanRecorder | None = None
    #: The Prometheus exposition of the cloud's metrics (cloud/metrics.py), and its token.
    metrics: Callable[[], bytes] | None = None
    metrics_token: str | None = None
    #: Who may do what (cloud/web/guard.py); the default: nobody logs in, nothing is open.
    auth: WebAuth = field(default_factory=WebAuth)
    #: Learned standard times (cloud/replan/times.py); None: no plan to take them.
    times: StandardTimes | None = None
    #: Records andon acknowledgements and reads them back (cloud/andon/); None: no acks.
    andon: AndonRecorder | None = None
    #: The status at past moments (cloud/timetravel.py); None: no event log to travel in.
    history: TimeTravel | None = None
    #: The early warnings' view (cloud/early_warnings.py); None: 404.
    warnings: Callable[[], dict[str, Any]] | None = None
    #: An order's root cause (`CloudService.root_cause_of`, cloud/rootcause.py); None: 404.
    root_cause: Callable[[str], dict[str, Any] | None] | None = None
    #: A stock-out's root cause (`CloudService.stock_out_of`): material, point -> it; None: 404.
    stock_out: Callable[[str, str], dict[str, Any] | None] | None = None
    #: The demand forecast (`CloudService.forecast_view`, cloud/forecast/); None: 404.
    forecast: Callable[[], dict[str, Any]] | None = None
