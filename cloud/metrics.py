"""The cloud's Prometheus metrics: ingest, dead letters, the planner, the agents it hears from.

Read at scrape time from the counters the parts keep (`taktline.metrics`); served on
`GET /metrics` of the web server to loopback clients, or to anyone presenting the metrics token
(`--metrics-token-file`). Every name and the example alerts are in `docs/metrics.md`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from taktline.metrics import Metric, Metrics, counter, gauge

if TYPE_CHECKING:
    from cloud.service import CloudService

__all__ = ["cloud_metrics"]

DEAD_LETTER_KINDS = ("contract", "version_ahead", "identity", "conflict", "fold", "internal")


def cloud_metrics(cloud: CloudService) -> Metrics:
    """A registry over one cloud service."""
    metrics = Metrics()

    def collect() -> Iterator[Metric]:
        ingest = cloud.ingest
        stats = ingest.stats
        yield counter("events_committed", "Events appended to the event log", stats.committed)
        yield counter(
            "events_duplicate", "Events received again (confirmed, not applied)", stats.duplicates
        )
        yield counter(
            "dead_letters",
            "Messages or events dead-lettered, by kind",
            [({"kind": kind}, stats.dead_by_kind.get(kind, 0)) for kind in DEAD_LETTER_KINDS],
        )
        yield counter("ingest_rounds", "Ingest rounds committed", stats.rounds)
        yield counter(
            "ingest_commit_faults",
            "Ingest rounds whose commit failed (and were retried)",
            stats.commit_faults,
        )
        yield gauge(
            "ingest_queue_depth", "Messages received and not yet ingested", ingest.queue_depth
        )
        yield gauge(
            "ingest_lag_seconds", "How long the oldest queued message has waited", ingest.lag_s()
        )
        last = stats.last_commit
        yield gauge(
            "ingest_last_commit_age_seconds",
            "Seconds since ingest last committed a round (NaN before the first)",
            None if last is None else time.monotonic() - last,
        )
        yield gauge(
            "ingest_ready",
            "1 while ingest is ready (worker running, broker subscribed)",
            int(bool(ingest.health()["ready"])),
        )
        yield counter(
            "mqtt_reconnects",
            "Reconnections of ingest's MQTT session",
            max(0, ingest.connections - 1),
        )
        now = time.monotonic()
        yield gauge(
            "agent_last_seen_seconds",
            "Seconds since a message from the agent arrived",
            [({"agent": agent}, now - seen) for agent, seen in sorted(ingest.last_seen.items())],
        )
        yield gauge(
            "agent_online",
            "1 while the agent's retained status says online",
            [
                ({"agent": agent}, int(state.online))
                for agent, state in sorted(cloud.status.agents.items())
            ],
        )
        replanner = cloud.replanner
        if replanner is not None:
            rs = replanner.stats
            yield counter("replans", "Replans completed", rs.completed)
            yield counter(
                "replan_seconds", "Seconds spent replanning (the engine), in all", rs.replan_seconds
            )
            yield gauge(
                "replan_last_seconds",
                "Duration of the last replan (the engine)",
                None if rs.last is None else rs.last.seconds,
            )
            yield counter("replan_errors", "Replans that raised", rs.errors)
            yield counter(
                "replan_triggers_dropped",
                "Triggers dropped after their burst failed three times",
                rs.dropped,
            )
            yield gauge(
                "schedule_publish_lag_seconds",
                "From a burst's first trigger to its changed schedules published (last burst)",
                rs.publish_lag_s,
            )
        yield counter(
            "web_refusals_unaudited",
            "Refused anonymous web writes over the per-address limit: counted, not recorded",
            cloud.audit.unaudited,
        )
        if cloud.publisher is not None:
            yield counter(
                "planner_mqtt_reconnects",
                "Reconnections of the plan publisher's MQTT session",
                max(0, cloud.publisher.connections - 1),
            )

    metrics.add(collect)
    return metrics
