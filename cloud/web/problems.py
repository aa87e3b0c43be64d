"""The one error shape of the web layer: `application/problem+json` (RFC 9457).

Every answer to bad input — a body that is not JSON or breaks its route's contract, an unknown
route, a wrong media type, a body over the limit, a request too slow to arrive — is a problem
document: `type`, `title`, `status`, `detail`, and, where the route knows more, `errors` (each
with the JSON path or CSV row it is about) or `rows` (the order intake's rejection per row).
Handlers raise `Problem`; the exception handlers here turn it, Starlette's own HTTP errors and
any bug (a 500 without a traceback in it) into that shape. `problem_bytes` writes the same
document for the HTTP protocol layer, which answers before any application code runs.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Final

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["PROBLEM_JSON", "Problem", "exception_handlers", "problem_bytes", "problem_response"]

log = logging.getLogger(__name__)

PROBLEM_JSON: Final = "application/problem+json"


class Problem(Exception):
    """An answer with an error status; `extra` members go into the document beside `detail`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def document(self) -> dict[str, Any]:
        """The problem document (RFC 9457 members first, then this problem's own)."""
        return {
            "type": "about:blank",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


def problem_response(problem: Problem) -> Response:
    """The HTTP response of a problem."""
    return Response(
        msgspec.json.encode(problem.document()),
        status_code=problem.status,
        headers={"Cache-Control": "no-store", **problem.headers},
        media_type=PROBLEM_JSON,
    )


def problem_bytes(status: int, detail: str, *, close: bool = True) -> bytes:
    """A whole HTTP/1.1 response carrying a problem, for the protocol layer to write."""
    body = msgspec.json.encode(Problem(status, detail).document())
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"content-type: {PROBLEM_JSON}",
        f"content-length: {len(body)}",
        "cache-control: no-store",
        *(["connection: close"] if close else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail
    if exc.status_code == 404:
        detail = f"no such route: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not served on {request.url.path}"
    return problem_response(Problem(exc.status_code, detail, headers=dict(exc.headers or {})))


async def _bug(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem(500, "the server failed on this request; see its log"))


#: For `Starlette(exception_handlers=...)`.
exception_handlers: Final = {Problem: _problem, HTTPException: _http_error, Exception: _bug}
