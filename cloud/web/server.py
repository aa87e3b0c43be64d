"""The web server: the application on uvicorn in a background thread, bound at construction.

`WebServer` keeps the interface the cloud and the demo use (`start`, `stop`, `url`,
`plan_changed`, a context manager) and builds the application from the parts it is given
(`create_app`). It binds its socket at once, so `url` is known before `start` (port 0 picks a
free port). The limits that protect it from its clients: `REQUEST_TIMEOUT_S` for a request to
arrive, `MAX_CONNECTIONS` open connections, `bodies.MAX_BODY` bytes of body, and an idle
keep-alive connection closed after `KEEP_ALIVE_S`. `auth` says who may do what (the guard);
its allowed hosts default to the bound address's. With `certfile` and `keyfile` uvicorn serves
TLS itself (the pages then get HSTS and Secure cookies).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import uvicorn

from cloud.andon import AndonRecorder
from cloud.corrections import CorrectionRecorder
from cloud.health import Health
from cloud.kanban import KanbanRecorder
from cloud.master import MasterData
from cloud.replan import OrderDesk, Replanner, StandardTimes
from cloud.report import Reports
from cloud.status import ResourceStatus
from cloud.timetravel import TimeTravel
from cloud.web.app import create_app
from cloud.web.guard import WebAuth, default_hosts
from cloud.web.live import Live, StatusFeed
from cloud.web.parts import DeadLetters, Snapshot, WebParts
from cloud.web.plan_view import PlanView
from cloud.web.protocol import deadline_protocol
from cloud.web.replica import ReplicaParts
from cloud.web.zoned import plant_zone

__all__ = ["KEEP_ALIVE_S", "MAX_CONNECTIONS", "REQUEST_TIMEOUT_S", "WebServer"]

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S: Final = 10.0
MAX_CONNECTIONS: Final = 1000
KEEP_ALIVE_S: Final = 5.0
_STOP_GRACE_S: Final = 3.0


class WebServer:
    """Serves pages and API; `start()` runs it in a thread, `stop()` shuts it down."""

    def __init__(
        self,
        snapshot: Snapshot,
        dead_letters: DeadLetters,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        status: ResourceStatus | None = None,
        master: MasterData | None = None,
        corrections: CorrectionRecorder | None = None,
        replanner: Replanner | None = None,
        desk: OrderDesk | None = None,
        times: StandardTimes | None = None,
        history: TimeTravel | None = None,
        warnings: Callable[[], dict[str, Any]] | None = None,
        root_cause: Callable[[str], dict[str, Any] | None] | None = None,
        stock_out: Callable[[str, str], dict[str, Any] | None] | None = None,
        forecast: Callable[[], dict[str, Any]] | None = None,
        reports: Reports | None = None,
        health: Health | None = None,
        kanban: KanbanRecorder | None = None,
        andon: AndonRecorder | None = None,
        metrics: Callable[[], bytes] | None = None,
        metrics_token: str | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        auth: WebAuth | None = None,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        replica: ReplicaParts | None = None,
    ) -> None:
        auth = auth or WebAuth()
        if auth.allowed_hosts is None:
            auth.allowed_hosts = default_hosts(host)
        self.auth = auth
        parts = WebParts(
            snapshot, dead_letters, status, master, corrections, replanner, desk, reports, health,
            metrics=metrics, metrics_token=metrics_token, auth=auth, kanban=kanban, times=times,
            andon=andon,
            history=history, warnings=warnings, root_cause=root_cause, forecast=forecast,
            stock_out=stock_out,
        )  # fmt: skip
        zone = plant_zone(parts)
        view = replica.view if replica is not None else PlanView(replanner, desk, zone)
        self.live = Live(StatusFeed(snapshot, status, zone), view)
        self.app = create_app(parts, self.live, replica)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(2048)
        config = uvicorn.Config(
            self.app,
            http=deadline_protocol(request_timeout_s, max_connections),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=int(KEEP_ALIVE_S),
            timeout_graceful_shutdown=int(_STOP_GRACE_S),
            backlog=2048,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
        )
        self._scheme = "https" if certfile else "http"
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The overview's address, e.g. http://127.0.0.1:8080/."""
        host, port = self._socket.getsockname()[:2]
        return f"{self._scheme}://{host if ':' not in host else f'[{host}]'}:{port}/"

    def plan_changed(self, *_: object) -> None:
        """Tells the pages the plan changed (pass as the replanner's `on_replan`)."""
        self.live.plan.changed()

    def start(self) -> WebServer:
        """Serves in a background thread; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="web", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not start within 10 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ends the live pushes, stops serving and closes the socket."""
        self.live.stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_GRACE_S + 5)
            if self._thread.is_alive():
                log.warning("the web server did not stop in time")
        self._socket.close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
