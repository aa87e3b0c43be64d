"""Machine signals from PLCs: OPC UA and Modbus sources beside the station's GPIO inputs.

A station names its PLC in a `plc` table (`agent.plc.config`); `open_source()` starts the
matching reader. Whatever the protocol, the events are the GPIO inputs' events
(`machine.signal` run/cycle/good/scrap, `machine.stop_reason`) with the PLC as their source.
Maps and examples: `hardware/plc-maps.md`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agent.plc.config import PlcConfig, parse_plc
from agent.plc.source import PlcSource

if TYPE_CHECKING:
    from agent.runtime import Agent

__all__ = ["PlcConfig", "PlcSource", "open_source", "parse_plc"]


def open_source(config: PlcConfig, station: str, agent: Agent, state_file: Path) -> PlcSource:
    """Starts the reader of `config.protocol` for `station`."""
    source: PlcSource
    if config.protocol == "modbus":
        from agent.plc.modbus import ModbusSource

        source = ModbusSource(config, station, agent, state_file)
    else:
        from agent.plc.opcua import OpcUaSource

        source = OpcUaSource(config, station, agent, state_file)
    return source.start()
