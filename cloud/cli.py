"""`taktline cloud`: ingest, event log, resource status and web interface, until SIGTERM/Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from cloud.errors import CloudError

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the cloud's options."""
    parser.add_argument(
        "--broker", default="mqtt://127.0.0.1:1883", help="MQTT broker URL (default: %(default)s)"
    )
    parser.add_argument(
        "--db",
        default="taktline-cloud.db",
        help="event log: a SQLite file, or a PostgreSQL URL such as "
        "postgresql+psycopg://user@host/taktline (default: %(default)s)",
    )
    parser.add_argument("--site", default="+", help="serve one site only (default: every site)")
    parser.add_argument("--registry", help="JSON file of agents and their devices to register")
    parser.add_argument(
        "--web",
        default="127.0.0.1:8080",
        help="web interface HOST:PORT, or 'off' (default: %(default)s)",
    )


def _web(value: str) -> tuple[str, int | None]:
    if value == "off":
        return "127.0.0.1", None
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def run(args: argparse.Namespace) -> int:
    """Runs the cloud; returns 0 after a clean stop, 2 on bad settings."""
    from cloud.service import CloudService, CloudSettings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        host, port = _web(args.web)
    except ValueError:
        print(f"taktline cloud: --web must be HOST:PORT or off, not {args.web!r}", file=sys.stderr)
        return 2
    settings = CloudSettings(
        database=args.db if "://" in args.db else Path(args.db),
        broker=args.broker,
        site=args.site,
        registry=Path(args.registry) if args.registry else None,
        web_host=host,
        web_port=port,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        service = CloudService(settings, on_change=lambda change: logging.info("%s", change))
    except (CloudError, ValueError, OSError) as exc:
        print(f"taktline cloud: {exc}", file=sys.stderr)
        return 2
    with service:
        logging.info("status rebuilt from %d logged events", service.rebuilt)
        if service.web is not None:
            logging.info("web interface on %s", service.web.url)
        stop.wait()
    return 0
