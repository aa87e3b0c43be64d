"""The web application: routes and a stack of middleware, built from the cloud's parts.

`create_app(parts)` is the factory (no globals): one module per group of routes — status,
live (the SSE push), andon, plan, report, master, corrections, kanban, pages — and the
middleware every route shares. Every JSON answer's times are on the plant's clock, ISO 8601
with its offset (`zoned.py`, the one place that formats them for the API). Errors are problem
documents (`problems.py`); bodies are bounded and typed (`bodies.py`). The HTTP server around it
(`server.py`) adds what an ASGI application cannot see: a deadline for each request to arrive,
and a connection limit.

The middleware runs outside in: the guard (`guard.py`: Host, Origin, sessions and tokens, the
role each route needs, CSRF, the audit of every write, security headers) before compression, so
that every route, page and static file is behind it; endpoints read who acts with `actor()`.
"""

from __future__ import annotations

from typing import Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Route

from cloud.web import (
    account,
    advice,
    andon,
    corrections,
    gaps,
    history,
    kanban,
    logistics,
    master,
    metrics,
    pages,
    plan,
    report,
    status,
    times,
    whatif,
)
from cloud.web.guard import Guard, WebAuth
from cloud.web.live import Live, StatusFeed
from cloud.web.parts import WebParts
from cloud.web.plan_view import PlanView
from cloud.web.problems import exception_handlers
from cloud.web.replica import LeaderForward, ReplicaParts, plan_routes
from cloud.web.zoned import PlantZone, ZonedTimes, plant_zone

__all__ = ["create_app", "served_routes"]

#: Responses at least this large are compressed for clients that accept gzip.
GZIP_ABOVE: Final = 4096


def _middleware(auth: WebAuth, replica: ReplicaParts | None, zone: PlantZone) -> list[Middleware]:
    forward = (
        [Middleware(LeaderForward, leaders=replica.leaders, name=replica.name)] if replica else []
    )
    return [
        Middleware(Guard, auth=auth),
        *forward,  # behind the guard: what is sent on was checked (and is checked again there)
        Middleware(GZipMiddleware, minimum_size=GZIP_ABOVE, compresslevel=5),
        Middleware(ZonedTimes, zone=zone),  # inside gzip: it reads the bodies uncompressed
    ]


def create_app(
    parts: WebParts, live: Live | None = None, replica: ReplicaParts | None = None
) -> Starlette:
    """The application serving `parts`; `live` (made here when None) drives the pushes.

    With `replica` it is a web replica's (`cloud/web/replica.py`): the plan is the leader's
    retained one, and the planner's changes and reads are sent on to the leader.
    """
    zone = plant_zone(parts)
    if live is None:
        view = replica.view if replica else PlanView(parts.replanner, parts.desk, zone)
        live = Live(StatusFeed(parts.snapshot, parts.status, zone), view)
    if live.plan.zone is None:  # a replica's view of the leader's plan: on this plant's clock
        live.plan.zone = zone
    routes: list[BaseRoute] = [
        *(plan_routes(replica.view) if replica else []),
        *status.routes(parts, live.feed, live.plan),
        *andon.routes(parts, live.plan),
        *live.routes(),
        *plan.routes(live.plan),
        *gaps.routes(parts.replanner, parts.snapshot),
        *times.routes(parts.times),
        *history.routes(parts.history),
        *whatif.routes(parts.replanner, parts.desk),
        *advice.routes(parts.warnings, parts.root_cause, parts.forecast, parts.stock_out),
        *report.routes(parts.reports),
        *master.routes(parts.master),
        *corrections.routes(parts.snapshot, parts.corrections),
        *kanban.routes(parts.status, parts.kanban),
        *logistics.routes(parts.status, lambda: parts.master.plant.site if parts.master else ""),
        *account.routes(parts.auth),
        *pages.routes(lambda: zone.name),
        *metrics.routes(parts.metrics, parts.metrics_token),
    ]
    app = Starlette(
        routes=routes,
        middleware=_middleware(parts.auth, replica, zone),
        exception_handlers=dict(exception_handlers),
    )
    app.router.redirect_slashes = False  # an API answers where it is asked, or 404
    app.state.live = live
    return app


def served_routes(app: Starlette) -> set[tuple[str, str]]:
    """(method, path) of every API route of `app` (pages and static files left out)."""
    served = set()
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        api = route.path.startswith("/api/") or route.path in ("/healthz", "/readyz", "/metrics")
        if api:
            for method in route.methods or ():
                if method != "HEAD":
                    served.add((method.lower(), route.path))
    return served
