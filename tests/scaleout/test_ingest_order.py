"""Workers sharing the uplink commit each agent's batches in its sequence order.

Two ingest workers of a shared subscription on one PostgreSQL (`Ingest(share_group=...)`, fed
without a broker): worker B receives an agent's second batch before worker A has committed the
first. B holds it (nothing committed, nothing confirmed) until the first is in the log, so log
positions — the planner's fold order — follow the agent's sequence; a batch whose predecessor
never comes is committed after `DEFER_MAX_S` all the same.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import cloud.ingest as ingest_module
from cloud.ingest import Ingest
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract import AgentPath, Event, SentStamp, encode_batch
from taktline.mqtt import BrokerSettings

SITE, AREA, AGENT = "plant1", "harness", "pi-crimp-01"
NOW = "2026-11-23T08:00:00Z"
RECEIVED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _batch(instance: str, seqs: range) -> tuple[str, bytes, datetime]:
    events = [
        Event(
            type="machine.signal", source=AGENT, agent=AGENT, station="crimp-01",
            instance=instance, seq=seq, time=NOW, mono_ns=seq, boot="boot1",
            payload={"signal": "cycle", "count": 1},
        ).to_json()
        for seq in seqs
    ]  # fmt: skip
    body = encode_batch(AGENT, SentStamp(NOW, 10_000, "boot1"), events)
    return AgentPath(SITE, AREA, AGENT).events, body, RECEIVED


def _worker(url: str) -> tuple[EventLog, Ingest]:
    log = EventLog(url)
    log.register_agent(AGENT, SITE, AREA)
    log.register_device(AGENT, AGENT, "crimp-01")
    broker = BrokerSettings.from_url("mqtt://127.0.0.1:1")  # never connected: fed directly
    worker = Ingest(log, ResourceStatus(), broker, site=SITE, share_group="g", fold=False)
    return log, worker


def _seqs_by_position(url: str) -> list[int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT seq FROM events ORDER BY pos").all()
    engine.dispose()
    return [int(r[0]) for r in rows]


def test_a_batch_waits_for_the_one_it_continues(postgres_url: str) -> None:
    instance = secrets.token_hex(16)
    (log_a, a), (log_b, b) = _worker(postgres_url), _worker(postgres_url)
    try:
        b.apply_messages([_batch(instance, range(4, 7))])  # the second batch comes first
        assert _seqs_by_position(postgres_url) == [] and b.stats.committed == 0
        a.apply_messages([_batch(instance, range(1, 4))])
        time.sleep(ingest_module.DEFER_RETRY_S * 2)
        b.apply_messages([])  # B tries what it held again
        assert _seqs_by_position(postgres_url) == [1, 2, 3, 4, 5, 6]
    finally:
        log_a.close()
        log_b.close()


def test_a_batch_whose_predecessor_never_comes_is_committed_after_a_while(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "DEFER_MAX_S", 0.2)
    instance = secrets.token_hex(16)
    log, worker = _worker(postgres_url)
    try:
        worker.apply_messages([_batch(instance, range(10, 12))])
        assert _seqs_by_position(postgres_url) == []
        time.sleep(0.3)
        worker.apply_messages([])
        assert _seqs_by_position(postgres_url) == [10, 11]
    finally:
        log.close()
