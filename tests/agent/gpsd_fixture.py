"""A real gpsd fed by `gpsfake`, replaying one of the NMEA logs in `hardware/nmea/` once.

`gpsfake -1 -W N` ends by itself N seconds after the log's end (its exit code 1 "Test timed out"
is normal); SIGTERM or `timeout` would leave it spinning at 100 % CPU, so it is never sent one:
we wait for it, and SIGKILL its process group only if it overstays. gpsd leaves System V
shared-memory segments behind (`0x4770<port>` and NTP0-7): removed afterwards. Under CI=true a
missing gpsd or gpsfake fails the test (`service_missing`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hardware.nmea.make_logs import NMEA_DIR
from taktline.private_broker import free_port
from tests.conftest import service_missing

_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin"
INSTALL = "install Debian's gpsd and gpsd-clients (scripts/test-services.sh does it as root)"


class GpsFake:
    """One gpsfake run: a private gpsd on `port` replaying `log` once.

    Args:
        log: The NMEA file.
        folder: gpsfake's TMPDIR (its pty and control socket) and its output file.
        port: gpsd's port; a free one when omitted.
        cycle_s: Delay between sentences (4 sentences per epoch: 0.04 gives 0.16 s per epoch).
        linger_s: gpsfake's `-W`: how long it stays after the log's end.
    """

    def __init__(
        self,
        log: Path,
        folder: Path,
        *,
        port: int | None = None,
        cycle_s: float = 0.04,
        linger_s: int = 2,
    ) -> None:
        self.log = log
        self.folder = folder
        self.port = port or free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.output = folder / f"gpsfake-{self.port}.out"
        command = ["gpsfake", "-P", str(self.port), "-1", "-q"]
        command += ["-c", str(cycle_s), "-W", str(linger_s), str(log)]
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TMPDIR": str(folder), "PATH": _PATH},
                start_new_session=True,
            )
        self.started = time.monotonic()

    @property
    def address(self) -> tuple[str, int]:
        """gpsd's host and port."""
        return ("127.0.0.1", self.port)

    def wait_ready(self, timeout: float = 15.0) -> float:
        """Waits until gpsd lists the replayed device; returns the seconds since launch."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gpsfake ended early: {self.output.read_text()[-500:]}")
            try:
                with socket.create_connection(self.address, timeout=1) as sock:
                    stream = sock.makefile("rw")
                    stream.readline()  # VERSION
                    stream.write("?DEVICES;\n")
                    stream.flush()
                    if json.loads(stream.readline()).get("devices"):
                        return time.monotonic() - self.started
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"gpsd on port {self.port} listed no device within {timeout} s")

    def wait_end(self, timeout: float = 60.0) -> int:
        """Waits for gpsfake to end by itself (`-1 -W`); SIGKILLs it if it overstays."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"gpsfake did not end within {timeout} s") from None

    def kill(self) -> None:
        """SIGKILLs gpsfake and its gpsd (never SIGTERM: gpsfake would spin)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def close(self) -> None:
        """Ends the run (waiting first, as it ends itself) and removes gpsd's shm segments."""
        try:
            self.wait_end(60)
        except AssertionError:
            pass
        finally:
            self.kill()
            remove_shm(self.port)


def remove_shm(port: int) -> None:
    """Removes gpsd's segment for `port` and unattached NTP0-7 segments (`ipcs`/`ipcrm`)."""
    if shutil.which("ipcs") is None:
        return
    listing = subprocess.run(["ipcs", "-m"], capture_output=True, text=True, check=False).stdout
    ours = {f"0x{0x47700000 + port:08x}"} | {f"0x{0x4E545030 + n:08x}" for n in range(8)}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[0] in ours:
            if fields[0].startswith("0x4e5450") and fields[5] != "0":
                continue  # an NTP segment another gpsd still uses
            subprocess.run(["ipcrm", "-m", fields[1]], capture_output=True, check=False)


def have_gpsfake() -> bool:
    """Whether gpsfake and gpsd are installed."""
    return shutil.which("gpsfake", path=_PATH) is not None and (
        shutil.which("gpsd", path=_PATH) is not None
    )


@pytest.fixture
def gpsfake() -> Iterator[Callable[..., GpsFake]]:
    """Starts gpsfake runs: `gpsfake("fix-loss.nmea", port=None, cycle_s=0.04)`."""
    if not have_gpsfake():
        service_missing(f"gpsd/gpsfake not found: {INSTALL}")
    # A short folder outside pytest's 0700 tree: gpsd's control socket path must stay short.
    folder = Path(tempfile.mkdtemp(prefix="gpsfake-"))
    runs: list[GpsFake] = []

    def start(name: str, **options: float | int | None) -> GpsFake:
        run = GpsFake(NMEA_DIR / name, folder, **options)  # type: ignore[arg-type]
        runs.append(run)
        return run

    try:
        yield start
    finally:
        for run in runs:
            run.close()
        shutil.rmtree(folder, ignore_errors=True)
