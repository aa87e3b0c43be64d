"""The account routes: log in and out, who am I, API tokens, users and the request audit.

`POST /api/login` takes a name and a password (throttled per account and per address by
`LoginThrottle`: 429 with `Retry-After`), opens a session and sets its cookie (HttpOnly,
SameSite=Strict, Secure over TLS, with a Max-Age); the answer carries the session's CSRF token,
which the pages send back in `X-CSRF-Token`. `GET /api/session` says who the caller is (and the
CSRF token again, for a page loaded later); `POST /api/logout` ends the session. Admins list,
make (the secret shown once) and revoke API tokens, list users, and read the audit of requests.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.auth import AuthError, AuthStore, Identity, NoSuchUser, Role
from cloud.web.bodies import Body, json_body, json_response
from cloud.web.guard import COOKIE, WebAuth, actor, identity
from cloud.web.problems import Problem

__all__ = ["LoginBody", "TokenBody", "routes"]

_LIMIT: Final = re.compile(r"^[0-9]{1,4}$")


class LoginBody(Body):
    """`POST /api/login`."""

    name: str
    password: str


class TokenBody(Body):
    """`POST /api/tokens`: a token for a machine, named, with the role it acts with."""

    name: str
    role: Role


def _cookie(request: Request, value: str, max_age: int) -> str:
    secure = "; Secure" if request.url.scheme == "https" else ""
    return f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"


def routes(auth: WebAuth) -> list[Route]:
    """The account routes over the guard's `WebAuth`."""

    async def login(request: Request) -> Response:
        body = await json_body(request, LoginBody)
        name = body.name[:100]
        request.scope["taktline.tried"] = name
        address = request.client.host if request.client else "?"
        wait = auth.throttle.wait_s(name, address)
        if wait > 0:
            raise Problem(
                429,
                "too many failed logins: wait and try again",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        store = auth.store
        role = None
        if store is not None:
            role = await run_in_threadpool(store.check_password, name, body.password)
        if role is None:
            auth.throttle.failed(name, address)
            raise Problem(401, "wrong name or password")
        auth.throttle.succeeded(name)
        old = request.scope.get("taktline.session")
        if old:
            auth.sessions.close(old)
        session = auth.sessions.open(name)
        request.scope["taktline.identity"] = Identity(name, role, "session")
        cookie = _cookie(request, session.id, int(auth.sessions.lifetime_s))
        return json_response(
            {"user": name, "role": role, "csrf": session.csrf}, headers={"Set-Cookie": cookie}
        )

    async def logout(request: Request) -> Response:
        session_id = request.scope.get("taktline.session")
        if session_id:
            auth.sessions.close(session_id)
        return json_response({"ok": True}, headers={"Set-Cookie": _cookie(request, "", 0)})

    async def session(request: Request) -> Response:
        who = identity(request)
        found = auth.sessions.get(request.scope.get("taktline.session") or "")
        return json_response(
            {
                "user": who.name if who else None,
                "role": who.role if who else None,
                "via": who.via if who else None,
                "csrf": found.csrf if found is not None else None,
                "public_read": auth.public_read,
            }
        )

    def store_of() -> AuthStore:
        if auth.store is None:
            raise Problem(404, "this server keeps no users")
        return auth.store

    async def tokens(request: Request) -> Response:
        store = store_of()
        return json_response(await run_in_threadpool(store.tokens))

    async def add_token(request: Request) -> Response:
        store = store_of()
        body = await json_body(request, TokenBody)
        try:
            made = await run_in_threadpool(store.add_token, body.name, body.role, actor(request))
        except AuthError as exc:
            raise Problem(422, str(exc)) from exc
        answer = {"id": made.id, "name": made.name, "role": made.role, "token": made.secret}
        return json_response(answer, 201)

    async def revoke(request: Request) -> Response:
        store = store_of()
        token = request.path_params["token"]
        try:
            await run_in_threadpool(store.revoke_token, token)
        except NoSuchUser as exc:
            raise Problem(404, str(exc)) from exc
        return json_response({"id": token, "revoked": True})

    async def users(request: Request) -> Response:
        store = store_of()
        return json_response(await run_in_threadpool(store.users))

    async def audit(request: Request) -> Response:
        if auth.audit is None:
            raise Problem(404, "this server keeps no audit of requests (no event log)")
        text = request.query_params.get("limit", "200")
        if not _LIMIT.match(text) or not 1 <= int(text) <= 1000:
            raise Problem(
                400,
                f"limit must be an integer from 1 to 1000, not {text!r}",
                errors=[{"path": "limit", "reason": "an integer from 1 to 1000"}],
            )
        return json_response(await run_in_threadpool(auth.audit.newest, int(text)))

    return [
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/session", session, methods=["GET"]),
        Route("/api/tokens", tokens, methods=["GET"]),
        Route("/api/tokens", add_token, methods=["POST"]),
        Route("/api/tokens/{token}", revoke, methods=["DELETE"]),
        Route("/api/users", users, methods=["GET"]),
        Route("/api/audit/requests", audit, methods=["GET"]),
    ]
