"""The cloud service wires master data, corrections and live status into its web interface."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from cloud.service import CloudService, CloudSettings
from tests.web.app import EXAMPLE
from tests.web.auth import Grants


def test_the_service_serves_master_data_and_records_corrections(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "plant.json")
    settings = CloudSettings(
        database=tmp_path / "cloud.db",
        broker="mqtt://127.0.0.1:1",  # ingest is not started here
        web_port=0,
        plant=tmp_path / "plant.json",
        public_read=True,
    )
    service = CloudService(settings)
    assert service.web is not None
    service.web.start()
    try:
        base = service.web.url
        with urllib.request.urlopen(base + "api/status", timeout=10) as response:
            machines = json.load(response)["machines"]
        assert machines["crimp-01"]["name"] == "CRIMP-1"  # the plant model, before any event
        grants = Grants(settings.database)
        body = {"correction": "cycles", "reason": "reader dead",
                "station": "crimp-01", "value": 5}  # fmt: skip
        request = urllib.request.Request(
            base + "api/corrections", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", **grants.bearer("kim", "supervisor")},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            assert json.load(response)["payload"]["by"] == "kim"  # the token's, not the body's
        assert service.status.snapshot()["machines"]["crimp-01"]["cycles"] == 5
        assert service.status.snapshot()["corrections"][0]["by"] == "kim"
        assert service.log.count() == 2  # the correction, and the audit of its request
        grants.close()
    finally:
        service.web.stop()
        service.log.close()
