"""Debounced inputs, pulse counters and the stack light on gpiozero's MockFactory pins."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from agent.errors import PinUnavailable
from agent.inputs import DebouncedInput, PulseCounter, StackLight
from taktline.clock import FakeClock


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    made = MockFactory()
    yield made
    made.close()


def drive(pin: Any, clock: FakeClock, levels: list[int], each: float) -> None:
    for level in levels:
        (pin.drive_high if level else pin.drive_low)()
        clock.advance(each)


def test_bounces_under_the_debounce_time_give_one_clean_transition(factory: MockFactory) -> None:
    clock = FakeClock()
    with DebouncedInput(factory, 17, clock=clock, debounce_s=0.02) as run:
        assert not run.is_active  # pulled up: idle
        pin = factory.pin(17)
        drive(pin, clock, [0, 1, 0, 1, 0, 1, 0], 0.004)
        assert run.update() == []  # the last low has lasted 4 ms only
        clock.advance(0.02)
        assert run.update() == [True] and run.is_active
        drive(pin, clock, [1, 0, 1, 0, 1], 0.005)
        clock.advance(0.5)
        assert run.update() == [False] and run.bounces >= 4
        assert run.update() == []


def test_a_glitch_back_to_the_old_level_is_no_transition(factory: MockFactory) -> None:
    clock = FakeClock()
    seen: list[bool] = []
    with DebouncedInput(factory, 17, clock=clock, debounce_s=0.02) as run:
        run.when_changed = seen.append
        pin = factory.pin(17)
        drive(pin, clock, [0, 1], 0.005)  # 5 ms low, then high again
        clock.advance(1)
        assert run.update() == [] and seen == [] and not run.is_active


def test_a_late_update_still_sees_every_real_pulse(factory: MockFactory) -> None:
    clock = FakeClock()
    with PulseCounter(factory, 27, clock=clock, debounce_s=0.01) as cycles:
        pin = factory.pin(27)
        for _ in range(7):  # seven 30 ms pulses with bounces, all before one update
            drive(pin, clock, [0, 1, 0], 0.001)
            clock.advance(0.03)
            drive(pin, clock, [1], 0.03)
        assert cycles.take() == 7 and cycles.take() == 0 and cycles.total == 7


def test_stack_light_one_colour_steady_or_blinking(factory: MockFactory) -> None:
    with StackLight(factory, green=16, amber=20, red=21, blink_s=0.01) as light:
        pins = [light.pin_of(c) for c in ("green", "amber", "red")]
        light.set("amber")
        assert [p.state for p in pins] == [False, True, False]
        light.set("red", blink=True)
        deadline = time.monotonic() + 5  # gpiozero's blink thread: give a loaded CI time
        while sum(1 for s in pins[2].states if s.state) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(1 for s in pins[2].states if s.state) >= 3
        assert not pins[0].state and not pins[1].state and light.blinking
        light.set("off")
        assert [p.state for p in pins] == [False, False, False] and light.colour == "off"
        with pytest.raises(ValueError, match="purple"):
            light.set("purple")
        light.set("green")
    assert not pins[0].state  # closing switched it off
    light.set("red")  # after close: nothing to drive, no error
    assert light.colour == "off"


def test_a_pin_in_use_is_a_clear_error(factory: MockFactory) -> None:
    clock = FakeClock()
    with DebouncedInput(factory, 17, clock=clock), pytest.raises(PinUnavailable, match="GPIO17"):
        DebouncedInput(factory, 17, clock=clock, name="run")
    with pytest.raises(PinUnavailable, match="stack light red: GPIO16"):
        StackLight(factory, green=16, amber=20, red=16)
    StackLight(factory, green=16, amber=20, red=21).close()  # the failed one released its pins
