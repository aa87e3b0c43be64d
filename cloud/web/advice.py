"""The advice routes: what is about to go wrong, why it went wrong, what demand is coming.

`GET /api/warnings` answers `EarlyWarnings.view()` (`cloud/early_warnings.py`): the standing
alerts — `cycle_drift` and `stops_rising`, each with its baseline, current value, threshold,
projected and actual crossing, and a what-if scenario of the machine down for maintenance now,
ready for `POST /api/whatif` — and every machine's detector state. `GET
/api/plan/orders/{order}/rootcause` answers why an order of the live plan is late, walked back
through the event log to the first event, with the evidence (`cloud/rootcause.py`). `GET
/api/forecast` answers each product's demand forecast and its expected orders beyond the order
book, marked as forecast (`cloud/forecast/demand.py`). `GET
/api/stockouts/rootcause?material=M&point=P` why a material runs out at its point of use (a
transport, a late replenishment, a late delivery, or demand; `cloud.rootcause.stock_out`). Viewer
role; without the parts (a web server built without them, no plan), 404s.
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


def routes(
    view: Callable[[], dict[str, Any]] | None,
    root_cause: Callable[[str], dict[str, Any] | None] | None = None,
    forecast: Callable[[], dict[str, Any]] | None = None,
    stock_out: Callable[[str, str], dict[str, Any] | None] | None = None,
) -> list[Route]:
    """The early-warning, root-cause, stock-out and forecast routes (a part absent: 404)."""

    async def warnings(request: Request) -> Response:
        if view is None:
            raise Problem(404, "this server keeps no early warnings")
        return json_response(await run_in_threadpool(view))

    async def cause(request: Request) -> Response:
        order = request.path_params["order"]
        found = None
        if root_cause is not None and len(order) <= 100:
            found = await run_in_threadpool(root_cause, order)
        if found is None:
            raise Problem(404, f"no order {order!r} in the plan")
        return json_response(found)

    async def ran_out(request: Request) -> Response:
        material = request.query_params.get("material", "")
        point = request.query_params.get("point", "")
        if not 1 <= len(material) <= 100 or not 1 <= len(point) <= 100:
            raise Problem(
                400,
                "give the material and the point of use: ?material=ID&point=STATION",
                errors=[{"path": "material", "reason": "1 to 100 characters, and point too"}],
            )
        found = None
        if stock_out is not None:
            found = await run_in_threadpool(stock_out, material, point)
        if found is None:
            raise Problem(404, f"no material {material!r} in the plant model")
        return json_response(found)

    async def expected(request: Request) -> Response:
        if forecast is None:
            raise Problem(404, "this server makes no demand forecast (it plans no orders)")
        return json_response(await run_in_threadpool(forecast))

    return [
        Route("/api/warnings", warnings, methods=["GET"]),
        Route("/api/forecast", expected, methods=["GET"]),
        Route("/api/stockouts/rootcause", ran_out, methods=["GET"]),
        Route("/api/plan/orders/{order}/rootcause", cause, methods=["GET"]),
    ]
