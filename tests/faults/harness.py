"""A cloud service (ingest, status, web with /readyz) and streaming agents for the fault tests."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from agent.outbox import Outbox
from agent.uplink import Uplink
from cloud.service import CloudService, CloudSettings
from taktline.private_broker import free_port
from tests.sync.harness import AREA, SITE, make_agent

__all__ = ["Streamer", "make_service", "readyz"]


def make_service(
    folder: Path, broker: str, database: str, agents: list[str], **kw: Any
) -> CloudService:
    settings = CloudSettings(
        database=database, broker=broker, site=SITE, web_port=free_port(), **kw
    )
    cloud = CloudService(settings)
    for agent in agents:
        cloud.log.register_agent(agent, SITE, AREA)
        # The agents record at crimp-01 under their own name: the registry says so (ingest
        # refuses an agent's event at a station none of its devices is at).
        cloud.log.register_device(f"{agent}-io", agent, "crimp-01")
    cloud.ingest.reload_registry()
    return cloud


def readyz(cloud: CloudService) -> tuple[int, dict[str, Any]]:
    assert cloud.web is not None
    try:
        with urllib.request.urlopen(cloud.web.url + "readyz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Streamer:
    """One agent (real outbox and uplink) appending events on a thread; keeps every stored key."""

    def __init__(self, folder: Path, broker: str, agent: str, **kw: float) -> None:
        self.agent = agent
        self.outbox: Outbox
        self.uplink: Uplink
        self.outbox, self.uplink = make_agent(folder, broker, agent, **kw)
        self.stored: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Streamer:
        self.uplink.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            event = self.outbox.append(
                "machine.signal",
                {"signal": "cycle", "count": 1},
                source=self.agent,
                station="crimp-01",
            )
            self.stored.append(event.key)
            time.sleep(0.005)

    def stop_appending(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def close(self) -> None:
        self.stop_appending()
        self.uplink.stop()
