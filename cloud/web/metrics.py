"""`GET /metrics`: the cloud's Prometheus metrics (cloud/metrics.py), for monitoring only.

Answered to clients on the loopback interface (a Prometheus or node exporter on the same host),
or to anyone presenting the metrics token as `Authorization: Bearer TOKEN` (the token is read
from the file given by `taktline cloud --metrics-token-file`); everyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.web.problems import Problem
from taktline.metrics import CONTENT_TYPE

__all__ = ["routes"]


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def routes(exposition: Callable[[], bytes] | None, token: str | None) -> list[Route]:
    """The metrics route (404 when the cloud has no metrics)."""

    async def metrics(request: Request) -> Response:
        if exposition is None:
            raise Problem(404, "no metrics on this server")
        given = request.headers.get("authorization", "")
        presented = given[7:] if given.lower().startswith("bearer ") else ""
        allowed = _loopback(request.client.host if request.client else None) or (
            token is not None and hmac.compare_digest(presented.encode(), token.encode())
        )
        if not allowed:
            raise Problem(403, "metrics are for loopback clients or the metrics token")
        body = await run_in_threadpool(exposition)
        return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    return [Route("/metrics", metrics, methods=["GET"])]
