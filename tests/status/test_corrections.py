"""The cloud's correction recorder: its own source in the log, sequence kept across restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloud.corrections import SOURCE, CorrectionRecorder, CorrectionRefused
from cloud.status import ResourceStatus
from cloud.store import EventLog
from taktline.clock import FakeClock
from tests.status.events import T0, at


def test_a_correction_is_a_new_event_and_seq_survives_a_restart(database: str) -> None:
    clock = FakeClock(T0 + timedelta(hours=2))
    status = ResourceStatus()
    status.apply(
        {
            "type": "badge.read",
            "station": "crimp-01",
            "source": "r",
            "agent": "a",
            "payload": {"tag": "04D4E5F6"},
        },
        at(0),
    )
    with EventLog(database) as log:
        recorder = CorrectionRecorder(log, status, clock=clock)
        stored = recorder.record(
            {
                "correction": "badge_out",
                "by": "supervisor-kim",
                "reason": "forgot to tap out",
                "at": at(30),
                "station": "crimp-01",
                "tag": "04D4E5F6",
            }
        )
        assert (stored["source"], stored["seq"]) == (SOURCE, 1)
        assert status.snapshot()["operators"] == {}
        assert status.snapshot()["corrections"][-1]["reason"] == "forgot to tap out"
        with pytest.raises(CorrectionRefused):
            recorder.record({"correction": "badge_out", "by": "", "reason": "x"})
        with pytest.raises(CorrectionRefused, match="colour"):
            recorder.record({"correction": "void", "by": "kim", "reason": "x", "colour": 1})
        first_instance = recorder.instance
    with EventLog(database) as log:
        again = CorrectionRecorder(log, ResourceStatus(), clock=clock)
        assert (again.instance, again.seq) == (first_instance, 1)
        second = again.record({"correction": "cycles", "by": "kim", "reason": "reader dead",
                               "station": "crimp-01", "value": 12})  # fmt: skip
        assert second["seq"] == 2
        assert log.count() == 2
        rebuilt = ResourceStatus()
        rebuilt.rebuild(log.replay())
        assert rebuilt.snapshot()["machines"]["crimp-01"]["cycles"] == 12
        assert [c["by"] for c in rebuilt.snapshot()["corrections"]] == ["supervisor-kim", "kim"]
