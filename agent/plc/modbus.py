"""The Modbus source (pymodbus): a station's signals polled from a PLC over Modbus TCP or RTU.

Every `interval_s` the source reads each mapped point (`registers` in the station's `plc`
table: a coil or discrete input for run, holding or input registers for the counters and the
stop code; 32-bit counters are two registers, high word first unless `word_order = "little"`)
and hands the values to the signal state. A failed request (timeout, exception response, lost
connection) ends the session; the supervisor reconnects after a back-off. The request timeout is
a third of `keepalive_s`, so a stalled PLC is seen well within the keep-alive. pymodbus is used
here and nowhere else in the agent.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from agent.errors import PlcUnavailable
from agent.plc.config import ModbusPoint
from agent.plc.source import PlcSource
from taktline.supervise import Worker

__all__ = ["ModbusSource"]

log = logging.getLogger(__name__)


class ModbusSource(PlcSource):
    """Polls one Modbus device; see the module doc."""

    def _client(self) -> Any:
        from pymodbus.client import ModbusSerialClient, ModbusTcpClient

        timeout = max(0.2, min(self.config.keepalive_s / 3, 3.0))
        url = urlsplit(self.config.url)
        if url.scheme == "modbus+tcp":
            return ModbusTcpClient(
                url.hostname or "127.0.0.1", port=url.port or 502, timeout=timeout, retries=0
            )
        return ModbusSerialClient(
            url.path,
            baudrate=self.config.baudrate,
            parity=self.config.parity,
            timeout=timeout,
            retries=0,
        )

    def session(self, worker: Worker) -> None:
        """Connects and polls until stopped; raises `PlcUnavailable` when the device fails."""
        client = self._client()
        try:
            if not client.connect():
                raise PlcUnavailable(f"PLC {self.config.id}: cannot connect to {self.config.url}")
            log.info("PLC %s: connected to %s", self.config.id, self.config.url)
            while True:
                self.poll_once(client)
                self.alive()
                worker.beat()
                if worker.wait(self.config.interval_s):
                    return
        finally:
            client.close()

    def poll_once(self, client: Any) -> None:
        """Reads every mapped point once and updates the signal state."""
        for signal, point in self.config.registers:
            value = self._read(client, signal, point)
            if signal == "run":
                self.state.update_run(bool(value))
            elif signal == "stop_reason":
                self.state.update_stop_code(value)
            else:
                self.state.update_counter(signal, value, point.bits)

    def _read(self, client: Any, signal: str, point: ModbusPoint) -> int:
        from pymodbus.exceptions import ModbusException

        unit = self.config.unit
        what = f"PLC {self.config.id}: registers.{signal} ({point.table}:{point.address})"
        try:
            if point.table == "coil":
                answer = client.read_coils(point.address, count=1, device_id=unit)
            elif point.table == "discrete":
                answer = client.read_discrete_inputs(point.address, count=1, device_id=unit)
            elif point.table == "holding":
                answer = client.read_holding_registers(
                    point.address, count=point.words, device_id=unit
                )
            else:
                answer = client.read_input_registers(
                    point.address, count=point.words, device_id=unit
                )
        except ModbusException as exc:
            raise PlcUnavailable(f"{what}: {exc}") from exc
        if answer.isError():
            raise PlcUnavailable(f"{what}: the device answered {answer}")
        if point.table in ("coil", "discrete"):
            return int(bool(answer.bits[0]))
        words = list(answer.registers)
        if point.words == 2:
            high, low = words if self.config.word_order == "big" else words[::-1]
            return int((high << 16) | low)
        return int(words[0])
