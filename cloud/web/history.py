"""The time-travel route: the resource status as it was at a past moment or log position.

`GET /api/history/status?at=TIME` (ISO 8601 with an offset, e.g. `2026-12-06T10:14:00+01:00`)
or `?position=N` answers the status as the cloud knew it then, shaped as `GET /api/status`, plus
`moment`: the log position it landed on, when that event was received, the snapshot it started
from, the events replayed and the seconds it took (`cloud.timetravel`). Viewer role, like every
read. A moment before the oldest event the log keeps (older ones archived) is a 404 problem
saying so; without an event log (a cloud without `--db`), a 404.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.errors import EarlierThanTheLog
from cloud.timetravel import TimeTravel
from cloud.web.bodies import json_response, moment_param
from cloud.web.problems import Problem

__all__ = ["routes"]

_POSITION: Final = re.compile(r"^[0-9]{1,18}$")
NO_HISTORY: Final = "this cloud keeps no event log to travel in"


def routes(history: TimeTravel | None) -> list[Route]:
    """The time-travel route over one `TimeTravel` (absent: 404)."""

    async def status(request: Request) -> Response:
        if history is None:
            raise Problem(404, NO_HISTORY)
        at, position = request.query_params.get("at"), request.query_params.get("position")
        if (at is None) == (position is None):
            raise Problem(
                400,
                "give either at=TIME or position=N",
                errors=[{"path": "at", "reason": "exactly one of at and position"}],
            )
        if position is not None and not _POSITION.match(position):
            raise Problem(
                400,
                f"position must be a log position (0 or more), not {position!r}",
                errors=[{"path": "position", "reason": "an integer, 0 or more"}],
            )
        try:
            if at is not None:
                shown = await run_in_threadpool(history.view, when=moment_param(at))
            else:
                shown = await run_in_threadpool(history.view, position=int(position or 0))
        except EarlierThanTheLog as exc:
            raise Problem(404, str(exc)) from exc
        return json_response(shown)

    return [Route("/api/history/status", status, methods=["GET"])]
