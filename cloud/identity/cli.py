"""`taktline cloud devices --ca DIR init | provision | revoke | server | list | dynsec-init`.

`init` makes the plant CA in DIR (key 0600) and its empty CRL (`crl.pem`). `provision NAME
--role ROLE` issues a device's client certificate (CN = NAME, OU = ROLE) from the device's CSR
(`--csr FILE`: the key stays on the device) or, on a bench, with a key made here; writes
`issued/NAME.toml`, the agent's TLS settings to paste into its config; with `--site` and
`--area` registers the agent in the cloud's database (`--db`), as `taktline cloud registry
load` would; and with `--broker URL` gives the device its access rules on the broker (the
dynamic-security client NAME with role `device-NAME`). `revoke NAME` puts the device's
certificate on the CRL and, with `--broker URL`, disables it on the broker at once
(disconnected, its role deleted); `--serial HEX` revokes a superseded certificate of NAME
instead (CRL only). `server` issues the broker's certificate for its host names; `list` shows
every issued certificate, soonest expiry first, superseded and revoked ones marked;
`dynsec-init FILE` writes the dynamic-security plugin's first config. The broker commands log
in as `taktline-admin` with `issued/taktline-admin.pem` (`--admin-cert`, `--admin-key`). See
docs/deployment.md ("Device identity").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cloud.errors import CloudError
from cloud.identity.ca import CaError, PlantCa

if TYPE_CHECKING:
    from taktline.mqtt import BrokerSettings

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds `--ca DIR` and the actions."""
    parser.add_argument("--ca", required=True, metavar="DIR", help="the plant CA's folder")
    parser.add_argument("--db", default=argparse.SUPPRESS, help="the cloud's database")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("init", help="make the plant CA (key 0600, certificate ca.pem)")
    provision = actions.add_parser("provision", help="issue a device's client certificate")
    provision.add_argument("name", help="the device (agent) name: the certificate's CN")
    provision.add_argument("--role", required=True, help="the agent's role (station, gate, ...)")
    provision.add_argument("--csr", metavar="FILE", help="the device's CSR (PEM); else a bench key")
    provision.add_argument("--days", type=int, default=397, help="validity (default: %(default)s)")
    provision.add_argument("--site", help="register the agent at this site (needs --area)")
    provision.add_argument("--area", help="register the agent in this area (needs --site)")
    provision.add_argument(
        "--url",
        default="mqtts://mqtt.plant:8883",
        help="the broker URL written into the agent's settings (default: %(default)s)",
    )
    provision.add_argument(
        "--device-dir",
        default="/etc/taktline/tls",
        help="where the files go on the device, for the settings (default: %(default)s)",
    )
    _broker_options(provision, "give the device its access rules on this broker (needs --site)")
    revoke = actions.add_parser(
        "revoke", help="put a device's certificate on the CRL and disable it on the broker"
    )
    revoke.add_argument("name", help="the device (agent) name")
    revoke.add_argument(
        "--serial",
        metavar="HEX",
        type=lambda text: int(text, 16),
        help="revoke this superseded certificate of NAME instead (see `list`): CRL only, "
        "the device's current certificate stays valid",
    )
    _broker_options(revoke, "disable the device on this broker at once (disconnects it)")
    server = actions.add_parser("server", help="issue the broker's server certificate")
    server.add_argument("name", help="a name for the certificate, e.g. the broker's host")
    server.add_argument("--host", action="append", required=True, help="DNS name or IP (repeat)")
    actions.add_parser("list", help="issued certificates with their expiry dates, revoked marked")
    dynsec_init = actions.add_parser(
        "dynsec-init", help="write the dynamic-security plugin's first config (default deny)"
    )
    dynsec_init.add_argument("file", help="the JSON file to write (refused if it exists)")


def _broker_options(parser: argparse.ArgumentParser, broker_help: str) -> None:
    parser.add_argument("--broker", metavar="URL", help=f"mqtts://HOST:PORT: {broker_help}")
    parser.add_argument(
        "--admin-cert",
        metavar="FILE",
        help="the certificate of taktline-admin (default: DIR/issued/taktline-admin.pem)",
    )
    parser.add_argument(
        "--admin-key",
        metavar="FILE",
        help="its key, mode 0600 (default: DIR/issued/taktline-admin.key)",
    )


def run(args: argparse.Namespace) -> int:
    """0 when done, 2 on a refused request, 3 when the CRL is written but the broker failed."""
    ca = PlantCa(args.ca)
    try:
        if args.action == "init":
            print(f"plant CA made: {ca.init()} (key {ca.key_path}, mode 0600: back it up offline)")
            print(f"empty CRL {ca.crl_path}: the broker's crlfile")
        elif args.action == "provision":
            return _provision(ca, args)
        elif args.action == "revoke":
            return _revoke(ca, args)
        elif args.action == "server":
            cert, key = ca.issue(args.name, hosts=tuple(args.host))
            print(f"broker certificate {cert}, key {key}")
        elif args.action == "dynsec-init":
            _dynsec_init(Path(args.file))
        else:
            for item in ca.issued():
                marks = [
                    m
                    for m, on in (("superseded", item.superseded), ("REVOKED", item.revoked))
                    if on
                ]
                print(
                    f"{item.name}\t{item.role or '-'}\t{item.not_after:%Y-%m-%d %H:%M}Z"
                    f"\t{item.serial:x}" + "".join(f"\t{mark}" for mark in marks)
                )
    except CloudError as exc:
        print(f"taktline cloud devices: {exc}", file=sys.stderr)
        return 2
    return 0


def _dynsec_init(path: Path) -> None:
    import os

    from cloud.identity.dynsec import config_text

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise CaError(
            f"{path} exists: the broker's plugin keeps its live rules there; not overwritten"
        ) from exc
    except OSError as exc:
        raise CaError(f"cannot write {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(config_text())
    print(f"dynamic-security config {path} (mode 0600: give it to the broker's user)")


def _admin_settings(ca: PlantCa, args: argparse.Namespace) -> BrokerSettings:
    """The broker settings of `taktline-admin` (its files checked like the cloud's)."""
    from cloud.identity.dynsec import ADMIN
    from taktline.mqtt import BrokerSettings, tls_files

    cert = args.admin_cert or str(ca.issued_dir / f"{ADMIN}.pem")
    key = args.admin_key or str(ca.issued_dir / f"{ADMIN}.key")
    try:
        files = tls_files(args.broker, ca_file=str(ca.cert_path), cert_file=cert, key_file=key)
        return BrokerSettings.from_url(args.broker, **files)
    except ValueError as exc:
        raise CaError(f"--broker: {exc}") from exc


def _revoke(ca: PlantCa, args: argparse.Namespace) -> int:
    admin_settings = _admin_settings(ca, args) if args.broker else None  # checked first
    revoked = ca.revoke(args.name, serial=args.serial)
    state = "was already" if revoked.already else "is now"
    print(f"certificate {revoked.serial:x} of {args.name} {state} on the CRL {revoked.crl_path}")
    print("copy it to the broker's crlfile and reload the broker (SIGHUP) for new connections")
    if not revoked.current:
        print(f"a superseded certificate: {args.name} keeps its access rules on the broker")
        return 0
    if admin_settings is None:
        print("no --broker: the device stays connected until the broker reads the CRL")
        return 0
    from cloud.identity.dynsec import DynsecAdmin, DynsecError

    try:
        with DynsecAdmin(admin_settings) as admin:
            known = admin.disable_device(args.name)
    except DynsecError as exc:
        print(f"taktline cloud devices: the CRL is written, but {exc}", file=sys.stderr)
        return 3
    if known:
        print(f"{args.name} disabled on {args.broker}: disconnected, role device-{args.name} gone")
    else:
        print(f"{args.name} had no access rules on {args.broker}: nothing to disable there")
    return 0


def _provision(ca: PlantCa, args: argparse.Namespace) -> int:
    if bool(args.site) != bool(args.area):
        raise CaError("--site and --area go together (the agent's topic path)")
    if args.broker and not args.site:
        raise CaError("--broker needs --site and --area: the device's rules name its topic path")
    if args.site:
        from contract.topics import AgentPath, TopicError

        try:
            AgentPath(args.site, args.area, args.name)
        except TopicError as exc:
            raise CaError(f"{exc}: the device's topic path could not be built") from exc
    admin_settings = _admin_settings(ca, args) if args.broker else None  # before any change
    csr = None
    if args.csr:
        try:
            csr = Path(args.csr).read_bytes()
        except OSError as exc:
            raise CaError(f"cannot read the CSR {args.csr}: {exc.strerror}") from exc
    cert, key = ca.issue(args.name, role=args.role, csr_pem=csr, days=args.days)
    folder = args.device_dir.rstrip("/")
    snippet = (
        f'agent = "{args.name}"\nrole = "{args.role}"\nbroker = "{args.url}"\n'
        f'ca_file = "{folder}/ca.pem"\ncert_file = "{folder}/{args.name}.pem"\n'
        f'key_file = "{folder}/{args.name}.key"   # mode 0600, owned by the agent\'s user\n'
    )
    settings = ca.issued_dir / f"{args.name}.toml"
    settings.write_text(snippet)
    print(f"certificate {cert}" + (f", bench key {key} (0600)" if key else ""))
    print(
        f"copy {ca.cert_path} and the certificate to {folder}/ on the device; settings {settings}:"
    )
    print(snippet, end="")
    if args.site:
        from cloud.store import EventLog

        database = args.db if "://" in args.db else Path(args.db)
        with EventLog(database) as log:
            log.register_agent(args.name, args.site, args.area)
        print(f"agent {args.name} registered at {args.site}/{args.area}")
    if admin_settings is not None:
        from cloud.identity.dynsec import DynsecAdmin, DynsecError, device_role

        try:
            with DynsecAdmin(admin_settings) as admin:
                admin.add_device(args.name, args.site, args.area)
        except DynsecError as exc:
            print(
                f"taktline cloud devices: the certificate is issued, but {exc}; give the device "
                "its rules by provisioning it again once the broker answers",
                file=sys.stderr,
            )
            return 3
        print(
            f"{args.name} may publish under taktline/v1/{args.site}/{args.area}/{args.name}/# "
            f"on {args.broker} (role {device_role(args.name)})"
        )
    return 0
