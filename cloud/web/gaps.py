"""The Gap report page's route: the replanner's gap report shaped for people.

`GET /api/gaps/view` answers `cloud.replan.gap_view.gap_view` of the replanner's current gap
report, the plant model and the status's Labour rows (whom the plan relies on who is not here);
`GET /api/gaps` (cloud/web/plan.py) keeps the report as published. Without a replanner: 404.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.replan import Replanner
from cloud.replan.gap_view import gap_view
from cloud.web.bodies import json_response
from cloud.web.parts import Snapshot
from cloud.web.plan_view import NO_PLAN
from cloud.web.problems import Problem

__all__ = ["routes"]


def routes(replanner: Replanner | None, snapshot: Snapshot) -> list[Route]:
    """The gap report page's route."""

    def shaped() -> dict[str, Any]:
        assert replanner is not None
        labour = snapshot().get("labour", {})
        return gap_view(replanner.gap_report, replanner.engine.plant, labour.values())

    async def view(request: Request) -> Response:
        if replanner is None:
            raise Problem(404, NO_PLAN)
        return json_response(await run_in_threadpool(shaped))

    return [Route("/api/gaps/view", view, methods=["GET"])]
