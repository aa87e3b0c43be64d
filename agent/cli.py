"""`taktline agent`: run one Pi's agent and its role from its TOML config until SIGTERM or Ctrl-C.

The hardware is the config's `hardware` (else `$TAKTLINE_HARDWARE`, else the Pi's own); on a stop
signal the role stops first (readers released, pins closed), then the agent (outbox closed,
pending events kept for the next start), then the hardware.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from agent.config import load_config
from agent.errors import AgentError

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Adds the agent's options."""
    parser.add_argument("--config", required=True, help="the agent's TOML file")
    parser.add_argument(
        "--check", action="store_true", help="validate the config and exit (0 when it is good)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="agent_command", metavar="COMMAND")
    commands.add_parser(
        "resend-refused",
        help="move the events the broker refused back into the outbox to be sent again",
        description="After the broker's ACL (or the agent's identity) was fixed: the events "
        "in the outbox's local dead-letter table go back to the queue with the same keys; the "
        "running agent (or the next start) sends them, and the cloud applies each once.",
    )


def run(args: argparse.Namespace) -> int:
    """Runs the agent; returns 0 after a clean stop, 2 on a bad config, 3 on unusable pins."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
    except AgentError as exc:
        print(f"taktline agent: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "agent_command", None) == "resend-refused":
        from agent.outbox import Outbox

        with Outbox(config.outbox, agent=config.agent) as outbox:
            moved = outbox.requeue_dead_letters()
        print(f"{moved} refused event(s) back in the outbox {config.outbox} to be sent again")
        return 0
    if args.check:
        try:  # everything the run reads before it starts: the password file too
            config.broker_settings()
        except AgentError as exc:
            print(f"taktline agent: {exc}", file=sys.stderr)
            return 2
        print(
            f"{args.config}: agent {config.agent} at {config.site}/{config.area}, "
            f"role {config.role}, is valid"
        )
        return 0
    from agent.metrics import agent_metrics
    from agent.runtime import Agent, start_role
    from agent.watchdog import Watchdog
    from hardware.factory import HardwareError, hardware_factory

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        hardware = hardware_factory(config.hardware)
    except HardwareError as exc:
        print(f"taktline agent: {exc}", file=sys.stderr)
        return 2
    with hardware, Agent(config, clock=hardware.clock) as agent:
        try:
            role = start_role(agent, hardware)
        except (AgentError, HardwareError) as exc:  # pins in use or missing: say which, stop
            print(f"taktline agent: cannot start role {config.role}: {exc}", file=sys.stderr)
            return 3
        workers = agent.worker_health
        watchdog = Watchdog(workers).start()  # READY=1, then WATCHDOG=1 while workers live
        metrics = agent_metrics(agent, workers)
        if config.metrics is not None:
            port = metrics.serve(*config.metrics)
            logging.info("metrics on http://%s:%d/metrics", config.metrics[0], port)
        with role:
            logging.info(
                "agent %s up as %s on %s hardware: outbox %s (%d pending), broker %s",
                config.agent,
                config.role,
                hardware.kind,
                config.outbox,
                agent.outbox.depth(),
                config.broker_url,
            )
            stop.wait()
            logging.info("stopping the %s role", config.role)
            watchdog.stop()
            metrics.close()
        logging.info("stopping: %d events pending in the outbox", agent.outbox.depth())
    return 0
