"""`taktline cloud devices --ca DIR init | provision NAME --role ROLE | server NAME | list`.

`init` makes the plant CA in DIR (key 0600). `provision` issues a device's client certificate
(CN = NAME, OU = ROLE) from the device's CSR (`--csr FILE`: the key stays on the device) or,
on a bench, with a key made here; writes `issued/NAME.toml`, the agent's TLS settings to paste
into its config; and, with `--site` and `--area`, registers the agent in the cloud's database
(`--db`), as `taktline cloud registry load` would. `server` issues the broker's certificate for
its host names; `list` shows every issued certificate, soonest expiry first. See
docs/deployment.md ("Device identity").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cloud.identity.ca import CaError, PlantCa

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
    server = actions.add_parser("server", help="issue the broker's server certificate")
    server.add_argument("name", help="a name for the certificate, e.g. the broker's host")
    server.add_argument("--host", action="append", required=True, help="DNS name or IP (repeat)")
    actions.add_parser("list", help="issued certificates with their expiry dates")


def run(args: argparse.Namespace) -> int:
    """0 when done, 2 on a refused request."""
    ca = PlantCa(args.ca)
    try:
        if args.action == "init":
            print(f"plant CA made: {ca.init()} (key {ca.key_path}, mode 0600: back it up offline)")
        elif args.action == "provision":
            return _provision(ca, args)
        elif args.action == "server":
            cert, key = ca.issue(args.name, hosts=tuple(args.host))
            print(f"broker certificate {cert}, key {key}")
        else:
            for item in ca.issued():
                print(
                    f"{item.name}\t{item.role or '-'}\t{item.not_after:%Y-%m-%d %H:%M}Z"
                    f"\t{item.serial:x}"
                )
    except CaError as exc:
        print(f"taktline cloud devices: {exc}", file=sys.stderr)
        return 2
    return 0


def _provision(ca: PlantCa, args: argparse.Namespace) -> int:
    if bool(args.site) != bool(args.area):
        raise CaError("--site and --area go together (the agent's topic path)")
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
    return 0
