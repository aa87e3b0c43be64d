"""The OPC UA source against a real asyncua server (the simulated PLC): data-change subscription
and polling, a stalled server, a bad node id at --check, and Basic256Sha256 SignAndEncrypt."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from asyncua import Client, ua
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from taktline.cli import main
from tests.agent.plc.conftest import SimulatedPlc, Station

pytestmark = pytest.mark.slow

NODES = """\
nodes = { run = "ns=2;s=Machine.Running", cycle = "/Objects/2:Machine/2:Cycles", \
good = "ns=2;s=Machine.Good", scrap = "ns=2;s=Machine.Scrap", \
stop_reason = "ns=2;s=Machine.StopCode" }
stop_codes = { 1 = "changeover" }
interval_s = 0.1
keepalive_s = 1.5
reconnect_max_s = 0.5
"""


def url(port: int) -> str:
    return f"opc.tcp://127.0.0.1:{port}/taktline/plc-sim/"


def write(port: int, values: dict[str, ua.Variant]) -> None:
    async def go() -> None:
        async with Client(url(port)) as client:
            for ident, value in values.items():
                await client.get_node(f"ns=2;s=Machine.{ident}").write_value(value)

    asyncio.run(go())


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
def test_state_changes_and_counts_become_events(
    plc_factory: Callable[..., SimulatedPlc],
    station_factory: Callable[[str], Station],
    port: int,
    mode: str,
) -> None:
    plc_factory("--opcua", str(port)).start("--init", "scrap=65534")
    station = station_factory(f'protocol = "opcua"\nurl = "{url(port)}"\nmode = "{mode}"\n{NODES}')
    station.until(lambda: station.runs() == [False], 15, "the run state at start")
    if mode == "subscribe":  # the first values are read before the subscription is made
        station.until(lambda: station.source.subscribed, 10, "the subscription")
    write(port, {
        "Running": ua.Variant(True, ua.VariantType.Boolean),
        "Cycles": ua.Variant(4, ua.VariantType.UInt32),
        "Good": ua.Variant(3, ua.VariantType.UInt32),
        "Scrap": ua.Variant(1, ua.VariantType.UInt16),  # 16-bit: 65534 -> 1 is 3
    })  # fmt: skip
    station.until(
        lambda: (
            (station.runs(), station.count("cycle"), station.count("good")) == ([False, True], 4, 3)
            and station.count("scrap") == 3
        ),
        10,
        "run on and the counts",
    )
    assert station.source.subscribed == (mode == "subscribe")
    write(port, {"StopCode": ua.Variant(1, ua.VariantType.UInt16)})
    station.until(lambda: station.events("machine.stop_reason"), 10, "the stop reason")
    assert station.events("machine.stop_reason")[0]["payload"]["reason"] == "changeover"


def test_a_stalled_server_raises_an_alarm_within_twice_the_keepalive(
    plc_factory: Callable[..., SimulatedPlc], station_factory: Callable[[str], Station], port: int
) -> None:
    sim = plc_factory("--opcua", str(port)).start()
    station = station_factory(f'protocol = "opcua"\nurl = "{url(port)}"\n{NODES}')
    station.until(lambda: station.runs() == [False], 15, "connected")
    sim.stall()
    took = station.until(lambda: "plc_lost" in station.alarms(), 5, "plc_lost")
    assert took <= 2 * 1.5
    sim.resume()
    station.until(lambda: "plc_restored" in station.alarms(), 20, "plc_restored")


def test_a_bad_node_id_is_a_config_error_at_check_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(
        'agent = "pi-plc-01"\nsite = "plant1"\narea = "harness"\n[[station]]\nid = "press-01"\n'
        '[station.plc]\nprotocol = "opcua"\nurl = "opc.tcp://10.0.0.5:4840"\n'
        'nodes = { cycle = "ns=2;q=Cycles" }\n'
    )
    assert main(["agent", "--config", str(config), "--check"]) == 2
    assert "station[0].plc.nodes.cycle" in capsys.readouterr().err


def _certificate(folder: Path, name: str, uri: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.KeyUsage(True, True, True, True, False, False, False, False, False),
                       critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_sign_and_encrypt_accepts_the_configured_certificate_and_refuses_none(
    plc_factory: Callable[..., SimulatedPlc],
    station_factory: Callable[[str], Station],
    port: int,
    tmp_path: Path,
) -> None:
    server_cert, server_key = _certificate(tmp_path, "plc", "urn:taktline:plc-sim")
    client_cert, client_key = _certificate(tmp_path, "agent", "urn:taktline:agent")
    plc_factory("--opcua", str(port)).start(
        "--secure", str(server_cert), str(server_key), "--trust", str(client_cert)
    )
    secure = (
        f'protocol = "opcua"\nurl = "{url(port)}"\n{NODES}'
        f'security = {{ certificate = "{client_cert}", private_key = "{client_key}" }}\n'
    )
    station = station_factory(secure)
    station.until(lambda: station.runs() == [False], 20, "read over SignAndEncrypt")

    async def plain() -> None:
        async with Client(url(port), timeout=3) as client:
            await client.get_node("ns=2;s=Machine.Cycles").read_value()

    with pytest.raises(Exception):  # noqa: B017 - any refusal: no endpoint, a closed channel
        asyncio.run(plain())
    unsecured = station_factory(f'protocol = "opcua"\nurl = "{url(port)}"\n{NODES}')
    time = unsecured.until(lambda: "plc_lost" in unsecured.alarms(), 10, "refused")
    assert time > 0 and unsecured.runs() == []
