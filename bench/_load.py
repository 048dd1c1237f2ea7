"""A load generator for HTTP endpoints that is not the bottleneck of what it measures.

Several processes (spawned, so none inherits the benchmark's threads), each pinned to the given CPUs,
each with several keep-alive connections over raw asyncio streams (on uvloop when installed). Every request is built before the
clock starts (signed webhook deliveries, each with its own delivery id); a response is read by its
Content-Length, nothing more is parsed. Workers start together at a barrier; the rate is all requests
over the span from the first start to the last end (perf_counter is CLOCK_MONOTONIC, one clock for
every process on Linux). Each worker also reports its CPU time: a generator that used less than its
cores while the server was slower was waiting for the server, so it is not what is measured.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any
from urllib.parse import urlsplit

from gecko_pipeline.signing import sign


@dataclass(frozen=True)
class Load:
    """`processes` x `connections` keep-alive connections sending `requests` deliveries in all."""

    requests: int
    processes: int = 2
    connections: int = 16
    cpus: frozenset[int] | None = None  # where the workers run (apart from the server's core)


@dataclass(frozen=True)
class Outcome:
    seconds: float
    sent: int
    accepted: int  # 2xx answers
    cpu_seconds: float  # the generator's own CPU time, all workers together
    cores: int  # the cores it could use

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds

    @property
    def busy(self) -> float:
        """Share of its cores the generator used: below 1, it waited for the server, not for itself."""
        return self.cpu_seconds / (self.seconds * self.cores)


def webhook_request(host: str, path: str, secret: str, number: int) -> bytes:
    """One signed stock-level delivery, as the API sends it, with a delivery id of its own."""
    body = json.dumps(
        {
            "object_id": number,
            "event": "variant.stock_level_update",
            "timestamp": int(time.time()),
            "resource_url": f"https://api.example/variants/{number}.json",
        }
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Gecko-Delivery: {uuid.uuid4()}\r\n"
        f"X-Gecko-Signature: {sign(secret, body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(host: str, port: int, requests: Sequence[bytes]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    accepted = 0
    try:
        for request in requests:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            accepted += head[9:10] == b"2"  # "HTTP/1.1 2xx"
    finally:
        writer.close()
    return accepted


async def _worker_requests(host: str, port: int, batches: list[list[bytes]]) -> int:
    counts = await asyncio.gather(*(_connection(host, port, batch) for batch in batches))
    return sum(counts)


def _worker(
    url: str,
    secret: str,
    first: int,
    count: int,
    load: Load,
    barrier: Barrier,
    out: multiprocessing.Queue[tuple[float, float, int, int, float]],
) -> None:
    if load.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, load.cpus)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [webhook_request(f"{host}:{port}", parts.path, secret, n) for n in range(first, first + count)]
    batches = [requests[i :: load.connections] for i in range(load.connections)]
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    accepted = _run(_worker_requests(host, port, batches))
    out.put((started, time.perf_counter(), count, accepted, time.process_time() - cpu))


def blast(url: str, secret: str, load: Load) -> Outcome:
    """Send `load.requests` signed deliveries to `url` (http://host:port/path); the rate they were answered."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(load.processes)
    out = context.Queue()
    share = load.requests // load.processes
    workers = [
        context.Process(target=_worker, args=(url, secret, n * share, share, load, barrier, out))
        for n in range(load.processes)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    started = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    cores = len(load.cpus) if load.cpus else os.cpu_count() or 1
    return Outcome(
        ended - started,
        sum(r[2] for r in results),
        sum(r[3] for r in results),
        sum(r[4] for r in results),
        min(cores, load.processes),
    )


def _run(main: Coroutine[Any, Any, int]) -> int:
    """The event loop uvicorn itself prefers (uvloop, when installed): the generator's cost per request
    must stay well below the server's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
