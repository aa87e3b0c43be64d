"""The HX711 driver bit-bangs the real protocol on gpiozero mock pins against the emulated chip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from agent.hx711 import HX711
from hardware.hx711_chip import HX711Chip
from taktline.clock import FakeClock

DOUT, SCK = 5, 6


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wired(clock: FakeClock) -> Iterator[tuple[HX711Chip, HX711]]:
    factory = MockFactory()
    chip = HX711Chip(clock, rate_hz=80, offset=-8000, counts_per_g=420.0)
    chip.attach(factory, dout=DOUT, sck=SCK)
    with HX711(factory, dout=DOUT, sck=SCK, clock=clock) as driver:
        yield chip, driver
    factory.close()


def test_no_sample_before_the_chip_settles_then_one_per_conversion(
    wired: tuple[HX711Chip, HX711], clock: FakeClock
) -> None:
    chip, driver = wired
    assert driver.read() is None and not driver.is_ready  # DOUT high: settling after power-up
    clock.advance(4 / 80)
    chip.load_g = 1500.0
    assert driver.read() == -8000 + 1500 * 420
    assert driver.read() is None  # the 25th pulse put DOUT high until the next conversion
    clock.advance(1 / 80)
    assert driver.read() == -8000 + 1500 * 420
    assert chip.samples == 2


@pytest.mark.parametrize("counts", [0, 1, -1, 2**23 - 1, -(2**23), 123_456, -654_321])
def test_twos_complement_round_trips(
    wired: tuple[HX711Chip, HX711], clock: FakeClock, counts: int
) -> None:
    chip, driver = wired
    clock.advance(1)
    chip.counts = counts
    assert driver.read() == counts


def test_out_of_range_inputs_saturate_like_the_chip(
    wired: tuple[HX711Chip, HX711], clock: FakeClock
) -> None:
    chip, driver = wired
    clock.advance(1)
    chip.counts = 2**30
    assert driver.read() == 2**23 - 1


def test_gain_pulses_choose_the_next_conversion(clock: FakeClock) -> None:
    factory = MockFactory()
    chip = HX711Chip(clock)
    chip.attach(factory, dout=DOUT, sck=SCK)
    chip.counts, chip.channel_b_counts = 1000, 77
    with HX711(factory, dout=DOUT, sck=SCK, gain=32, clock=clock) as driver:
        clock.advance(1)
        assert driver.read() == 1000  # the first sample is channel A, gain 128 (power-up)
        assert (chip.channel, chip.gain) == ("B", 32)
        clock.advance(1)
        assert driver.read() == 77
    with HX711(factory, dout=DOUT, sck=SCK, gain=64, clock=clock) as driver:
        clock.advance(1)
        driver.read()
        assert (chip.channel, chip.gain) == ("A", 64)
        clock.advance(1)
        assert driver.read() == 500
    factory.close()


def test_clock_held_high_powers_down_and_the_chip_resettles(
    wired: tuple[HX711Chip, HX711], clock: FakeClock
) -> None:
    chip, driver = wired
    clock.advance(1)
    driver.power_down()
    clock.advance(0.001)  # > 60 us
    assert not driver.is_ready
    assert driver.read() is None  # DOUT high while powered down
    driver._sck.state = False  # wake up: reset, then four conversions to settle
    assert chip.power_downs == 1 and driver.read() is None
    clock.advance(4 / 80)
    chip.load_g = 10
    assert driver.read() == -8000 + 4200


def test_a_read_with_a_pulse_long_enough_to_power_down_is_discarded(clock: FakeClock) -> None:
    class SlowPin:
        """PD_SCK whose every write takes 70 us of the clock (a busy CPU)."""

        def __init__(self, pin: object) -> None:
            self.pin = pin

        @property
        def state(self) -> bool:
            return bool(self.pin.state)  # type: ignore[attr-defined]

        @state.setter
        def state(self, value: bool) -> None:
            clock.advance(70e-6)
            self.pin.state = value  # type: ignore[attr-defined]

    factory = MockFactory()
    chip = HX711Chip(clock)
    chip.attach(factory, dout=DOUT, sck=SCK)
    with HX711(factory, dout=DOUT, sck=SCK, clock=clock) as driver:
        clock.advance(1)
        chip.counts = 1000
        driver._sck = SlowPin(driver._sck)
        assert driver.read() is None and driver.discarded == 1  # 70 us high: the chip slept
        assert chip.power_downs >= 1
    factory.close()


def test_a_read_interrupted_by_a_power_down_does_not_shift_stale_bits(
    wired: tuple[HX711Chip, HX711], clock: FakeClock
) -> None:
    chip, driver = wired
    clock.advance(1)
    sck = driver._sck
    for _ in range(5):  # five bits of a sample ...
        sck.state = True
        sck.state = False
    sck.state = True
    clock.advance(0.001)  # ... then a thread switch holds PD_SCK high: the chip powers down
    sck.state = False
    assert chip.power_downs == 1 and not driver.is_ready
    clock.advance(4 / 80)
    chip.counts = 4242
    assert driver.read() == 4242  # a fresh sample after settling, from its first bit
