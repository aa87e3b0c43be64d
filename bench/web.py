"""Benchmark: the web server under load, beside a bare uvicorn app serving the same bytes.

The synthetic plant of `bench/plant_scale.py` (300 resources, 2,000 orders of 6 steps) is planned
once; the cloud's web server (`cloud.web.WebServer`: Starlette on uvicorn, every middleware,
problem handling, the status cache) serves it in a process of its own with `--sse` pages
connected to its live push (`/api/events`). Beside it, in another process, a bare ASGI app on
uvicorn (same protocol and loop) answers the same two paths with the same bytes, encoded once.
A closed-loop client (asyncio, HTTP/1.1 keep-alive, `--connections` at once, no gzip) asks each
path for `--seconds`: requests per second and p50/p99 latency, ours beside the bare one.

    python bench/web.py [--quick] [--orders N] [--sse N] [--connections N] [--seconds S]

Last line: a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plant_scale import NOW, synthetic_plant

from cloud.plant import parse_orders, parse_plant
from cloud.replan import Engine, Replanner
from cloud.status import ResourceStatus, StatusMaster
from cloud.web import WebServer
from cloud.web.guard import WebAuth
from cloud.web.plan_view import PlanView
from taktline.private_broker import free_port

PATHS = ("/api/status", "/api/plan")


def _serve_ours(port: int, status: ResourceStatus, replanner: Replanner) -> None:
    # Pages open to anonymous viewers (--public-read): the guard runs, as on a wall display.
    web = WebServer(
        status.snapshot, lambda n: [], port=port, status=status, replanner=replanner,
        auth=WebAuth(public_read=True),
    ).start()  # fmt: skip
    signal.sigwait({signal.SIGTERM})
    web.stop()


def _serve_bare(port: int, bodies: dict[str, bytes]) -> None:
    headers = {
        path: [(b"content-type", b"application/json"), (b"content-length", str(len(b)).encode())]
        for path, b in bodies.items()
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        await send({"type": "http.response.start", "status": 200, "headers": headers[path]})
        await send({"type": "http.response.body", "body": bodies[path]})

    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", lifespan="off",
                log_level="warning", access_log=False)  # fmt: skip


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path}: {head[:40]!r}")
    return len(body)


async def _load(port: int, path: str, connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    size = 0
    end = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal size
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < end:
                began = time.perf_counter()
                size = await _one(reader, writer, path)
                latencies.append(time.perf_counter() - began)
        finally:
            writer.close()

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - began
    ms = np.array(latencies) * 1000
    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "bytes": size,
    }


async def _sse_clients(port: int, count: int) -> tuple[list[asyncio.Task[None]], list[int]]:
    events = [0] * count

    async def client(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            while line := await reader.readline():
                if line.startswith(b"event: "):
                    events[n] += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(client(n)) for n in range(count)]
    return tasks, events


def _wait_listening(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


async def _run(args: argparse.Namespace, ours: int, bare: int) -> dict[str, Any]:
    tasks, events = await _sse_clients(ours, args.sse)
    await asyncio.sleep(1.0)
    if sum(1 for e in events if e) < args.sse:
        raise RuntimeError(f"only {sum(1 for e in events if e)} of {args.sse} pages got a push")
    results: dict[str, Any] = {}
    for path in PATHS:
        for name, port in (("ours", ours), ("bare", bare)):
            await _load(port, path, args.connections, 0.5)  # warm up
            results[f"{name} {path}"] = await _load(port, path, args.connections, args.seconds)
    alive = sum(1 for t in tasks if not t.done())
    for task in tasks:
        task.cancel()
    results["sse_connected_at_end"] = alive
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 s per path instead of 10")
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--sse", type=int, default=50, help="pages connected to /api/events")
    ap.add_argument("--connections", type=int, default=8, help="concurrent requests")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)

    began = time.monotonic()
    plant_doc, orders_doc = synthetic_plant(args.seed, args.orders)
    plant = parse_plant(plant_doc)
    replanner = Replanner(Engine(plant, parse_orders(orders_doc, plant), NOW), improve=False)
    status = ResourceStatus()
    status.set_master(StatusMaster.of(plant))
    bodies = {
        "/api/status": msgspec.json.encode(status.snapshot()),
        "/api/plan": PlanView(replanner, None).document_bytes(),
    }
    print(f"plant: {len(plant.resources)} resources, {args.orders} orders, planned in "
          f"{time.monotonic() - began:.1f} s; status {len(bodies['/api/status']):,} B, "
          f"plan {len(bodies['/api/plan']):,} B")  # fmt: skip

    fork = multiprocessing.get_context("fork")
    ours, bare = free_port(), free_port()
    servers = [
        fork.Process(target=_serve_ours, args=(ours, status, replanner), daemon=True),
        fork.Process(target=_serve_bare, args=(bare, bodies), daemon=True),
    ]
    for server in servers:
        server.start()
    try:
        _wait_listening(ours)
        _wait_listening(bare)
        results = asyncio.run(_run(args, ours, bare))
    finally:
        for server in servers:
            if server.pid is not None:
                os.kill(server.pid, signal.SIGTERM)
            server.join(10)
            if server.is_alive():
                server.kill()

    print(f"\n{args.connections} connections, {args.seconds:g} s per path, "
          f"{args.sse} pages on /api/events of ours (on {os.cpu_count()} cores)")  # fmt: skip
    print(f"{'path':<14}{'server':<8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'bytes':>12}")
    for path in PATHS:
        for name in ("ours", "bare"):
            r = results[f"{name} {path}"]
            print(f"{path:<14}{name:<8}{r['rps']:>10}{r['p50_ms']:>10}{r['p99_ms']:>10}"
                  f"{r['bytes']:>12,}")  # fmt: skip
    summary: dict[str, Any] = {
        "orders": args.orders,
        "sse_clients": args.sse,
        "sse_connected_at_end": results["sse_connected_at_end"],
        "connections": args.connections,
        "seconds": args.seconds,
    }
    for path in PATHS:
        key = path.removeprefix("/api/")
        for name in ("ours", "bare"):
            r = results[f"{name} {path}"]
            summary[f"{key}_{name}_rps"] = r["rps"]
            summary[f"{key}_{name}_p99_ms"] = r["p99_ms"]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
