"""The plant CA: one folder holding the CA key and certificate, and every certificate it issued.

The one module that makes keys and certificates (with the `cryptography` package). A device's
client certificate carries the device name as its common name, so that a broker run with
`use_identity_as_username true` knows the device by its certificate alone; its role is the
organisational unit. The device may make its own key and send a CSR (the key never leaves it),
or, on a bench, the CA makes the key too. Layout of the folder::

    ca.key (0600)  ca.pem  crl.pem  issued/NAME.pem  [issued/NAME.key (0600), bench keys only]
    issued/superseded/NAME-SERIAL.pem   (a certificate NAME had before it was issued again)

`crl.pem` is the CA-signed list of revoked serials the broker's `crlfile` points at: `init`
writes it empty, `revoke` adds a certificate and writes it again atomically (a new file renamed
over the old, so the broker never reads half of one). Its next update is the CA's expiry: an
OpenSSL that checks CRLs refuses every client once the CRL it holds is out of date. Telling the
broker at once is `dynsec.py`'s job, not this module's.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloud.errors import CloudError

__all__ = [
    "CaError",
    "Issued",
    "PlantCa",
    "Revoked",
    "make_csr",
]

#: How long a device certificate is valid by default (rotate before it runs out).
DEVICE_DAYS: Final = 397
CA_DAYS: Final = 3650


class CaError(CloudError):
    """The CA folder or a request breaks a rule (the message names the file or the name)."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate the CA issued, as `devices list` shows it."""

    name: str
    role: str | None
    serial: int
    not_after: dt.datetime
    path: Path
    revoked: bool = False
    #: Issued again since (rotation, a replaced Pi): still valid until revoked or expired.
    superseded: bool = False


@dataclass(frozen=True, slots=True)
class Revoked:
    """What `revoke` did: the certificate's serial, and whether it was on the CRL already."""

    name: str
    serial: int
    already: bool
    crl_path: Path
    #: Whether it was the name's current certificate (not one superseded by a newer one).
    current: bool = True


def _write_private(path: Path, data: bytes) -> None:
    """Writes a secret file 0600 from the start (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class PlantCa:
    """The CA in folder `folder`; `init()` makes it, the other methods need it made."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.key_path = self.folder / "ca.key"
        self.cert_path = self.folder / "ca.pem"
        self.issued_dir = self.folder / "issued"
        self.crl_path = self.folder / "crl.pem"
        self.superseded_dir = self.issued_dir / "superseded"

    def init(self, name: str = "Taktline plant CA", *, now: dt.datetime | None = None) -> Path:
        """Makes the CA key (0600) and self-signed certificate; refuses to overwrite a CA."""
        if self.key_path.exists():
            raise CaError(f"{self.key_path} exists: a CA is already made in {self.folder}")
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.issued_dir.mkdir(exist_ok=True)
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        _write_private(self.key_path, _key_pem(key))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._write_crl(key, cert, [], now)  # the broker's `crlfile` exists from the start
        return self.cert_path

    def _load(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        except OSError as exc:
            raise CaError(
                f"no CA in {self.folder} ({exc.strerror}): make one with `devices --ca DIR init`"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CaError(f"{self.key_path}: not an EC key made by `devices init`")
        return key, cert

    def issue(
        self,
        name: str,
        *,
        role: str | None = None,
        csr_pem: bytes | None = None,
        hosts: tuple[str, ...] = (),
        days: int = DEVICE_DAYS,
        now: dt.datetime | None = None,
    ) -> tuple[Path, Path | None]:
        """Issues a certificate for `name` (its CN); returns (cert path, key path or None).

        With `csr_pem` the device keeps its key (the CSR's signature is checked and its public
        key certified); without, the CA makes a key (bench set-up) beside the certificate, 0600.
        With `hosts` the certificate is a server's (the broker's), valid for those DNS names or
        IP addresses; otherwise it is a client's.
        """
        if not name or "/" in name or name.startswith(".") or "\x00" in name:
            raise CaError(f"{name!r} is not a usable device name")
        ca_key, ca_cert = self._load()
        now = now or dt.datetime.now(dt.UTC)
        device_key: ec.EllipticCurvePrivateKey | None = None
        if csr_pem is not None:
            try:
                csr = x509.load_pem_x509_csr(csr_pem)
            except ValueError as exc:
                raise CaError(f"the CSR for {name!r} is not a PEM certificate request") from exc
            if not csr.is_signature_valid:
                raise CaError(f"the CSR for {name!r} has a bad signature")
            public_key = csr.public_key()
        else:
            device_key = ec.generate_private_key(ec.SECP256R1())
            public_key = device_key.public_key()
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
        if role:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role))
        usage = ExtendedKeyUsageOID.SERVER_AUTH if hosts else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName(_names(hosts)), False)
        cert = builder.sign(ca_key, hashes.SHA256())
        self.issued_dir.mkdir(exist_ok=True)
        cert_path = self.issued_dir / f"{name}.pem"
        self._supersede(name)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = None
        if device_key is not None:
            key_path = self.issued_dir / f"{name}.key"
            _write_private(key_path, _key_pem(device_key))
        return cert_path, key_path

    def _supersede(self, name: str) -> None:
        """Keeps `name`'s old certificate (and bench key), so that it can still be revoked."""
        old = self.issued_dir / f"{name}.pem"
        if not old.exists():
            return
        serial = x509.load_pem_x509_certificate(old.read_bytes()).serial_number
        self.superseded_dir.mkdir(exist_ok=True)
        old.rename(self.superseded_dir / f"{name}-{serial:x}.pem")
        old_key = self.issued_dir / f"{name}.key"
        if old_key.exists():
            old_key.rename(self.superseded_dir / f"{name}-{serial:x}.key")

    def revoked_serials(self) -> set[int]:
        """The serials on the CRL (none when there is no `crl.pem` yet)."""
        try:
            crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
        except FileNotFoundError:
            return set()
        return {entry.serial_number for entry in crl}

    def revoke(
        self, name: str, *, serial: int | None = None, now: dt.datetime | None = None
    ) -> Revoked:
        """Puts `name`'s current certificate (or its one with `serial`) on the CRL, writes it."""
        ca_key, ca_cert = self._load()
        mine = [item for item in self.issued() if item.name == name]
        if serial is not None:
            mine = [item for item in mine if item.serial == serial]
        else:
            mine = [item for item in mine if not item.superseded]
        if "/" in name or not mine:
            which = f" with serial {serial:x}" if serial is not None else ""
            raise CaError(f"no certificate issued to {name!r}{which} in {self.issued_dir}")
        current = not mine[0].superseded
        serial = mine[0].serial
        now = now or dt.datetime.now(dt.UTC)
        entries: list[x509.RevokedCertificate] = []
        if self.crl_path.exists():
            entries = list(x509.load_pem_x509_crl(self.crl_path.read_bytes()))
        already = any(entry.serial_number == serial for entry in entries)
        if not already:
            entries.append(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
            )
        self._write_crl(ca_key, ca_cert, entries, now)
        return Revoked(
            name=name, serial=serial, already=already, crl_path=self.crl_path, current=current
        )

    def _write_crl(
        self,
        ca_key: ec.EllipticCurvePrivateKey,
        ca_cert: x509.Certificate,
        entries: list[x509.RevokedCertificate],
        now: dt.datetime,
    ) -> None:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(ca_cert.not_valid_after_utc)
        )
        for entry in entries:
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(ca_key, hashes.SHA256())
        fresh = self.crl_path.with_name(self.crl_path.name + ".new")
        fresh.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        os.replace(fresh, self.crl_path)

    def issued(self) -> list[Issued]:
        """Every certificate issued, soonest expiry first, revoked and superseded ones marked."""
        self._load()
        revoked = self.revoked_serials()
        found = []
        paths = sorted(self.issued_dir.glob("*.pem")) + sorted(self.superseded_dir.glob("*.pem"))
        for path in paths:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            ou = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
            found.append(
                Issued(
                    name=str(cn[0].value) if cn else path.stem,
                    role=str(ou[0].value) if ou else None,
                    serial=cert.serial_number,
                    not_after=cert.not_valid_after_utc,
                    path=path,
                    revoked=cert.serial_number in revoked,
                    superseded=path.parent == self.superseded_dir,
                )
            )
        return sorted(found, key=lambda item: item.not_after)


def make_csr(name: str, key_path: Path) -> bytes:
    """On the device: makes a key at `key_path` (0600) and returns a CSR for `name` (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    _write_private(key_path, _key_pem(key))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    import ipaddress

    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names
