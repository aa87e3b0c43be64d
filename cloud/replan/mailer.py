"""The gap report by e-mail: SMTP (plain, STARTTLS or SSL, optional login), role-based recipients.

A report is mailed only when it differs from the last one mailed: reports are compared by the
SHA-256 digest of their canonical JSON (`gap_digest`), which leaves out when they were made. The
digest of the empty report is the starting point, so a plant without gaps sends nothing.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

__all__ = ["GapMailer", "SmtpSettings", "gap_digest", "render_report"]


def gap_digest(gaps: Sequence[Mapping[str, Any]], orders: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of the canonical report (keys sorted, no whitespace)."""
    text = json.dumps(
        {"gaps": list(gaps), "orders": list(orders)}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


EMPTY_DIGEST = gap_digest([], [])

#: Causes mailed per order (the whole chain is in the plan and at /api/plan/orders/{order}/causes).
MAILED_CAUSES = 5


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail (`security`: plain, starttls or ssl)."""

    host: str = "127.0.0.1"
    port: int = 25
    security: Literal["plain", "starttls", "ssl"] = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "taktline@localhost"
    timeout_s: float = 10.0
    ca_file: str | None = None


def render_report(
    site: str, gaps: Sequence[Mapping[str, Any]], orders: Sequence[Mapping[str, Any]]
) -> str:
    """Plain-text body: every gap, then every order off its due date, and why.

    A shortfall carries its unit ("short 1 machine"); an order's lateness is said once, in the
    order's own line (how late it ends), not again as each gap's sum of moved minutes.
    """
    late = [o for o in orders if o.get("status") == "late"]
    lines = [
        f"Resource check for site {site}: {len(gaps)} gap(s), {len(late)} order(s) late",
        "",
    ]
    for g in gaps:
        unit = str(g.get("unit") or "resource")
        count = int(g["shortfall"])
        lines.append(
            f"- {g['group']}: short {count} {unit}{'' if count == 1 else 's'} from {g['start']} "
            f"to {g['end']}; orders moved {', '.join(g['orders']) or '-'}"
        )
        if g.get("absent"):
            skills = ", ".join(g.get("skills", [])) or "-"
            lead = "no qualified operator present" if g.get("none_present") else "absent"
            lines.append(f"  {lead} (skill {skills}): {', '.join(g['absent'])} not here")
        for t in g.get("tools", []):
            out = {"tool_service": "out until serviced", "tool_transfer": "on its way until",
                   "tool_missing": "missing"}.get(t.get("out") or "", "")  # fmt: skip
            until = f" {t['until']}" if t.get("out") == "tool_transfer" and t.get("until") else ""
            life = f" (tool life: {t['life']})" if t.get("life") else ""
            lines.append(f"  tool {t['tool']}: {out or 'planned'}{until}{life}")
    if orders:
        lines += ["", "Orders off their due date:"]
        for o in orders:
            if o["status"] == "late":
                said = f"ends {o['tardiness_min']} min late"
            elif o["status"] == "early":
                said = f"ends {o['earliness_min']} min early"
            else:
                said = "not planned"
            lines.append(f"- {o['order']}: {said}")
            causes = o.get("causes") or []
            for cause in causes[:MAILED_CAUSES]:
                lines.append(f"  why: {cause['text']}")
            if len(causes) > MAILED_CAUSES:
                lines.append(
                    f"  ... and {len(causes) - MAILED_CAUSES} more cause(s):"
                    f" /api/plan/orders/{o['order']}/causes"
                )
    return "\n".join(lines) + "\n"


class GapMailer:
    """Mails the gap report to the addresses of the given roles, only when it changed."""

    def __init__(
        self,
        settings: SmtpSettings,
        recipients: Mapping[str, Sequence[str]],
        *,
        roles: Sequence[str] = ("planner",),
    ) -> None:
        self.settings = settings
        self.recipients = recipients
        self.roles = tuple(roles)
        self.last_digest = EMPTY_DIGEST
        self.sent = 0

    def addresses(self) -> list[str]:
        """Every address of the report's roles, each once."""
        return list(dict.fromkeys(a for role in self.roles for a in self.recipients.get(role, ())))

    def send_if_changed(
        self, site: str, gaps: Sequence[Mapping[str, Any]], orders: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Sends the report if its digest differs from the last one sent; returns whether it did."""
        digest = gap_digest(gaps, orders)
        to = self.addresses()
        if digest == self.last_digest or not to:
            return False
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(to)
        late = sum(1 for o in orders if o.get("status") == "late")
        msg["Subject"] = f"[taktline {site}] resource gaps: {len(gaps)}, orders late: {late}"
        msg.set_content(render_report(site, gaps, orders))
        self._send(msg)
        self.last_digest = digest
        self.sent += 1
        return True

    def send(self, msg: EmailMessage) -> None:
        """Sends one message through the same server (suppliers' call-offs use it too)."""
        self._send(msg)

    def _send(self, msg: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file)
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        with smtp:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username is not None:
                smtp.login(s.username, s.password or "")
            smtp.send_message(msg)
