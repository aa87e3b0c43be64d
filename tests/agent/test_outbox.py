"""The outbox: durable appends, keys never reused, a bounded size with alarms, pruning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import OutboxFull
from agent.outbox import ALARM_RESERVE, Outbox
from contract import InvalidTagId, UnknownEventType
from taktline.clock import FakeClock

A = "pi-crimp-01"


def _cycle(outbox: Outbox) -> None:
    outbox.append("machine.signal", {"signal": "cycle", "count": 1}, source=A)


def test_sequence_survives_reopening(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", agent=A) as outbox:
        instance = outbox.instance
        for _ in range(3):
            _cycle(outbox)
        outbox.settle([(instance, 1, 3)])
    with Outbox(tmp_path / "o.db", agent=A) as outbox:
        assert outbox.instance == instance
        event = outbox.append("badge.read", {"tag": "04A1B2C3"}, source=A, station="s1")
        assert event.seq == 4


def test_a_new_file_is_a_new_instance(tmp_path: Path) -> None:
    with Outbox(tmp_path / "a.db", agent=A) as first, Outbox(tmp_path / "b.db", agent=A) as second:
        assert first.instance != second.instance


def test_invalid_events_fail_at_the_station(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", agent=A) as outbox:
        with pytest.raises(InvalidTagId):
            outbox.append("badge.read", {"tag": "88A1B2C3"}, source=A)
        with pytest.raises(UnknownEventType):
            outbox.append("coffee.ready", {}, source=A)
        assert outbox.depth() == 0 and outbox.next_seq == 1


def test_full_outbox_rejects_with_one_alarm_then_resumes(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", agent=A, max_events=10) as outbox:
        for _ in range(10):
            _cycle(outbox)
        for _ in range(3):
            with pytest.raises(OutboxFull, match="limit 10"):
                _cycle(outbox)
        pending = [json.loads(body) for _, body in outbox.pending(0, 100)]
        alarms = [e["payload"]["alarm"] for e in pending if e["type"] == "agent.alarm"]
        assert alarms == ["outbox_full"]  # one alarm, not one per rejected event
        assert outbox.depth() == 11
        outbox.settle([(outbox.instance, 1, 5)])
        _cycle(outbox)
        pending = [json.loads(body) for _, body in outbox.pending(0, 100)]
        alarms = [e["payload"]["alarm"] for e in pending if e["type"] == "agent.alarm"]
        assert alarms == ["outbox_full", "outbox_accepting"]


def test_alarm_reserve_is_bounded_too(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", agent=A, max_events=1) as outbox:
        _cycle(outbox)
        for _ in range(ALARM_RESERVE + 5):
            try:
                outbox.append("agent.alarm", {"alarm": "publish_refused", "detail": "x"}, source=A)
            except OutboxFull:
                break
        else:
            pytest.fail("alarms were accepted beyond the reserve")
        assert outbox.depth() <= 1 + ALARM_RESERVE


def test_depth_age_and_pruning(tmp_path: Path) -> None:
    clock = FakeClock()
    with Outbox(tmp_path / "o.db", agent=A, clock=clock) as outbox:
        assert outbox.oldest_age_s() is None
        _cycle(outbox)
        clock.advance(42)
        _cycle(outbox)
        assert outbox.depth() == 2
        assert outbox.oldest_age_s() == pytest.approx(42)
        assert outbox.settle([(outbox.instance, 1, 1), ("f" * 32, 1, 9)]) == 1
        assert outbox.depth() == 1 and outbox.oldest_age_s() == pytest.approx(0)


def test_append_event_is_idempotent(tmp_path: Path) -> None:
    with Outbox(tmp_path / "a.db", agent=A) as source, Outbox(tmp_path / "b.db", agent=A) as sink:
        event = source.append("tool.read", {"tag": "04A1B2C3D4E5F6"}, source=A, station="s1")
        assert sink.append_event(event) is True
        assert sink.append_event(event) is False
        assert sink.depth() == 1


def test_dead_letters_keep_the_reason(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", agent=A) as outbox:
        _cycle(outbox)
        ((row_id, _),) = outbox.pending()
        assert outbox.dead_letter([row_id], "broker refused the publish: Not authorized") == 1
        assert outbox.depth() == 0 and outbox.dead_letter_count == 1
        (letter,) = outbox.dead_letters()
        assert letter["reason"].startswith("broker refused")
