"""`taktline cloud`: ingest, event log, resource status and web interface, until SIGTERM/Ctrl-C.

With a plant model and orders (`--plant`, `--orders`) the cloud plans too: the replanner
publishes schedules over MQTT, replans on breakdowns, late deliveries and order changes, mails
gap reports (`--smtp`, `--mail`) and serves the Plan and Gap report pages (docs/replan.md).
`taktline cloud users|tokens ...` manage who may log in (`cloud/auth/cli.py`); the web interface
asks everyone to log in unless `--public-read` opens its pages to anonymous viewers.
`--sparkplug GROUP/NODE` publishes the stations as Sparkplug B devices (docs/sparkplug.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from cloud.errors import CloudError, ConfigError
from cloud.roles import check_role
from taktline.mqtt import BrokerSettings, read_secret, redacted, tls_files

if TYPE_CHECKING:  # imported when used: `taktline --help` need not load the planner
    from cloud.replan.mailer import SmtpSettings
    from cloud.service import CloudSettings

__all__ = ["configure", "mail_recipients", "run", "settings_from", "smtp_settings"]

#: The SMTP password when the --smtp URL names a user but no password (keeps it out of `ps`).
SMTP_PASSWORD_ENV = "TAKTLINE_SMTP_PASSWORD"
#: The broker password when --broker names a user and no --broker-password-file is given.
BROKER_PASSWORD_ENV = "TAKTLINE_BROKER_PASSWORD"
_DEFAULT_SMTP_PORT = {"plain": 25, "starttls": 587, "ssl": 465}


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the cloud's options, and the administration subcommands (`cloud.admin`)."""
    import importlib

    from cloud.admin import COMMANDS

    commands = parser.add_subparsers(dest="cloud_command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=module.__doc__)
        module.configure(sub)
        sub.set_defaults(_admin=module.run)
    parser.add_argument(
        "--broker",
        default="mqtt://127.0.0.1:1883",
        help="MQTT broker URL mqtt[s]://[USER@]HOST[:PORT], no password: that comes from "
        f"--broker-password-file or ${BROKER_PASSWORD_ENV} (default: %(default)s)",
    )
    parser.add_argument(
        "--broker-password-file",
        metavar="FILE",
        help="file whose first line is the broker password (keeps it out of `ps` and logs)",
    )
    for name, what in (
        ("ca", "CA certificate (PEM) that signed the mqtts:// broker's certificate"),
        ("cert", "the cloud's client certificate (PEM) for the broker; needs --broker-key"),
        ("key", "private key (PEM, mode 0600) of --broker-cert"),
    ):
        parser.add_argument(f"--broker-{name}", metavar="FILE", help=what)
    parser.add_argument(
        "--db",
        default="taktline-cloud.db",
        help="event log: a SQLite file, or a PostgreSQL URL such as "
        "postgresql+psycopg://user@host/taktline (default: %(default)s)",
    )
    parser.add_argument("--site", default="+", help="serve one site only (default: every site)")
    parser.add_argument(
        "--role",
        choices=("all", "ingest", "planner", "web"),
        default="all",
        help="what this process does (docs/deployment.md, 'Scale-out'): all (one process), "
        "ingest (one of several workers sharing the uplink), planner (status and plan from the "
        "log; one leads, others wait as standbys), web (a web replica: status from the log, the "
        "leader's published plan, changes sent on to the leading planner); ingest, planner and "
        "web need PostgreSQL (default: %(default)s)",
    )
    parser.add_argument(
        "--share-group",
        default="taktline-ingest",
        metavar="NAME",
        help="MQTT 5 shared-subscription group of the ingest workers (default: %(default)s)",
    )
    parser.add_argument("--registry", help="JSON file of agents and their devices to register")
    parser.add_argument(
        "--web",
        default="127.0.0.1:8080",
        help="web interface HOST:PORT, or 'off' (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics-token-file",
        metavar="FILE",
        help="a file holding the token that lets a non-loopback client read GET /metrics "
        "(Authorization: Bearer TOKEN); without it only loopback clients may",
    )
    parser.add_argument(
        "--sparkplug",
        metavar="GROUP/NODE",
        help="publish every station's state, stop reason, current job and counters as Sparkplug "
        "B metrics on the broker: the cloud is edge node NODE of group GROUP, each station one "
        "of its devices (NBIRTH/DBIRTH/DDATA/DDEATH, answers NCMD Node Control/Rebirth; "
        "docs/sparkplug.md)",
    )
    web = parser.add_argument_group("web", "who may reach the web interface (docs/web.md)")
    web.add_argument(
        "--public-read",
        action="store_true",
        help="anonymous viewers may read every page and GET route (changes still need a login)",
    )
    web.add_argument(
        "--allowed-hosts",
        metavar="HOST[,HOST]",
        action="append",
        default=[],
        help="Host header names served ('*' any; default: the --web host, and loopback or this "
        "machine's names when that is one of them or a wildcard)",
    )
    web.add_argument(
        "--web-url",
        metavar="URL",
        help="the web interface's address as people reach it (https://taktline.plant.example): "
        "the gap e-mail links each late order's root cause there",
    )
    web.add_argument("--cert", help="TLS certificate (PEM) for the web interface; needs --key")
    web.add_argument("--key", help="TLS private key (PEM) of --cert")
    from cloud.auth import cli as auth_cli

    auth_cli.configure(commands)
    plan = parser.add_argument_group(
        "planning",
        "with --plant and --orders the cloud replans and publishes schedules, issues suppliers' "
        "call-offs and sends the plant's AGVs their transports (docs/calloffs.md)",
    )
    plan.add_argument(
        "--plant", help="plant model JSON (master data; edits in the web interface are saved to it)"
    )
    plan.add_argument(
        "--orders", help="orders JSON (docs/schemas/orders.schema.json) to plan; needs --plant"
    )
    plan.add_argument(
        "--order-drop",
        metavar="DIR",
        help="folder watched for ERP order files (*.csv, *.json); handled files go to DIR/done, "
        "bad ones to DIR/rejected with the reasons per row; needs --orders",
    )
    plan.add_argument(
        "--order-policy",
        choices=("ask", "new", "adjust"),
        default="ask",
        help="a changed order: 'ask' waits for a planner's decision (Plan page or "
        "POST /api/decisions/ORDER), 'new' gives it a new schedule (the old one does not "
        "start), 'adjust' keeps its started and frozen steps and re-places the rest "
        "(default: %(default)s)",
    )
    plan.add_argument(
        "--frozen-minutes",
        type=float,
        default=30.0,
        help="steps starting within this many minutes stay put unless a resource in them is "
        "lost (default: %(default)s)",
    )
    plan.add_argument(
        "--repair-minutes",
        type=float,
        help="plan a broken machine back after this many minutes (default: out until it runs)",
    )
    plan.add_argument(
        "--smtp",
        metavar="URL",
        help="mail server for gap reports (and call-offs to suppliers with an email): "
        "smtp://[USER@]HOST[:PORT]"
        "[?security=starttls|ssl][&from=ADDR][&plain_login=allow]; the password comes from "
        f"--smtp-password-file or ${SMTP_PASSWORD_ENV}; a login without starttls or ssl is "
        "refused unless plain_login=allow; default port 25, 587 with starttls, 465 with ssl",
    )
    plan.add_argument(
        "--smtp-password-file",
        metavar="FILE",
        help="file whose first line is the SMTP password (keeps it out of `ps` and logs)",
    )
    plan.add_argument(
        "--mail",
        metavar="ROLE=ADDR[,ADDR]",
        action="append",
        default=[],
        help="recipients of a role (repeatable); gap reports go to the role 'planner', only "
        "when the report changed; needs --smtp",
    )


def _web(value: str) -> tuple[str, int | None]:
    if value == "off":
        return "127.0.0.1", None
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def smtp_settings(url: str, password_file: str | None = None) -> SmtpSettings:
    """`smtp://[user[:pass]@]host[:port][?security=starttls|ssl][&from=addr]` as settings.

    Raises:
        ConfigError: the URL does not say where to send mail, or names an unknown option.
    """
    from cloud.replan.mailer import SmtpSettings

    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ConfigError(f"--smtp must be smtp://[USER@]HOST[:PORT][?...], not {redacted(url)!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - {"security", "from", "plain_login"})
    if unknown:
        raise ConfigError(
            f"--smtp: unknown option(s) {unknown}; known: security, from, plain_login"
        )
    security = query.get("security", "plain")
    if security not in _DEFAULT_SMTP_PORT:
        raise ConfigError(f"--smtp: security must be starttls or ssl, not {security!r}")
    try:
        port = parts.port or _DEFAULT_SMTP_PORT[security]
    except ValueError as exc:
        raise ConfigError(f"--smtp: bad port in {redacted(url)!r}") from exc
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username is not None and password is None:
        try:
            password = read_secret(file=password_file, env=SMTP_PASSWORD_ENV)
        except ValueError as exc:
            raise ConfigError(f"--smtp-password-file: {exc}") from exc
    if username is not None and security == "plain" and query.get("plain_login") != "allow":
        raise ConfigError(
            "--smtp: a login over plain SMTP sends the password in clear text; use "
            "security=starttls or security=ssl, or say plain_login=allow"
        )
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        security=security,  # type: ignore[arg-type]  # checked against the known three above
        username=username,
        password=password,
        sender=query.get("from") or SmtpSettings.sender,
    )


def _has_password(url: str) -> bool:
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def mail_recipients(values: Sequence[str]) -> dict[str, list[str]]:
    """`ROLE=ADDR[,ADDR]` options as {role: [addresses]} (a repeated role adds addresses).

    Raises:
        ConfigError: an option without a role or without an address.
    """
    roles: dict[str, list[str]] = {}
    for value in values:
        role, sep, addresses = value.partition("=")
        found = [a.strip() for a in addresses.split(",") if a.strip()]
        if not sep or not role.strip() or not found or not all("@" in a for a in found):
            raise ConfigError(f"--mail must be ROLE=ADDR[,ADDR], not {value!r}")
        roles.setdefault(role.strip(), []).extend(found)
    return roles


def settings_from(args: argparse.Namespace) -> CloudSettings:
    """The service's settings from the parsed options.

    Raises:
        ConfigError: options that do not fit together (the message names them).
    """
    from cloud.service import CloudSettings

    try:
        host, port = _web(args.web)
    except ValueError as exc:
        raise ConfigError(f"--web must be HOST:PORT or off, not {args.web!r}") from exc
    if args.orders and not args.plant:
        raise ConfigError("--orders needs the plant model too (--plant)")
    role = check_role(getattr(args, "role", "all"), args.db)
    if role == "ingest" and (args.plant or args.orders or getattr(args, "sparkplug", None)):
        raise ConfigError(
            "--role ingest keeps no status and makes no plan: --plant, --orders and "
            "--sparkplug belong to the planner role"
        )
    if role == "web" and (
        args.orders or args.order_drop or args.smtp or getattr(args, "sparkplug", None)
    ):
        raise ConfigError(
            "--role web serves the web interface only: --orders, --order-drop, --smtp and "
            "--sparkplug belong to the planner role (a replica shows the leader's plan)"
        )
    if role == "web" and args.web == "off":
        raise ConfigError("--role web serves the web interface: --web off leaves it nothing")
    if args.order_drop and not args.orders:
        raise ConfigError("--order-drop needs --orders (the plan the dropped orders change)")
    for option, url in (("--broker", args.broker), ("--smtp", args.smtp)):
        if url and _has_password(url):
            raise ConfigError(
                f"{option}: a password on the command line is visible to every user (`ps`); "
                f"give it with {option}-password-file FILE or the environment"
            )
    smtp_file = getattr(args, "smtp_password_file", None)
    smtp = smtp_settings(args.smtp, smtp_file) if args.smtp else None
    try:
        broker_password = read_secret(
            file=getattr(args, "broker_password_file", None), env=BROKER_PASSWORD_ENV
        )
        BrokerSettings.from_url(args.broker)
        broker_tls = tls_files(
            args.broker,
            ca_file=getattr(args, "broker_ca", None),
            cert_file=getattr(args, "broker_cert", None),
            key_file=getattr(args, "broker_key", None),
        )
    except ValueError as exc:
        raise ConfigError(f"--broker: {exc}") from exc
    mail_to = mail_recipients(args.mail)
    if mail_to and smtp is None:
        raise ConfigError("--mail needs a mail server (--smtp)")
    if smtp is not None and not mail_to.get("planner"):
        raise ConfigError("gap reports go to the planner role: give --mail planner=ADDR")
    if smtp is not None and not args.orders:
        raise ConfigError("--smtp mails gap reports of the plan: give --plant and --orders")
    if bool(args.cert) != bool(args.key):
        raise ConfigError("--cert and --key go together")
    sparkplug = None
    if getattr(args, "sparkplug", None):
        from cloud.sparkplug import parse_node

        try:
            sparkplug = parse_node(args.sparkplug)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    from cloud.web.guard import hosts_from

    return CloudSettings(
        public_read=args.public_read,
        allowed_hosts=hosts_from(args.allowed_hosts) or None,
        certfile=Path(args.cert) if args.cert else None,
        keyfile=Path(args.key) if args.key else None,
        database=args.db if "://" in args.db else Path(args.db),
        broker=args.broker,
        broker_password=broker_password,
        broker_tls=broker_tls,
        site=args.site,
        registry=Path(args.registry) if args.registry else None,
        web_host=host,
        web_port=port,
        web_url=_web_url(args.web_url),
        plant=Path(args.plant) if args.plant else None,
        orders=Path(args.orders) if args.orders else None,
        order_drop=Path(args.order_drop) if args.order_drop else None,
        order_policy=args.order_policy,
        frozen_minutes=args.frozen_minutes,
        repair_minutes=args.repair_minutes,
        smtp=smtp,
        mail_to=mail_to,
        metrics_token=_read_token(args.metrics_token_file),
        sparkplug=sparkplug,
        role=role,
        share_group=getattr(args, "share_group", "taktline-ingest"),
    )


def _web_url(text: str | None) -> str | None:
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--web-url must be an http(s) address, not {text!r}")
    return text.rstrip("/")


def _read_token(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"--metrics-token-file: cannot read {path}: {exc.strerror}") from exc
    if len(token) < 16:
        raise ConfigError("--metrics-token-file: the token must have at least 16 characters")
    return token


def _lead(settings: CloudSettings, stop: threading.Event) -> int:
    """The planner role: standby until the planner lock is ours, then the service while held."""
    from cloud.roles import lead, reachable
    from cloud.service import CloudService

    def start() -> CloudService:
        service = CloudService(settings, on_change=lambda change: logging.info("%s", change))
        logging.info("status restored: %d logged events replayed", service.rebuilt)
        return service.start()

    def where(service: CloudService) -> str | None:
        """The address written beside the planner lock, where web replicas send changes."""
        return reachable(service.web.url) if service.web is not None else None

    try:
        return 0 if lead(settings, stop, start, advertise=where) else 1
    except (CloudError, ValueError, OSError) as exc:
        print(f"taktline cloud: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    """Runs the cloud, or an administration subcommand; 0 after a clean stop, 2 on bad settings."""
    if getattr(args, "_admin", None) is not None:
        return int(args._admin(args))
    if getattr(args, "cloud_command", None):
        from cloud.auth import cli as auth_cli

        return auth_cli.run(args)
    from cloud.service import CloudService

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"taktline cloud: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if settings.role == "planner":
        return _lead(settings, stop)
    try:
        service = CloudService(settings, on_change=lambda change: logging.info("%s", change))
    except (CloudError, ValueError, OSError) as exc:
        print(f"taktline cloud: {exc}", file=sys.stderr)
        return 2

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=service.reload_registry, name="sighup", daemon=True).start()

    signal.signal(signal.SIGHUP, on_hangup)
    with service:
        logging.info("status rebuilt from %d logged events", service.rebuilt)
        if service.web is not None:
            logging.info("web interface on %s (the andon board)", service.web.url)
            if service.replanner is not None:
                logging.info("plan and gap report on %splan and %sgaps", *[service.web.url] * 2)
        stop.wait()
    return 0
