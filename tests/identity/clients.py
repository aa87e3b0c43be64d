"""MQTT 5 clients for the identity tests: connect with a timeout, and read the broker's verdicts.

On MQTT 5 Mosquitto answers a publish the ACL refuses with PUBACK reason 135 "Not authorized"
and a refused subscription with SUBACK 135, so a test can see each refusal instead of inferring
it from a message that never came (see ../shared/FIELD-NOTES.md).
"""

from __future__ import annotations

import time
from typing import Any

from taktline.mqtt import BrokerSettings, Session


def connected(session: Session, within_s: float = 3.0) -> bool:
    """Whether the broker accepts the session within `within_s` (TLS refusals surface late)."""
    deadline = time.monotonic() + within_s
    if not session.connect(lambda: time.monotonic() > deadline):
        return False
    while time.monotonic() < deadline:
        if not session.run_once(0.05):
            return False
        if session.is_connected:
            # A TLS 1.3 server checks the client certificate after the client's handshake
            # ended: a refused one is seen on the next read, so look a little longer.
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                if not session.run_once(0.05) or not session.is_connected:
                    return False
            return True
    return False


class Client:
    """A session that records what the broker said to each publish and subscription."""

    def __init__(self, settings: BrokerSettings, client_id: str) -> None:
        self.session = Session(settings, client_id)
        self.messages: list[tuple[str, bytes]] = []
        self._acks: dict[int, str] = {}
        client = self.session.client
        client.on_message = lambda c, u, message: self.messages.append(
            (message.topic, message.payload)
        )
        client.on_publish = self._on_ack
        client.on_subscribe = self._on_suback

    def _on_ack(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._acks[mid] = str(reason)

    def _on_suback(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self._acks[mid] = ",".join(str(code) for code in codes)

    def connect(self) -> bool:
        """Whether the broker accepts this client (see `connected`)."""
        return connected(self.session)

    @property
    def is_connected(self) -> bool:
        """Whether the session is up."""
        return self.session.is_connected

    def _verdict(self, mid: int, within_s: float = 3.0) -> str:
        deadline = time.monotonic() + within_s
        while mid not in self._acks:
            if time.monotonic() > deadline or not self.session.run_once(0.02):
                return "no answer"
        return self._acks.pop(mid)

    def publish(self, topic: str, body: bytes = b"{}", *, retain: bool = False) -> str:
        """Publishes at QoS 1 and returns the PUBACK's reason ("Success", "Not authorized")."""
        info = self.session.client.publish(topic, body, qos=1, retain=retain)
        return self._verdict(info.mid)

    def subscribe(self, topic: str) -> str:
        """Subscribes at QoS 1 and returns the SUBACK's reason ("Granted QoS 1", ...)."""
        _, mid = self.session.client.subscribe(topic, qos=1)
        assert mid is not None
        return self._verdict(mid)

    def pump(self, seconds: float = 0.2) -> bool:
        """Runs the network loop for `seconds`; False once the connection is lost."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not self.session.run_once(0.02):
                return False
        return self.session.is_connected

    def wait_for(self, topic: str, within_s: float = 3.0) -> bool:
        """Whether a message on `topic` arrives within `within_s`."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if any(seen == topic for seen, _ in self.messages):
                return True
            if not self.session.run_once(0.02):
                return False
        return False

    def close(self) -> None:
        """Disconnects cleanly."""
        self.session.disconnect()


def tls_refusal(settings: BrokerSettings, within_s: float = 3.0) -> str | None:
    """The TLS alert with which the broker ends a handshake (e.g. `CERTIFICATE_REVOKED`).

    None when the broker keeps the connection: it took the certificate. Read from a bare TLS
    socket, since paho only says that the connection dropped.
    """
    import socket
    import ssl

    context = ssl.create_default_context(cafile=settings.ca_file)
    if settings.cert_file:
        context.load_cert_chain(settings.cert_file, settings.key_file)
    with socket.create_connection((settings.host, settings.port), timeout=within_s) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=settings.host) as tls:
                # TLS 1.3: the server judges the client's certificate after the client's side of
                # the handshake ended; its alert comes with the first read.
                tls.settimeout(0.5)
                tls.recv(1)
        except ssl.SSLError as exc:
            # "SSLV3_ALERT_CERTIFICATE_EXPIRED", "TLSV13_ALERT_CERTIFICATE_REQUIRED": the alert
            return str(exc.reason).split("_ALERT_")[-1]
        except TimeoutError:
            return None
    return None
