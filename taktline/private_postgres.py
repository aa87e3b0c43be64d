"""A private PostgreSQL server for tests and benchmarks: own data folder, free loopback port.

`initdb` makes a throw-away cluster with trust authentication for one user (`taktline`), and
`pg_ctl` runs it on 127.0.0.1 with its socket in the same folder, never touching the system's
server. Run as root, both run as the `postgres` user (PostgreSQL refuses to run as root), so the
folder lives outside pytest's 0700 temp tree and is handed to that user (see FIELD-NOTES).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from taktline.private_broker import free_port

__all__ = ["PostgresUnavailable", "PrivatePostgres", "postgres_bin_dir"]

USER = "taktline"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed, or the server would not start."""


def postgres_bin_dir() -> Path | None:
    """The folder with `initdb` and `pg_ctl` (Debian keeps them off PATH), newest version first."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PrivatePostgres:
    """One private PostgreSQL server; a context manager that starts and removes it."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise PostgresUnavailable(
                "PostgreSQL is not installed: install Debian's `postgresql` package "
                "(`make test` does that itself when run as root)"
            )
        self.bin_dir = bin_dir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="taktline-pg-", dir="/var/tmp"))
        self.data = self.folder / "data"
        self.logfile = self.folder / "log"
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root, but there is no `postgres` user"
                ) from exc
            os.chown(self.folder, self._owner.pw_uid, self._owner.pw_gid)
        self._running = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server's `postgres` database (psycopg 3 driver)."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._owner is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=timeout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise PostgresUnavailable(
                f"{args[0]} failed: {exc}\n{detail.decode(errors='replace')}{self._tail()}"
            ) from exc

    def _tail(self) -> str:
        try:
            return "\n" + self.logfile.read_text()[-2000:]
        except OSError:
            return ""

    def start(self) -> PrivatePostgres:
        """Creates the cluster (first time) and starts the server; returns when it accepts."""
        if self._running:
            return self
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.logfile), "-w",
                  "start")  # fmt: skip
        self._running = True
        return self

    def stop(self) -> None:
        """Stops the server (fast shutdown)."""
        if self._running:
            self._running = False
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        """Stops the server and removes its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
