"""The demo's e-kanban scene: a bin on the assembly board runs low while the broker is stopped.

The assembly board (assy-01) has a smart bin of 8-pin connectors on a load cell (an emulated HX711
on GPIO2/3 of pi-assy-01) and a kanban loop (`KB-CONN-8P`, four cards, replenished from the line's
supermarket). Its agent has an edge rule: a bin below its threshold blinks the station's stack
light amber. The scene (`KanbanScene`), at its time: the board's Pi loses the broker (its link
through `demo.relay` is cut: for the agent, the broker is stopped); the operators take
connectors fast, the bin falls below its dynamic threshold, and the edge rule lights the lamp at
once, on the Pi, with no broker; the operator taps the empty container's kanban card at the
board's reader; the broker is reachable again, and the outbox hands over the bin's level, the
card and the rule's firing: the cloud raises the replenishment signals (printed), each once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from demo.readers import EmulatedPi
from hardware.hx711_chip import HX711Chip
from taktline.clock import Clock

__all__ = [
    "BIN",
    "CARDS",
    "KANBAN_AGENT",
    "KANBAN_STATION",
    "KanbanScene",
    "bin_table",
    "kanban_loops",
    "rule_tables",
]

KANBAN_AGENT: Final = "pi-assy-01"
KANBAN_STATION: Final = "assy-01"
LOOP: Final = "KB-CONN-8P"
MATERIAL: Final = "connector-8p"
BIN: Final = "assy-01-bin-conn-8p"
CARDS: Final = ("0C080001", "0C080002", "0C080003", "0C080004")
DOUT, SCK = 2, 3
PIECE_G: Final = 4.0
COUNTS_PER_G: Final = 100.0
FULL: Final = 300  # pieces in a full bin
FLOOR: Final = 60  # the threshold is never below this
TAKE_PER_S: Final = 60.0  # pieces a second while the bin runs low (a shift in seconds)


def kanban_loops() -> list[dict[str, Any]]:
    """The plant model's `kanban` section of the demo."""
    return [
        {
            "id": LOOP, "material": MATERIAL, "container_qty": 50, "lead_time_min": 30,
            "safety": 0.2, "lost_after": 3, "supermarket": "SM-LINE-1", "cards": list(CARDS),
            "bins": [BIN],
        }
    ]  # fmt: skip


def bin_table() -> dict[str, Any]:
    """The assembly board's `[[station.bin]]`: lead time and window shrunk to demo seconds."""
    return {
        "id": BIN, "material": MATERIAL, "dout": DOUT, "sck": SCK, "counts_per_g": COUNTS_PER_G,
        "piece_g": PIECE_G, "lead_time_min": 0.05, "safety": 0.2, "floor": FLOOR,
        "rate_window_min": 0.05, "read_s": 0.1,
    }  # fmt: skip


def rule_tables() -> list[dict[str, Any]]:
    """pi-assy-01's edge rules: a low bin blinks the assembly board's light amber."""
    return [
        {
            "id": "bin-low-amber",
            "when": {"event": "bin.level", "below": True},
            "do": {"stack_light": "amber", "station": KANBAN_STATION, "blink": True},
        }
    ]


class KanbanScene:
    """Plays the scene once, at `at_s` seconds of plant time after it starts.

    Args:
        pi: pi-assy-01's emulated Pi (the bin's HX711 is wired on it here).
        reader: The board's reader that reads the cards.
        clock: Plant time.
        pause_broker: Takes the broker away from the board's Pi (None: the scene plays with the
            broker reachable).
        resume_broker: Gives it back.
        say: Prints a console line.
    """

    def __init__(
        self,
        pi: EmulatedPi,
        reader: str,
        clock: Clock,
        stop: threading.Event,
        *,
        at_s: float,
        outage_s: float,
        pause_broker: Callable[[], None] | None,
        resume_broker: Callable[[], None] | None,
        say: Callable[[str], None],
    ) -> None:
        self.pi = pi
        self.reader = reader
        self.clock = clock
        self.stop = stop
        self.at_s = at_s
        self.outage_s = outage_s
        self.pause_broker = pause_broker
        self.resume_broker = resume_broker
        self.say = say
        self.broker_down = False
        self.played = threading.Event()
        self.scale = pi.hardware.add_hx711(DOUT, SCK, HX711Chip(clock, counts_per_g=COUNTS_PER_G))
        self.scale.load_g = FULL * PIECE_G
        self._thread = threading.Thread(target=self._run, name="sim-kanban", daemon=True)

    def start(self) -> None:
        """Starts the scene's thread."""
        self._thread.start()

    def _wait(self, seconds: float) -> bool:
        deadline = self.clock.monotonic_ns() + int(seconds * 1e9)
        while not self.stop.is_set():
            left = (deadline - self.clock.monotonic_ns()) / 1e9
            if left <= 0:
                return True
            self.clock.sleep(min(left, 0.05))
        return False

    def _run(self) -> None:
        if not self._wait(self.at_s):
            return
        if self.pause_broker is not None:
            self.pause_broker()
            self.broker_down = True
            self.say(
                f"the MQTT broker is GONE for {KANBAN_AGENT}: it keeps recording into its outbox"
            )
        pieces = float(FULL)
        step = 0.05
        while pieces > FLOOR * 0.8 and self._wait(step):  # the operators take connectors fast
            pieces = max(0.0, pieces - TAKE_PER_S * step)
            self.scale.load_g = pieces * PIECE_G
        self.say(f"the operator taps the empty container's kanban card {CARDS[0]}")
        self.pi.tap(self.reader, CARDS[0])
        rest = max(0.5, self.outage_s - (FULL - FLOOR * 0.8) / TAKE_PER_S)
        if self._wait(rest) and self.resume_broker is not None:
            self.resume_broker()
            self.broker_down = False
            self.say(f"the MQTT broker is back for {KANBAN_AGENT}: its outbox hands over")
        self.played.set()
