"""The agent's Prometheus metrics: its outbox, its uplink and its workers, read at scrape time.

Served on the address of the agent's `metrics` key (`metrics = "127.0.0.1:9101"`) at
`/metrics`; every name and the example alerts are in `docs/metrics.md`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from taktline.metrics import Metric, Metrics, counter, gauge
from taktline.supervise import WorkerHealth

if TYPE_CHECKING:
    from agent.runtime import Agent

__all__ = ["agent_metrics"]

_STATES = ("running", "retrying", "failing", "stopped", "idle")


def agent_metrics(agent: Agent, workers: Callable[[], list[WorkerHealth]]) -> Metrics:
    """A registry over one agent; `workers` lists its supervised workers' states."""
    metrics = Metrics()

    def collect() -> Iterator[Metric]:
        outbox, uplink = agent.outbox, agent.uplink
        stats = uplink.stats
        yield gauge(
            "outbox_depth", "Events recorded and not yet confirmed by the cloud", outbox.depth()
        )
        yield gauge(
            "outbox_oldest_unsent_age_seconds",
            "Age of the oldest event not yet confirmed (NaN when none waits)",
            outbox.oldest_age_s(),
        )
        yield gauge(
            "outbox_dead_letters", "Events in the local dead-letter table", outbox.dead_letter_count
        )
        yield gauge(
            "outbox_disk_full",
            "1 while the disk is full and new events are refused",
            int(outbox.disk_full),
        )
        yield counter(
            "uplink_messages_sent", "Messages published to the broker", stats.messages_sent
        )
        yield counter(
            "uplink_events_sent", "Events published (resends counted again)", stats.events_sent
        )
        yield counter("uplink_events_settled", "Events the cloud confirmed", stats.events_settled)
        yield counter(
            "uplink_resends", "Times the unconfirmed window was sent again", stats.resends
        )
        yield counter(
            "uplink_resend_requests",
            "Times the cloud asked for everything unconfirmed again (it had lost its session)",
            stats.resend_requests,
        )
        yield counter(
            "uplink_refused", "Events the broker refused (dead-lettered locally)", stats.refused
        )
        yield counter(
            "mqtt_reconnects",
            "Connections of the uplink's MQTT session after the first",
            max(0, uplink.connections - 1),
        )
        yield gauge(
            "uplink_connected", "1 while the uplink's MQTT session is up", int(uplink.is_connected)
        )
        rows = [(h.name, h) for h in workers()]
        yield gauge(
            "worker_up",
            "1 when the supervised worker runs without a fault streak",
            [({"worker": name}, int(h.state == "running")) for name, h in rows],
        )
        yield counter(
            "worker_restarts",
            "Times the supervisor ran a worker again after a fault",
            [({"worker": name}, h.restarts) for name, h in rows],
        )
        yield gauge(
            "worker_last_beat_age_seconds",
            "Seconds since the worker last said it is alive (NaN before it did)",
            [
                ({"worker": name}, float("nan") if h.last_beat_age_s is None else h.last_beat_age_s)
                for name, h in rows
            ],
        )

    metrics.add(collect)
    return metrics
