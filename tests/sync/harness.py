"""A cloud (event log + status + ingest) and agents (outbox + uplink) on one private broker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.outbox import Outbox
from agent.uplink import Uplink
from cloud.ingest import Ingest
from cloud.status import ResourceStatus
from cloud.store import EventLog
from contract import AgentPath
from taktline.mqtt import BrokerSettings

SITE, AREA, STATION = "plant1", "harness", "crimp-01"


def settings(url: str) -> BrokerSettings:
    return BrokerSettings.from_url(url, backoff_max_s=0.5)


def make_cloud(
    folder: Path, url: str, agents: list[str], database: str | None = None
) -> tuple[EventLog, Ingest]:
    log = EventLog(database or folder / "cloud.db")
    for agent in agents:
        log.register_agent(agent, SITE, AREA)
        # The harness's agents record at crimp-01 under their own name: the registry says so
        # (ingest refuses an agent's event at a station none of its devices is at).
        log.register_device(f"{agent}-io", agent, STATION)
    ingest = Ingest(log, ResourceStatus(), settings(url), site=SITE)
    return log, ingest


def make_agent(folder: Path, url: str, agent: str, **kwargs: float) -> tuple[Outbox, Uplink]:
    outbox = Outbox(folder / f"{agent}.outbox.db", agent=agent)
    uplink = Uplink(outbox, AgentPath(SITE, AREA, agent), settings(url), **kwargs)  # type: ignore[arg-type]
    return outbox, uplink


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
