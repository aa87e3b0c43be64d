"""The status routes: the whole resource status, one machine, dead letters, health.

`GET /api/status` answers the cached encoding of the current snapshot (`StatusFeed`, shared with
the live push); `GET /api/machines/{station}` one machine with its timeline; `GET
/api/dead-letters?limit=N` the newest dead letters (1-1000, default 50); `GET /healthz` alive
(every supervised worker's thread runs) and `GET /readyz` ready (ingest commits, the planner
runs), each 200 or 503 with the report of `cloud.health.Health`.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.web.bodies import encoded_response, json_response
from cloud.web.live import StatusFeed
from cloud.web.parts import WebParts
from cloud.web.problems import Problem

__all__ = ["STATION", "routes"]

#: What a station id looks like (the contract's rule); anything else is no machine.
STATION: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_LIMIT: Final = re.compile(r"^[0-9]{1,4}$")


def routes(parts: WebParts, feed: StatusFeed) -> list[Route]:
    """The status routes over the cloud's parts."""

    async def status(request: Request) -> Response:
        return encoded_response(await feed.encoded())

    async def machine(request: Request) -> Response:
        station = request.path_params["station"]
        detail = None
        if parts.status is not None and STATION.match(station):
            detail = await run_in_threadpool(parts.status.machine, station)
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
