"""The logistics routes: suppliers' call-offs (JSON and CSV) and the AGV transports.

`GET /api/calloffs` answers every supplier's current call-off with the versions before it;
`GET /api/calloffs/{supplier}` one supplier's current call-off as sent (404 before its first; its
times in UTC as the call-off schema has them, where every other answer has the plant's offset);
`GET /api/calloffs/{supplier}/csv` the same as CSV (`cloud.calloff.document.CSV_COLUMNS`);
`GET /api/transports` the AGV transports, newest first, each with its state history. All are
reads behind the guard (role viewer); what they show is folded from the event log
(`cloud.status.logistics`, docs/calloffs.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.calloff import calloff_document, to_csv
from cloud.status import ResourceStatus
from cloud.web.bodies import json_response
from cloud.web.problems import Problem
from cloud.web.zoned import ZONED

__all__ = ["routes"]

NO_STATUS: Final = "no status: the web server was given none"


def routes(status: ResourceStatus | None, site: Callable[[], str]) -> list[Route]:
    """The call-off and transport routes over the status (absent: 404)."""

    def view() -> dict[str, Any]:
        if status is None:
            raise Problem(404, NO_STATUS)
        return status.logistics_view()

    def one(request: Request) -> dict[str, Any]:
        supplier = request.path_params["supplier"]
        current = view()["calloffs"].get(supplier)
        if current is None:
            raise Problem(404, f"no call-off issued to supplier {supplier[:100]!r} yet")
        body = {k: v for k, v in current.items() if k not in ("issued", "versions")}
        return calloff_document(site(), body, current["issued"])

    async def calloffs(request: Request) -> Response:
        return json_response({"calloffs": (await run_in_threadpool(view))["calloffs"]})

    async def calloff(request: Request) -> Response:
        # The supplier's document exactly as sent (docs/schemas/calloff.schema.json: UTC, `Z`),
        # as its CSV is: the one answer whose times are not put on the plant's clock.
        request.scope[ZONED] = True
        return json_response(await run_in_threadpool(one, request))

    async def calloff_csv(request: Request) -> Response:
        document = await run_in_threadpool(one, request)
        return Response(
            to_csv(document).encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def transports(request: Request) -> Response:
        return json_response({"transports": (await run_in_threadpool(view))["transports"]})

    return [
        Route("/api/calloffs", calloffs, methods=["GET"]),
        Route("/api/calloffs/{supplier}", calloff, methods=["GET"]),
        Route("/api/calloffs/{supplier}/csv", calloff_csv, methods=["GET"]),
        Route("/api/transports", transports, methods=["GET"]),
    ]
