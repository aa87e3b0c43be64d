"""The plant CA's rules (cloud/identity/ca.py): what it refuses, and what a certificate says."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloud.identity import CaError, PlantCa, make_csr
from taktline.cli import build_parser


def test_a_ca_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    ca = PlantCa(tmp_path / "ca")
    ca.init()
    assert stat.S_IMODE(os.stat(ca.key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(ca.folder).st_mode) == 0o700
    with pytest.raises(CaError, match="already made"):
        ca.init()


def test_a_device_certificate_names_the_device_and_its_role(tmp_path: Path) -> None:
    ca = PlantCa(tmp_path / "ca")
    ca.init()
    csr = make_csr("pi-gate-01", tmp_path / "device.key")
    cert_path, key_path = ca.issue("pi-gate-01", role="gate", csr_pem=csr, days=30)
    assert key_path is None
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "pi-gate-01"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "gate"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.issuer == x509.load_pem_x509_certificate(ca.cert_path.read_bytes()).subject
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30


@pytest.mark.parametrize(
    ("name", "csr", "rule"),
    [
        ("../etc", None, "not a usable device name"),
        ("", None, "not a usable device name"),
        ("pi-1", b"not a csr", "not a PEM certificate request"),
    ],
)
def test_bad_requests_are_refused(tmp_path: Path, name: str, csr: bytes | None, rule: str) -> None:
    ca = PlantCa(tmp_path / "ca")
    ca.init()
    with pytest.raises(CaError, match=rule):
        ca.issue(name, csr_pem=csr)


def test_the_cli_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli = build_parser()
    args = cli.parse_args(["cloud", "devices", "--ca", str(tmp_path / "none"), "list"])
    assert args._admin(args) == 2
    assert "devices --ca DIR init" in capsys.readouterr().err
    folder = str(tmp_path / "ca")
    args = cli.parse_args(["cloud", "devices", "--ca", folder, "init"])
    assert args._admin(args) == 0
    argv = ["cloud", "devices", "--ca", folder, "provision", "p", "--role", "station"]
    args = cli.parse_args([*argv, "--site", "plant1"])
    assert args._admin(args) == 2
    assert "--site and --area go together" in capsys.readouterr().err


def test_every_devices_action_and_option_is_documented() -> None:
    import argparse

    from cloud.identity.cli import configure

    guide = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
    section = guide[guide.index("## Device identity") : guide.index("## Files and secrets")]
    parser = argparse.ArgumentParser()
    configure(parser)
    (actions,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in actions.choices.items():
        assert f" {name}" in section, f"`devices {name}` is not in docs/deployment.md"
        for option in sub._actions:
            for flag in option.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in section, f"`devices {name} {flag}` is not documented"


def test_the_crl_is_signed_by_the_ca_and_lasts_as_long_as_it(tmp_path: Path) -> None:
    ca = PlantCa(tmp_path / "ca")
    ca.init()
    ca_cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    empty = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    assert len(empty) == 0 and empty.is_signature_valid(ca_cert.public_key())  # type: ignore[arg-type]
    assert empty.next_update_utc == ca_cert.not_valid_after_utc  # never stale on its own
    ca.issue("pi-1", role="station")
    first = ca.revoke("pi-1")
    ca.issue("pi-1", role="station")  # a new Pi under the same name
    assert ca.revoke("pi-1").serial != first.serial
    crl = x509.load_pem_x509_crl(ca.crl_path.read_bytes())
    assert (
        {entry.serial_number for entry in crl}
        == ca.revoked_serials()
        == {
            first.serial,
            ca.revoke("pi-1").serial,
        }
    )
    assert crl.is_signature_valid(ca_cert.public_key())  # type: ignore[arg-type]
    assert not list(ca.folder.glob("*.new"))  # written by rename: nothing half-written left
