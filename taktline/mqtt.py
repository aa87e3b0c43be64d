"""The MQTT session every Taktline process opens: settings, client construction, reconnection.

Agent and cloud both talk MQTT through paho-mqtt 2.x; this module is the one place that knows how
a session is configured (protocol, credentials, TLS, will) and how it reconnects (exponential
backoff with full jitter, via tenacity). It runs no thread of its own: callers drive the network
loop from their own thread with `Session.run_once()` so that they can interleave their work with
it and stop cleanly.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from tenacity import Retrying, retry_if_exception_type, stop_never, wait_random_exponential

__all__ = ["BrokerSettings", "Session", "check_key_file", "read_secret", "redacted", "tls_files"]

log = logging.getLogger(__name__)

Protocol = Literal["5", "3.1.1"]


def redacted(url: str) -> str:
    """`url` with its password (if any) replaced by `***`: what logs and error messages show."""
    try:
        parts = urlsplit(url)
        parts.password  # noqa: B018  # parses the netloc: may raise too
    except ValueError:  # "Invalid IPv6 URL" and the like: show nothing that may hold a secret
        return "<a URL that does not parse>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def read_secret(*, file: str | None = None, env: str | None = None) -> str | None:
    """A password from a file (its first line) or an environment variable, never from argv.

    The file wins when both are given. Raises ValueError naming the file when it cannot be read.
    """
    if file:
        try:
            with open(file, encoding="utf-8") as handle:
                return handle.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"cannot read the password file {file!r}: {exc}") from exc
    if env:
        value = os.environ.get(env)
        return value if value else None
    return None


def check_key_file(path: str) -> None:
    """Refuses a private key file that is missing or that group or others may read or write.

    Raises ValueError naming the file, its mode and the fix (`chmod 600`).
    """
    import stat

    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        raise ValueError(f"cannot read the key file {path!r}: {exc.strerror}") from exc
    if mode & 0o077:
        raise ValueError(
            f"the key file {path!r} has mode {mode:04o}: group or others may read it; a device's "
            f"key must be its own: chmod 600 {path}"
        )


def tls_files(
    url: str, *, ca_file: str | None, cert_file: str | None, key_file: str | None
) -> dict[str, str]:
    """The TLS overrides for `BrokerSettings.from_url`, checked: `{}` when none are given.

    The files need an `mqtts://` URL, a certificate needs its key (and the other way round),
    every file must exist and the key must be 0600 (`check_key_file`). Raises ValueError.
    """
    given = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
    files = {name: value for name, value in given.items() if value}
    if not files:
        return {}
    if not url.startswith("mqtts://"):
        raise ValueError(f"{', '.join(files)} need an mqtts:// broker URL, not {redacted(url)!r}")
    if bool(cert_file) != bool(key_file):
        raise ValueError("cert_file and key_file go together (the client certificate and its key)")
    for name, value in files.items():
        if name == "key_file":
            check_key_file(value)
        elif not os.path.isfile(value):
            raise ValueError(f"{name} {value!r} is not a readable file")
    return files


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where the broker is and how to talk to it."""

    host: str = "127.0.0.1"
    port: int = 1883
    protocol: Protocol = "5"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: int = 30
    backoff_max_s: float = 30.0

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> BrokerSettings:
        """Parses `mqtt://user:pass@host:port` (or `mqtts://`); `?protocol=3.1.1` picks 3.1.1.

        `backoff_max_s=S` in the query caps the reconnect backoff (default 30 s).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"broker URL {redacted(url)!r} must start with mqtt:// or mqtts://")
        query = dict(item.split("=", 1) for item in parts.query.split("&") if "=" in item)
        protocol = query.get("protocol", "5")
        if protocol not in ("5", "3.1.1"):
            raise ValueError(
                f"broker URL {redacted(url)!r}: protocol must be 5 or 3.1.1, not {protocol!r}"
            )
        try:
            port = parts.port
        except ValueError as exc:  # "Port out of range 0-65535", "Port could not be cast ..."
            raise ValueError(f"broker URL {redacted(url)!r}: {exc}") from exc
        if port == 0:
            raise ValueError(f"broker URL {redacted(url)!r}: port 0 is no broker's port")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
            raise ValueError(f"broker URL {redacted(url)!r} holds a control character")
        settings: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": port or (8883 if parts.scheme == "mqtts" else 1883),
            "protocol": protocol,
            "username": parts.username,
            "password": parts.password,
            "tls": parts.scheme == "mqtts",
        }
        if "backoff_max_s" in query:
            try:
                backoff = float(query["backoff_max_s"])
            except ValueError:
                backoff = -1.0
            if not 0 < backoff <= 3600:
                raise ValueError(f"broker URL {url!r}: backoff_max_s must be in (0, 3600] s")
            settings["backoff_max_s"] = backoff
        settings.update(overrides)
        return cls(**settings)

    @property
    def is_v5(self) -> bool:
        """Whether the session speaks MQTT 5 (needed to see a broker's refusal of a publish)."""
        return self.protocol == "5"


class Session:
    """One paho client with Taktline's connection policy; the owner drives it from one thread."""

    def __init__(
        self,
        settings: BrokerSettings,
        client_id: str,
        *,
        on_connect: Callable[[], None] | None = None,
        will: tuple[str, bytes] | None = None,
        session_expiry_s: int | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        #: With a value, the session is persistent: the broker keeps its subscriptions and
        #: queues QoS 1 messages for it while it is away, for this long (MQTT 5 clean start
        #: off + session expiry; on 3.1.1 a clean_session=False session).
        self.session_expiry_s = session_expiry_s
        self._on_connect_hook = on_connect
        version = MQTTProtocolVersion.MQTTv5 if settings.is_v5 else MQTTProtocolVersion.MQTTv311
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=version,
            clean_session=None if settings.is_v5 else session_expiry_s is None,
            reconnect_on_failure=False,
        )
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        if settings.username is not None:
            self.client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            context = ssl.create_default_context(cafile=settings.ca_file)
            if settings.cert_file:
                context.load_cert_chain(settings.cert_file, settings.key_file)
            self.client.tls_set_context(context)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self._connected = False
        self._connects = 0
        self.last_error: str | None = None
        #: Whether the broker still had this client's session at the last connect.
        self.session_present = False

    # --- callbacks (run inside run_once, on the owner's thread) -----------------------------------

    def _handle_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = f"broker refused the connection: {reason}"
            log.warning("%s: %s", self.client_id, self.last_error)
            return
        self._connected = True
        self._connects += 1
        self.session_present = bool(getattr(flags, "session_present", False))
        if self._on_connect_hook is not None:
            self._on_connect_hook()

    def _handle_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self._connected:
            log.info("%s disconnected: %s", self.client_id, reason)
        self._connected = False

    # --- driving the session ---------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether the broker accepted the session and it has not dropped since."""
        return self._connected

    @property
    def connect_count(self) -> int:
        """How many times the session (re)connected."""
        return self._connects

    def connect(self, should_stop: Callable[[], bool]) -> bool:
        """Connects, retrying with exponential backoff and full jitter until `should_stop()`.

        Returns True once the network connection is open (the CONNACK arrives in a later
        `run_once`), False when asked to stop first.
        """
        retrying = Retrying(
            wait=wait_random_exponential(multiplier=0.2, max=self.settings.backoff_max_s),
            retry=retry_if_exception_type(OSError),
            stop=stop_never,
            sleep=self._interruptible_sleep(should_stop),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if should_stop():
                        return False
                    self._connect_once()
                    self._no_delay()
        except _Stopped:
            return False
        return True

    def _connect_once(self) -> None:
        settings = self.settings
        if self.session_expiry_s is None or not settings.is_v5:
            self.client.connect(settings.host, settings.port, keepalive=settings.keepalive_s)
            return
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_s
        self.client.connect(
            settings.host,
            settings.port,
            keepalive=settings.keepalive_s,
            clean_start=False,
            properties=properties,
        )

    def _no_delay(self) -> None:
        # paho leaves Nagle's algorithm on: with delayed ACKs that holds back a lone small
        # message (a live event, a confirmation) by up to ~40 ms. Measured in bench/uplink.py.
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @staticmethod
    def _interruptible_sleep(should_stop: Callable[[], bool]) -> Callable[[float], None]:
        import time

        def sleep(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if should_stop():
                    raise _Stopped
                time.sleep(min(0.05, deadline - time.monotonic()))

        return sleep

    def run_once(self, timeout: float = 0.01) -> bool:
        """Runs one pass of the network loop; returns False when the connection is lost."""
        rc = self.client.loop(timeout=timeout)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            self._connected = False
            return False
        return True

    def disconnect(self) -> None:
        """Closes the session cleanly (the broker does not send the will)."""
        try:
            self.client.disconnect()
            self.client.loop(timeout=0.1)
        except (OSError, ValueError):  # pragma: no cover - already gone
            pass
        self._connected = False


class _Stopped(Exception):
    """Raised inside the backoff sleep when the owner asked to stop."""
