"""Who may change what: roles per route, anonymous callers, CSRF, Origin and Host, tokens,
login throttling, the first-admin rule and the audit of every change (issue 17).

A real server on a free port (`full_stack`: every part, a running replanner) with the users of
tests/web/auth.py; requests over real HTTP.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from cloud.auth import ROLES, LoginThrottle, allows
from cloud.auth.audit import ANONYMOUS_PER_MINUTE
from cloud.web.guard import CSP, FIRST_ADMIN
from tests.web.app import FullStack, full_stack
from tests.web.auth import PASSWORD

ROOT = Path(__file__).parents[2]
#: Every state-changing route, a body it takes, and the lowest role it allows.
CHANGES: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/corrections", {"correction": "cycles", "reason": "r", "station": "crimp-01",
                                  "value": 1}, "supervisor"),
    ("POST", "/api/orders", {"orders": []}, "planner"),
    ("POST", "/api/decisions/O-1", {"decision": "new"}, "planner"),
    ("POST", "/api/manual", {"on": False}, "planner"),
    ("POST", "/api/plan/steps/O-1/crimp", {"start": "2026-03-23T06:00:00Z"}, "planner"),
    ("POST", "/api/plan/times", {}, "planner"),
    ("PUT", "/api/master", {"site": ""}, "admin"),
    ("POST", "/api/master/tags", [], "admin"),
    ("POST", "/api/tokens", {"name": "mes", "role": "viewer"}, "admin"),
    ("DELETE", "/api/tokens/0000000000000000", None, "admin"),
]  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    with full_stack(tmp_path_factory.mktemp("auth")) as running:
        yield running


def send(
    stack: FullStack,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any, http.client.HTTPResponse]:
    address = urlsplit(stack.web.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Content-Type": "application/json", **(headers or {})}
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    kind = response.getheader("Content-Type", "")
    return response.status, json.loads(answer) if "json" in kind else answer.decode(), response


def login(stack: FullStack, name: str) -> dict[str, str]:
    """Logs `name` in; the headers of its later changes (cookie and CSRF token)."""
    code, body, response = send(stack, "POST", "/api/login", {"name": name, "password": PASSWORD})
    assert code == 200, body
    cookie = response.getheader("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie
    return {"Cookie": cookie.split(";")[0], "X-CSRF-Token": body["csrf"]}


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(("method", "path", "body", "needed"), CHANGES)
def test_each_role_is_allowed_or_refused_on_each_change(
    stack: FullStack, role: str | None, method: str, path: str, body: Any, needed: str
) -> None:
    headers = stack.grants.bearer(f"t-{role}", role) if role else {}
    code, answer, _ = send(stack, method, path, body, headers)
    if role is None:
        assert code == 401, answer
    elif allows(role, needed):  # type: ignore[arg-type]
        assert code not in (401, 403), answer  # past the guard: the route's own answer
    else:
        assert code == 403 and needed in answer["detail"], answer


def test_sessions_need_their_csrf_token_and_the_same_origin(stack: FullStack) -> None:
    pia = login(stack, "pia")
    cookie_only = {"Cookie": pia["Cookie"]}
    # A cross-site form post: text/plain, the cookie, another origin, no token.
    form = b'{"on": true}'
    plain = {**cookie_only, "Content-Type": "text/plain", "Origin": "https://evil.example"}
    assert send(stack, "POST", "/api/manual", raw=form, headers=plain)[0] == 403
    assert send(stack, "POST", "/api/manual", raw=form, headers={**plain, "Origin": ""})[0] == 403
    code, body, _ = send(stack, "POST", "/api/manual", {"on": False}, cookie_only)
    assert code == 403 and "CSRF" in body["detail"]
    wrong = {**pia, "X-CSRF-Token": "x" * 43}
    assert send(stack, "POST", "/api/manual", {"on": False}, wrong)[0] == 403
    evil = {**pia, "Origin": "http://evil.example"}
    code, body, _ = send(stack, "POST", "/api/manual", {"on": False}, evil)
    assert code == 403 and "origin" in body["detail"]
    cross = {**pia, "Sec-Fetch-Site": "cross-site"}
    assert send(stack, "POST", "/api/manual", {"on": False}, cross)[0] == 403
    # DNS rebinding: a Host this server does not serve, for reads and changes alike.
    for method, path in (("GET", "/api/status"), ("POST", "/api/manual")):
        code, body, _ = send(stack, method, path, {"on": False}, {**pia, "Host": "evil.example"})
        assert code == 400 and "Host" in body["detail"]
    same = {**pia, "Origin": stack.web.url.rstrip("/")}
    code, body, _ = send(stack, "POST", "/api/manual", {"on": False}, same)
    assert (code, body["by"]) == (200, None)
    assert send(stack, "GET", "/api/session", headers=pia)[1]["user"] == "pia"
    assert send(stack, "POST", "/api/logout", headers=pia)[0] == 200
    assert send(stack, "POST", "/api/manual", {"on": False}, pia)[0] == 401
    assert send(stack, "GET", "/api/status", headers=pia)[0] == 401  # no --public-read here


def test_pages_send_anonymous_callers_to_the_login_page_with_strict_headers(
    stack: FullStack,
) -> None:
    code, _, response = send(stack, "GET", "/plan", headers={"Accept": "text/html"})
    assert (code, response.getheader("Location")) == (303, "/login?next=/plan")
    code, page, response = send(stack, "GET", "/login")
    assert code == 200 and 'id="login-form"' in page
    assert response.getheader("Content-Security-Policy") == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP.split("style-src-attr")[0]
    assert response.getheader("X-Frame-Options") == "DENY"
    assert send(stack, "GET", "/healthz")[0] == 200 and send(stack, "GET", "/readyz")[0] == 200
    assert send(stack, "GET", "/healthz", headers={"Host": "10.0.0.9"})[0] == 200  # probes


def test_tokens_are_scoped_hashed_revocable_and_note_their_use(stack: FullStack) -> None:
    admin = stack.grants.bearer("boss", "admin")
    code, made, _ = send(stack, "POST", "/api/tokens", {"name": "mes", "role": "viewer"}, admin)
    assert code == 201 and made["token"].startswith(f"tl_{made['id']}_")
    mes = {"Authorization": f"Bearer {made['token']}"}
    assert send(stack, "GET", "/api/status", headers=mes)[0] == 200
    code, body, _ = send(stack, "POST", "/api/manual", {"on": False}, mes)
    assert code == 403 and "planner" in body["detail"]
    assert send(stack, "GET", "/api/tokens", headers=mes)[0] == 403
    listed = {t["id"]: t for t in send(stack, "GET", "/api/tokens", headers=admin)[1]}
    assert listed[made["id"]]["last_used_at"] is not None and "token" not in listed[made["id"]]
    secret = made["token"].rsplit("_", 1)[1]
    assert secret.encode() not in (stack.log.path or Path()).read_bytes()  # only its hash
    assert send(stack, "DELETE", f"/api/tokens/{made['id']}", headers=admin)[0] == 200
    code, body, _ = send(stack, "GET", "/api/status", headers=mes)
    assert code == 401 and "token" in body["detail"]
    bad = {"Authorization": "Bearer tl_0000000000000000_" + "A" * 43}
    assert send(stack, "GET", "/api/status", headers=bad)[0] == 401


def test_logins_are_throttled_per_account_and_per_address(stack: FullStack) -> None:
    stack.web.auth.throttle = LoginThrottle()
    try:
        for _ in range(5):
            assert send(stack, "POST", "/api/login", {"name": "sam", "password": "nope"})[0] == 401
        code, _, response = send(stack, "POST", "/api/login", {"name": "sam", "password": PASSWORD})
        assert code == 429 and int(response.getheader("Retry-After")) > 800
        login(stack, "vera")  # another account from the same address still gets in
        for n in range(15):  # 20 failures from this address in all
            send(stack, "POST", "/api/login", {"name": f"guess{n}", "password": "nope"})
        code, _, _ = send(stack, "POST", "/api/login", {"name": "vera", "password": PASSWORD})
        assert code == 429
    finally:
        stack.web.auth.throttle = LoginThrottle()


def test_the_audit_names_the_session_or_the_token_behind_each_change(stack: FullStack) -> None:
    sam = login(stack, "sam")
    correction = {"correction": "cycles", "reason": "audit", "station": "crimp-01", "value": 2}
    assert send(stack, "POST", "/api/corrections", correction, sam)[0] == 201
    token = stack.grants.bearer("erp-bridge", "planner")
    assert send(stack, "POST", "/api/orders", {"orders": []}, token)[0] == 202
    send(stack, "POST", "/api/master/tags", [], token)  # refused: planner < admin
    admin = stack.grants.bearer("auditor", "admin")
    code, records, _ = send(stack, "GET", "/api/audit/requests?limit=5", headers=admin)
    assert code == 200
    newest = [(r["actor"], r["via"], r["method"], r["route"], r["status"]) for r in records[:4]]
    assert newest == [
        ("erp-bridge", "token", "POST", "/api/master/{section}", 403),
        ("erp-bridge", "token", "POST", "/api/orders", 202),
        ("sam", "session", "POST", "/api/corrections", 201),
        ("sam", "session", "POST", "/api/login", 200),
    ]
    assert records[1]["token"] is not None and records[2]["role"] == "supervisor"
    assert send(stack, "GET", "/api/audit/requests", headers=token)[0] == 403


def test_nothing_changes_until_a_first_admin_is_made_by_the_command(tmp_path: Path) -> None:
    from cloud.auth import AuthStore
    from cloud.store import EventLog
    from cloud.web import WebServer
    from cloud.web.guard import WebAuth

    database = tmp_path / "cloud.db"
    with EventLog(database) as log:
        url = log.url
    store = AuthStore(url)
    with WebServer(lambda: {}, lambda n: [], port=0, auth=WebAuth(store)) as web:
        address = urlsplit(web.url)

        def manual(headers: dict[str, str]) -> tuple[int, Any]:
            connection = http.client.HTTPConnection(address.hostname or "", address.port)
            connection.request("POST", "/api/manual", b'{"on": false}', headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read())

        code, body = manual({"Content-Type": "application/json"})
        assert (code, body["detail"]) == (403, FIRST_ADMIN)
        secret = tmp_path / "password"
        secret.write_text(PASSWORD + "\n")
        secret.chmod(0o644)
        command = [sys.executable, "-m", "taktline.cli", "cloud", "--db", str(database), "users"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        run = [*command, "add", "root", "--role", "admin", "--password-file", str(secret)]
        done = subprocess.run(run, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 2 and "chmod 600" in done.stderr  # others may read it
        secret.chmod(0o600)
        done = subprocess.run(run, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        assert PASSWORD not in done.stdout + done.stderr
        assert (database.stat().st_mode & 0o077) == 0
        listed = subprocess.run([*command, "list"], capture_output=True, text=True, env=env)
        assert listed.stdout.startswith("root\tadmin\tenabled")
        code, body = manual({"Content-Type": "application/json"})
        assert code == 401  # an admin exists: now the caller must log in
        tokens = [sys.executable, "-m", "taktline.cli", "cloud", "--db", str(database), "tokens"]
        made = subprocess.run([*tokens, "add", "mes", "--role", "planner"], capture_output=True,
                              text=True, env=env, check=True)  # fmt: skip
        secret_token = made.stdout.split()[-1]
        bearer = {"Content-Type": "application/json", "Authorization": f"Bearer {secret_token}"}
        assert manual(bearer)[0] == 409  # past the guard: no plan on this server
        disabled = subprocess.run([*command, "disable", "root"], capture_output=True, text=True,
                                  env=env, check=True)  # fmt: skip
        assert "disabled" in disabled.stdout
    store.close()


def test_a_flood_of_anonymous_refusals_is_counted_not_recorded(stack: FullStack) -> None:
    """Runs last in this module: it spends the loopback address's minute of anonymous refusals."""
    audit = stack.web.auth.audit
    assert audit is not None
    admin = stack.grants.bearer("flood-auditor", "admin")

    def anonymous_records() -> int:
        records = send(stack, "GET", "/api/audit/requests?limit=1000", headers=admin)[1]
        return sum(1 for r in records if r["via"] == "anonymous")

    before, counted = anonymous_records(), audit.unaudited
    for _ in range(ANONYMOUS_PER_MINUTE + 20):
        assert send(stack, "POST", "/api/manual", {"on": False})[0] == 401
    recorded = anonymous_records() - before
    assert recorded <= ANONYMOUS_PER_MINUTE  # earlier tests may have begun the minute
    assert audit.unaudited - counted == ANONYMOUS_PER_MINUTE + 20 - recorded >= 20
    token = stack.grants.bearer("erp-after-flood", "planner")
    assert send(stack, "POST", "/api/orders", {"orders": []}, token)[0] == 202
    newest = send(stack, "GET", "/api/audit/requests?limit=1", headers=admin)[1][0]
    assert (newest["actor"], newest["status"]) == ("erp-after-flood", 202)  # users: always
