"""The cloud's logistics: call-offs to suppliers and AGV line feeding, wired to the plan and ingest.

`Logistics` composes the parts the cloud service starts when it plans: the `cloud-logistics`
recorder (what is issued and sent goes in the event log first), `CallOffs` (after each plan:
every supplier's call-off that changed), `Transports` (kanban signals and planned needs as VDA
5050 orders; AGV states as transport states; a failed or late transport as a replan trigger) and
the `LogisticsLink` that carries them over MQTT. The service calls `replanned` after each plan
and `committed` after each ingest round (docs/calloffs.md).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from cloud.calloff import CallOffs, Need, calloff_document, needs_of
from cloud.plant import Plant
from cloud.recorder import CloudRecorder
from cloud.replan import GapMailer, Replanner
from cloud.replan.triggers import Trigger
from cloud.status import ResourceStatus
from cloud.store import EventLog, LogRecord
from cloud.transport import LogisticsLink, Transports
from contract.logistics import LOGISTICS_SOURCE, calloff_topic
from taktline.clock import Clock
from taktline.mqtt import BrokerSettings

__all__ = ["Logistics"]

log = logging.getLogger(__name__)

_SIGNALS = frozenset({"kanban.empty", "bin.level"})


class Logistics:
    """Call-offs and transports of one site, on one MQTT session."""

    def __init__(
        self,
        event_log: EventLog,
        status: ResourceStatus,
        plant: Callable[[], Plant | None],
        broker: BrokerSettings,
        site: str,
        *,
        submit: Callable[[Trigger], None],
        clock: Clock | None = None,
        write_lock: threading.Lock | None = None,
        mailer: GapMailer | None = None,
        client_id: str = "taktline-logistics",
    ) -> None:
        self.site = site
        self.plant = plant
        self.recorder = CloudRecorder(
            event_log, status, LOGISTICS_SOURCE, clock=clock, write_lock=write_lock
        )
        self.transports = Transports(self.recorder, plant, submit=submit, clock=clock)
        self.link = LogisticsLink(
            broker,
            client_id=client_id,
            on_message=self.transports.on_message,
            on_tick=self.transports.tick,
        )
        self.transports.publish = lambda topic, body: self.link.publish(topic, body, qos=0)
        self.calloffs = CallOffs(
            self.recorder,
            plant,
            site,
            publish=lambda topic, body: self.link.publish(topic, body, retain=True),
            mailer=mailer,
        )
        self.needs: list[Need] = []

    def start(self) -> Logistics:
        """Connects, and publishes every current call-off again (retained)."""
        self.link.start()
        for supplier, payload in self.recorder.status.logistics.calloffs.items():
            issued = payload["issued"]
            body = {k: v for k, v in payload.items() if k != "issued"}
            document = calloff_document(self.site, body, issued)
            self.link.publish(
                calloff_topic(self.site, supplier),
                json.dumps(document, separators=(",", ":")).encode(),
                retain=True,
            )
        return self

    def close(self) -> None:
        """Stops the link."""
        self.link.close()

    def __enter__(self) -> Logistics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def replanned(self, replanner: Replanner) -> list[dict[str, Any]]:
        """After a plan: the requirement by time, call-offs that changed, the planned needs."""
        # the master data's plant: the engine's keeps only what planning needs of a material
        plant = self.plant() or replanner.engine.plant
        self.needs = needs_of(plant, replanner.jobs_snapshot())
        self.transports.planned(self.needs)
        return self.calloffs.issue(self.needs)

    def committed(self, records: Sequence[LogRecord]) -> None:
        """After an ingest round: kanban signals become transports."""
        events = [
            r.event if r.event is not None else json.loads(r.body)
            for r in records
            if r.type in _SIGNALS
        ]
        if events:
            self.transports.signals(events)
