"""Prometheus metrics for the agent and the cloud: read at scrape time, never counted twice.

prometheus-client (the Prometheus project's own client) is kept behind this module. Each part
(the outbox, the uplink, ingest, the replanner) already counts what it does in its own stats;
a `Metrics` registry holds *collect functions* that turn those counters into metric families
when Prometheus scrapes, so there is one count per fact and nothing to keep in step. The agent
serves its registry on its own port (`serve`); the cloud on `GET /metrics` of its web server.
`docs/metrics.md` lists every metric and an example alert set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metric", "Metrics", "counter", "gauge", "samples"]

#: The exposition format's content type.
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
PREFIX: Final = "taktline_"

Labels = Mapping[str, str]


def counter(
    name: str, documentation: str, values: float | Iterable[tuple[Labels, float]]
) -> CounterMetricFamily:
    """A counter family (`name` without the `taktline_` prefix and the `_total` suffix)."""
    if isinstance(values, int | float):
        return CounterMetricFamily(PREFIX + name, documentation, value=float(values))
    rows = list(values)
    family = CounterMetricFamily(
        PREFIX + name, documentation, labels=sorted({k for labels, _ in rows for k in labels})
    )
    for labels, value in rows:
        family.add_metric([labels[k] for k in sorted(labels)], float(value))
    return family


def gauge(
    name: str, documentation: str, values: float | Iterable[tuple[Labels, float]] | None
) -> GaugeMetricFamily:
    """A gauge family; None is NaN (unknown, never a made-up zero)."""
    if values is None or isinstance(values, int | float):
        value = float("nan") if values is None else float(values)
        return GaugeMetricFamily(PREFIX + name, documentation, value=value)
    rows = list(values)
    family = GaugeMetricFamily(
        PREFIX + name, documentation, labels=sorted({k for labels, _ in rows for k in labels})
    )
    for labels, value in rows:
        family.add_metric([labels[k] for k in sorted(labels)], float(value))
    return family


class _Collect(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Metric]:
        yield from self._collect()


class Metrics:
    """One registry of collect functions; `exposition()` renders it, `serve()` serves it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._server: object | None = None
        self._thread: threading.Thread | None = None

    def add(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Adds a function called at every scrape; it yields metric families."""
        self.registry.register(_Collect(collect))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return bytes(generate_latest(self.registry))

    def serve(self, host: str, port: int) -> int:
        """Serves `/metrics` on host:port in a daemon thread; returns the port it bound."""
        server, thread = _start_http_server(port, addr=host, registry=self.registry)
        self._server, self._thread = server, thread
        return int(server.server_port)

    def close(self) -> None:
        """Stops serving."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """An exposition parsed: (sample name, sorted labels) -> value (for tests and tools)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return out
