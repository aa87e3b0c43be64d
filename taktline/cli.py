"""The `taktline` console script: a thin layer over the packages.

Each subcommand lives with the code it drives and exposes `configure(parser)` and `run(args)`;
this module only wires them up, importing each lazily so `taktline --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from taktline import __version__

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

#: name -> (module with configure/run, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "demo.cli",
        "run a simulated harness plant end to end (embedded broker, cloud, agents, web)",
    ),
    "agent": ("agent.cli", "run the edge agent of one Pi from its TOML config"),
    "cloud": ("cloud.cli", "run the cloud: ingest, event log, resource status, web interface"),
    "plan": ("cloud.scheduler.cli", "plan orders on a plant with the backward JIT scheduler"),
    "whatif": (
        "cloud.whatif.cli",
        "plan scenarios (a machine down, a late supplier, a rush order...) beside the plan",
    ),
    "forecast": (
        "cloud.forecast.cli",
        "demand forecast per product from the order history (Croston/SBA, Holt), backtested",
    ),
    "archive": ("cloud.archive", "move old events from the cloud's event log into archive files"),
    "report": ("cloud.report.cli", "resource status report of a period: OEE, downtime, cycle time"),
}


def build_parser() -> argparse.ArgumentParser:
    """Builds the full parser (imports every subcommand module)."""
    parser = argparse.ArgumentParser(
        prog="taktline",
        description="Taktline: IoT-driven Just-in-Time manufacturing.",
    )
    parser.add_argument("--version", action="version", version=f"taktline {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args._run(args)
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
