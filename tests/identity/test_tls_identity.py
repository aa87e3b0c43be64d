"""Per-device identity on a real Mosquitto with a TLS listener (issue 18, first step).

The broker requires a client certificate from the plant CA and takes its CN as the username
(`use_identity_as_username`), so an ACL written per device name binds to the certificate. A
device provisioned with `taktline cloud devices` connects from its agent TOML and publishes
under its own path, the cloud reads with its own certificate from `--broker-ca/-cert/-key`;
a certificate from another CA, no certificate and an expired certificate are refused; a key
that group or others may read is refused before any connection.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError
from cloud.cli import settings_from
from cloud.identity import PlantCa, make_csr
from cloud.service import _broker
from taktline.cli import build_parser
from taktline.mqtt import BrokerSettings, Session
from taktline.private_broker import PrivateMosquitto
from tests.conftest import started_mosquitto

pytestmark = pytest.mark.mqtt

ACL = """user taktline-cloud
topic read taktline/#

user pi-crimp-01
topic write taktline/plant1/harness/pi-crimp-01/#
"""


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlantCa, PrivateMosquitto]]:
    """The plant CA (made by the CLI) and a broker with its TLS listener."""
    folder = tmp_path_factory.mktemp("plant")
    cli = build_parser()
    for argv in (
        ["cloud", "devices", "--ca", str(folder / "ca"), "init"],
        ["cloud", "devices", "--ca", str(folder / "ca"), "server", "broker", "--host", "127.0.0.1"],
    ):
        args = cli.parse_args(argv)
        assert args._admin(args) == 0
    ca = PlantCa(folder / "ca")
    tls = (ca.cert_path, ca.issued_dir / "broker.pem", ca.issued_dir / "broker.key")
    with started_mosquitto(tls=tls, acl=ACL) as broker:
        yield ca, broker


def _settings(ca: PlantCa, broker: PrivateMosquitto, name: str | None) -> BrokerSettings:
    files = {"ca_file": str(ca.cert_path)}
    if name is not None:
        files |= {
            "cert_file": str(ca.issued_dir / f"{name}.pem"),
            "key_file": str(ca.issued_dir / f"{name}.key"),
        }
    return BrokerSettings.from_url(broker.url, **files)


def _connected(session: Session, within_s: float = 3.0) -> bool:
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


def test_provisioned_agent_publishes_under_its_own_path_and_the_cloud_reads_it(
    plant: tuple[PlantCa, PrivateMosquitto], tmp_path: Path
) -> None:
    ca, broker = plant
    cli = build_parser()
    db = tmp_path / "cloud.db"
    # The device makes its key and CSR; the key never leaves it.
    device = tmp_path / "device"
    device.mkdir()
    (device / "req.csr").write_bytes(make_csr("pi-crimp-01", device / "pi-crimp-01.key"))
    args = cli.parse_args([
        "cloud", "--db", str(db), "devices", "--ca", str(ca.folder), "provision", "pi-crimp-01",
        "--role", "station", "--csr", str(device / "req.csr"), "--site", "plant1",
        "--area", "harness", "--url", broker.url, "--device-dir", str(device),
    ])  # fmt: skip
    assert args._admin(args) == 0
    assert not (ca.issued_dir / "pi-crimp-01.key").exists()  # the CA never saw the key
    (device / "pi-crimp-01.pem").write_bytes((ca.issued_dir / "pi-crimp-01.pem").read_bytes())
    (device / "ca.pem").write_bytes(ca.cert_path.read_bytes())
    snippet = (ca.issued_dir / "pi-crimp-01.toml").read_text()
    config = tmp_path / "agent.toml"
    config.write_text(
        snippet + 'site = "plant1"\narea = "harness"\nhardware = "emulated"\n'
        '[[station]]\nid = "crimp-01"\n'
    )
    agent_settings = load_config(config).broker_settings()
    assert agent_settings.tls and agent_settings.key_file == str(device / "pi-crimp-01.key")

    from cloud.store import EventLog

    with EventLog(db) as log:
        assert log.registry()[0]["pi-crimp-01"] == ("plant1", "harness")

    # The cloud, with its own certificate given as options.
    ca.issue("taktline-cloud", role="cloud")
    cloud_args = cli.parse_args([
        "cloud", "--broker", broker.url, "--broker-ca", str(ca.cert_path),
        "--broker-cert", str(ca.issued_dir / "taktline-cloud.pem"),
        "--broker-key", str(ca.issued_dir / "taktline-cloud.key"), "--db", str(db),
    ])  # fmt: skip
    cloud = Session(_broker(settings_from(cloud_args)), "taktline-cloud-test")
    received: list[str] = []
    cloud.client.on_message = lambda client, userdata, message: received.append(message.topic)
    assert _connected(cloud)
    cloud.client.subscribe("taktline/#", qos=1)
    agent = Session(agent_settings, "pi-crimp-01")
    try:
        assert _connected(agent)
        cloud.run_once(0.2)
        own = "taktline/plant1/harness/pi-crimp-01/events"
        other = "taktline/plant1/harness/pi-crimp-02/events"  # the ACL keeps it out
        agent.client.publish(other, b"{}", qos=1)
        agent.client.publish(own, b"{}", qos=1)
        deadline = time.monotonic() + 5
        while own not in received and time.monotonic() < deadline:
            agent.run_once(0.01)
            cloud.run_once(0.05)
        for _ in range(10):
            cloud.run_once(0.02)
        assert received == [own]
    finally:
        agent.disconnect()
        cloud.disconnect()


def test_a_certificate_of_another_ca_is_refused(
    plant: tuple[PlantCa, PrivateMosquitto], tmp_path: Path
) -> None:
    ca, broker = plant
    other = PlantCa(tmp_path / "other")
    other.init("Someone else's CA")
    other.issue("pi-crimp-01", role="station")
    settings = BrokerSettings.from_url(
        broker.url,
        ca_file=str(ca.cert_path),
        cert_file=str(other.issued_dir / "pi-crimp-01.pem"),
        key_file=str(other.issued_dir / "pi-crimp-01.key"),
    )
    assert not _connected(Session(settings, "pi-crimp-01"))
    # and the same broker takes a certificate of its own CA (the refusal was the CA's)
    ca.issue("pi-ok", role="station")
    assert _connected(Session(_settings(ca, broker, "pi-ok"), "pi-ok"))


def test_no_client_certificate_is_refused(plant: tuple[PlantCa, PrivateMosquitto]) -> None:
    ca, broker = plant
    assert not _connected(Session(_settings(ca, broker, None), "nobody"))


def test_an_expired_certificate_is_refused(plant: tuple[PlantCa, PrivateMosquitto]) -> None:
    ca, broker = plant
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    ca.issue("pi-expired", role="station", days=1, now=long_ago)
    assert ca.issued()[0].name == "pi-expired"  # `list`: soonest expiry first
    assert not _connected(Session(_settings(ca, broker, "pi-expired"), "pi-expired"))


def test_a_key_others_may_read_is_refused_with_a_clear_error(
    plant: tuple[PlantCa, PrivateMosquitto], tmp_path: Path
) -> None:
    ca, broker = plant
    cert, key = ca.issue("pi-lax", role="station")
    assert key is not None and stat.S_IMODE(os.stat(key).st_mode) == 0o600
    os.chmod(key, 0o644)
    config = tmp_path / "agent.toml"
    config.write_text(
        f'agent = "pi-lax"\nsite = "plant1"\narea = "harness"\nhardware = "emulated"\n'
        f'broker = "{broker.url}"\nca_file = "{ca.cert_path}"\ncert_file = "{cert}"\n'
        f'key_file = "{key}"\n[[station]]\nid = "crimp-01"\n'
    )
    with pytest.raises(ConfigError, match=r"key file .*pi-lax.key.* mode 0644.*chmod 600"):
        load_config(config)
    from cloud.errors import ConfigError as CloudConfigError

    cloud_args = build_parser().parse_args([
        "cloud", "--broker", broker.url, "--broker-ca", str(ca.cert_path),
        "--broker-cert", str(cert), "--broker-key", str(key),
    ])  # fmt: skip
    with pytest.raises(CloudConfigError, match="chmod 600"):
        settings_from(cloud_args)
    os.chmod(key, 0o600)
    assert load_config(config).broker_settings().key_file == str(key)


def test_tls_files_need_an_mqtts_url_and_go_together(tmp_path: Path) -> None:
    base = 'agent = "a"\nsite = "s"\narea = "r"\nhardware = "emulated"\n[[station]]\nid = "c"\n'
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    config = tmp_path / "agent.toml"
    config.write_text(f'broker = "mqtt://127.0.0.1:1"\nca_file = "{ca}"\n' + base)
    with pytest.raises(ConfigError, match="need an mqtts:// broker URL"):
        load_config(config)
    config.write_text(f'broker = "mqtts://127.0.0.1:1"\ncert_file = "{ca}"\n' + base)
    with pytest.raises(ConfigError, match="cert_file and key_file go together"):
        load_config(config)
