"""The early-warning route: predictive-maintenance alerts and the detectors behind them.

`GET /api/warnings` answers `EarlyWarnings.view()` (`cloud/early_warnings.py`): the standing
alerts — `cycle_drift` and `stops_rising`, each with its baseline, current value, threshold,
projected and actual crossing, and a what-if scenario of the machine down for maintenance now,
ready for `POST /api/whatif` — and every machine's detector state. Viewer role; without the
detectors (a web server built without them), a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.web.bodies import json_response
from cloud.web.problems import Problem

__all__ = ["routes"]


def routes(view: Callable[[], dict[str, Any]] | None) -> list[Route]:
    """The early-warning route over the detectors' view (absent: 404)."""

    async def warnings(request: Request) -> Response:
        if view is None:
            raise Problem(404, "this server keeps no early warnings")
        return json_response(await run_in_threadpool(view))

    return [Route("/api/warnings", warnings, methods=["GET"])]
