"""The PLC signal state: wrap-around deltas, resets, and no count lost to a failing append."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.errors import OutboxFull
from agent.plc.signals import SignalState, counter_delta


@pytest.mark.parametrize(
    ("last", "new", "bits", "expected"),
    [
        (10, 15, 16, (5, False)),
        (65533, 2, 16, (5, False)),
        (4294967294, 3, 32, (5, False)),
        (40000, 30000, 16, (30000, True)),  # back by more than half the range: a reset
        (7, 7, 32, (0, False)),
    ],
)
def test_counter_delta(last: int, new: int, bits: int, expected: tuple[int, bool]) -> None:
    assert counter_delta(last, new, bits) == expected


class Recorder:
    """Records calls; the first `fail` appends raise like a full outbox."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail

    def _call(self, name: str, value: Any) -> None:
        if self.fail:
            self.fail -= 1
            raise OutboxFull("full")
        self.calls.append((name, value))

    def run_signal(self, on: bool) -> None:
        self._call("run", on)

    def cycles(self, count: int) -> None:
        self._call("cycle", count)

    def good(self, count: int) -> None:
        self._call("good", count)

    def scrap(self, count: int) -> None:
        self._call("scrap", count)

    def stop_reason(self, reason: str) -> None:
        self._call("stop_reason", reason)

    def alarm(self, alarm: str, detail: str) -> None:
        self._call("alarm", alarm)


def test_a_failing_append_keeps_the_fact_and_the_count(tmp_path: Path) -> None:
    state = SignalState("p", {2: "maintenance"}, tmp_path / "plc.json")
    state.update_run(True)
    state.update_counter("cycle", 100, 32)  # the baseline
    state.update_counter("cycle", 104, 32)
    recorder = Recorder(fail=1)
    with pytest.raises(OutboxFull):
        state.record(recorder, recorder)  # type: ignore[arg-type]
    state.update_counter("cycle", 105, 32)
    state.record(recorder, recorder)  # type: ignore[arg-type]
    assert recorder.calls == [("run", True), ("cycle", 5)]
    # an agent restart: the baseline and the pending counts come back from the file
    again = SignalState("p", {}, tmp_path / "plc.json")
    again.update_counter("cycle", 108, 32)
    assert again.pending == {"cycle": 3}
