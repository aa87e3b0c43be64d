"""Publishing the plan over MQTT: stations', operators' schedules, the whole plan, the gap report.

Everything is retained (QoS 1), so any subscriber — a station, an operator's display,
`mosquitto_sub` — gets the current version at once. A schedule's `version` grows by one per
published change and `changed` names the jobs new, moved or gone; a list that did not change is
not published again. With a version store (the cloud's database) the versions survive restarts:
each new version is saved before it is published, so a restarted cloud goes on above every
version a station may hold (a station ignores a version not above its own), and its first round
publishes every schedule again. The publisher owns one `taktline.mqtt.Session` and a thread
that drives it; after a reconnect it publishes the current version of every topic again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from cloud.plant import Plant
from cloud.replan.jobs import Job, JobBook
from contract.downlink import (
    GapReport,
    OperatorSchedule,
    PlanSnapshot,
    ScheduledJob,
    StationSchedule,
)
from contract.topics import (
    gap_report_topic,
    operator_schedule_topic,
    plan_topic,
    station_schedule_topic,
)
from taktline.mqtt import BrokerSettings, Session
from taktline.supervise import Worker

__all__ = ["PlanPublisher", "VersionStore"]


class VersionStore(Protocol):
    """Where published versions are kept (`cloud.store.EventLog` is one)."""

    def plan_versions(self, prefix: str = "") -> dict[str, int]:
        """Saved versions by key."""
        ...

    def save_plan_versions(self, versions: dict[str, int]) -> None:
        """Saves versions before they are published."""
        ...


def _scheduled(job: Job) -> ScheduledJob:
    return ScheduledJob(
        job.order,
        job.step,
        job.start,
        job.end,
        job.product,
        float(job.quantity),
        job.operators,
        job.tools,
    )


class PlanPublisher:
    """Retained, versioned plan messages for one site (a context manager)."""

    def __init__(
        self,
        broker: BrokerSettings,
        site: str,
        *,
        client_id: str = "taktline-planner",
        versions: VersionStore | None = None,
    ) -> None:
        self.site = site
        self._store = versions
        self._session = Session(broker, client_id, on_connect=self._republish)
        self._retained: dict[str, bytes] = {}
        #: The supervised network loop (a fault is retried and shows in the planner's health).
        self.worker = Worker("plan-publisher", self._run, backoff_s=0.2, backoff_max_s=10.0)
        self._started = False
        self._seen: dict[str, dict[str, tuple[str, str]]] = {}
        #: The newest version of each message (by resource id, `@plan`, `@gaps`).
        self.versions: dict[str, int] = {}
        if versions is not None:
            prefix = f"{site}/"
            saved = versions.plan_versions(prefix)
            self.versions = {key[len(prefix) :]: v for key, v in saved.items()}

    def _next(self, keys: Sequence[str]) -> dict[str, int]:
        """The next version of each key, saved (when there is a store) before publishing."""
        out = {key: self.versions.get(key, 0) + 1 for key in keys}
        if self._store is not None and out:
            self._store.save_plan_versions({f"{self.site}/{k}": v for k, v in out.items()})
        return out

    def start(self) -> PlanPublisher:
        """Connects and starts the network worker; waits up to 10 s for the connection."""
        if not self._started:
            self._started = True
            self.worker.start()
            deadline = time.monotonic() + 10
            while not self._session.is_connected and time.monotonic() < deadline:
                time.sleep(0.005)
        return self

    @property
    def is_connected(self) -> bool:
        """Whether the publisher's MQTT session is up."""
        return self._session.is_connected

    @property
    def connections(self) -> int:
        """How many times the session (re)connected."""
        return self._session.connect_count

    def close(self) -> None:
        """Stops the worker (after the pending messages went out) and disconnects."""
        if self._started:
            self.worker.stop(5)

    def __enter__(self) -> PlanPublisher:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, worker: Worker) -> None:
        session = self._session

        def stopping() -> bool:
            worker.tick()  # waiting for the broker is not being stuck
            return worker.stopping

        try:
            while not worker.stopping:
                if not session.connect(stopping):
                    break
                while not worker.stopping and session.run_once(0.002):
                    if session.is_connected:
                        worker.beat()
                    else:
                        worker.tick()  # waiting for the CONNACK
        finally:
            session.disconnect()

    def retained(self, topic: str) -> bytes | None:
        """The last body published on `topic` (what a subscriber gets now), or None."""
        return self._retained.get(topic)

    def _publish(self, topic: str, body: bytes) -> None:
        self._retained[topic] = body
        self._session.client.publish(topic, body, qos=1, retain=True)

    def _republish(self) -> None:
        # after a reconnect: a broker that lost its retained store (no persistence, a new
        # broker) must still give every subscriber the current version at once
        if self._session.connect_count > 1:
            for topic, body in list(self._retained.items()):
                self._session.client.publish(topic, body, qos=1, retain=True)

    def schedules(self, plant: Plant, book: JobBook, generated: str) -> list[str]:
        """Publishes every station's (machine's) and operator's schedule that changed.

        Returns:
            The resources whose schedule got a new version.
        """
        kinds = {r.id: r.kind for r in plant.resources}
        todo: list[tuple[str, str, list[Job], dict[str, tuple[str, str]], tuple[str, ...]]] = []
        # every schedule this process has not published yet goes out too, empty ones included
        unseen = {r for r, kind in kinds.items() if kind in ("machine", "operator")} - set(
            self._seen
        )
        for res_id in sorted(book.dirty | unseen):
            kind = kinds.get(res_id)
            if kind not in ("machine", "operator"):
                continue
            jobs = sorted(book.jobs.get(res_id, {}).values(), key=lambda j: (j.start, j.key))
            now = {j.key: (j.start, j.end) for j in jobs}
            before = self._seen.get(res_id)
            old = before or {}
            changed = tuple(sorted(k for k in now.keys() | old.keys() if now.get(k) != old.get(k)))
            if not changed and before is not None:
                continue  # published by this process already, and unchanged
            todo.append((res_id, str(kind), jobs, now, changed))
        versions = self._next([item[0] for item in todo])
        for res_id, kind, jobs, now, changed in todo:
            version = versions[res_id]
            body: bytes
            items = tuple(_scheduled(j) for j in jobs)
            if kind == "machine":
                body = StationSchedule(
                    self.site, res_id, version, generated, items, changed
                ).encode()
                topic = station_schedule_topic(self.site, res_id)
            else:
                body = OperatorSchedule(
                    self.site, res_id, version, generated, items, changed
                ).encode()
                topic = operator_schedule_topic(self.site, res_id)
            self._publish(topic, body)
            self._seen[res_id] = now
            self.versions[res_id] = version
        book.dirty.clear()
        return [item[0] for item in todo]

    def plan(self, document: Mapping[str, Any], generated: str) -> int:
        """Publishes the whole plan; returns its version."""
        version = self._next(["@plan"])["@plan"]
        self.versions["@plan"] = version
        self._publish(
            plan_topic(self.site), PlanSnapshot(self.site, version, generated, document).encode()
        )
        return version

    def gaps(
        self,
        digest: str,
        gaps: Sequence[Mapping[str, Any]],
        orders: Sequence[Mapping[str, Any]],
        generated: str,
    ) -> int:
        """Publishes the gap report when its digest changed (or first); returns its version."""
        if self._seen.get("@gaps", {}).get("digest") == (digest, "") and "@gaps" in self.versions:
            return self.versions["@gaps"]
        version = self._next(["@gaps"])["@gaps"]
        self.versions["@gaps"] = version
        self._seen["@gaps"] = {"digest": (digest, "")}
        report = GapReport(self.site, version, generated, digest, tuple(gaps), tuple(orders))
        self._publish(gap_report_topic(self.site), report.encode())
        return version
