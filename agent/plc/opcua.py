"""The OPC UA source (asyncua): a station's signals from a PLC's nodes, by subscription or poll.

A session resolves each configured node (a node id, or a browse path from the root), reads all
of them once, then subscribes to data changes (`mode = "subscribe"`, publishing interval
`interval_s`). A server that refuses subscriptions (some embedded servers have none) is polled
instead, and so is every server with `mode = "poll"`: all nodes read every `interval_s`. In both
modes the session reads the server's `ServerStatus/State` every third of `keepalive_s`, with a
request timeout of a third of `keepalive_s`: a stalled server fails that read, the session ends
and the supervisor reconnects with back-off (`plc_lost` is raised by the watchdog in between).
With `security` configured the session uses Basic256Sha256 SignAndEncrypt with the client
certificate and key (PEM or DER). The asyncio loop runs on the source's worker thread. asyncua
is used here and nowhere else in the agent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from agent.errors import PlcUnavailable
from agent.plc.source import PlcSource
from taktline.supervise import Worker

__all__ = ["OpcUaSource"]

log = logging.getLogger(__name__)

_BITS: Final = {"Byte": 8, "SByte": 8, "UInt16": 16, "Int16": 16, "UInt64": 64, "Int64": 64}


class _Changes:
    """asyncua's subscription handler: hands each data change to the source."""

    def __init__(self, source: OpcUaSource, signals: dict[Any, str]) -> None:
        self.source = source
        self.signals = signals

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        signal = self.signals.get(node.nodeid)
        if signal is not None:
            self.source.apply(signal, data.monitored_item.Value.Value)


class OpcUaSource(PlcSource):
    """Reads one OPC UA server; see the module doc."""

    subscribed = False

    def session(self, worker: Worker) -> None:
        """Runs one client session on an event loop of this thread until stopped."""
        asyncio.run(self._session(worker))

    def apply(self, signal: str, variant: Any) -> None:
        """One value read or notified (an asyncua `Variant`)."""
        value = variant.Value
        if signal == "run":
            self.state.update_run(bool(value))
        elif signal == "stop_reason":
            self.state.update_stop_code(int(value))
        else:
            bits = _BITS.get(variant.VariantType.name, 32)
            self.state.update_counter(signal, int(value), bits)

    async def _resolve(self, client: Any, signal: str, spec: str) -> Any:
        from asyncua import ua

        try:
            if spec.startswith("/"):
                parts = [p for p in spec.strip("/").split("/")]
                if parts and parts[0] in ("Objects", "0:Objects"):
                    node = await client.nodes.objects.get_child(parts[1:])
                else:
                    node = await client.nodes.root.get_child(parts)
            else:
                node = client.get_node(spec)
            await node.read_data_value()
        except ua.UaError as exc:
            raise PlcUnavailable(
                f"PLC {self.config.id}: nodes.{signal} {spec!r} cannot be read: {exc}"
            ) from exc
        return node

    async def _client(self) -> Any:
        from asyncua import Client, ua
        from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

        timeout = max(0.2, self.config.keepalive_s / 3)
        client = Client(self.config.url, timeout=timeout)
        client.session_timeout = int(max(60.0, self.config.keepalive_s * 4) * 1000)
        security = self.config.security
        if security is not None:
            client.application_uri = security.application_uri
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                str(security.certificate),
                str(security.private_key),
                server_certificate=None
                if security.server_certificate is None
                else str(security.server_certificate),
                mode=ua.MessageSecurityMode.SignAndEncrypt,
            )
        return client

    async def _session(self, worker: Worker) -> None:
        from asyncua import ua

        client = await self._client()
        try:
            await client.connect()
        except (TimeoutError, OSError, ua.UaError) as exc:
            raise PlcUnavailable(f"PLC {self.config.id}: cannot connect to {self.config.url}: "
                                 f"{type(exc).__name__} {exc}") from exc  # fmt: skip
        try:
            await self._read_loop(client, worker)
        finally:
            try:
                await asyncio.wait_for(client.disconnect(), self.config.keepalive_s / 3)
            except Exception as exc:  # a dead server cannot close the session; the socket goes
                log.debug("PLC %s: disconnect: %s", self.config.id, exc)
                client.uaclient.protocol and client.uaclient.protocol.transport.close()

    async def _read_loop(self, client: Any, worker: Worker) -> None:
        from asyncua import ua

        nodes = {s: await self._resolve(client, s, spec) for s, spec in self.config.nodes}
        for signal, node in nodes.items():
            self.apply(signal, (await node.read_data_value()).Value)
        self.alive()
        poll = self.config.mode == "poll"
        if not poll:
            try:
                handler = _Changes(self, {node.nodeid: s for s, node in nodes.items()})
                subscription = await client.create_subscription(
                    int(self.config.interval_s * 1000), handler
                )
                await subscription.subscribe_data_change(list(nodes.values()))
                self.subscribed = True
            except ua.UaError as exc:
                log.warning("PLC %s: no subscription (%s); polling", self.config.id, exc)
                poll = True
        log.info("PLC %s: connected to %s (%s)", self.config.id, self.config.url,
                 "polling" if poll else "subscribed")  # fmt: skip
        state = client.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State))
        step = min(self.config.interval_s, self.config.keepalive_s / 3) if poll else (
            self.config.keepalive_s / 3
        )  # fmt: skip
        while True:
            worker.beat()
            for _ in range(max(1, int(step / 0.05))):
                await asyncio.sleep(0.05)
                if worker.stopping:
                    return
            if poll:
                for signal, node in nodes.items():
                    self.apply(signal, (await node.read_data_value()).Value)
            else:
                await state.read_value()
            self.alive()
