"""A bounded buffer of event frames the agent has not acknowledged yet.

Slots are allocated once (`size` frames of `frame.MAX_FRAME` bytes). A frame leaves only when the
agent acknowledges its sequence number; until then it is sent again every `rto_ms`. When every
slot is taken, `reserve()` returns -1 and the caller counts the read as an overflow (reported in
every HELLO): nothing is dropped silently. Acknowledgements may come in any order, so this is a
fixed table searched by sequence number rather than a FIFO; at 64 slots a linear scan is cheaper
than keeping an index.
"""

from taktnode._compat import const
from taktnode.frame import MAX_FRAME

RING_SIZE = const(64)
NEVER = const(-1)


class Ring:
    """Fixed slots of unacknowledged frames, each with its sequence number and last send time."""

    def __init__(self, size=RING_SIZE):
        self.size = size
        self.frames = [bytearray(MAX_FRAME) for _ in range(size)]
        self.lengths = [0] * size
        self.seqs = [0] * size  # 0: free
        self.sent_ms = [NEVER] * size
        self.depth = 0

    def reserve(self):
        """Index of a free slot, or -1 when all are taken."""
        if self.depth >= self.size:
            return -1
        seqs = self.seqs
        for i in range(self.size):
            if seqs[i] == 0:
                return i
        return -1

    def commit(self, slot, seq, length):
        """Marks a reserved slot, filled with `length` bytes, as holding frame `seq`."""
        self.seqs[slot] = seq
        self.lengths[slot] = length
        self.sent_ms[slot] = NEVER
        self.depth += 1

    def ack(self, seq):
        """Frees the slot holding `seq`; returns whether it was there."""
        seqs = self.seqs
        for i in range(self.size):
            if seqs[i] == seq:
                seqs[i] = 0
                self.depth -= 1
                return True
        return False

    def oldest_due(self, now_ms, rto_ms):
        """Slot of the lowest sequence number never sent or last sent `rto_ms` ago, or -1."""
        best = -1
        best_seq = 0
        seqs = self.seqs
        sent = self.sent_ms
        for i in range(self.size):
            seq = seqs[i]
            if seq and (sent[i] == NEVER or now_ms - sent[i] >= rto_ms):
                if best < 0 or seq < best_seq:
                    best = i
                    best_seq = seq
        return best

    def mark_all_due(self):
        """Makes every held frame due at once (the agent asked for a resync)."""
        for i in range(self.size):
            self.sent_ms[i] = NEVER

    def held(self):
        """Sequence numbers currently held, in slot order (for tests and the emulated node)."""
        return [s for s in self.seqs if s]

    def clear(self):
        """Forgets every frame (what a reset does to RAM)."""
        for i in range(self.size):
            self.seqs[i] = 0
        self.depth = 0
