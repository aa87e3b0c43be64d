"""Issuing call-offs: after every plan, each supplier's call-off, re-issued only when it changed.

`CallOffs.issue(needs)` builds each supplier's call-off body from the requirement
(`cloud.calloff.document`) and compares its digest with the supplier's current call-off in the
status (folded from the log). Only a changed one is issued: recorded first as a
`calloff.issued` event (version + 1, with what changed) through the cloud's `cloud-logistics`
recorder, then published retained on the supplier's MQTT topic as JSON, and mailed (JSON and
CSV attached) to the supplier's `email` when the cloud has an SMTP server. A supplier never
called off and with nothing to call off gets nothing. A mail that fails is logged and not
retried (the call-off is on MQTT and in the REST API; the next change mails again).
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any

from cloud.calloff.document import changes, content, digest, to_csv
from cloud.calloff.requirement import Need
from cloud.plant import Plant
from cloud.recorder import CloudRecorder
from cloud.replan.mailer import GapMailer
from contract.logistics import MAX_CALLOFF_LINES, MAX_CHANGES, calloff_topic

__all__ = ["CallOffs", "calloff_document"]

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]


def calloff_document(site: str, payload: dict[str, Any], issued: str) -> dict[str, Any]:
    """The call-off as sent: the `calloff.issued` payload with the site and when it was issued."""
    return {"site": site, **payload, "issued": issued}


class CallOffs:
    """Builds, records, publishes and mails suppliers' call-offs."""

    def __init__(
        self,
        recorder: CloudRecorder,
        plant: Callable[[], Plant | None],
        site: str,
        *,
        publish: Publish | None = None,
        mailer: GapMailer | None = None,
    ) -> None:
        self.recorder = recorder
        self.plant = plant
        self.site = site
        self.publish = publish
        self.mailer = mailer
        self.issued = 0
        self.mail_errors = 0

    @property
    def current(self) -> dict[str, dict[str, Any]]:
        """Each supplier's current call-off, as the status folded it from the log."""
        return self.recorder.status.logistics.calloffs

    def issue(self, needs: Sequence[Need]) -> list[dict[str, Any]]:
        """Issues every supplier's call-off that changed; returns the documents issued."""
        plant = self.plant()
        if plant is None:
            return []
        out = []
        for supplier in sorted(plant.suppliers):
            body = content(plant, supplier, needs)
            left_out = body.pop("left_out")
            before = self.current.get(supplier)
            sig = digest(body)
            if before is None and not body["lines"] and not body["sequence"]:
                continue
            if before is not None and before["digest"] == sig:
                continue
            payload = {
                "supplier": supplier,
                "version": (before["version"] if before is not None else 0) + 1,
                "digest": sig,
                **body,
                "changes": changes(before, body),
            }
            if left_out:
                note = f"{left_out} later line(s) left out (at most {MAX_CALLOFF_LINES} each)"
                payload["changes"] = [*payload["changes"][: MAX_CHANGES - 1], note]
            stored = self.recorder.record("calloff.issued", payload)
            document = calloff_document(self.site, payload, stored["time"])
            self.issued += 1
            self._send(plant, supplier, document)
            out.append(document)
        return out

    def _send(self, plant: Plant, supplier: str, document: dict[str, Any]) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        if self.publish is not None:
            try:
                self.publish(calloff_topic(self.site, supplier), body)
            except ValueError as exc:  # a supplier id that is no topic segment
                log.error("call-off %s not published: %s", supplier, exc)
        address = plant.suppliers[supplier].email
        if self.mailer is None or not address:
            return
        msg = EmailMessage()
        msg["From"] = self.mailer.settings.sender
        msg["To"] = address
        msg["Subject"] = (
            f"[taktline {self.site}] call-off {supplier} v{document['version']}: "
            f"{len(document['lines'])} line(s), ship by {document['ship_by'] or '-'}"
        )
        msg.set_content(_text(document))
        name = f"calloff-{supplier}-v{document['version']}"
        msg.add_attachment(body, maintype="application", subtype="json", filename=f"{name}.json")
        msg.add_attachment(to_csv(document).encode(), "text", "csv", filename=f"{name}.csv")
        try:
            self.mailer.send(msg)
        except (OSError, smtplib.SMTPException) as exc:
            self.mail_errors += 1
            log.error("call-off %s v%s not mailed: %s", supplier, document["version"], exc)


def _text(document: dict[str, Any]) -> str:
    lines = [
        f"Call-off {document['supplier']} version {document['version']} from site "
        f"{document['site']}, issued {document['issued']}",
        "",
        "What changed:",
        *(f"- {c}" for c in document["changes"]),
        "",
        "Deliveries (material, point of use, window, quantity, ship by):",
        *(
            f"- {x['material']} at {x['point_of_use']}: {x['start']} to {x['end']}, "
            f"{x['quantity']:g}, ship by {x['ship_by']}"
            for x in document["lines"]
        ),
    ]
    if document["sequence"]:
        lines += ["", "In sequence (material, point of use, #, order, needed):"]
        lines += [
            f"- {x['material']} at {x['point_of_use']} #{x['seq']}: {x['order']} at {x['needed']}"
            for x in document["sequence"]
        ]
    return "\n".join(lines) + "\n"
