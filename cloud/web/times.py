"""The learned standard times' routes: standard vs learned vs planned, and a planner's acceptance.

`GET /api/plan/times` answers `StandardTimes.view()` (the plant's mode, and per product step and
station the standard, the learned time with the jobs kept and dropped, the accepted time, and the
time the plan takes). `POST /api/plan/times` (planner) accepts learned times — every offered one
(`{}`) or those listed — or sets a station's step back to the standard (`per_unit_s: null`); the
acceptance is a `plan.times` event in the log before the plan changes (docs/replan.md). Without
a planner both answer 404/409 problems.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.replan import NothingToAccept, StandardTimes
from cloud.web.bodies import Body, json_body, json_response
from cloud.web.guard import actor
from cloud.web.plan_view import NO_PLAN
from cloud.web.problems import Problem
from contract.fields import ID_RE

__all__ = ["AcceptBody", "AcceptedTimeBody", "routes"]

_UNSET: Any = msgspec.UNSET
#: Product and step ids as the planning events take them: 1 to 100 printable characters.
_NAME: Final = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


class AcceptedTimeBody(Body):
    """One product step on one station; `per_unit_s` given: that value (null: the standard)."""

    product: str
    step: str
    station: str
    per_unit_s: Annotated[float, msgspec.Meta(ge=0, le=1e6)] | msgspec.UnsetType | None = _UNSET


class AcceptBody(Body):
    """`POST /api/plan/times`: the times to accept (left out: every offered learned time)."""

    times: list[AcceptedTimeBody] | None = None


def routes(times: StandardTimes | None) -> list[Route]:
    """The learned-times routes over one `StandardTimes` (absent: no plan)."""

    async def show(request: Request) -> Response:
        if times is None:
            raise Problem(404, NO_PLAN)
        return json_response(await run_in_threadpool(times.view))

    async def accept(request: Request) -> Response:
        if times is None:
            raise Problem(409, NO_PLAN)
        body = await json_body(request, AcceptBody)
        user = actor(request)
        selection = None
        if body.times is not None:
            _check(body.times)
            selection = [
                {k: v for k, v in msgspec.structs.asdict(t).items() if v is not msgspec.UNSET}
                for t in body.times
            ]
        try:
            accepted = await run_in_threadpool(times.accept, selection, user)
        except NothingToAccept as exc:
            raise Problem(409, str(exc)) from exc
        keys = ("product", "step", "station")
        return json_response({"accepted": [dict(zip(keys, k, strict=True)) for k in accepted]})

    return [
        Route("/api/plan/times", show, methods=["GET"]),
        Route("/api/plan/times", accept, methods=["POST"]),
    ]


def _check(items: list[AcceptedTimeBody]) -> None:
    """Names the planning event would refuse, refused here as a 422 with their JSON paths."""
    errors = []
    for n, item in enumerate(items):
        for key in ("product", "step"):
            if not _NAME.fullmatch(getattr(item, key)):
                errors.append({"path": f"$.times[{n}].{key}", "reason": "1 to 100 printable"})
        if not ID_RE.fullmatch(item.station):
            errors.append({"path": f"$.times[{n}].station", "reason": "not a station id"})
    if errors:
        raise Problem(422, "some product, step or station names are not valid", errors=errors)
