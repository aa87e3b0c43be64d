"""What goes in and out of the JSON routes: bounded bodies, typed decoding, valid JSON out.

A request body is read up to `MAX_BODY` bytes (413 past it) and, for a JSON route, only as
`application/json` (415 otherwise). It is decoded by msgspec: bytes that are not JSON, or nest
deeper than `MAX_DEPTH`, are a 400; a document that breaks the route's type — a wrong type, a
missing or an unknown field, anywhere — is a 422 naming the JSON path. Every route types its
body with a `msgspec.Struct` declared `forbid_unknown_fields`, so unknown fields are refused the
same way everywhere. Responses are encoded by msgspec, which writes NaN and Infinity as `null`:
what a browser gets always parses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from cloud.web.problems import Problem
from taktline.clock import parse_moment

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "Body",
    "Int64",
    "json_body",
    "json_response",
    "moment_param",
    "raw_body",
]

#: The largest request body taken (a plant model or an order file of thousands of rows fits).
MAX_BODY: Final = 4 * 1024 * 1024
#: How deep a JSON body may nest; no route's contract needs more than a handful of levels.
MAX_DEPTH: Final = 32

T = TypeVar("T")


def moment_param(text: str, name: str = "at") -> datetime:
    """A query parameter that is a moment (`taktline.clock.parse_moment`), else a 400 problem."""
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise Problem(
            400,
            f"{name}: {exc}",
            errors=[{"path": name, "reason": "ISO 8601 date and time with an offset"}],
        ) from None


#: An integer a plant can mean (the contract's bound).
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Body(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of the request bodies: unknown fields are an error."""


async def raw_body(request: Request) -> bytes:
    """The whole body, at most `MAX_BODY` bytes.

    Raises:
        Problem: 413 past the limit (by `Content-Length` before reading, or while reading).
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Problem(413, f"the body is over {MAX_BODY} bytes", limit=MAX_BODY)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Problem(413, f"the body is over {MAX_BODY} bytes", limit=MAX_BODY)
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise Problem(400, "the client went away before the body was complete") from exc
    return b"".join(chunks)


def media_type(request: Request) -> str:
    """The request's media type without parameters, lower case ('' when none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_json(request: Request) -> None:
    """Raises a 415 problem unless the request says its body is `application/json`."""
    if media_type(request) != "application/json":
        got = request.headers.get("content-type") or "none"
        raise Problem(415, f"send the body as application/json (Content-Type was {got})")


def decode(raw: bytes, kind: type[T]) -> T:
    """Decodes and type-checks a JSON body (see the module's rules for 400 and 422)."""
    try:
        value = msgspec.json.decode(raw)
    except RecursionError as exc:
        raise Problem(400, f"the body nests deeper than {MAX_DEPTH} levels") from exc
    except msgspec.DecodeError as exc:
        raise Problem(400, f"the body is not JSON: {exc}") from exc
    if _depth_over(value, MAX_DEPTH):
        raise Problem(400, f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = message.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in message else "$"
        reason = message.split(" - at `", 1)[0]
        raise Problem(422, message, errors=[{"path": path, "reason": reason}]) from exc


async def json_body(request: Request, kind: type[T]) -> T:
    """The request's JSON body as `kind` (415, 413, 400 or 422 problems otherwise)."""
    require_json(request)
    return decode(await raw_body(request), kind)


def _depth_over(value: Any, limit: int) -> bool:
    # Iterative: a recursive walk is the very thing a deep body would break.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer (compact; NaN and Infinity as null), never cached."""
    return encoded_response(msgspec.json.encode(value), status, headers)


def encoded_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer from bytes already encoded."""
    return Response(
        body,
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
        media_type="application/json",
    )
