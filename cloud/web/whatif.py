"""The what-if routes: scenarios planned beside the live plan, and promoting one.

`POST /api/whatif` (planner) plans 1 to 16 scenarios (`{"scenarios": [...], "improve": true}`,
the changes of docs/whatif.md) each on a copy of the live plan's engine and answers their figures
with the live plan first (`base`); nothing is recorded or published. `POST /api/whatif/promote`
(planner) applies one scenario's order changes and planned maintenance (its `machine_down`s) to
the live plan as the planner's decisions, recorded in the log with who (and `whatif:NAME`) before
they act (`cloud.whatif.promote`); a scenario with other floor changes is a 409 naming them, one
naming what the plan does not know a 422.
Without a planner both answer 404/409 problems.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.replan import OrderDesk, Replanner, UnknownOrder
from cloud.web.bodies import Body, json_body, json_response
from cloud.web.guard import actor
from cloud.web.plan_view import NO_PLAN
from cloud.web.problems import Problem
from cloud.whatif import Scenario, ScenarioInvalid, run_scenarios
from cloud.whatif.promote import NotPromotable, promotion

__all__ = ["PromoteBody", "WhatIfBody", "routes"]


class WhatIfBody(Body):
    """`POST /api/whatif`: the scenarios, and whether to improve each as the replanner does."""

    scenarios: Annotated[list[Scenario], msgspec.Meta(min_length=1, max_length=16)]
    improve: bool = True


class PromoteBody(Body):
    """`POST /api/whatif/promote`: the scenario whose order changes go live."""

    scenario: Scenario


def routes(replanner: Replanner | None, desk: OrderDesk | None) -> list[Route]:
    """The what-if routes over the live replanner and its order desk (absent: no plan)."""

    def _plan(body: WhatIfBody) -> dict[str, Any]:
        assert replanner is not None
        now = replanner.clock.now()
        base = replanner.engine_copy()
        scenarios = [Scenario("base"), *body.scenarios]
        improve = body.improve and replanner.improve_enabled
        results = run_scenarios(base, scenarios, now, improve=improve)
        return {"now": now.isoformat(), "scenarios": [r.as_dict() for r in results]}

    async def plan(request: Request) -> Response:
        if replanner is None:
            raise Problem(404, NO_PLAN)
        body = await json_body(request, WhatIfBody)
        actor(request)
        try:
            return json_response(await run_in_threadpool(_plan, body))
        except ScenarioInvalid as exc:
            raise Problem(422, str(exc)) from exc

    def _promote(scenario: Scenario, user: str) -> dict[str, Any]:
        assert replanner is not None and desk is not None
        now = replanner.clock.now()
        found = promotion(replanner.engine_copy(), scenario, now)
        done: dict[str, Any] = {"created": [], "changed": [], "cancelled": []}
        if found.created or found.changed or found.cancels:
            done = desk.promote(
                found.created, found.changed, found.cancels, user, f"whatif:{scenario.name}"[:100]
            )
        planned = []
        for resource, start, minutes in found.maintenance:
            replanner.plan_maintenance(resource, start, minutes, user)
            planned.append({"resource": resource, "start": start.isoformat(), "minutes": minutes})
        return {"scenario": scenario.name, "by": user, "at": now.isoformat(), **done,
                "maintenance": planned}  # fmt: skip

    async def promote(request: Request) -> Response:
        if replanner is None or desk is None:
            raise Problem(404 if replanner is None else 409, NO_PLAN)
        body = await json_body(request, PromoteBody)
        user = actor(request)
        try:
            return json_response(await run_in_threadpool(_promote, body.scenario, user))
        except NotPromotable as exc:
            raise Problem(409, str(exc)) from exc
        except (ScenarioInvalid, UnknownOrder) as exc:
            raise Problem(422, str(exc)) from exc

    return [
        Route("/api/whatif", plan, methods=["POST"]),
        Route("/api/whatif/promote", promote, methods=["POST"]),
    ]
