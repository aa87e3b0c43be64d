"""The web monitoring interface: pages, a REST API and live pushes, on 127.0.0.1 by default.

Standard library only (`http.server`): a `ThreadingHTTPServer`, one thread per request. Each
page is the same small application (`static/app.html`, `app.js`, `app.css`; no external assets:
the plant may be offline) that renders the view its path names. Updates are pushed as
Server-Sent Events (`/api/events`): each client's thread waits on the status's change condition
and sends the new snapshot, at most `PUSH_INTERVAL_S` apart; when the cloud plans, a `plan`
event tells the Plan and Gap pages to fetch again (`plan_api.py` serves the planners' routes:
plan, gap report, orders, decisions, manual mode). `ROUTES` is the list of record of
what is served; `docs/openapi.yaml` describes the API and a test checks that both agree.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from cloud.corrections import CorrectionRecorder, CorrectionRefused
from cloud.health import Health
from cloud.master import MasterData, MasterRejected
from cloud.replan import OrderDesk, Replanner
from cloud.report import Reports
from cloud.status import ResourceStatus
from cloud.web.plan_api import PLAN_ROUTES, PlanApi, Reply
from cloud.web.report_api import REPORT_ROUTES, ReportApi

__all__ = ["PAGES", "ROUTES", "WebServer"]

Snapshot = Callable[[], dict[str, Any]]
DeadLetters = Callable[[int], list[dict[str, Any]]]

PUSH_INTERVAL_S: Final = 0.25
KEEPALIVE_S: Final = 15.0
#: How often a live push looks for a plan change while no status change comes.
PLAN_POLL_S: Final = 0.5
MAX_BODY: Final = 4 * 1024 * 1024
GZIP_ABOVE: Final = 64 * 1024
#: The pages (each served by the one application, which renders the view its path names).
PAGES: Final = (
    "/",
    "/machines/{station}",
    "/tooling",
    "/labour",
    "/deliveries",
    "/corrections",
    "/plan",
    "/gaps",
    "/report",
)
#: (method, path) of every API route served; the OpenAPI document lists the same.
ROUTES: Final = (
    ("get", "/api/status"),
    ("get", "/api/machines/{station}"),
    ("get", "/api/events"),
    ("get", "/api/dead-letters"),
    ("get", "/api/corrections"),
    ("post", "/api/corrections"),
    ("get", "/api/master"),
    ("put", "/api/master"),
    ("post", "/api/master/{section}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    *PLAN_ROUTES,
    *REPORT_ROUTES,
)
_STATIC: Final = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "plan.js": "text/javascript",
    "plan.css": "text/css",
    "report.js": "text/javascript",
}
_MACHINE = re.compile(r"^/(?:api/)?machines/([A-Za-z0-9._-]{1,64})$")


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
        reports: Reports | None = None,
        health: Health | None = None,
    ) -> None:
        self.stopping = threading.Event()
        #: The planners' routes (plan, gaps, orders, decisions, manual mode; see plan_api.py).
        self.plan = PlanApi(replanner, desk)
        app = _App(snapshot, dead_letters, status, master, corrections, self.stopping, self.plan)
        app.report = ReportApi(reports)  # the resource status report (see report_api.py)
        app.health = health  # /healthz and /readyz (see cloud/health.py)
        self._server = ThreadingHTTPServer((host, port), _handler(app))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The overview's address, e.g. http://127.0.0.1:8080/."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def plan_changed(self, *_: object) -> None:
        """Tells the pages the plan changed (pass as the replanner's `on_replan`)."""
        self.plan.changed()

    def start(self) -> WebServer:
        """Serves in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ends the live pushes, stops serving and closes the socket."""
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _App:
    """What the handlers reach: the status, master data, corrections, and the static files."""

    def __init__(
        self,
        snapshot: Snapshot,
        dead_letters: DeadLetters,
        status: ResourceStatus | None,
        master: MasterData | None,
        corrections: CorrectionRecorder | None,
        stopping: threading.Event,
        plan: PlanApi,
    ) -> None:
        self.snapshot = snapshot
        self.dead_letters = dead_letters
        self.status = status
        self.master = master
        self.corrections = corrections
        self.stopping = stopping
        self.plan = plan
        self.report = ReportApi(None)
        self.health: Health | None = None
        files = resources.files("cloud.web").joinpath("static")
        self.page = files.joinpath("app.html").read_bytes()
        self.static = {name: files.joinpath(name).read_bytes() for name in _STATIC}

    def wait_change(self, version: int, timeout: float) -> int:
        if self.status is not None:
            return self.status.wait_change(version, timeout)
        self.stopping.wait(min(timeout, 1.0))  # no status to wait on: push once a second
        return version + 1


def _is_page(path: str) -> bool:
    return path in PAGES or (bool(_MACHINE.match(path)) and not path.startswith("/api/"))


def _handler(app: _App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "taktline"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the console belongs to the plant's events, not to page loads

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: Any, code: int = 200) -> None:
            self._send(code, json.dumps(value, indent=1).encode(), "application/json")

        def _reply(self, reply: Reply) -> None:
            # Compact, and compressed when large: a 2,000-order plan is megabytes of JSON.
            body = json.dumps(reply.body, separators=(",", ":")).encode()
            self.send_response(reply.code)
            self.send_header("Content-Type", "application/json")
            if len(body) > GZIP_ABOVE and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body = gzip.compress(body, compresslevel=5)
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Vary", "Accept-Encoding")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._json({"error": f"body over {MAX_BODY} bytes"}, 413)
                return None
            return self.rfile.read(length)

        def _json_body(self) -> Any:
            raw = self._body()
            if raw is None:
                return None
            try:
                return json.loads(raw or b"null")
            except ValueError as exc:
                self._json({"error": f"body is not JSON: {exc}"}, 400)
                return None

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            machine = _MACHINE.match(path)
            if _is_page(path):
                self._send(200, app.page, "text/html; charset=utf-8")
            elif path.startswith("/static/") and path[8:] in app.static:
                self._send(200, app.static[path[8:]], _STATIC[path[8:]] + "; charset=utf-8")
            elif path == "/api/status":
                self._json(app.snapshot())
            elif app.plan.serves("get", url.path):
                self._reply(app.plan.get(url.path))
            elif app.report.serves("get", path):
                answer = app.report.get(path, url.query)
                self._send(answer.code, answer.body, answer.content_type)
            elif machine and path.startswith("/api/"):
                detail = app.status.machine(machine.group(1)) if app.status else None
                if detail is None:
                    self._json({"error": f"no machine {machine.group(1)!r}"}, 404)
                else:
                    self._json(detail)
            elif path == "/api/events":
                self._events()
            elif path == "/api/dead-letters":
                query = parse_qs(url.query)
                try:
                    limit = max(1, min(1000, int(query.get("limit", ["50"])[0])))
                except ValueError:
                    self._json({"error": "limit must be an integer"}, 400)
                    return
                self._json(app.dead_letters(limit))
            elif path == "/api/corrections":
                self._json(app.snapshot().get("corrections", []))
            elif path == "/api/master":
                if app.master is None:
                    self._json({"error": "no master data loaded"}, 404)
                else:
                    self._json(app.master.document())
            elif path in ("/healthz", "/readyz"):
                if app.health is None:
                    self._json({"alive": True, "ready": True})
                else:
                    check = app.health.alive if path == "/healthz" else app.health.ready
                    ok, report = check()
                    self._json(report, 200 if ok else 503)
            else:
                self._json({"error": f"no such page: {path}"}, 404)

        def do_POST(self) -> None:
            raw_path = urlsplit(self.path).path
            path = unquote(raw_path)
            if app.plan.serves("post", raw_path):
                body = self._body()
                if body is not None:
                    self._reply(app.plan.post(raw_path, body, self.headers.get("X-User")))
            elif path == "/api/corrections":
                if app.corrections is None:
                    self._json({"error": "corrections are not enabled"}, 404)
                    return
                fields = self._json_body()
                if fields is None:
                    return
                if not isinstance(fields, dict):
                    self._json({"error": "body must be a JSON object"}, 400)
                    return
                try:
                    self._json(app.corrections.record(fields), 201)
                except CorrectionRefused as exc:
                    self._json({"error": str(exc)}, 422)
            elif path.startswith("/api/master/"):
                self._master_rows(path.removeprefix("/api/master/"))
            else:
                self._json({"error": f"no such route: POST {path}"}, 404)

        def do_PUT(self) -> None:
            path = urlsplit(self.path).path
            if path != "/api/master":
                self._json({"error": f"no such route: PUT {path}"}, 404)
            elif app.master is None:
                self._json({"error": "no master data loaded"}, 404)
            else:
                document = self._json_body()
                if document is None:
                    return
                try:
                    app.master.replace(document)
                except MasterRejected as exc:
                    self._json({"error": "rejected", "errors": exc.to_list()}, 422)
                    return
                self._json({"ok": True}, 200)

        def _master_rows(self, section: str) -> None:
            if app.master is None:
                self._json({"error": "no master data loaded"}, 404)
                return
            csv_text = "csv" in (self.headers.get("Content-Type") or "")
            try:
                if csv_text:
                    raw = self._body()
                    if raw is None:
                        return
                    count = app.master.import_csv(section, raw.decode("utf-8-sig"))
                else:
                    rows = self._json_body()
                    if rows is None:
                        return
                    count = app.master.import_rows(section, rows)
            except MasterRejected as exc:
                self._json({"error": "rejected", "errors": exc.to_list()}, 422)
                return
            self._json({"applied": count}, 200)

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            version = -1
            plan_seen: tuple[Any, ...] | None = None
            # With a plan the wait for a status change is cut into slices, so that a plan
            # change (a replan, a decision, manual mode) is pushed within one slice too.
            wait_s = PLAN_POLL_S if app.plan.replanner is not None else KEEPALIVE_S
            quiet_since = time.monotonic()
            try:
                while not app.stopping.is_set():
                    seen = app.wait_change(version, wait_s)
                    sent = False
                    if seen != version:
                        version = seen
                        data = json.dumps(app.snapshot(), separators=(",", ":"))
                        self.wfile.write(f"event: status\ndata: {data}\n\n".encode())
                        sent = True
                    plan_now = app.plan.signature()
                    if plan_now != plan_seen:
                        plan_seen = plan_now
                        data = json.dumps(app.plan.event(), separators=(",", ":"))
                        self.wfile.write(f"event: plan\ndata: {data}\n\n".encode())
                        sent = True
                    if sent:
                        quiet_since = time.monotonic()
                    elif time.monotonic() - quiet_since >= KEEPALIVE_S:
                        self.wfile.write(b": keep-alive\n\n")
                        quiet_since = time.monotonic()
                    self.wfile.flush()
                    time.sleep(PUSH_INTERVAL_S)  # coalesce bursts into one push
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page went away
            self.close_connection = True

    return Handler
