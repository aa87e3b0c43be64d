"""The status routes: the whole resource status, one machine, dead letters, health.

`GET /api/status` answers the cached encoding of the current snapshot (`StatusFeed`, shared with
the live push); `GET /api/machines/{station}` one machine with its timeline, its job steps and,
when the cloud plans, its upcoming schedule from the plan (`machine_plan.upcoming`); `GET
/api/dead-letters?limit=N` the newest dead letters (1-1000, default 50); `GET /healthz` alive
(every supervised worker's thread runs) and `GET /readyz` ready (ingest commits, the planner
runs), each 200 or 503 with the report of `cloud.health.Health`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.replan import Replanner
from cloud.web.bodies import encoded_response, json_response
from cloud.web.live import StatusFeed
from cloud.web.machine_plan import upcoming
from cloud.web.parts import WebParts
from cloud.web.plan_view import PlanView
from cloud.web.problems import Problem
from cloud.web.zoned import ZONED

__all__ = ["STATION", "routes"]

#: What a station id looks like (the contract's rule); anything else is no machine.
STATION: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_LIMIT: Final = re.compile(r"^[0-9]{1,4}$")


def _plan_key(replanner: Replanner, station: str) -> str | None:
    """The plan's resource id of the machine at `station` (its plant model's, by station)."""
    plant = replanner.engine.plant
    return next(
        (r.id for r in plant.resources if r.kind == "machine" and (r.station or r.id) == station),
        None,
    )


def routes(parts: WebParts, feed: StatusFeed, plan: PlanView | None = None) -> list[Route]:
    """The status routes over the cloud's parts (and the plan view, for a machine's schedule)."""

    def detail_of(station: str) -> dict[str, Any] | None:
        assert parts.status is not None
        detail = parts.status.machine(station)
        if detail is not None:
            replanner = plan.replanner if plan is not None else None
            # a web replica's plan is the leader's retained one (no replanner of its own)
            document = plan.document() if plan is not None and plan.has_plan() else None
            now = replanner.clock.now() if replanner is not None else datetime.now(UTC)
            key = _plan_key(replanner, station) if replanner is not None else None
            detail["upcoming"] = upcoming(document, key or detail.get("resource"), now)
        return detail

    async def status(request: Request) -> Response:
        if feed.zoned:
            request.scope[ZONED] = True  # the feed's encoding has the plant's times already
        return encoded_response(await feed.encoded())

    async def machine(request: Request) -> Response:
        station = request.path_params["station"]
        detail = None
        if parts.status is not None and STATION.match(station):
            detail = await run_in_threadpool(detail_of, station)
        if detail is None:
            raise Problem(404, f"no machine {station!r}")
        return json_response(detail)

    async def dead_letters(request: Request) -> Response:
        text = request.query_params.get("limit", "50")
        if not _LIMIT.match(text) or not 1 <= int(text) <= 1000:
            raise Problem(
                400,
                f"limit must be an integer from 1 to 1000, not {text!r}",
                errors=[{"path": "limit", "reason": "an integer from 1 to 1000"}],
            )
        return json_response(await run_in_threadpool(parts.dead_letters, int(text)))

    def _health(ready: bool) -> Response:
        if parts.health is None:
            return json_response({"alive": True, "ready": True})
        ok, report = parts.health.ready() if ready else parts.health.alive()
        return json_response(report, 200 if ok else 503)

    async def healthz(request: Request) -> Response:
        return await run_in_threadpool(_health, False)

    async def readyz(request: Request) -> Response:
        return await run_in_threadpool(_health, True)

    return [
        Route("/api/status", status, methods=["GET"]),
        Route("/api/machines/{station}", machine, methods=["GET"]),
        Route("/api/dead-letters", dead_letters, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
