"""The kanban routes: the loops as shown, and a planner's change of a loop's size or safety.

`GET /api/kanban` answers the loops (cards by state, replenishment signals, lost cards, the size
recommended from the plan beside the current one), the smart bins and the last planner actions
(`cloud.status.kanban`, docs/kanban.md). `POST /api/kanban/loops/{loop}` with `cards`, `safety`
or both (and a `reason`) records a `kanban.loop` event by the logged-in planner through
`cloud.kanban.KanbanRecorder`: 201 with the stored event, 404 for a
loop the plant model does not have, 422 for a change the contract refuses. The logic lives in
`cloud/kanban/`; this module only maps it onto routes.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.kanban import KanbanRecorder, LoopRefused, UnknownLoop
from cloud.status import ResourceStatus
from cloud.web.bodies import Body, json_body, json_response
from cloud.web.guard import actor
from cloud.web.problems import Problem

__all__ = ["LoopBody", "routes"]

NO_STATUS: Final = "no status: the web server was given none"
NO_LOOPS: Final = "loop changes need a plant model: start the cloud with --plant"


class LoopBody(Body):
    """`POST /api/kanban/loops/{loop}`: the new size and/or safety factor, and why."""

    cards: int | None = None
    safety: float | None = None
    reason: str = ""


def routes(status: ResourceStatus | None, recorder: KanbanRecorder | None) -> list[Route]:
    """The kanban routes over the status and a recorder (absent: 404)."""

    async def loops(request: Request) -> Response:
        if status is None:
            raise Problem(404, NO_STATUS)
        return json_response(await run_in_threadpool(status.kanban_view))

    async def set_loop(request: Request) -> Response:
        if recorder is None:
            raise Problem(404, NO_LOOPS)
        body = await json_body(request, LoopBody)
        user = actor(request)
        loop = request.path_params["loop"]
        try:
            stored = await run_in_threadpool(
                lambda: recorder.set_loop(
                    loop, user, cards=body.cards, safety=body.safety, reason=body.reason
                )
            )
        except UnknownLoop as exc:
            raise Problem(404, str(exc)) from exc
        except LoopRefused as exc:
            raise Problem(422, str(exc)) from exc
        return json_response({"loop": loop, "event": stored}, 201)

    return [
        Route("/api/kanban", loops, methods=["GET"]),
        Route("/api/kanban/loops/{loop}", set_loop, methods=["POST"]),
    ]
