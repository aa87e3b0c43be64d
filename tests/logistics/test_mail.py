"""A call-off by mail: to the supplier's address through the gap report's SMTP server, JSON and
CSV attached, only when it changed; a mail server down stops nothing."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from cloud.replan import GapMailer, OrderChanged, SmtpSettings
from taktline.private_broker import free_port
from tests.logistics.conftest import SUPPLIER, Desk
from tests.replan.conftest import Inbox, smtp_server  # noqa: F401  # the fixture


def test_a_changed_calloff_is_mailed_to_the_supplier(
    desk: Desk,
    smtp_server: tuple[int, Inbox],  # noqa: F811
) -> None:
    port, inbox = smtp_server
    desk.calloffs.mailer = GapMailer(SmtpSettings(port=port, sender="plan@plant1.example"), {})
    desk.replanner.replan([])
    desk.replanner.replan([])  # unchanged: no second mail
    assert len(inbox.messages) == 1 and inbox.rcpt == [["dispo@kabelwerk.example"]]
    mail = inbox.messages[0]
    assert mail["Subject"].startswith(f"[taktline plant1] call-off {SUPPLIER} v1:")
    parts = {p.get_filename(): p.get_payload(decode=True) for p in mail.walk() if p.get_filename()}
    document = json.loads(parts[f"calloff-{SUPPLIER}-v1.json"])
    assert document == desk.issued[0]
    rows = list(csv.DictReader(io.StringIO(parts[f"calloff-{SUPPLIER}-v1.csv"].decode())))
    assert len([r for r in rows if r["kind"] == "line"]) == len(document["lines"])


def test_a_mail_server_down_stops_no_calloff(desk: Desk) -> None:
    desk.calloffs.mailer = GapMailer(SmtpSettings(port=free_port(), timeout_s=2), {})
    desk.replanner.replan([])
    bigger = replace(desk.replanner.engine.orders["B"], quantity=75)
    desk.replanner.replan([OrderChanged(bigger, "adjust")])
    assert [d["version"] for d in desk.issued] == [1, 2]
    assert desk.calloffs.mail_errors == 2
