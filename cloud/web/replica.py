"""A web replica's own parts: the plan the leader published, and changes sent on to the leader.

A web replica (`taktline cloud --role web`, `cloud.roles`) serves the web interface beside the
leading planner, reading the status from its own read-only fold of the log. It has no planner,
so what is the planner's it takes from where the leader puts it:

- **the plan**: the leader publishes the whole plan and the gap report retained on the broker
  (`contract.topics.plan_topic`, `gap_report_topic`). `RetainedPlan` subscribes to both and
  `ReplicaPlanView` serves them: `GET /api/plan`, `/api/plan/export`,
  `/api/plan/orders/{order}/causes` and `/api/gaps` answer what the leader answers, and the
  live push tells the pages when a new plan version arrived;
- **everything else of the planner** — every change (orders, decisions, pins, manual mode,
  learned times, corrections, andon acknowledgements, kanban loops, master data, what-if runs
  and their promotion) and the reads that need the planner's engine (the Plan page's state,
  pending decisions, the planning audit, the gap view, learned times, root causes, the
  forecast) — goes to the leader: `LeaderForward` sends the request on, headers and body as
  they came (the session cookie and CSRF token hold there too: sessions are in the database),
  and answers what the leader answered. The leader writes its planning events itself, so there
  is one writer of the plan however many replicas there are. The leader's address is the one
  written beside the planner lock (`cloud.roles.leader_url`), current only while its holder
  holds the lock; without a leader (a failover under way) or when it cannot be reached, the
  answer is a 503 saying so, and that the change was not made (or, when the leader stopped
  answering after the request went out, that it may have been).

Logging in and out and API tokens are served by the replica itself: they live in the database.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cloud.roles import PLANNER_LOCK, leader_url
from cloud.status.planning import PlanningLedger
from cloud.web.bodies import MAX_BODY, encoded_response, json_response
from cloud.web.plan_view import PlanView
from cloud.web.problems import Problem, problem_response
from cloud.web.zoned import ZONED
from contract.downlink import GapReport, PlanSnapshot
from contract.topics import gap_report_topic, plan_topic
from taktline.clock import Clock, SystemClock
from taktline.mqtt import BrokerSettings, Session
from taktline.supervise import Worker

__all__ = [
    "FORWARDED_HEADER",
    "LeaderForward",
    "Leaders",
    "ReplicaParts",
    "ReplicaPlanView",
    "RetainedPlan",
    "forwarded",
    "plan_routes",
]

log = logging.getLogger(__name__)

#: Set on a request a replica sends on; a replica refuses to send such a request on again.
FORWARDED_HEADER: Final = "x-taktline-replica"
#: How long the leader's address is trusted before it is read again (a failover changes it).
LEADER_TTL_S: Final = 1.0
#: How long a request sent on may take at the leader (an orders upload replans: seconds).
FORWARD_TIMEOUT_S: Final = 60.0
_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Writes a replica serves itself: sessions and tokens are in the database.
_OWN_WRITES: Final = re.compile(r"^/api/(login|logout|tokens(/[^/]+)?)$")
#: Reads that need the planner's engine (the leader's alone).
_LEADER_READS: Final = re.compile(
    r"^/api/(plan/state|plan/times|gaps/view|decisions|audit|forecast"
    r"|plan/orders/[^/]+/rootcause)$"
)
#: Headers not sent on (hop-by-hop, or set again for the hop to the leader).
_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "content-length",
        "accept-encoding",
        "proxy-authorization",
        FORWARDED_HEADER,
    }
)

#: Headers of the leader's answer not passed back (the body is decoded; the replica's server
#: and the guard set their own).
_NOT_BACK: Final = frozenset(
    {
        "content-encoding",
        "date",
        "server",
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "content-security-policy",
        "strict-transport-security",
    }
)


def forwarded(method: str, path: str) -> bool:
    """Whether a replica sends `method path` on to the leader."""
    if method in _WRITES:
        return _OWN_WRITES.match(path) is None
    return _LEADER_READS.match(path) is not None


class RetainedPlan:
    """The leader's retained plan and gap report, as the broker holds them (a context manager)."""

    def __init__(self, broker: BrokerSettings, site: str, *, client_id: str) -> None:
        self.site = site
        self.plan_topic = plan_topic(site)
        self.gaps_topic = gap_report_topic(site)
        self._bodies: dict[str, bytes] = {}
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self._session = Session(broker, client_id, on_connect=self._subscribe)
        self._session.client.on_message = self._message
        self.worker = Worker("retained-plan", self._run, backoff_s=0.2, backoff_max_s=10.0)

    @property
    def is_connected(self) -> bool:
        """Whether the session is up."""
        return self._session.is_connected

    def start(self) -> RetainedPlan:
        """Starts the worker (it connects, and reconnects, on its own)."""
        self.worker.start()
        return self

    def close(self) -> None:
        """Stops the worker and disconnects."""
        self.worker.stop(5)

    def __enter__(self) -> RetainedPlan:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def retained(self, topic: str) -> bytes | None:
        """The newest body received on `topic`, or None."""
        return self._bodies.get(topic)

    def version(self) -> int:
        """The version of the plan held (0: none yet)."""
        return self._versions.get(self.plan_topic, 0)

    def _subscribe(self) -> None:
        self._session.client.subscribe([(self.plan_topic, 1), (self.gaps_topic, 1)])

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        body = bytes(message.payload)
        try:
            if message.topic == self.plan_topic:
                incoming = PlanSnapshot.decode(body).version
            elif message.topic == self.gaps_topic:
                incoming = GapReport.decode(body).version
            else:
                return
        except ValueError as exc:  # a message the leader did not write: keep what we have
            log.warning("retained plan: %s refused (%s)", message.topic, exc)
            return
        with self._lock:
            if self._versions.get(message.topic, 0) >= incoming:
                return  # an older version re-delivered after a reconnect
            self._bodies[message.topic] = body
            self._versions[message.topic] = incoming

    def _run(self, worker: Worker) -> None:
        session = self._session
        try:
            while not worker.stopping:
                if not session.connect(lambda: worker.stopping):
                    break
                while not worker.stopping and session.run_once(0.05):
                    worker.beat()
        finally:
            session.disconnect()


class ReplicaPlanView(PlanView):
    """The plan routes' and the live push's view of the leader's retained plan."""

    def __init__(
        self,
        plan: RetainedPlan,
        planning: Callable[[], PlanningLedger | None],
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(None, None)
        self.plan = plan
        self._planning = planning
        self._clock = clock or SystemClock()

    def has_plan(self) -> bool:
        """Whether the leader's plan has arrived."""
        return self.plan.version() > 0

    def document(self) -> dict[str, Any]:
        """The plan the leader published last (decoded once per version)."""
        body = self.plan.retained(self.plan.plan_topic)
        if body is None:
            raise Problem(
                503,
                "no plan yet: the leading planner has not published one this replica received",
                headers={"Retry-After": "5"},
            )
        return self._decoded(body)

    def gap_report(self) -> dict[str, Any]:
        """The gap report the leader published last (as `Replanner.gap_report`)."""
        body = self.plan.retained(self.plan.gaps_topic)
        if body is None:
            return {"digest": "", "gaps": [], "orders": []}
        report = GapReport.decode(body)
        return {"digest": report.digest, "gaps": list(report.gaps), "orders": list(report.orders)}

    def export_name(self) -> str:
        """The file name of a plan download: plan-SITE-TIME.json."""
        now = self._clock.now().strftime("%Y%m%dT%H%M%SZ")
        return f"plan-{self.plan.site}-{now}.json"

    def signature(self) -> tuple[Any, ...] | None:
        """The plan's version, manual mode and pending decisions (from the log's fold)."""
        planning = self._planning()
        if planning is None:
            return (self.plan.version(),)
        return (self.plan.version(), planning.manual, tuple(sorted(planning.pending)))

    def event(self) -> dict[str, Any]:
        """The data of a `plan` push."""
        planning = self._planning()
        version = self.plan.version()
        return {
            "version": version,
            "replans": version,
            "manual": planning.manual if planning is not None else None,
            "pending": len(planning.pending) if planning is not None else 0,
        }


def plan_routes(view: ReplicaPlanView) -> list[Route]:
    """The plan reads a replica answers itself; placed before the planner's own routes."""

    async def document(request: Request, headers: dict[str, str]) -> Response:
        if view.zone is not None:
            request.scope[ZONED] = True  # the view writes the plan's times on the plant's clock
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            packed = await run_in_threadpool(view.document_gzip)
            zipped = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            return encoded_response(packed, headers={**headers, **zipped})
        return encoded_response(await run_in_threadpool(view.document_bytes), headers=headers)

    async def plan(request: Request) -> Response:
        return await document(request, {})

    async def export(request: Request) -> Response:
        disposition = f'attachment; filename="{view.export_name()}"'
        return await document(request, {"Content-Disposition": disposition})

    async def causes(request: Request) -> Response:
        order = request.path_params["order"]
        found = await run_in_threadpool(view.order_causes, order)
        if found is None:
            raise Problem(404, f"order {order!r} is not in the plan")
        return json_response(found)

    async def gaps(request: Request) -> Response:
        return json_response(await run_in_threadpool(view.gap_report))

    return [
        Route("/api/plan", plan, methods=["GET"]),
        Route("/api/plan/export", export, methods=["GET"]),
        Route("/api/plan/orders/{order}/causes", causes, methods=["GET"]),
        Route("/api/gaps", gaps, methods=["GET"]),
    ]


class Leaders:
    """Where the leading planner's web interface is: read from the database, cached a second."""

    def __init__(self, url: str, key: int = PLANNER_LOCK) -> None:
        self.key = key
        self._engine = sa.create_engine(url, pool_pre_ping=True, pool_size=2)
        self._lock = threading.Lock()
        self._cached: tuple[float, str | None] = (-1e9, None)

    def url(self) -> str | None:
        """The leader's web address now (None: no planner leads, or it serves no web)."""
        now = time.monotonic()
        with self._lock:
            if now - self._cached[0] < LEADER_TTL_S:
                return self._cached[1]
        with self._engine.connect() as conn:
            found = leader_url(conn, self.key)
        with self._lock:  # "nobody leads" is asked again at once: a standby is taking over
            self._cached = (now, found) if found is not None else (-1e9, None)
        return found

    def forget(self) -> None:
        """Reads the address again next time (the one held did not answer)."""
        with self._lock:
            self._cached = (-1e9, None)

    def close(self) -> None:
        """Closes the database connections."""
        self._engine.dispose()


@dataclass(frozen=True)
class ReplicaParts:
    """What makes a web application a replica's: the retained plan's view, the leader's place."""

    view: ReplicaPlanView
    leaders: Leaders
    #: This replica's name, sent with what it forwards (the leader's logs can tell them apart).
    name: str


class LeaderForward:
    """ASGI middleware (inside the guard): sends the leader's requests on, answers the rest."""

    def __init__(self, app: ASGIApp, leaders: Leaders, name: str) -> None:
        self.app = app
        self.leaders = leaders
        self.name = name
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(FORWARD_TIMEOUT_S, connect=3.0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Sends the request on when it is the leader's; serves it here otherwise."""
        if scope["type"] != "http" or not forwarded(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            response = await self._forward(scope, receive)
        except Problem as problem:
            response = problem_response(problem)
        await response(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive) -> Response:
        method, path = scope["method"], scope["path"]
        change = method in _WRITES
        not_made = "the change was not made; try again in a few seconds" if change else "try again"
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", ())]
        if any(k.lower() == FORWARDED_HEADER for k, _ in headers):
            raise Problem(
                508,
                "this request came from a web replica: the leader's address written beside the "
                "planner lock leads to a replica (give the planners an address of their own)",
            )
        body = await _body(receive)
        try:
            target = await run_in_threadpool(self.leaders.url)
        except sa.exc.SQLAlchemyError as exc:
            raise Problem(
                503,
                f"the database is not reachable ({exc.__class__.__name__}): {not_made}",
                headers={"Retry-After": "5"},
            ) from exc
        if target is None:
            raise Problem(
                503,
                "no planner leads now (a standby takes over within seconds; a leader takes "
                f"changes from replicas only with its web interface on): {not_made}",
                headers={"Retry-After": "5"},
            )
        scheme = "https" if scope.get("scheme") == "https" else "http"
        sent = [(k, v) for k, v in headers if k.lower() not in _HOP]
        sent = [
            (k, _origin_for(v, scheme, target) if k.lower() == "origin" else v) for k, v in sent
        ]
        client = scope.get("client")
        sent.append(("x-forwarded-for", str(client[0]) if client else "unknown"))
        sent.append((FORWARDED_HEADER, self.name))
        query = scope.get("query_string", b"").decode("latin-1")
        url = target.rstrip("/") + path + (f"?{query}" if query else "")
        try:
            answer = await self._client.request(method, url, headers=sent, content=body)
        except httpx.ConnectError as exc:
            self.leaders.forget()
            raise Problem(
                503,
                f"the leading planner at {target} does not answer ({exc.__class__.__name__}): "
                f"{not_made}",
                headers={"Retry-After": "5"},
            ) from exc
        except httpx.HTTPError as exc:
            self.leaders.forget()
            maybe = (
                "the change may or may not have been made: look before trying again"
                if change
                else "try again"
            )
            raise Problem(
                503,
                f"the leading planner at {target} stopped answering ({exc.__class__.__name__}): "
                f"{maybe}",
                headers={"Retry-After": "5"},
            ) from exc
        scope["taktline.sent_on"] = True  # the leader recorded it: the guard here does not
        content = answer.content  # decoded: the leader's gzip is not passed on
        response = Response(content, status_code=answer.status_code)
        response.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in answer.headers.multi_items()
            if k.lower() not in _HOP and k.lower() not in _NOT_BACK
        ] + [(b"content-length", str(len(content)).encode())]
        return response


def _origin_for(origin: str, scheme: str, target: str) -> str:
    """A same-origin `Origin` as the leader sees it (its scheme may differ from this replica's)."""
    host = origin.split("://", 1)[-1]
    if origin != f"{scheme}://{host}":
        return origin
    leader_scheme = target.split("://", 1)[0]
    return f"{leader_scheme}://{host}"


async def _body(receive: Receive) -> bytes:
    """The request's body, at most `MAX_BODY` bytes (the leader's own limit)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Problem(400, "the client went away before its request was read")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(413, f"the body is over {MAX_BODY} bytes", limit=MAX_BODY)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
