"""Files that hold what only the service may read: databases, plant models, key material.

Created 0600 (owner only). A file that already exists keeps its mode, narrowed to at most 0640:
an operator may give a service group read access (see docs/deployment.md), never the world, and
a rewrite (a master-data edit, an atomic replace) never widens it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["PRIVATE_MODE", "create_private", "write_private"]

#: The mode of every file Taktline creates that holds events, plans or secrets.
PRIVATE_MODE = 0o600
_WIDEST = 0o640


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & _WIDEST
    except FileNotFoundError:
        return PRIVATE_MODE


def create_private(path: str | Path) -> Path:
    """Creates `path` empty with mode 0600 unless it exists; narrows an existing file's mode.

    Call before a library (SQLite) opens the file: SQLite gives its `-wal` and `-shm` files the
    database file's mode.
    """
    target = Path(path)
    mode = _mode_for(target)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT, mode)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return target


def write_private(path: str | Path, text: str) -> None:
    """Replaces `path` with `text` atomically (a temporary beside it, fsync, rename), mode kept.

    A new file is 0600; an existing one keeps its mode narrowed to at most 0640.
    """
    target = Path(path)
    mode = _mode_for(target)
    temporary = target.with_name(f".{target.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it further; this is the mode we mean
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        if fd >= 0:
            os.close(fd)
    temporary.replace(target)
