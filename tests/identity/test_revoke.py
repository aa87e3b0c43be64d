"""Per-device identity with Mosquitto's dynamic security and a CRL (issue 18, the rest).

One real Mosquitto for the module: a TLS listener that requires a certificate of the plant CA,
takes its CN as the username and as the client id (`use_username_as_clientid`), checks the
CA's CRL, and loads the dynamic-security plugin from the file `devices dynsec-init` wrote;
beside it a plain listener under the same rules. Devices are provisioned and revoked with the
CLI (`taktline cloud devices ... --broker URL`), as an operator would.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from cloud.identity import PlantCa, make_csr
from cloud.identity.dynsec import ADMIN, CLOUD, CONTROL_TOPIC, RESPONSE_TOPIC, DynsecAdmin
from taktline.cli import build_parser
from taktline.mqtt import BrokerSettings
from taktline.private_broker import PrivateMosquitto
from tests.conftest import started_mosquitto
from tests.identity.clients import Client, tls_refusal

pytestmark = pytest.mark.mqtt

SITE, AREA = "plant1", "harness"
REFUSED = "Not authorized"
GRANTED = "Granted QoS 1"
#: A publish the broker took (16: taken, though nobody subscribes).
OK = ("Success", "No matching subscribers")


def _root(name: str) -> str:
    return f"taktline/v1/{SITE}/{AREA}/{name}"


def _devices(ca: PlantCa, folder: Path, *argv: str) -> int:
    """Runs `taktline cloud --db DB devices --ca DIR ARGV...`; its exit code."""
    db = str(folder / "cloud.db")
    args = build_parser().parse_args(
        ["cloud", "--db", db, "devices", "--ca", str(ca.folder), *argv]
    )
    return int(args._admin(args))


@dataclass
class Plant:
    """The CA, the broker and the folder the test's files go in."""

    ca: PlantCa
    broker: PrivateMosquitto
    folder: Path

    def devices(self, *argv: str) -> int:
        """Runs `taktline cloud devices --ca DIR ARGV...`; its exit code."""
        return _devices(self.ca, self.folder, *argv)

    def provision(self, name: str) -> None:
        """Provisions `name` from a CSR made on the 'device', with its broker rules."""
        device = self.folder / name
        device.mkdir(exist_ok=True)
        (device / "req.csr").write_bytes(make_csr(name, device / f"{name}.key"))
        argv = ["provision", name, "--role", "station", "--csr", str(device / "req.csr")]
        argv += ["--site", SITE, "--area", AREA, "--broker", self.broker.url]
        assert self.devices(*argv) == 0

    def settings(self, name: str, ca: PlantCa | None = None) -> BrokerSettings:
        """TLS settings with `name`'s certificate (and the key the device or the CA made)."""
        issuer = ca or self.ca
        key = self.folder / name / f"{name}.key"
        if not key.exists():
            key = issuer.issued_dir / f"{name}.key"
        return BrokerSettings.from_url(
            self.broker.url,
            ca_file=str(self.ca.cert_path),
            cert_file=str(issuer.issued_dir / f"{name}.pem"),
            key_file=str(key),
        )

    def client(self, name: str, client_id: str | None = None) -> Client:
        """A client with `name`'s certificate (not yet connected)."""
        return Client(self.settings(name), client_id or name)

    def cloud(self, client_id: str) -> Client:
        """A session of the cloud, on the service listener (several under one certificate)."""
        settings = self.settings(CLOUD)
        return Client(replace(settings, port=self.broker.service_port), client_id)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    """The plant CA, the admin's and the cloud's certificates, and the broker."""
    folder = tmp_path_factory.mktemp("revoke")
    ca = PlantCa(folder / "ca")
    assert _devices(ca, folder, "init") == 0
    assert ca.crl_path.exists() and not ca.revoked_serials()  # the broker's crlfile, empty
    assert _devices(ca, folder, "server", "broker", "--host", "127.0.0.1") == 0
    for name, role in ((ADMIN, "admin"), (CLOUD, "cloud")):
        ca.issue(name, role=role)
    assert _devices(ca, folder, "dynsec-init", str(folder / "dynsec.json")) == 0
    tls = (ca.cert_path, ca.issued_dir / "broker.pem", ca.issued_dir / "broker.key")
    with started_mosquitto(
        tls=tls, crl=ca.crl_path, dynsec=folder / "dynsec.json", plain=True, service=True
    ) as broker:
        yield Plant(ca, broker, folder)


def test_a_provisioned_device_publishes_and_reads_only_its_own(plant: Plant) -> None:
    plant.provision("pi-crimp-01")
    cloud = plant.cloud("taktline-cloud-ingest")
    device = plant.client("pi-crimp-01")
    try:
        assert cloud.connect() and device.connect()
        assert cloud.subscribe(f"taktline/v1/{SITE}/+/+/events") == GRANTED
        assert device.publish(f"{_root('pi-crimp-01')}/events") in OK
        assert cloud.wait_for(f"{_root('pi-crimp-01')}/events")
        # Not another device's path, not the plan, not outside the namespace.
        for topic in (
            f"{_root('pi-crimp-02')}/events",
            f"taktline/v1/{SITE}/plan/station/crimp-01/schedule",
            f"taktline/v1/{SITE}/{AREA}",
            "uagv/v2/acme/agv-1/order",
        ):
            assert device.publish(topic) == REFUSED, topic
        # Reads its own downlink and its site's station schedules, nothing else.
        assert device.subscribe(f"{_root('pi-crimp-01')}/settled") == GRANTED
        assert device.subscribe(f"{_root('pi-crimp-01')}/command") == GRANTED
        assert device.subscribe(f"taktline/v1/{SITE}/plan/station/crimp-01/schedule") == GRANTED
        assert device.subscribe(f"{_root('pi-crimp-02')}/settled") == REFUSED
        assert device.subscribe(f"taktline/v1/{SITE}/+/+/events") == REFUSED
        assert device.subscribe("taktline/#") == REFUSED
        assert device.subscribe(f"taktline/v1/{SITE}/plan/planners/all/plan") == REFUSED
        # The cloud writes the downlink and the device gets it.
        schedule = f"taktline/v1/{SITE}/plan/station/crimp-01/schedule"
        assert cloud.publish(schedule, b"{}", retain=True) in OK
        assert cloud.publish(f"{_root('pi-crimp-01')}/settled") in OK
        assert device.wait_for(schedule) and device.wait_for(f"{_root('pi-crimp-01')}/settled")
        # The cloud's role is as narrow as the ACL file's: it cannot speak for a device.
        assert cloud.publish(f"{_root('pi-crimp-01')}/events") == REFUSED
    finally:
        device.close()
        cloud.close()


def test_a_device_cannot_change_the_rules(plant: Plant) -> None:
    plant.provision("pi-crimp-03")
    device = plant.client("pi-crimp-03")
    try:
        assert device.connect()
        assert device.subscribe(RESPONSE_TOPIC) == REFUSED
        grant = {"command": "addClientRole", "username": "pi-crimp-03", "rolename": CLOUD}
        assert device.publish(CONTROL_TOPIC, json.dumps({"commands": [grant]}).encode()) == REFUSED
        assert device.publish("taktline/v1/other/area/x/events") == REFUSED  # still no more
    finally:
        device.close()
    with DynsecAdmin(plant.settings(ADMIN)) as admin:
        assert [role["rolename"] for role in admin.client("pi-crimp-03")["roles"]] == [
            "device-pi-crimp-03"
        ]


def test_another_devices_client_id_takes_nothing_over(plant: Plant) -> None:
    plant.provision("pi-victim")
    plant.provision("pi-thief")
    victim = plant.client("pi-victim")
    thief = plant.client("pi-thief", client_id="pi-victim")  # the victim's client id
    try:
        assert victim.connect() and victim.subscribe(f"{_root('pi-victim')}/command") == GRANTED
        assert thief.connect()
        # The broker took the thief's id from its certificate: the victim was not kicked ...
        assert victim.pump(0.5)
        # ... and the thief acts as itself only.
        assert thief.publish(f"{_root('pi-victim')}/events") == REFUSED
        assert thief.subscribe(f"{_root('pi-victim')}/command") == REFUSED
        assert thief.publish(f"{_root('pi-thief')}/events") in OK
        assert victim.publish(f"{_root('pi-victim')}/events") in OK
    finally:
        thief.close()
        victim.close()


def _other_ca(plant: Plant) -> BrokerSettings:
    other = PlantCa(plant.folder / "other-ca")
    if not other.key_path.exists():
        other.init("Someone else's CA")
    other.issue("pi-foreign", role="station")  # the broker's CA never signed it
    return plant.settings("pi-foreign", ca=other)


def _expired(plant: Plant) -> BrokerSettings:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    plant.ca.issue("pi-expired", role="station", days=1, now=long_ago)
    return plant.settings("pi-expired")


def _no_certificate(plant: Plant) -> BrokerSettings:
    return BrokerSettings.from_url(plant.broker.url, ca_file=str(plant.ca.cert_path))


@pytest.mark.parametrize(
    ("case", "alert"),
    [
        (_expired, "CERTIFICATE_EXPIRED"),
        (_other_ca, "UNKNOWN_CA"),
        (_no_certificate, "CERTIFICATE_REQUIRED"),
    ],
)
def test_a_bad_certificate_is_refused_at_the_handshake(
    plant: Plant, case: Callable[[Plant], BrokerSettings], alert: str
) -> None:
    settings = case(plant)
    assert tls_refusal(settings) == alert
    assert not Client(settings, "pi-crimp-01").connect()
    assert tls_refusal(plant.settings(CLOUD)) is None  # the listener takes a good one


@pytest.mark.parametrize("username", [None, "pi-crimp-01", ADMIN, CLOUD])
def test_the_plain_listener_lets_nobody_in(plant: Plant, username: str | None) -> None:
    # No password works: the clients of the plugin have none, their certificate is the proof.
    url = plant.broker.plain_url.replace("://", f"://{username}:secret@" if username else "://")
    assert not Client(BrokerSettings.from_url(url), username or "anonymous").connect()


def test_a_certificate_without_broker_rules_may_do_nothing(plant: Plant) -> None:
    plant.ca.issue("pi-unlisted", role="station")  # issued, never given rules on the broker
    stranger = plant.client("pi-unlisted")
    try:
        assert stranger.connect()  # the TLS handshake is the CA's; what it may do is the plugin's
        assert stranger.publish(f"{_root('pi-unlisted')}/events") == REFUSED
        assert stranger.subscribe("taktline/#") == REFUSED
    finally:
        stranger.close()


def test_a_revoked_device_is_cut_off_at_once_and_after_a_restart(
    plant: Plant, capsys: pytest.CaptureFixture[str]
) -> None:
    plant.provision("pi-lost")
    lost = plant.client("pi-lost")
    assert lost.connect() and lost.publish(f"{_root('pi-lost')}/events") in OK
    started = time.monotonic()
    assert plant.devices("revoke", "pi-lost", "--broker", plant.broker.url) == 0
    assert not lost.pump(1.0), "the revoked device is still connected"
    took = time.monotonic() - started
    assert took < 2.0
    out = capsys.readouterr().out
    assert "is now on the CRL" in out and "pi-lost disabled" in out
    # Before the broker reads the CRL the certificate still gets through the handshake, and
    # Mosquitto 2.0.11 lets the disabled client in (it never asks the plugin about a client
    # known by its certificate), but the identity has no role left: it may do nothing.
    again = plant.client("pi-lost")
    try:
        assert again.connect()
        assert again.publish(f"{_root('pi-lost')}/events") == REFUSED
        assert again.subscribe(f"{_root('pi-lost')}/command") == REFUSED
    finally:
        again.close()
    # SIGHUP: Mosquitto 2.0.11 reads the CRL again for new handshakes (measured).
    plant.broker.reload()
    time.sleep(0.3)
    assert tls_refusal(plant.settings("pi-lost")) == "CERTIFICATE_REVOKED"
    assert not plant.client("pi-lost").connect()
    assert plant.devices("list") == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("pi-lost")]
    assert listed and listed[0].endswith("REVOKED")
    # After a restart the CRL alone keeps it out; another device still gets in.
    plant.broker.stop()
    plant.broker.start()
    assert tls_refusal(plant.settings("pi-lost")) == "CERTIFICATE_REVOKED"
    plant.provision("pi-kept")
    kept = plant.client("pi-kept")
    try:
        assert kept.connect() and kept.publish(f"{_root('pi-kept')}/events") in OK
    finally:
        kept.close()
    assert plant.devices("revoke", "pi-lost") == 0
    assert "was already on the CRL" in capsys.readouterr().out


def test_a_replaced_pi_gets_a_new_certificate_under_the_same_name(plant: Plant) -> None:
    plant.provision("pi-replaced")
    old_cert = (plant.ca.issued_dir / "pi-replaced.pem").read_bytes()
    old_key = (plant.folder / "pi-replaced" / "pi-replaced.key").read_bytes()
    assert plant.devices("revoke", "pi-replaced", "--broker", plant.broker.url) == 0
    plant.broker.reload()
    # The new Pi makes its own key; the same name gets a new certificate (a new serial).
    (plant.folder / "pi-replaced").rename(plant.folder / "pi-replaced-old")
    plant.provision("pi-replaced")
    assert (plant.ca.issued_dir / "pi-replaced.pem").read_bytes() != old_cert
    new = plant.client("pi-replaced")
    try:
        assert new.connect() and new.publish(f"{_root('pi-replaced')}/events") in OK
    finally:
        new.close()
    # The old Pi's certificate stays out (the CRL), though the name is enabled again.
    old = plant.folder / "old"
    old.mkdir()
    (old / "cert.pem").write_bytes(old_cert)
    (old / "key.pem").write_bytes(old_key)
    (old / "key.pem").chmod(0o600)
    settings = BrokerSettings.from_url(
        plant.broker.url,
        ca_file=str(plant.ca.cert_path),
        cert_file=str(old / "cert.pem"),
        key_file=str(old / "key.pem"),
    )
    assert tls_refusal(settings) == "CERTIFICATE_REVOKED"


def test_the_cli_refuses_what_would_go_wrong(
    plant: Plant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "dynsec.json"
    existing.write_text("{}")
    assert plant.devices("dynsec-init", str(existing)) == 2
    assert "not overwritten" in capsys.readouterr().err
    assert existing.read_text() == "{}"
    argv = ["provision", "pi-x", "--role", "station", "--broker", plant.broker.url]
    assert plant.devices(*argv) == 2
    assert "--broker needs --site and --area" in capsys.readouterr().err
    assert plant.devices("revoke", "pi-never-issued") == 2
    assert "no certificate issued to 'pi-never-issued'" in capsys.readouterr().err
    plant.ca.issue("pi-offline", role="station")
    assert plant.devices("revoke", "pi-offline") == 0
    assert "no --broker" in capsys.readouterr().out
    # Refused before anything changes: a bad topic segment, the admin's key not there.
    where = ["--role", "station", "--site", "plant 1", "--area", AREA]
    assert plant.devices("provision", "pi-y", *where) == 2
    assert "'plant 1' is not a valid topic segment" in capsys.readouterr().err
    missing = ["--admin-key", str(tmp_path / "none.key"), "--broker", plant.broker.url]
    assert plant.devices("provision", "pi-y", *where[:3], SITE, *where[4:], *missing) == 2
    assert "cannot read the key file" in capsys.readouterr().err
    assert plant.devices("revoke", "pi-offline", *missing) == 2
    assert not (plant.ca.issued_dir / "pi-y.pem").exists()


def test_rotation_keeps_the_old_certificate_until_it_is_revoked_by_serial(
    plant: Plant, capsys: pytest.CaptureFixture[str]
) -> None:
    plant.provision("pi-rotating")
    old = plant.ca.issued()
    old_serial = next(item.serial for item in old if item.name == "pi-rotating")
    old_settings = plant.folder / "pi-rotating-old"
    (plant.folder / "pi-rotating").rename(old_settings)
    plant.provision("pi-rotating")  # a new key and CSR before the old certificate runs out
    capsys.readouterr()
    assert plant.devices("list") == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    rows = {int(row[3], 16): row[4:] for row in listed if row[0] == "pi-rotating"}
    assert len(rows) == 2 and rows[old_serial] == ["superseded"]
    old_cert = plant.ca.superseded_dir / f"pi-rotating-{old_serial:x}.pem"
    before = BrokerSettings.from_url(
        plant.broker.url,
        ca_file=str(plant.ca.cert_path),
        cert_file=str(old_cert),
        key_file=str(old_settings / "pi-rotating.key"),
    )
    assert tls_refusal(before) is None  # both work while the device switches over
    argv = ["revoke", "pi-rotating", "--serial", f"{old_serial:x}", "--broker", plant.broker.url]
    assert plant.devices(*argv) == 0
    assert "keeps its access rules" in capsys.readouterr().out
    plant.broker.reload()
    time.sleep(0.3)
    assert tls_refusal(before) == "CERTIFICATE_REVOKED"
    current = plant.client("pi-rotating")
    try:
        assert current.connect() and current.publish(f"{_root('pi-rotating')}/events") in OK
    finally:
        current.close()


def test_a_revoke_the_broker_does_not_answer_still_writes_the_crl(
    plant: Plant, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cloud.identity import dynsec
    from taktline.private_broker import free_port

    monkeypatch.setattr(dynsec, "TIMEOUT_S", 0.5)
    plant.ca.issue("pi-unreached", role="station")
    nowhere = f"mqtts://127.0.0.1:{free_port()}"
    assert plant.devices("revoke", "pi-unreached", "--broker", nowhere) == 3
    captured = capsys.readouterr()
    assert "the CRL is written, but" in captured.err and "127.0.0.1" in captured.err
    serial = next(item.serial for item in plant.ca.issued() if item.name == "pi-unreached")
    assert serial in plant.ca.revoked_serials()
    argv = ["--role", "station", "--site", SITE, "--area", AREA, "--broker", nowhere]
    assert plant.devices("provision", "pi-unreached-2", *argv) == 3
    assert "the certificate is issued, but" in capsys.readouterr().err


def test_the_cloud_keeps_its_sessions_apart_on_the_service_listener(plant: Plant) -> None:
    from cloud.service import CloudSettings

    ingest = CloudSettings(database=plant.folder / "cloud.db").client_id
    ids = [ingest, f"{ingest}-plan", f"{ingest}-logistics", f"{ingest}-sparkplug"]
    # On the devices' listener every session of one certificate gets the same client id (its
    # CN), so each new one closes the one before: why the cloud has a listener of its own.
    first, second = plant.client(CLOUD, ids[0]), plant.client(CLOUD, ids[1])
    try:
        assert first.connect() and second.connect()
        assert not first.pump(0.3)
    finally:
        first.close()
        second.close()
    sessions = [plant.cloud(client_id) for client_id in ids]
    try:
        assert all(session.connect() for session in sessions)
        assert all(session.pump(0.1) for session in sessions)
        assert sessions[1].publish(f"taktline/v1/{SITE}/plan/station/crimp-01/schedule") in OK
        assert sessions[0].publish(f"{_root('pi-crimp-01')}/events") == REFUSED  # same rules
        # Why no device may reach this listener: here a certificate takes any client id over.
        plant.ca.issue("pi-intruder", role="station")
        intruder = Client(
            replace(plant.settings("pi-intruder"), port=plant.broker.service_port), ids[0]
        )
        assert intruder.connect() and not sessions[0].pump(0.3)
        intruder.close()
    finally:
        for session in sessions:
            session.close()
    # The service listener asks for a certificate of the plant CA as the other does.
    assert tls_refusal(replace(_no_certificate(plant), port=plant.broker.service_port)) == (
        "CERTIFICATE_REQUIRED"
    )
