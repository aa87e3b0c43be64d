"""A private Mosquitto broker for tests and benchmarks: own config, free loopback port, persistence.

The broker runs from a temporary folder with its own config (never the system's), listens on
127.0.0.1 only, keeps its persistence file there, and can be stopped, SIGKILLed and restarted on
the same port, which is what the fault-injection tests need. Run as root, Mosquitto drops to the
`mosquitto` user, so the folder is handed to that user first (see ../shared/FIELD-NOTES.md).

For the identity tests it can also be the production broker of docs/deployment.md in small: a
TLS listener that requires a client certificate and takes its CN as username and client id, a
CRL (`crl=`, read again by `reload()`, which sends SIGHUP), Mosquitto's dynamic-security plugin
(`dynsec=`, the initial JSON copied into the folder, where the plugin writes it back), a
plain listener beside the TLS one under the same rules (`plain=True`), and a service listener
that keeps client ids, for the cloud's several sessions (`service=True`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "DYNSEC_PLUGIN",
    "BrokerUnavailable",
    "PrivateMosquitto",
    "free_port",
    "mosquitto_binary",
]

#: Where Debian's `mosquitto` package puts the dynamic-security plugin (`dpkg -L mosquitto`).
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


class BrokerUnavailable(RuntimeError):
    """Mosquitto is not installed or would not start."""


def mosquitto_binary() -> str | None:
    """Path of the `mosquitto` executable, looking in /usr/sbin too (not on every PATH)."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PrivateMosquitto:
    """One private Mosquitto process; a context manager that starts and removes it."""

    def __init__(
        self,
        *,
        persistence: bool = True,
        max_packet_bytes: int | None = None,
        acl: str | None = None,
        passwords: dict[str, str] | None = None,
        tls: tuple[Path, Path, Path] | None = None,
        crl: Path | None = None,
        dynsec: Path | None = None,
        plain: bool = False,
        service: bool = False,
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerUnavailable(
                "Mosquitto is not installed: install Debian's `mosquitto` package "
                "(`make test` does that itself when run as root)"
            )
        self.binary = binary
        self.port = free_port()
        self.persistence = persistence
        self.max_packet_bytes = max_packet_bytes
        #: Mosquitto ACL file text (rules before any `user` line apply to anonymous clients).
        self.acl = acl
        #: user -> password; when given, anonymous clients are refused.
        self.passwords = passwords
        #: (CA, server certificate, server key): the listener speaks TLS, requires a client
        #: certificate from that CA and takes its CN as the username (`use_identity_as_username`).
        self.tls = tls
        #: A CRL (PEM) for the TLS listener (`crlfile`); `reload()` copies it again.
        self.crl = crl
        #: The dynamic-security plugin's initial config (JSON), copied: the plugin rewrites it.
        self.dynsec = dynsec
        #: A second, plain listener (`plain_port`) beside the TLS one, under the same rules.
        self.plain_port = free_port() if plain else None
        #: A second TLS listener (`service_port`) that keeps the client's own client id, for the
        #: cloud's several sessions under one certificate (docs/deployment.md).
        self.service_port = free_port() if service else None
        if (crl or plain or service) and not tls:
            raise ValueError("crl=, plain= and service= go with a TLS listener (tls=)")
        # Outside pytest's 0700 temp tree, so a broker that dropped to `mosquitto` can enter it.
        self.folder = Path(tempfile.mkdtemp(prefix="taktline-mosquitto-"))
        self.config = self.folder / "mosquitto.conf"
        self.log = self.folder / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def url(self) -> str:
        """`mqtt://127.0.0.1:PORT` (`mqtts://` with a TLS listener)."""
        return f"mqtt{'s' if self.tls else ''}://127.0.0.1:{self.port}"

    @property
    def plain_url(self) -> str:
        """`mqtt://127.0.0.1:PORT` of the plain listener (`plain=True`)."""
        if self.plain_port is None:
            raise ValueError("this broker has no plain listener (plain=True)")
        return f"mqtt://127.0.0.1:{self.plain_port}"

    @property
    def service_url(self) -> str:
        """`mqtts://127.0.0.1:PORT` of the service listener (`service=True`)."""
        if self.service_port is None:
            raise ValueError("this broker has no service listener (service=True)")
        return f"mqtts://127.0.0.1:{self.service_port}"

    @property
    def dynsec_file(self) -> Path:
        """The broker's own copy of the dynamic-security config (the plugin writes it back)."""
        return self.folder / "dynamic-security.json"

    @property
    def crl_file(self) -> Path:
        """The broker's copy of the CRL (`crlfile`)."""
        return self.folder / "tls-crl.pem"

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'false' if self.passwords or self.tls or self.dynsec else 'true'}",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.folder}/",
            "autosave_interval 1",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "max_queued_messages 100000",
            # Nagle plus delayed ACKs would add ~40 ms to every small message (measured).
            "set_tcp_nodelay true",
        ]
        owned = [self.folder, self.config]
        tls_lines: list[str] = []
        if self.tls:
            for option, source in zip(("cafile", "certfile", "keyfile"), self.tls, strict=True):
                copy = self.folder / f"tls-{option}.pem"  # where a broker run as `mosquitto` reads
                shutil.copyfile(source, copy)
                os.chmod(copy, 0o600)
                tls_lines.append(f"{option} {copy}")
                owned.append(copy)
            tls_lines += ["require_certificate true", "use_identity_as_username true"]
            if self.crl:
                shutil.copyfile(self.crl, self.crl_file)
                os.chmod(self.crl_file, 0o600)
                tls_lines.append(f"crlfile {self.crl_file}")
                owned.append(self.crl_file)
            # The client id becomes the certificate's CN: a device cannot take over (and so
            # disconnect) another device's session by presenting its client id.
            lines[1:1] = [*tls_lines, "use_username_as_clientid true"]
        if self.dynsec:
            shutil.copyfile(self.dynsec, self.dynsec_file)
            os.chmod(self.dynsec_file, 0o600)
            lines += [f"plugin {DYNSEC_PLUGIN}", f"plugin_opt_config_file {self.dynsec_file}"]
            owned.append(self.dynsec_file)
        # Listener options follow their `listener` line: these go last.
        if self.plain_port:
            lines.append(f"listener {self.plain_port} 127.0.0.1")
        if self.service_port:
            lines += [f"listener {self.service_port} 127.0.0.1", *tls_lines]
        if self.max_packet_bytes:
            lines.append(f"max_packet_size {self.max_packet_bytes}")
        if self.passwords:
            password_file = self.folder / "passwords"
            password_file.write_text("")
            for name, secret in self.passwords.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(password_file), name, secret],
                    check=True,
                    capture_output=True,
                )
            lines.append(f"password_file {password_file}")
            owned.append(password_file)
        if self.acl is not None:
            acl_file = self.folder / "acl"
            acl_file.write_text(self.acl)
            lines.append(f"acl_file {acl_file}")
            owned.append(acl_file)
        self.config.write_text("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            os.chmod(self.folder, 0o755)
            for path in owned:
                self._own(path)

    @staticmethod
    def _own(path: Path) -> None:
        """Hands `path` to the `mosquitto` user when run as root (the broker drops to it)."""
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        os.chown(path, user.pw_uid, user.pw_gid)

    def start(self, timeout: float = 10.0) -> PrivateMosquitto:
        """Starts the broker and waits until it accepts connections."""
        if self._process is not None and self._process.poll() is None:
            return self
        self._process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise BrokerUnavailable(f"mosquitto exited at start: {err.strip()}{self._tail()}")
            if _port_open(self.port):
                return self
            time.sleep(0.02)
        raise BrokerUnavailable(f"mosquitto did not listen on port {self.port} in {timeout} s")

    def _tail(self) -> str:
        try:
            return "\n" + self.log.read_text()[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stops the broker cleanly (SIGTERM: it saves its persistence file)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILLs the broker, as a crash or power cut would."""
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        """Starts the broker again on the same port with the same persistence."""
        self.start()

    def reload(self) -> None:
        """Copies the CRL again (when `crl=`) and sends SIGHUP: Mosquitto rereads its config."""
        if self._process is None or self._process.poll() is not None:
            raise BrokerUnavailable("the broker is not running: nothing to reload")
        if self.crl:
            fresh = self.crl_file.with_name("tls-crl.pem.new")
            shutil.copyfile(self.crl, fresh)
            os.chmod(fresh, 0o600)
            self._own(fresh)
            os.replace(fresh, self.crl_file)
        self._process.send_signal(signal.SIGHUP)

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr:
            process.stderr.close()
        deadline = time.monotonic() + 5
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    @property
    def is_running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        """Stops the broker and removes its folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivateMosquitto:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
