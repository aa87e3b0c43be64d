"""One event per tag presentation: a tag that stays in the field is reported once.

The driver sees a present tag at every poll (REQA, or WUPA once it is halted). The watcher
reports a UID when it differs from the one in the field, and forgets the tag only after it has
been missing for `absent_polls` consecutive polls, so one missed answer (a weak coupling, a
corrupted SAK) does not turn one presentation into two reads.
"""

from taktnode._compat import const

ABSENT_POLLS = const(3)


class TagWatcher:
    """Polls `reader.read_uid()` and calls `on_tag(uid)` once per presentation."""

    def __init__(self, reader, on_tag, absent_polls=ABSENT_POLLS):
        self.reader = reader
        self.on_tag = on_tag
        self.absent_polls = absent_polls
        self.present = None
        self._missing = 0

    def poll(self):
        """One poll of the reader."""
        uid = self.reader.read_uid()
        if uid is None:
            if self.present is not None:
                self._missing += 1
                if self._missing >= self.absent_polls:
                    self.present = None
            return
        self._missing = 0
        if uid != self.present:
            self.present = uid
            self.on_tag(uid)
