"""The planners' routes: the plan, the gap report, order intake, decisions, manual mode.

A thin layer over `cloud.replan` (docs/replan.md): reads go to `PlanView`; order files go to
`submit_orders`, decisions to the `OrderDesk`, manual mode and moved steps to the `Replanner`,
each in a worker thread (a moved step replans before it answers). Bodies are typed below (unknown
fields refused); who acts is the logged-in user or the API token's name (`guard.actor`), recorded
by the desk and the replanner in their audit. The plan goes out gzip-compressed once per plan
(`PlanView.document_gzip`) to a client that accepts it. Without a replanner every route answers
a problem saying how to get a plan: 404 to a read, 409 to a change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.plant import OrderBatchTooLarge
from cloud.replan import ManualModeActive, OrderFileRejected, UnknownOrder, submit_orders
from cloud.web.bodies import Body, Int64, encoded_response, json_body, json_response
from cloud.web.guard import actor
from cloud.web.plan_chart import chart_state
from cloud.web.plan_view import NO_PLAN, PlanView, iso
from cloud.web.problems import Problem
from cloud.web.zoned import ZONED

__all__ = ["DecisionBody", "ManualBody", "MoveBody", "OrdersBody", "routes"]


class StepDue(Body):
    """A per-step due date and weights of one order (docs/schemas/orders.schema.json)."""

    due: str
    earliness_weight: float | None = None
    tardiness_weight: float | None = None


class OrderRow(Body):
    """One order of an order file; its values are checked row by row by the order desk."""

    id: str
    product: str
    quantity: Int64
    due: str
    release: str | None = None
    priority: Int64 | None = None
    earliness_weight: float | None = None
    tardiness_weight: float | None = None
    steps: dict[str, StepDue] | None = None
    customer: str | None = None


class OrdersBody(Body):
    """`POST /api/orders`: orders and ids to cancel."""

    orders: list[OrderRow]
    cancel: list[str] = []


class DecisionBody(Body):
    """`POST /api/decisions/{order}`."""

    decision: Literal["new", "adjust"]


class ManualBody(Body):
    """`POST /api/manual`."""

    on: bool


class MoveBody(Body):
    """`POST /api/plan/steps/{order}/{step}`: the new start, ISO 8601 with a zone."""

    start: str


def routes(view: PlanView) -> list[Route]:
    """The plan routes over one `PlanView`."""

    def planning() -> PlanView:
        if view.replanner is None:
            raise Problem(404, NO_PLAN)
        return view

    def changing() -> PlanView:
        if view.replanner is None:
            raise Problem(409, NO_PLAN)
        return view

    async def document(request: Request, headers: dict[str, str]) -> Response:
        # The plan is megabytes: its gzip encoding is made once per plan by the view (the
        # middleware leaves an answer with a Content-Encoding alone).
        current = planning()
        if current.zone is not None:
            request.scope[ZONED] = True  # the view writes the plan's times on the plant's clock
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            packed = await run_in_threadpool(current.document_gzip)
            zipped = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            return encoded_response(packed, headers={**headers, **zipped})
        return encoded_response(await run_in_threadpool(current.document_bytes), headers=headers)

    async def plan(request: Request) -> Response:
        return await document(request, {})

    async def export(request: Request) -> Response:
        disposition = f'attachment; filename="{planning().export_name()}"'
        return await document(request, {"Content-Disposition": disposition})

    async def state(request: Request) -> Response:
        def read() -> dict[str, Any]:
            current = planning()
            assert current.replanner is not None
            return {**current.state(), **chart_state(current.replanner)}

        return json_response(await run_in_threadpool(read))

    async def causes(request: Request) -> Response:
        order = request.path_params["order"]
        found = await run_in_threadpool(planning().order_causes, order)
        if found is None:
            raise Problem(404, f"order {order!r} is not in the plan")
        return json_response(found)

    async def gaps(request: Request) -> Response:
        replanner = planning().replanner
        assert replanner is not None
        return json_response(replanner.gap_report)

    async def decisions(request: Request) -> Response:
        return json_response(await run_in_threadpool(planning().decisions))

    async def audit(request: Request) -> Response:
        return json_response(planning().audit())

    async def orders(request: Request) -> Response:
        changing()
        body = await json_body(request, OrdersBody)
        user = actor(request)
        desk = view.desk
        if desk is None:
            raise Problem(409, "no order desk: this server takes no orders")
        payload = msgspec.to_builtins(body)
        try:
            result = await run_in_threadpool(submit_orders, desk, payload, user)
        except OrderBatchTooLarge as exc:
            raise Problem(413, str(exc)) from exc
        except OrderFileRejected as exc:
            raise Problem(422, str(exc), rows=exc.rows) from exc
        except UnknownOrder as exc:  # a cancel of an order the plan does not hold
            reason = str(exc.args[0]) if exc.args else str(exc)
            rows = [{"row": 0, "order": None, "reasons": [reason]}]
            raise Problem(422, f"api: nothing applied: {reason}", rows=rows) from exc
        view.changed()
        return json_response(result, 202)

    async def manual(request: Request) -> Response:
        replanner = changing().replanner
        assert replanner is not None
        body = await json_body(request, ManualBody)
        user = actor(request)
        action = replanner.enter_manual if body.on else replanner.leave_manual
        await run_in_threadpool(action, user)
        view.changed()
        return json_response({"on": replanner.manual is not None, "by": replanner.manual})

    async def decide(request: Request) -> Response:
        changing()
        order = request.path_params["order"]
        body = await json_body(request, DecisionBody)
        user = actor(request)
        desk = view.desk
        if desk is None:
            raise Problem(409, "no order desk: this server takes no orders")
        try:
            await run_in_threadpool(desk.decide, order, body.decision, user)
        except UnknownOrder as exc:
            raise Problem(404, f"no change of order {order!r} waits for a decision") from exc
        view.changed()
        return json_response({"order": order, "decision": body.decision, "by": user})

    async def move(request: Request) -> Response:
        replanner = changing().replanner
        assert replanner is not None
        order, step = request.path_params["order"], request.path_params["step"]
        body = await json_body(request, MoveBody)
        user = actor(request)
        start = _moment(body.start)
        days = replanner.engine.plant.horizon_days
        if abs(start - replanner.clock.now()) > timedelta(days=days):
            raise Problem(
                422, f"'start' {body.start!r} is outside the planning horizon of {days} days"
            )
        if replanner.manual is None:
            raise Problem(409, 'manual edits need manual mode: POST /api/manual {"on": true}')
        try:
            outcome = await run_in_threadpool(replanner.move_step, order, step, start, user)
        except ManualModeActive as exc:
            raise Problem(409, str(exc)) from exc
        except UnknownOrder as exc:
            raise Problem(404, f"{order}/{step} is not in the plan") from exc
        view.changed()
        answer: dict[str, Any] = {
            "order": order,
            "step": step,
            "start": iso(start),
            "by": user,
            "path": outcome.path,
            "orders_moved": outcome.orders_moved,
        }
        return json_response(answer)

    return [
        Route("/api/plan", plan, methods=["GET"]),
        Route("/api/plan/state", state, methods=["GET"]),
        Route("/api/plan/export", export, methods=["GET"]),
        Route("/api/plan/steps/{order}/{step}", move, methods=["POST"]),
        Route("/api/plan/orders/{order}/causes", causes, methods=["GET"]),
        Route("/api/gaps", gaps, methods=["GET"]),
        Route("/api/orders", orders, methods=["POST"]),
        Route("/api/decisions", decisions, methods=["GET"]),
        Route("/api/decisions/{order}", decide, methods=["POST"]),
        Route("/api/manual", manual, methods=["POST"]),
        Route("/api/audit", audit, methods=["GET"]),
    ]


def _moment(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise Problem(
            422,
            f"'start' must be an ISO 8601 time with a zone (Z for UTC), not {text!r}",
            errors=[{"path": "$.start", "reason": "not an ISO 8601 time with a zone"}],
        )
    try:
        return start.astimezone(UTC)
    except OverflowError as exc:
        raise Problem(
            422,
            f"'start' is out of range: {text!r}",
            errors=[{"path": "$.start", "reason": "out of range"}],
        ) from exc
