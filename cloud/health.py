"""Health and readiness: what `/healthz` and `/readyz` answer, from the workers' own states.

*Alive* (`/healthz`): every supervised worker's thread runs (a worker that is retrying a fault is
alive; a thread that ended without being asked to is not). *Ready* (`/readyz`): ingest commits
(its worker runs without a fault streak, it is connected and subscribed to the broker), the
planner runs and its publisher is connected, the order drop is read, the Sparkplug bridge (with
`--sparkplug`) is connected. While a database, disk or broker fault lasts the cloud is alive but
not ready (HTTP 503), and ready again once the fault is gone. Each part reports itself as a dict
with `ready` (bool) and `problems` (list of strings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taktline.supervise import Worker

__all__ = ["Health"]

Check = Callable[[], dict[str, Any]]


def worker_check(worker: Worker, *extra: Callable[[], str | None]) -> Check:
    """A check from one supervised worker (and further conditions returning a problem or None)."""

    def check() -> dict[str, Any]:
        health = worker.health()
        problems = [] if health.state == "running" else [f"{worker.name} {health.state}"]
        if health.last_error and health.state != "running":
            problems[-1] += f": {health.last_error}"
        problems += [p for p in (condition() for condition in extra) if p]
        return {"ready": not problems, "problems": problems, "worker": health.to_dict()}

    return check


class Health:
    """The cloud's parts, each with a readiness check and the workers behind them."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._workers: list[Worker] = []

    def add(self, name: str, check: Check, *workers: Worker) -> None:
        """Adds a part: its readiness check and the workers whose threads must live."""
        self._checks[name] = check
        self._workers.extend(workers)

    def alive(self) -> tuple[bool, dict[str, Any]]:
        """Whether every worker's thread runs (or was stopped on purpose)."""
        dead = [w.name for w in self._workers if w.health().state == "failing" and not w.is_alive]
        return not dead, {"alive": not dead, "dead": dead}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether every part is ready, with each part's report."""
        parts: dict[str, Any] = {}
        for name, check in self._checks.items():
            try:
                parts[name] = check()
            except Exception as exc:  # a check that fails says so, it does not answer 500
                parts[name] = {"ready": False, "problems": [f"check failed: {exc!r}"]}
        ok = all(bool(part.get("ready")) for part in parts.values())
        return ok, {"ready": ok, "parts": parts}
