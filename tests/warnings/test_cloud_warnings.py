"""The cloud brings its early warnings back from the log at start and serves them."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from cloud.service import CloudService, CloudSettings
from cloud.store import EventLog, LogRecord
from taktline.clock import FakeClock
from taktline.private_broker import PrivateMosquitto
from tests.warnings.machine_day import START, machine_day

pytestmark = pytest.mark.mqtt

INSTANCE = "ab" * 16


def test_a_restarted_cloud_shows_the_drift_alert_from_its_log(
    tmp_path: Path, mosquitto: PrivateMosquitto
) -> None:
    database = tmp_path / "cloud.db"
    records = []
    drift = machine_day("crimp-01", 1.5, 6.0, slower=lambda h: 1.0 + max(0.0, h - 2.0) * 0.06)
    for seq, (event, at) in enumerate(drift, start=1):
        body = {"v": 1, "source": "pi-crimp-01-io", "agent": "pi-crimp-01", "instance": INSTANCE,
                "seq": seq, "time": at, "mono_ns": seq, "boot": "b", **event}  # fmt: skip
        records.append(
            LogRecord(
                INSTANCE,
                seq,
                event["type"],
                body["source"],
                body["agent"],
                "crimp-01",
                at,
                at,
                "monotonic",
                at,
                json.dumps(body),
                body,
            )
        )
    with EventLog(database) as log:
        log.commit(records, [])
    settings = CloudSettings(database=database, broker=mosquitto.url, web_port=0, public_read=True)
    clock = FakeClock(START + timedelta(hours=6, minutes=1))
    with CloudService(settings, clock=clock) as cloud:
        assert cloud.web is not None
        with urllib.request.urlopen(cloud.web.url + "api/warnings", timeout=10) as answer:
            shown = json.load(answer)
    (alert,) = shown["alerts"]
    assert alert["kind"] == "cycle_drift" and alert["station"] == "crimp-01"
    assert alert["scenario"]["changes"][0]["resource"] == "crimp-01"
    (detector,) = shown["cycle_time"]
    assert detector["samples"] > 5_000 and detector["threshold_s"] > detector["baseline_s"]
