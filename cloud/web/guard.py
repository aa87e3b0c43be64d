"""The guard in front of every route: Host and Origin, who is asking, what their role allows.

`WebAuth` holds what the guard needs: the user and token store, the sessions, the login
throttle, the audit trail and the settings (`public_read`, `allowed_hosts`). `Guard` is a pure
ASGI middleware (it must not buffer the event stream); for each request, in order:

1. the `Host` header must name an allowed host (DNS rebinding), except for `/healthz`,
   `/readyz` and `/metrics` (probes and scrapers use an address; `/metrics` answers only
   loopback clients or the metrics token);
2. the caller is a token (`Authorization: Bearer tl_...`), a session cookie, or anonymous;
3. the route's rule (`rule_of`) names the role it needs — reads `viewer`, writes as in
   docs/web.md; unknown writes `admin` — and:
   - a write from another origin (`Origin`, or `Sec-Fetch-Site: cross-site`) is refused (403);
   - a write is refused while no admin exists (403: the first-admin rule);
   - anonymous: a read is served only with `public_read` (a page redirects to /login
     otherwise), a write is refused (401);
   - a role below the rule's: 403; a write by session without the session's CSRF token in
     `X-CSRF-Token`: 403;
4. every write, served or refused, is recorded as a `web.request` event (`AuditTrail`) before
   its answer leaves — on a web replica, a write the leading planner answered is recorded by
   the leader instead (`cloud/web/replica.py`), so each is recorded once.

Every answer gets security headers; pages a strict Content-Security-Policy; HSTS over TLS.
Endpoints read who acts with `actor(request)`.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Final
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.auth import AuditTrail, AuthStore, Identity, LoginThrottle, Role, Sessions, allows
from cloud.auth.shared import SharedSessions, SharedThrottle
from cloud.web.problems import Problem, problem_response

__all__ = [
    "COOKIE",
    "CSP",
    "CSRF_HEADER",
    "FIRST_ADMIN",
    "Guard",
    "WebAuth",
    "actor",
    "default_hosts",
    "identity",
    "rule_of",
]

log = logging.getLogger(__name__)

COOKIE: Final = "taktline_session"
CSRF_HEADER: Final = "x-csrf-token"
FIRST_ADMIN: Final = (
    "no administrator exists yet: nothing can be changed until one is made with "
    "'taktline cloud users add NAME --role admin'"
)
#: Scripts and styles from this server only; inline style attributes are allowed (the Plan
#: chart positions its bars with them), inline scripts, other origins and framing are not.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-elem 'self'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS: Final = "max-age=31536000"
_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# /metrics decides itself: loopback clients or the metrics token (cloud/web/metrics.py)
_OPEN: Final = frozenset(
    {"/healthz", "/readyz", "/metrics", "/login", "/api/login", "/api/session"}
)
_PROBES: Final = frozenset({"/healthz", "/readyz", "/metrics"})

#: (method, path pattern, route template, role needed) of the writes and the admin reads.
_RULE_TEXT: Final[list[tuple[str, str, str, Role]]] = [
    ("POST", r"^/api/corrections$", "/api/corrections", "supervisor"),
    ("POST", r"^/api/andon/acks$", "/api/andon/acks", "supervisor"),
    ("POST", r"^/api/orders$", "/api/orders", "planner"),
    ("POST", r"^/api/decisions/[^/]+$", "/api/decisions/{order}", "planner"),
    ("POST", r"^/api/manual$", "/api/manual", "planner"),
    ("POST", r"^/api/plan/times$", "/api/plan/times", "planner"),
    ("POST", r"^/api/whatif$", "/api/whatif", "planner"),
    ("POST", r"^/api/whatif/promote$", "/api/whatif/promote", "planner"),
    ("POST", r"^/api/plan/steps/[^/]+/[^/]+$", "/api/plan/steps/{order}/{step}", "planner"),
    ("POST", r"^/api/kanban/loops/[^/]+$", "/api/kanban/loops/{loop}", "planner"),
    ("PUT", r"^/api/master$", "/api/master", "admin"),
    ("POST", r"^/api/master/[^/]+$", "/api/master/{section}", "admin"),
    ("POST", r"^/api/logout$", "/api/logout", "viewer"),
    ("GET", r"^/api/tokens$", "/api/tokens", "admin"),
    ("POST", r"^/api/tokens$", "/api/tokens", "admin"),
    ("DELETE", r"^/api/tokens/[^/]+$", "/api/tokens/{token}", "admin"),
    ("GET", r"^/api/users$", "/api/users", "admin"),
    ("GET", r"^/api/audit/requests$", "/api/audit/requests", "admin"),
]
_RULES: Final = [(m, re.compile(p), t, r) for m, p, t, r in _RULE_TEXT]


def rule_of(method: str, path: str) -> tuple[str, Role | None]:
    """(route template, role needed) of a request; None: open to anyone."""
    if path in _OPEN or path.startswith("/static/"):
        return path, None
    for rule_method, pattern, template, role in _RULES:
        if rule_method == method and pattern.match(path):
            return template, role
    if method in _WRITES:
        return path[:200], "admin"  # a write no rule names: the most trusted only
    return path, "viewer"


def default_hosts(bound: str) -> frozenset[str]:
    """The Host names served by default: the bound address, and loopback or this machine's names."""
    names = {bound.strip("[]").lower()}
    loopback = {"127.0.0.1", "localhost", "::1"}
    try:
        wildcard = ipaddress.ip_address(bound.strip("[]")).is_unspecified
    except ValueError:
        wildcard = False
    if bound in loopback or wildcard:
        names |= loopback
    if wildcard:
        host = socket.gethostname()
        names |= {host.lower(), socket.getfqdn().lower()}
        with contextlib.suppress(OSError):
            names |= {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    return frozenset(names)


@dataclass
class WebAuth:
    """What the guard checks against; `store` None: nobody can log in (reads per `public_read`)."""

    store: AuthStore | None = None
    audit: AuditTrail | None = None
    public_read: bool = False
    #: Host names served ("*": any); None: `default_hosts` of the bound address.
    allowed_hosts: frozenset[str] | None = None
    #: In memory for one process; in the database for web replicas (`cloud.auth.shared`).
    sessions: Sessions | SharedSessions = field(default_factory=Sessions)
    throttle: LoginThrottle | SharedThrottle = field(default_factory=LoginThrottle)
    _admin_seen: float = field(default=-1e9, repr=False)

    def has_admin(self) -> bool:
        """Whether an enabled admin exists (re-asked of the store at most every 5 s once true)."""
        if self.store is None:
            return False
        now = time.monotonic()
        if now - self._admin_seen < 5.0:
            return True
        if self.store.has_admin():
            self._admin_seen = now
            return True
        return False

    def host_allowed(self, host: str) -> bool:
        """Whether a Host header's name (port removed) is served."""
        hosts = self.allowed_hosts or frozenset({"127.0.0.1", "localhost", "::1"})
        return "*" in hosts or _host_name(host) in hosts


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def identity(request: Request) -> Identity | None:
    """Who the request acts as (None: anonymous)."""
    found = request.scope.get("taktline.identity")
    return found if isinstance(found, Identity) else None


def actor(request: Request) -> str:
    """The name of whoever acts (the guard let only the authenticated through to a write)."""
    who = identity(request)
    if who is None:
        raise Problem(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    return who.name


def _cookie(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no session
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}


class Guard:
    """The ASGI middleware; `auth` is shared with the login routes."""

    def __init__(self, app: ASGIApp, auth: WebAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Checks the request, then serves it (or answers the refusal), auditing writes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        send = _secured(send, https)
        headers = _headers(scope)
        method, path = scope["method"], scope["path"]
        host = headers.get("host", "")
        if path not in _PROBES and not self.auth.host_allowed(host):
            await problem_response(Problem(400, f"Host {host[:100]!r} is not served here"))(
                scope, receive, send
            )
            return
        template, needed = rule_of(method, path)
        write = method in _WRITES
        session_id: str | None = None
        try:
            who, session_id = await self._identify(scope, headers)
        except Problem as refused:  # a token not valid: refused, unless the route is open
            who = None
            outcome: Problem | None = refused if needed is not None else None
        else:
            outcome = self._check(scope, headers, method, path, template, needed, who, session_id)
        scope["taktline.identity"] = who
        scope["taktline.session"] = session_id
        if outcome is not None:
            if outcome.status == 303:
                target = "/login?next=" + quote(path, safe="/")
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [(b"location", target.encode()), (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            if write:
                await self._audit(scope, who, method, template, outcome.status)
            await problem_response(outcome)(scope, receive, send)
            return
        if not write:
            await self.app(scope, receive, send)
            return

        async def audited(message: Message) -> None:
            # A web replica's change answered by the leader is the leader's to record (once).
            if message["type"] == "http.response.start" and not scope.get("taktline.sent_on"):
                # The login route names who tried (its own identity is set on success).
                tried = scope.get("taktline.identity") or who
                await self._audit(scope, tried, method, template, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, audited)
        except Exception:
            await self._audit(scope, who, method, template, 500)
            raise

    async def _identify(
        self, scope: Scope, headers: dict[str, str]
    ) -> tuple[Identity | None, str | None]:
        store = self.auth.store
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            found = None
            if scheme.lower() == "bearer" and store is not None:
                found = await run_in_threadpool(store.check_token, token.strip())
            if found is None:
                raise Problem(
                    401,
                    "the API token is not valid (unknown, revoked, or not 'Bearer tl_...')",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            return found, None
        session_id = _cookie(scope)
        if session_id is None or store is None:
            return None, None
        session = self.auth.sessions.get(session_id)
        if session is None:
            return None, None
        role = await run_in_threadpool(store.role_of, session.user)
        if role is None:  # disabled or removed since login
            self.auth.sessions.close_user(session.user)
            return None, None
        return Identity(session.user, role, "session"), session_id

    def _check(
        self,
        scope: Scope,
        headers: dict[str, str],
        method: str,
        path: str,
        template: str,
        needed: Role | None,
        who: Identity | None,
        session_id: str | None,
    ) -> Problem | None:
        unauthorized = Problem(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
        if method not in _WRITES:
            if needed is None:
                return None
            if who is None:
                if needed == "viewer" and self.auth.public_read:
                    return None
                page = not path.startswith("/api/") and "text/html" in headers.get("accept", "")
                return Problem(303, "log in") if page else unauthorized
            if not allows(who.role, needed):
                return Problem(403, f"{method} {template} needs the role {needed}, not {who.role}")
            return None
        origin = headers.get("origin")
        scheme = "https" if scope.get("scheme") == "https" else "http"
        if origin is not None and origin != f"{scheme}://{headers.get('host', '')}":
            return Problem(403, f"a change from another origin ({origin[:100]}) is refused")
        if headers.get("sec-fetch-site") == "cross-site":
            return Problem(403, "a change from another site is refused")
        if template != "/api/login" and not self.auth.has_admin():
            return Problem(403, FIRST_ADMIN)
        if needed is None:
            return None
        if who is None:
            return unauthorized
        if not allows(who.role, needed):
            return Problem(403, f"{method} {template} needs the role {needed}, not {who.role}")
        if who.via == "session":
            session = self.auth.sessions.get(session_id or "")
            sent = headers.get(CSRF_HEADER, "")
            if session is None or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                return Problem(403, "the CSRF token is missing or wrong: reload the page")
        return None

    async def _audit(self, scope: Scope, who: Any, method: str, template: str, status: int) -> None:
        if self.auth.audit is None:
            return
        client = scope.get("client")
        address = str(client[0])[:100] if client else None
        anonymous_refusal = not isinstance(who, Identity) and status >= 400
        if anonymous_refusal and not self.auth.audit.admits_refusal(address):
            return  # past the address's limit: counted, not recorded (cloud/auth/audit.py)
        payload = {
            "actor": who.name if isinstance(who, Identity) else scope.get("taktline.tried"),
            "role": who.role if isinstance(who, Identity) else None,
            "via": who.via if isinstance(who, Identity) else "anonymous",
            "token": who.token if isinstance(who, Identity) else None,
            "method": method,
            "route": template,
            "status": status,
            "address": address,
        }
        try:
            await run_in_threadpool(self.auth.audit.record, payload)
        except Exception:  # the change is done; a lost audit record must be loud, not fatal
            log.exception("could not record the audit of %s %s", method, template)


def _secured(send: Send, https: bool) -> Send:
    extra: list[tuple[bytes, bytes]] = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", CSP.encode()),
    ]
    if https:
        extra.append((b"strict-transport-security", HSTS.encode()))

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return secured


def hosts_from(values: Iterable[str]) -> frozenset[str]:
    """Allowed host names from a comma-separated option."""
    return frozenset(v.strip().lower() for value in values for v in value.split(",") if v.strip())
