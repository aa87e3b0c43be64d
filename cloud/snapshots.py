"""Fast restarts: projections snapshotted now and then, rebuilt from a snapshot plus the tail.

A full rebuild folds the whole log; as the log grows that gets slow. So the cloud saves the
status's state with the log position it reflects (`take`), and at start loads the newest
snapshot and folds only the events after it (`restore`). Both give the same state: the fold is
deterministic in log order, and the snapshot is taken by the ingest thread between rounds, when
the status has folded exactly the events up to the log's last position.

A snapshot is only used by the same fold code: its fingerprint is a hash of the projection's
source files and the contract version, so a changed fold (a new rule) ignores old snapshots and
rebuilds from the log — never a state the current code would not produce. The state is pickled
(the log's own database is trusted; nothing from outside is unpickled), with locks replaced by
fresh ones.

Older snapshots are kept too (`HISTORY`, thinned evenly as the log grows): `restore_at` brings a
projection to any past log position from the nearest snapshot before it (`cloud.timetravel`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from cloud.store import EventLog
from contract import CONTRACT_VERSION

__all__ = ["Projection", "Restored", "Snapshotter", "fingerprint"]

log = logging.getLogger(__name__)

_LOCKS: dict[type, Callable[[], Any]] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}


#: Older snapshots kept, spread along the log, besides the newest: time travel's stepping stones.
HISTORY: Final = 64


class Projection(Protocol):
    """What a snapshotted projection offers (`cloud.status.ResourceStatus` does)."""

    def rebuild(self, log: Any) -> int:
        """Folds (pos, event, corrected time) triples in log order; returns how many."""
        ...


def fingerprint(projection_type: type) -> str:
    """Identifies the fold code: its module's source (its package's, when split) and contract."""
    module = sys.modules[projection_type.__module__]
    origin = Path(module.__file__ or "")
    # A projection split into a package (cloud.status.model) is hashed whole.
    nested = module.__name__.count(".") >= 2
    files = sorted(origin.parent.glob("*.py")) if nested else [origin]
    digest = hashlib.sha256(f"contract v{CONTRACT_VERSION};{projection_type.__qualname__}".encode())
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        factory = _LOCKS.get(type(obj))
        if factory is not None:
            return (factory, ())
        return NotImplemented


def dumps(projection: object) -> bytes:
    """The projection's state as bytes (locks become fresh locks on load)."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(projection)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Restored:
    """How a projection was brought up to date at start."""

    from_snapshot: bool
    snapshot_pos: int
    replayed: int
    seconds: float


class Snapshotter:
    """Takes snapshots of one projection every `every_events` events, and restores from them."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        every_events: int = 100_000,
        keep: int = 3,
        history: int = HISTORY,
    ) -> None:
        self.log = event_log
        self.every_events = every_events
        self.keep = keep
        self.history = history
        self._since = 0

    def restore(self, factory: Callable[[], Any]) -> tuple[Any, Restored]:
        """The projection as of the log's end: newest usable snapshot plus the events after it."""
        projection, done = self.restore_at(factory)
        self._since = done.replayed
        if done.replayed >= self.every_events:  # a long replay: spare the next start from it
            self.take(projection)
        log.info(
            "status restored: %s, %d events replayed in %.2f s",
            f"snapshot at position {done.snapshot_pos}" if done.from_snapshot else "full rebuild",
            done.replayed,
            done.seconds,
        )
        return projection, done

    def restore_at(
        self, factory: Callable[[], Any], position: int | None = None
    ) -> tuple[Any, Restored]:
        """The projection as of log `position` (None: the end), taking nothing, saving nothing.

        The newest usable snapshot at or before `position` plus the events after it up to
        `position`: time travel (`cloud.timetravel`) costs the tail since a snapshot, not the log.
        """
        began = time.perf_counter()
        kind = type(factory())
        found = self.log.latest_snapshot(fingerprint(kind), at_or_before=position)
        projection, pos = factory(), 0
        if found is not None:
            pos, _events, body = found
            try:
                loaded = pickle.loads(body)  # our own database, our own fold code
            except Exception:  # a damaged snapshot costs a full rebuild, never a wrong state
                log.exception("snapshot at position %d unreadable; rebuilding from the log", pos)
                pos = 0
            else:
                if type(loaded) is kind:
                    projection = loaded
                else:
                    pos = 0
        replayed = projection.rebuild(self.log.replay(after=pos, until=position))
        return projection, Restored(pos > 0, pos, replayed, time.perf_counter() - began)

    def take(self, projection: object, position: int | None = None) -> int:
        """Saves a snapshot as of `position` (default: the log's last); only between rounds."""
        pos = self.log.last_position() if position is None else position
        self.log.save_snapshot(
            pos,
            fingerprint(type(projection)),
            0,
            dumps(projection),
            keep=self.keep,
            history=self.history,
        )
        self._since = 0
        return pos

    @property
    def pending(self) -> int:
        """Events folded since the last snapshot (as counted by `committed`)."""
        return self._since

    def committed(self, projection: object, count: int, position: int | None = None) -> None:
        """Counts newly folded events; takes a snapshot when `every_events` have passed.

        `position`: the log position the projection reflects when that is not the log's last
        (a planner tailing a log other processes append to); None: the log's last position.
        """
        self._since += count
        if self._since >= self.every_events:
            try:
                self.take(projection, position)
            except Exception:  # a failed snapshot costs a longer restart, never ingest
                log.exception("status snapshot failed; the next start replays more of the log")
                self._since = 0
