"""The gap mailer against a real SMTP server: TLS (STARTTLS and SSL), login, only on change."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.replan import GapMailer, SmtpSettings, gap_digest
from taktline.private_broker import free_port
from tests.conftest import service_missing
from tests.replan.conftest import Inbox

GAP = {
    "group": "cutters",
    "start": "2026-03-24T06:00:00Z",
    "end": "2026-03-24T08:00:00Z",
    "shortfall": 1,
    "unit": "machine",
    "orders": ["SO-1002"],
    "earliness_min": 0,
    "tardiness_min": 45,
}
LATE = {"order": "SO-1002", "status": "late", "earliness_min": 0, "tardiness_min": 45}


def _certificate(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        service_missing("openssl is needed to make the test server's certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_report_goes_out_over_tls_with_login_and_only_when_it_changes(
    tmp_path: Path, security: str
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    inbox = Inbox()
    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if security == "ssl":
        # implicit TLS: aiosmtpd does not see the transport as "TLS started", so it would hide
        # AUTH; the whole session is encrypted here anyway
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        mailer = GapMailer(
            SmtpSettings(
                port=port,
                security=security,  # type: ignore[arg-type]
                username="planner-bot",
                password="s3cret",
                ca_file=str(cert),
            ),
            {"planner": ["ann@plant.test"], "shift_lead": ["sl@plant.test"]},
            roles=("planner", "shift_lead"),
        )
        assert not mailer.send_if_changed("plant1", [], [])  # nothing to report: no mail
        assert mailer.send_if_changed("plant1", [GAP], [LATE])
        assert not mailer.send_if_changed("plant1", [dict(GAP)], [dict(LATE)])  # identical
        deadline = time.monotonic() + 5
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(inbox.messages) == 1
        assert sorted(inbox.rcpt[0]) == ["ann@plant.test", "sl@plant.test"]
        assert logins == [(b"planner-bot", b"s3cret")]
        body = inbox.messages[0].get_payload(decode=True)
        assert isinstance(body, bytes) and b"cutters: short 1 machine from" in body
        subject = str(inbox.messages[0]["Subject"])
        assert subject == "[taktline plant1] resource gaps: 1, orders late: 1"
        assert gap_digest([GAP], [LATE])[:12] not in subject + body.decode()  # no hash for people
        assert b"SO-1002: ends 45 min late" in body and b"tardiness" not in body  # one figure
        # the report changes: one more mail
        assert mailer.send_if_changed("plant1", [{**GAP, "shortfall": 2}], [LATE])
        assert mailer.sent == 2
    finally:
        controller.stop()


def test_a_wrong_password_raises(tmp_path: Path, smtp_server: tuple[int, Inbox]) -> None:
    import smtplib

    port, inbox = smtp_server
    mailer = GapMailer(
        SmtpSettings(port=port, username="x", password="y"), {"planner": ["a@plant.test"]}
    )
    with pytest.raises(smtplib.SMTPException):
        mailer.send_if_changed("plant1", [GAP], [])
    assert mailer.sent == 0 and not inbox.messages


def test_each_order_says_why_and_a_long_chain_is_cut_with_where_to_read_it() -> None:
    from cloud.replan.mailer import MAILED_CAUSES, render_report

    link = {"text": "crimp: blocked by crimp-02 from 10:42 until further notice"
                    " (breakdown at crimp-02 since 10:42)"}  # fmt: skip
    late = {**LATE, "cause": link["text"], "causes": [link] * (MAILED_CAUSES + 2)}
    body = render_report("plant1", [GAP], [late])
    assert body.count(f"  why: {link['text']}\n") == MAILED_CAUSES
    assert "  ... and 2 more cause(s): /api/plan/orders/SO-1002/causes\n" in body
    assert gap_digest([GAP], [late]) != gap_digest([GAP], [LATE])  # a new why is a new report
