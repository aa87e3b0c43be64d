"""Ingest benchmark: events/s through ingest and the status projection, on SQLite and PostgreSQL.

A 300-machine plant (100 agents, three stations each) produces a realistic mix of events —
mostly cycle counts, with run/stop signals, good and scrap counts, badge and tool reads, stop
reasons and job tickets — encoded as the agents would send them (batches of up to 1,000). The
same messages go through `Ingest.apply_messages` (the live loop's rounds: validation, identity
checks, one transaction per round, the status fold) into each store, beside the raw insert rate
of the same store: prebuilt rows, `executemany`, the same transaction size — the store's limit.

    .venv/bin/python bench/ingest.py [--quick | --smoke] [--pg-url postgresql+psycopg://...]

Without `--pg-url` (or `TAKTLINE_TEST_PG_URL`) it starts a private PostgreSQL server (Debian's
`postgresql`). Prints each figure with its ratio to the limit, then a JSON line with
`sqlite_events_per_s` and `postgres_events_per_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from cloud.ingest import Ingest  # noqa: E402
from cloud.status import ResourceStatus  # noqa: E402
from cloud.store import EventLog, sqlite_pragmas  # noqa: E402
from contract import AgentPath, Event, SentStamp, encode_batch  # noqa: E402
from taktline.clock import utc_iso  # noqa: E402
from taktline.mqtt import BrokerSettings  # noqa: E402
from taktline.private_postgres import PrivatePostgres  # noqa: E402

SITE, AREA = "plant1", "harness"
MACHINES, PER_AGENT = 300, 3
BATCH = 1000


def _tag(rng: random.Random) -> str:
    return f"{rng.randrange(0x10000000, 0x7FFFFFFF):08X}"


def _payload(rng: random.Random) -> tuple[str, dict[str, Any]]:
    roll = rng.random()
    if roll < 0.70:
        return "machine.signal", {"signal": "cycle", "count": rng.randint(1, 3)}
    if roll < 0.80:
        return "machine.signal", {"signal": "run", "on": rng.random() < 0.5}
    if roll < 0.88:
        return "machine.signal", {"signal": rng.choice(["good", "scrap"]), "count": 1}
    if roll < 0.92:
        return "badge.read", {"tag": _tag(rng)}
    if roll < 0.95:
        return "tool.read", {"tag": _tag(rng)}
    if roll < 0.98:
        return "machine.stop_reason", {"reason": rng.choice(["changeover", "breakdown", "other"])}
    return "job.ticket", {"tag": _tag(rng), "action": rng.choice(["start", "end"])}


def plant_messages(total: int, seed: int = 7) -> tuple[list[tuple[str, bytes, datetime]], int]:
    """The plant's events as `events` messages: (topic, payload, received) in arrival order."""
    rng = random.Random(seed)
    agents = [f"pi-{n:03d}" for n in range(MACHINES // PER_AGENT)]
    instance = {a: secrets.token_hex(16) for a in agents}
    seq = dict.fromkeys(agents, 0)
    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    messages: list[tuple[str, bytes, datetime]] = []
    made = 0
    while made < total:
        agent = rng.choice(agents)
        size = min(BATCH, total - made, rng.choice([1, 10, 100, BATCH, BATCH]))
        bodies = []
        for _ in range(size):
            seq[agent] += 1
            kind, payload = _payload(rng)
            at = start + timedelta(milliseconds=made)
            station = f"m{agents.index(agent) * PER_AGENT + rng.randrange(PER_AGENT):03d}"
            event = Event(
                type=kind, source=agent, agent=agent, instance=instance[agent], seq=seq[agent],
                time=utc_iso(at), mono_ns=made * 1_000_000, boot="boot1", payload=payload,
                station=station,
            )  # fmt: skip
            bodies.append(event.to_json())
            made += 1
        sent = SentStamp(utc_iso(start + timedelta(milliseconds=made)), made * 1_000_000, "boot1")
        topic = AgentPath(SITE, AREA, agent).events
        messages.append((topic, encode_batch(agent, sent, bodies), start))
    return messages, made


def _register(log: EventLog) -> None:
    # an agent may record only at the stations its registered devices serve (docs/sync-path.md)
    for n in range(MACHINES // PER_AGENT):
        agent = f"pi-{n:03d}"
        log.register_agent(agent, SITE, AREA)
        for k in range(PER_AGENT):
            station = f"m{n * PER_AGENT + k:03d}"
            log.register_device(f"{agent}-{station}", agent, station)


def through_ingest(database: str, messages: list[tuple[str, bytes, datetime]]) -> float:
    """Events/s through `Ingest.apply_messages` into `database`, status fold included."""
    with EventLog(database) as log:
        _register(log)
        status = ResourceStatus()
        ingest = Ingest(log, status, BrokerSettings.from_url("mqtt://127.0.0.1:1"), site=SITE)
        began = time.perf_counter()
        ingest.apply_messages(messages)
        elapsed = time.perf_counter() - began
        count = log.count()
    if ingest.stats.dead_lettered:
        raise RuntimeError(f"{ingest.stats.dead_lettered} events were dead-lettered")
    return count / elapsed


def raw_inserts(database: str, rows: list[tuple[Any, ...]]) -> float:
    """Rows/s of plain `executemany` inserts into the same events table, 1,000 per transaction."""
    with EventLog(database) as log:  # the same table and indexes: only the work differs
        url = log.url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        sqlite_pragmas(engine, "FULL")  # the same connection set-up as the event log's
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = (
        "INSERT INTO events (instance, seq, type, source, agent, station, device_time, "
        f"corrected_time, time_basis, received_at, body) VALUES ({', '.join([mark] * 11)})"
    )
    with engine.connect() as conn:
        began = time.perf_counter()
        for first in range(0, len(rows), BATCH):
            with conn.begin():
                conn.exec_driver_sql(sql, rows[first : first + BATCH])
        elapsed = time.perf_counter() - began
    engine.dispose()
    return len(rows) / elapsed


def raw_rows(messages: list[tuple[str, bytes, datetime]]) -> list[tuple[Any, ...]]:
    """The rows ingest would write, prebuilt (the limit's input)."""
    rows = []
    for _, payload, _ in messages:
        for event in json.loads(payload)["events"]:
            rows.append(
                (
                    event["instance"], event["seq"], event["type"], event["source"],
                    event["agent"], event.get("station"), event["time"], event["time"],
                    "monotonic", event["time"], json.dumps(event, separators=(",", ":")),
                )
            )  # fmt: skip
    return rows


@contextmanager
def postgres(url: str | None) -> Iterator[tuple[str, str]]:
    """Yields (url of a fresh database for ingest, url of one for raw inserts)."""
    if url:
        yield from _databases(url)
        return
    with PrivatePostgres() as server:
        yield from _databases(server.url)


def _databases(server: str) -> Iterator[tuple[str, str]]:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    names = [f"bench_{secrets.token_hex(4)}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    base = server.rpartition("/")[0]
    try:
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 events instead of 300,000")
    parser.add_argument(
        "--smoke", action="store_true", help="2,000 events: the short run `make test` does"
    )
    parser.add_argument("--pg-url", default=os.environ.get("TAKTLINE_TEST_PG_URL"))
    args = parser.parse_args()
    total = 2_000 if args.smoke else 50_000 if args.quick else 300_000
    messages, made = plant_messages(total)
    rows = raw_rows(messages)
    print(f"{made:,} events from a {MACHINES}-machine plant in {len(messages):,} messages")
    results: dict[str, Any] = {"events": made, "machines": MACHINES}
    with tempfile.TemporaryDirectory() as folder:
        ours = through_ingest(str(Path(folder) / "ingest.db"), messages)
        limit = raw_inserts(str(Path(folder) / "raw.db"), rows)
    print(
        f"SQLite:     ingest + status {ours:9,.0f} events/s; raw inserts {limit:9,.0f} rows/s; "
        f"ratio {ours / limit:.2f}"
    )
    results |= {"sqlite_events_per_s": round(ours), "sqlite_raw_rows_per_s": round(limit)}
    with postgres(args.pg_url) as (ingest_db, raw_db):
        ours = through_ingest(ingest_db, messages)
        limit = raw_inserts(raw_db, rows)
    print(
        f"PostgreSQL: ingest + status {ours:9,.0f} events/s; raw inserts {limit:9,.0f} rows/s; "
        f"ratio {ours / limit:.2f}"
    )
    results |= {"postgres_events_per_s": round(ours), "postgres_raw_rows_per_s": round(limit)}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
