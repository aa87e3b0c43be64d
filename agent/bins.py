"""Smart bins: a load cell under a line-side bin tells when to replenish it.

Each bin (`[[station.bin]]`) has an HX711 (`agent.hx711`) on two GPIO pins. Its readings become
pieces through the calibration (`offset`: counts of the empty bin, `counts_per_g`, `piece_g`),
taking the median of the last three readings so one bad read (a power-down in the middle of a
read) moves nothing. The threshold is dynamic: the consumption rate, measured over the last
`rate_window_min` minutes from the drops in the level (a refill is not consumption), times the
replenishment lead time, times (1 + `safety`), and never less than `floor` pieces. Crossing it
downwards is a `bin.level` event with `below` true (the cloud raises a replenishment signal, an
edge rule may light a lamp); the bin counts as refilled once it is back above the threshold by a
tenth (at least one piece), which is another `bin.level` with `below` false. The first reading
is reported too, so the cloud knows the bin and its state.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from agent.config import check_keys, identifier, integer, positive
from agent.errors import ConfigError
from agent.hx711 import HX711
from taktline.clock import Clock

__all__ = ["BinConfig", "SmartBin", "parse_bin"]

_KEYS: Final = frozenset({
    "id", "material", "dout", "sck", "gain", "offset", "counts_per_g", "piece_g",
    "lead_time_min", "safety", "floor", "rate_window_min", "read_s",
})  # fmt: skip
_MEDIAN_OF: Final = 3
_HYSTERESIS: Final = 0.1


@dataclass(frozen=True, slots=True)
class BinConfig:
    """One smart bin: its HX711 pins, calibration and replenishment figures."""

    id: str
    dout: int
    sck: int
    counts_per_g: float
    piece_g: float
    lead_time_min: float
    material: str = ""
    gain: int = 128
    offset: int = 0
    safety: float = 0.2
    floor: float = 1.0
    rate_window_min: float = 10.0
    read_s: float = 0.5


def parse_bin(data: Any, where: str) -> BinConfig:
    """Checks one `[[station.bin]]` table."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table ([[station.bin]])")
    check_keys(data, _KEYS, where)
    gain = integer(data, "gain", 128, where, 32, 128)
    if gain not in (32, 64, 128):
        raise ConfigError(f"{where}: gain must be 128, 64 or 32, got {gain}")
    safety = data.get("safety", 0.2)
    if isinstance(safety, bool) or not isinstance(safety, int | float) or not 0 <= safety <= 10:
        raise ConfigError(f"{where}: safety must be a number from 0 to 10, got {safety!r}")
    floor = data.get("floor", 1.0)
    if isinstance(floor, bool) or not isinstance(floor, int | float) or floor < 0:
        raise ConfigError(f"{where}: floor must be a number of pieces >= 0, got {floor!r}")
    material = data.get("material", "")
    if material:
        identifier(data, "material", where)
    return BinConfig(
        id=identifier(data, "id", where),
        material=material,
        dout=integer(data, "dout", None, where, 2, 27),
        sck=integer(data, "sck", None, where, 2, 27),
        gain=gain,
        offset=integer(data, "offset", 0, where, -(1 << 23), (1 << 23) - 1),
        counts_per_g=positive(data, "counts_per_g", 1.0, where),
        piece_g=positive(data, "piece_g", 1.0, where),
        lead_time_min=positive(data, "lead_time_min", 60.0, where),
        safety=float(safety),
        floor=float(floor),
        rate_window_min=positive(data, "rate_window_min", 10.0, where),
        read_s=positive(data, "read_s", 0.5, where),
    )


class SmartBin:
    """A bin's level, consumption rate and threshold, from its HX711.

    Args:
        config: The bin's table.
        hx711: Its opened driver (the bin closes it).
        clock: Time of the readings (monotonic).
    """

    def __init__(self, config: BinConfig, hx711: HX711, clock: Clock) -> None:
        self.config = config
        self.id = config.id
        self.hx711 = hx711
        self.clock = clock
        self.quantity: float | None = None
        self.threshold = config.floor
        self.rate_per_s = 0.0
        self.below: bool | None = None
        self._raw: deque[int] = deque(maxlen=_MEDIAN_OF)
        self._consumed = 0.0
        self._history: deque[tuple[int, float]] = deque()
        self._next_ns = 0
        self._pending: dict[str, Any] | None = None

    def poll(self) -> dict[str, Any] | None:
        """Reads when due; returns the `bin.level` payload of a crossing not yet `recorded()`."""
        if self._pending is not None:
            return self._pending  # its append failed (a full disk): offered again
        now = self.clock.monotonic_ns()
        if now < self._next_ns:
            return None
        raw = self.hx711.read()
        if raw is None:
            return None  # no sample ready yet: try at the next poll
        self._next_ns = now + int(self.config.read_s * 1e9)
        self._raw.append(raw)
        self._pending = self.update(statistics.median_low(self._raw), now)
        return self._pending

    def recorded(self) -> None:
        """The crossing `poll()` returned is stored in an event."""
        self._pending = None

    def update(self, raw: int, now_ns: int) -> dict[str, Any] | None:
        """Takes one (filtered) reading in counts at `now_ns`; a crossing gives a payload."""
        config = self.config
        grams = (raw - config.offset) / config.counts_per_g
        quantity = max(0.0, grams / config.piece_g)
        if self.quantity is not None and quantity < self.quantity:
            self._consumed += self.quantity - quantity
        self.quantity = quantity
        self._history.append((now_ns, self._consumed))
        window_ns = int(config.rate_window_min * 60e9)
        while len(self._history) > 2 and now_ns - self._history[1][0] >= window_ns:
            self._history.popleft()
        first_ns, first_consumed = self._history[0]
        if now_ns > first_ns:
            self.rate_per_s = (self._consumed - first_consumed) / ((now_ns - first_ns) / 1e9)
        lead_s = config.lead_time_min * 60
        self.threshold = max(config.floor, self.rate_per_s * lead_s * (1 + config.safety))
        if self.below is None:
            below = quantity < self.threshold
        elif self.below:
            below = quantity < self.threshold * (1 + _HYSTERESIS) + 1
        else:
            below = quantity < self.threshold
        if below == self.below:
            return None
        self.below = below
        return {
            "bin": self.id,
            "quantity": round(quantity, 3),
            "threshold": round(self.threshold, 3),
            "below": below,
            "rate_per_h": round(self.rate_per_s * 3600, 3),
        }

    def close(self) -> None:
        """Releases the HX711's pins."""
        self.hx711.close()

    def __enter__(self) -> SmartBin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
