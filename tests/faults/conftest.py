"""Fixtures for the fault tests: a small file system that can be filled."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


class SmallDisk:
    """A folder on a small tmpfs, filled and emptied on demand.

    Where a tmpfs cannot be mounted (not root, a container without the right), the same
    SQLITE_FULL comes from SQLite's `PRAGMA max_page_count` on the store's own connection
    (`tmpfs` is False and `fill()` / `empty()` take the connection); the test says which.
    """

    def __init__(self, folder: Path, size_bytes: int, tmpfs: bool) -> None:
        self.folder = folder
        self.size_bytes = size_bytes
        self.tmpfs = tmpfs
        self.filler = folder / "filler"

    def fill(self, conn: Any = None) -> int:
        """Fills the file system (or caps the store at its size); returns the bytes written."""
        if not self.tmpfs:
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            conn.execute(f"PRAGMA max_page_count = {pages}")
            return 0
        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (65536, 4096, 512, 64, 1):
                block = b"\0" * size
                while True:
                    try:
                        written += os.write(fd, block)
                    except OSError:
                        break
        finally:
            os.close(fd)
        return written

    def free(self) -> int:
        return int(shutil.disk_usage(self.folder).free)

    def empty(self, conn: Any = None) -> None:
        if not self.tmpfs:
            conn.execute("PRAGMA max_page_count = 1073741823")
            return
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk() -> Iterator[SmallDisk]:
    """A 16 MiB tmpfs (or, where none can be mounted, a store capped by max_page_count)."""
    folder = Path(tempfile.mkdtemp(prefix="taktline-small-disk-", dir="/tmp"))
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        mounted = result.returncode == 0
        reason = result.stderr.strip()
    else:
        reason = "not root: cannot mount a tmpfs"
    if not mounted:
        print(f"\nno tmpfs ({reason}): the store is filled with PRAGMA max_page_count instead")
    try:
        yield SmallDisk(folder, 16 << 20, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
