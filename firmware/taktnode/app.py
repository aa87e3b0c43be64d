"""The node: reader, inputs, link, stack light and watchdog, composed from a board object.

`Node(board)` takes every hardware object from `board` (`taktnode.hw.Board` on the Pico,
`tests/doubles.FakeBoard` in tests), draws a new random instance id at every boot and sends a
HELLO before anything else. `step()` is one turn of the main loop; the watchdog is fed there,
so a hung driver or link resets the board (the reads it held unacknowledged are the loss window
in `docs/serial-link.md`).
"""

from taktnode import VERSION, config
from taktnode.clock import Uptime
from taktnode.inputs import CycleCounter, RunInput
from taktnode.link import KIND_BADGE, KIND_CYCLE, KIND_RUN, KIND_TOOL, OP_STACK_LIGHT, NodeLink
from taktnode.mfrc522 import MFRC522
from taktnode.reader import TagWatcher


class Node:
    """One reader node on `board`, configured by `cfg` (the `taktnode.config` module)."""

    def __init__(self, board, cfg=config):
        self.board = board
        self.cfg = cfg
        self.uptime = Uptime(board.ticks_ms, board.ticks_diff)
        self.instance = board.urandom(16)
        node_id = cfg.NODE_ID or board.node_id()
        self.link = NodeLink(
            board.serial(),
            self.uptime,
            self.instance,
            node_id,
            VERSION,
            on_command=self._on_command,
            reset_cause=board.reset_cause(),
        )
        self.link.send_hello(self.uptime.ms())
        self.reader = MFRC522(board.spi(), board.pin_out(cfg.PIN_CS))
        self.chip_version = self.reader.init()
        self._tag_kind = KIND_TOOL if cfg.READER == "tool" else KIND_BADGE
        self.watcher = TagWatcher(self.reader, self._on_tag)
        self.run = RunInput(board.pin_in(cfg.PIN_RUN), board.ticks_ms, board.ticks_diff, self._on_run)
        self.cycles = CycleCounter(
            board.pin_in(cfg.PIN_CYCLE), board.ticks_ms, board.ticks_diff, self._on_cycles
        )
        self.lights = [board.pin_out(p) for p in cfg.PIN_LIGHTS]
        self._cycle_buf = bytearray(4)
        self._run_buf = bytearray(1)
        self._last_read = -cfg.READ_PERIOD_MS
        self.wdt = board.watchdog(cfg.WATCHDOG_MS)

    def _on_tag(self, uid):
        self.link.send_event(self._tag_kind, uid, self.uptime.ms())

    def _on_run(self, on, edge_ticks):
        self._run_buf[0] = 1 if on else 0
        self.link.send_event(KIND_RUN, self._run_buf, self.uptime.at_ticks(edge_ticks))

    def _on_cycles(self, count, edge_ticks):
        b = self._cycle_buf
        b[0] = (count >> 24) & 0xFF
        b[1] = (count >> 16) & 0xFF
        b[2] = (count >> 8) & 0xFF
        b[3] = count & 0xFF
        self.link.send_event(KIND_CYCLE, b, self.uptime.at_ticks(edge_ticks))

    def _on_command(self, op, arg):
        if op == OP_STACK_LIGHT:
            for i in range(len(self.lights)):
                self.lights[i].value((arg >> i) & 1)

    def step(self):
        """One turn of the main loop."""
        self.wdt.feed()
        self.link.poll()
        now = self.uptime.ms()
        if now - self._last_read >= self.cfg.READ_PERIOD_MS:
            self._last_read = now
            self.watcher.poll()
        self.run.poll()
        self.cycles.poll()

    def run_forever(self):
        """The main loop (never returns; the watchdog resets the board if it stalls)."""
        sleep_ms = self.board.sleep_ms
        while True:
            self.step()
            sleep_ms(self.cfg.LOOP_SLEEP_MS)


def main():
    """Boots the node on the real board."""
    from taktnode import hw

    try:
        import nodeconf  # optional per-node overrides copied next to main.py

        for name in dir(nodeconf):
            if name.isupper():
                setattr(config, name, getattr(nodeconf, name))
    except ImportError:
        pass
    board = hw.Board(config)
    if board.maintenance():
        print("taktnode: maintenance jumper fitted, not starting")
        return
    Node(board, config).run_forever()
