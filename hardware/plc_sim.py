"""A simulated machine PLC: a real asyncua OPC UA server and a real pymodbus server on one machine.

The machine's values (run bit, cycle/good/scrap counters, stop-reason code) are served at the
addresses documented in `hardware/plc-maps.md`, over OPC UA (`--opcua PORT`), Modbus TCP
(`--modbus-tcp PORT`) and/or Modbus RTU on a serial device (`--modbus-rtu /dev/pts/N`). Clients
may write them (tests drive the machine that way); `--simulate CYCLE_S` runs the machine itself
(the demo): it cycles every CYCLE_S seconds, now and then scraps a part, and stops for a while
with a stop-reason code. `--init cycle=65530` starts a counter at a value (a PLC restarted with
its retained counters). `--secure CERT KEY --trust CLIENT_CERT` offers only Basic256Sha256
SignAndEncrypt and accepts only that client certificate. Run as `python -m hardware.plc_sim`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
from pathlib import Path
from typing import Any, Final

__all__ = ["MODBUS_MAP", "NAMESPACE", "OPCUA_NODES", "main"]

log = logging.getLogger("plc_sim")

NAMESPACE: Final = "urn:taktline:plc-sim"
#: signal -> (OPC UA string node id in the simulator's namespace, browse name, variant type)
OPCUA_NODES: Final = {
    "run": ("Machine.Running", "Running", "Boolean"),
    "cycle": ("Machine.Cycles", "Cycles", "UInt32"),
    "good": ("Machine.Good", "Good", "UInt32"),
    "scrap": ("Machine.Scrap", "Scrap", "UInt16"),
    "stop_reason": ("Machine.StopCode", "StopCode", "UInt16"),
}
#: signal -> (Modbus table, address, words); 32-bit counters: high word first
MODBUS_MAP: Final = {
    "run": ("coil", 0, 1),
    "run_input": ("discrete", 0, 1),
    "cycle": ("holding", 0, 2),
    "good": ("holding", 2, 1),
    "scrap": ("holding", 3, 1),
    "stop_reason": ("holding", 4, 1),
}
_FC: Final = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


class Machine:
    """The PLC's memory, mirrored into whichever servers run."""

    def __init__(self, init: dict[str, int]) -> None:
        self.values: dict[str, int] = {name: 0 for name in OPCUA_NODES} | init
        self.modbus: list[Any] = []  # each server's datastore (SimCore)
        self.opcua: dict[str, Any] = {}

    async def set(self, name: str, value: int) -> None:
        self.values[name] = value
        for core in self.modbus:
            for key, (table, address, words) in MODBUS_MAP.items():
                if key.removesuffix("_input") == name:
                    await core.async_setValues(1, _FC[table], address, _words(value, words, table))
        node = self.opcua.get(name)
        if node is not None:
            from asyncua import ua

            kind = getattr(ua.VariantType, OPCUA_NODES[name][2])
            await node.write_value(ua.Variant(bool(value) if name == "run" else value, kind))

    async def read_modbus(self, core: Any, name: str) -> int:
        table, address, words = MODBUS_MAP[name]
        values = await core.async_getValues(1, _FC[table], address, words)
        if table in ("coil", "discrete"):
            return int(bool(values[0]))
        return int(values[0]) << 16 | int(values[1]) if words == 2 else int(values[0])


def _words(value: int, words: int, table: str) -> list[Any]:
    if table in ("coil", "discrete"):
        return [bool(value)]
    if words == 2:
        return [(value >> 16) & 0xFFFF, value & 0xFFFF]
    return [value & 0xFFFF]


async def _modbus(machine: Machine, tcp: int | None, rtu: str | None, host: str) -> list[Any]:
    from pymodbus.server import ModbusSerialServer, ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    def bits() -> list[SimData]:
        return [SimData(0, count=100, values=False, datatype=DataType.BITS)]

    def registers() -> list[SimData]:
        return [SimData(0, count=100, values=0, datatype=DataType.REGISTERS)]

    device = SimDevice(id=1, simdata=(bits(), bits(), registers(), registers()))
    servers: list[Any] = []
    if tcp is not None:
        servers.append(ModbusTcpServer(device, address=(host, tcp)))
    if rtu is not None:
        servers.append(ModbusSerialServer(device, port=rtu, baudrate=19200))
    machine.modbus = [server.context for server in servers]
    for name, value in machine.values.items():
        await machine.set(name, value)
    return servers


async def _opcua(machine: Machine, port: int, host: str, args: argparse.Namespace) -> Any:
    from asyncua import Server, ua

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{host}:{port}/taktline/plc-sim/")
    server.set_server_name("taktline PLC simulator")
    if args.secure:
        from asyncua.crypto import uacrypto

        cert, key = args.secure
        await server.load_certificate(cert)
        await server.load_private_key(key)
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        trusted = [uacrypto.x509_from_der(Path(p).read_bytes()).fingerprint(_sha256()) for p in
                   args.trust]  # fmt: skip

        async def validate(certificate: Any, _description: Any) -> None:
            if certificate.fingerprint(_sha256()) not in trusted:
                log.warning("refused a client certificate: not trusted")
                raise ua.UaStatusCodeError(ua.StatusCodes.BadCertificateUntrusted)

        server.set_certificate_validator(validate)
    index = await server.register_namespace(NAMESPACE)
    machine_object = await server.nodes.objects.add_object(
        ua.NodeId("Machine", index), ua.QualifiedName("Machine", index)
    )
    for name, (ident, browse, kind) in OPCUA_NODES.items():
        variant = getattr(ua.VariantType, kind)
        value = bool(machine.values[name]) if name == "run" else machine.values[name]
        node = await machine_object.add_variable(
            ua.NodeId(ident, index), ua.QualifiedName(browse, index), ua.Variant(value, variant)
        )
        await node.set_writable()
        machine.opcua[name] = node
    return server


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


async def _simulate(machine: Machine, cycle_s: float, seed: int) -> None:
    rng = random.Random(seed)
    await machine.set("run", 1)
    while True:
        await asyncio.sleep(cycle_s)
        if rng.random() < 0.03:  # a stop: with a reason code, for a few cycles
            await machine.set("run", 0)
            await machine.set("stop_reason", rng.choice((1, 2, 3, 4)))
            await asyncio.sleep(cycle_s * rng.randint(3, 8))
            await machine.set("stop_reason", 0)
            await machine.set("run", 1)
            continue
        await machine.set("cycle", (machine.values["cycle"] + 1) % (1 << 32))
        which = "scrap" if rng.random() < 0.05 else "good"
        bits = 16 if which == "scrap" else 32
        await machine.set(which, (machine.values[which] + 1) % (1 << bits))


async def _mirror_modbus_writes(machine: Machine) -> None:
    # A client's Modbus write lands in the datastore; mirror it to the OPC UA side and the model.
    while True:
        await asyncio.sleep(0.05)
        for core in machine.modbus:
            for name in OPCUA_NODES:
                value = await machine.read_modbus(core, name)
                if value != machine.values[name]:
                    await machine.set(name, value)


async def _mirror_opcua_writes(machine: Machine) -> None:
    while True:
        await asyncio.sleep(0.05)
        for name, node in machine.opcua.items():
            value = int(await node.read_value())
            if value != machine.values[name]:
                await machine.set(name, value)


async def run(args: argparse.Namespace) -> None:
    """Serves until cancelled."""
    init = {}
    for item in args.init:
        name, _, value = item.partition("=")
        if name not in OPCUA_NODES:
            raise SystemExit(f"--init {item}: {name} is not one of {sorted(OPCUA_NODES)}")
        init[name] = int(value)
    machine = Machine(init)
    tasks: list[Any] = []
    opcua = None
    if args.opcua is not None:
        opcua = await _opcua(machine, args.opcua, args.host, args)
    if args.modbus_tcp is not None or args.modbus_rtu is not None:
        for server in await _modbus(machine, args.modbus_tcp, args.modbus_rtu, args.host):
            tasks.append(asyncio.create_task(server.serve_forever()))
        tasks.append(asyncio.create_task(_mirror_modbus_writes(machine)))
    if opcua is not None:
        await opcua.start()
        tasks.append(asyncio.create_task(_mirror_opcua_writes(machine)))
    if args.simulate:
        tasks.append(asyncio.create_task(_simulate(machine, args.simulate, args.seed)))
    print("ready", flush=True)
    try:
        await asyncio.gather(*tasks) if tasks else await asyncio.Event().wait()
    finally:
        if opcua is not None:
            await opcua.stop()


def main(argv: list[str] | None = None) -> None:
    """The simulator's command line."""
    parser = argparse.ArgumentParser(prog="python -m hardware.plc_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--opcua", type=int, metavar="PORT")
    parser.add_argument("--modbus-tcp", type=int, metavar="PORT")
    parser.add_argument("--modbus-rtu", metavar="DEVICE")
    parser.add_argument("--simulate", type=float, metavar="CYCLE_S")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--init", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--secure", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--trust", action="append", default=[], metavar="CLIENT_CERT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
