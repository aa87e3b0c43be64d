"""`taktline cloud registry load FILE|show`: the device registry in the cloud's database.

`load` validates the registry file (`cloud/registry.py` documents the format) and writes its
agents and devices into the database; a running cloud reads the registry again within a few
seconds (and at once on SIGHUP, which also re-reads its own `--registry` file). Then
`taktline cloud dead-letters replay --kind identity` brings in what an unregistered agent or
source sent meanwhile.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cloud.registry import RegistryError, apply_registry, load_registry
from cloud.store import EventLog

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds `load FILE` and `show`."""
    parser.add_argument("--db", default=argparse.SUPPRESS, help="the cloud's database")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser("load", help="write a registry file into the database")
    load.add_argument("file")
    actions.add_parser("show", help="the registered agents and devices")


def run(args: argparse.Namespace) -> int:
    """0 when done, 2 on a bad registry file."""
    database = args.db if "://" in args.db else Path(args.db)
    with EventLog(database) as log:
        if args.action == "load":
            try:
                agents = load_registry(args.file)
            except RegistryError as exc:
                print(f"taktline cloud registry: {exc}", file=sys.stderr)
                return 2
            apply_registry(log, agents)
            devices = sum(len(a.get("devices", [])) for a in agents)
            print(f"{len(agents)} agent(s) and {devices} device(s) registered")
            return 0
        agents_of, device_map = log.registry()
        for agent, (site, area) in sorted(agents_of.items()):
            print(f"{agent}\t{site}/{area}")
            for source, (owner, station) in sorted(device_map.items()):
                if owner == agent:
                    print(f"  {source}\t{station or '-'}")
        return 0
