"""Time travel: the status at a past log position or moment equals the status rebuilt up to it,
reached from the nearest snapshot before it — on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cloud import schema
from cloud.errors import EarlierThanTheLog
from cloud.snapshots import Snapshotter
from cloud.status import ResourceStatus
from cloud.store import EventLog
from cloud.timetravel import TimeTravel
from tests.store.plant_log import log_of, moment


def _state(status: ResourceStatus) -> dict[str, object]:
    state = status.snapshot()
    state.pop("applied")
    return state


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_status_at_a_position_equals_the_status_rebuilt_up_to_it(database: str) -> None:
    with EventLog(database) as log:
        log_of(log, 12_000)
        snapshots = Snapshotter(log, keep=1, history=8)
        for upto in (3_000, 6_000, 9_000, 12_000):  # snapshots along the log, as ingest takes them
            status = ResourceStatus()
            status.rebuild(log.replay(until=upto))
            snapshots.take(status, upto)
        travel = TimeTravel(log)
        picked = random.Random(5).sample(range(1, 12_000), 4)
        for position in [1, 2_999, 3_000, 4_321, 8_999, 11_500, *picked]:
            expected = ResourceStatus()
            expected.rebuild(log.replay(until=position))
            status, landed = travel.status_at(position=position)
            assert _state(status) == _state(expected), position
            assert landed.position == position
            assert landed.snapshot_pos == position // 3_000 * 3_000  # the nearest one before
            assert landed.replayed == position - landed.snapshot_pos


def test_a_moment_is_the_last_event_the_cloud_had_taken_by_then(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        log_of(log, 5_000)  # event n received at 06:00 plus n ms
        travel = TimeTravel(log)
        assert travel.position_at(_when(moment(0, 6))) == 1
        assert travel.position_at(_when(moment(4_999, 6))) == 5_000
        assert travel.position_at(_when("2026-11-23T05:59:59Z")) == 0
        assert travel.position_at(_when("2026-11-24T00:00:00Z")) == 5_000
        for n in random.Random(2).sample(range(5_000), 50):
            assert travel.position_at(_when(moment(n, 6))) == n + 1
        # half a millisecond later: still the same event, the next one not yet taken
        assert log.position_at(moment(1_234, 6)[:-2] + "5Z") == 1_235
        view = travel.view(when=_when(moment(2_000, 6)))
        assert view["moment"]["position"] == 2_001
        assert view["moment"]["received_at"] == moment(2_000, 6)
        expected = ResourceStatus()
        expected.rebuild(log.replay(until=2_001))
        assert view["machines"] == expected.snapshot(_when(moment(2_000, 6)))["machines"]
        with pytest.raises(ValueError, match="not both"):
            travel.status_at(position=1, when=_when(moment(1, 6)))


def test_before_the_oldest_kept_event_is_a_clear_error_when_older_ones_are_archived(
    tmp_path: Path,
) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        log_of(log, 3_000)
        log.archive(1_000, tmp_path / "archive")
        travel = TimeTravel(log)
        with pytest.raises(EarlierThanTheLog, match="archived"):
            travel.position_at(_when(moment(10, 6)))
        assert travel.position_at(_when(moment(1_500, 6))) == 1_501
        status, _ = travel.status_at(position=1_500)  # archived events replay from their files
        expected = ResourceStatus()
        expected.rebuild(log.replay(until=1_500))
        assert _state(status) == _state(expected)


def test_older_snapshots_thin_out_evenly_instead_of_being_cut_off(tmp_path: Path) -> None:
    with EventLog(tmp_path / "cloud.db") as log:
        for pos in range(1_000, 21_000, 1_000):  # twenty snapshots, one every thousand events
            log.save_snapshot(pos, "fold", 0, b"state", keep=2, history=4)
        with sa.create_engine(log.url).connect() as conn:
            kept = conn.execute(sa.select(schema.snapshots.c.pos).order_by("pos")).scalars().all()
    assert len(kept) == 6 and kept[-2:] == [19_000, 20_000]
    older = kept[:-2]
    assert older[0] <= 5_000, older  # history reaches back, it is not the four newest
    gaps = [b - a for a, b in zip([0, *older], [*older, 19_000], strict=True)]
    assert max(gaps) <= 2 * min(gaps) + 1_000, gaps


def test_the_history_command_prints_the_status_then(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from taktline.cli import main

    db = tmp_path / "cloud.db"
    with EventLog(db) as log:
        log_of(log, 1_000)
        expected = ResourceStatus()
        expected.rebuild(log.replay(until=400))
    code = main(["cloud", "history", "--db", str(db), "--at", "2026-11-23T07:00:00.399+01:00"])
    out, err = capsys.readouterr()
    assert code == 0, err
    shown = json.loads(out)
    assert shown["moment"]["position"] == 400 and shown["applied"] == 400
    assert shown["machines"] == expected.snapshot(_when(moment(399, 6)))["machines"]
    assert "log position 400" in err
    code = main(["cloud", "history", "--db", str(db), "--position", "10", "--section", "nope"])
    assert code == 1 and "no section 'nope'; the status has" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["cloud", "history", "--db", str(db), "--at", "yesterday"])
    assert exit_info.value.code == 2
    assert "'yesterday' is not a time with its offset" in capsys.readouterr().err
