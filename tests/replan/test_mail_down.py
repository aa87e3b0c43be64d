"""A mail server that is down costs the mail, never the planning: replans go on, the report is
mailed with the next replan once the server is back."""

from __future__ import annotations

from datetime import timedelta

from cloud.plant import Order, Plant
from cloud.replan import Engine, GapMailer, Replanner, ResourceLost, SmtpSettings
from taktline.clock import FakeClock
from taktline.private_broker import free_port
from tests.replan.conftest import NOW, Inbox


def test_replanning_survives_a_dead_mail_server(
    harness: tuple[Plant, list[Order]], smtp_server: tuple[int, Inbox]
) -> None:
    plant, orders = harness
    port, inbox = smtp_server
    mailer = GapMailer(SmtpSettings(port=free_port(), timeout_s=1), {"planner": ["p@x.example"]})
    clock = FakeClock(NOW)
    replanner = Replanner(Engine(plant, orders, NOW), mailer=mailer, clock=clock, improve=False)
    machine = next(r.id for r in plant.resources if r.kind == "machine")
    first = replanner.replan([ResourceLost(machine, NOW + timedelta(hours=1))])
    assert first is not None
    assert replanner.stats.mail_errors == 1 and replanner.stats.mails == 0
    # The server is back (a live one on another port): the next replan mails the report.
    mailer.settings = SmtpSettings(port=port)
    clock.advance(60)
    replanner.replan([ResourceLost(machine, NOW + timedelta(hours=2))])
    assert replanner.stats.mails == 1 and len(inbox.messages) == 1
