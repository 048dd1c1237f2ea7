"""Webhooks: stock move -> channel feed row latency, API requests per event, receiver throughput.

1. Latency: a sandbox delivers real signed webhooks to the gateway; a loop stands in for the Dagster
   daemon, evaluating webhook_event_sensor every DEFAULT_INTERVAL_SECONDS (its default interval) and
   executing the runs it asks for in process. Each stock move happens at a random moment of the
   interval; we time it until the variant's row in the channel's listings.json shows the new quantity.
   Baseline in the same run: what the same change costs without webhooks, i.e. an incremental sync
   plus the full channel recompute and feed (the periodic job's work), measured, plus on average half
   of the schedule's 15-minute interval before that job starts.
2. Receiver throughput on one core: the gateway in a subprocess pinned to one CPU, signed deliveries
   from an async client on the other; baseline: a bare Starlette endpoint answering 200 in the same setup
   (the server's own ceiling), so the ratio is what verifying and storing costs.

    .venv/bin/python -c "import bench.bench_webhooks as b; b.main()"
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
from gecko_pipeline.webhooks.jobs import webhook_refresh_job
from gecko_pipeline.webhooks.sensor import DEFAULT_INTERVAL_SECONDS, webhook_event_sensor

from bench._sandbox import server_process
from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.channels.feeds import write_feeds
from gecko_pipeline.channels.stock import compute_channel_stock
from gecko_pipeline.config import Settings
from gecko_pipeline.defs.resources import (
    ChannelConfigResource,
    GeckoApiResource,
    OpsStoreResource,
    WarehouseResource,
)
from gecko_pipeline.signing import sign
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.processes import gecko_command
from gecko_pipeline.tools.runs import CONSOLE_QUIET_RUN_CONFIG
from gecko_pipeline.warehouse.sync import sync_all
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

SCALE = int(os.environ.get("BENCH_WEBHOOKS_SCALE", "2000"))
MOVES = int(os.environ.get("BENCH_WEBHOOKS_MOVES", "8"))
DELIVERIES = int(os.environ.get("BENCH_WEBHOOKS_DELIVERIES", "3000"))
CONCURRENCY = 32
SYNC_INTERVAL_SECONDS = 15 * 60  # incremental_sync_schedule's default cron
SECRET = "bench-webhook-secret"
CHANNELS = "channels:\n  - name: web\n    price_list: retail\n"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- 1. stock move -> feed row ---------------------------------------------------------------------


class DaemonLoop:
    """Evaluates the sensor every interval and runs what it asks for, as the Dagster daemon would."""

    def __init__(self, resources: dict[str, Any], interval: float) -> None:
        self.resources, self.interval = resources, interval
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None
        self.stop = threading.Event()
        self.runs = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            context = dg.build_sensor_context(
                instance=self.instance,
                cursor=self.cursor,
                resources={"ops_store": self.resources["ops_store"]},
            )
            result = webhook_event_sensor(context)
            self.cursor = result.cursor or self.cursor
            for request in result.run_requests or []:
                webhook_refresh_job.execute_in_process(
                    run_config={**request.run_config, **CONSOLE_QUIET_RUN_CONFIG},
                    resources=self.resources,
                    instance=self.instance,
                    tags=request.tags,
                )
                self.runs += 1


def _feed_quantity(listings: Path, variant_id: int) -> str | None:
    try:
        rows = json.loads(listings.read_text())
    except (OSError, ValueError):
        return None
    return next((str(r["quantity"]) for r in rows if r["variant_id"] == variant_id), None)


def bench_latency(root: Path) -> dict[str, Any]:
    from gecko_sandbox.config import SandboxConfig
    from gecko_sandbox.server import run_sandbox

    data_dir = root / "latency"
    channels_file = root / "channels.yaml"
    channels_file.write_text(CHANNELS)
    channels = load_channels(channels_file)
    with run_sandbox(
        SandboxConfig(scale=SCALE, rate_limit_quota=100_000, webhook_retry_base_delay=0.5)
    ) as sandbox:
        for name, value in (
            ("GECKO_API_URL", sandbox.url),
            ("GECKO_ACCESS_TOKEN", sandbox.token),
            ("GECKO_CLIENT_SECRET", sandbox.app_secret),
            ("GECKO_DATA_DIR", str(data_dir)),
        ):
            os.environ[name] = value
        settings = Settings(
            api_url=sandbox.url,
            access_token=sandbox.token,
            client_secret=sandbox.app_secret,
            data_dir=data_dir,
        )
        http = httpx.Client(base_url=sandbox.url, timeout=30)
        warehouse = WarehouseResource(data_dir=str(data_dir))
        with GeckoClient(sandbox.url, token=sandbox.token) as client, warehouse.connect() as con:
            sync_all(client, con, full=True)
            compute_channel_stock(con, channels)
            write_feeds(con, channels, settings.feeds_dir)
            # Baseline: the same change picked up without webhooks (incremental sync + full recompute).
            http.post("/_sandbox/stats/reset")
            started = time.perf_counter()
            sync_all(client, con, full=False)
            compute_channel_stock(con, channels)
            write_feeds(con, channels, settings.feeds_dir)
            baseline_s = time.perf_counter() - started
            baseline_requests = http.get("/_sandbox/stats").json()["requests"]
            candidates = [
                row
                for row in con.execute(
                    # A variant with a stock record at the channel's first location (channel_stock_levels
                    # holds rows only for channels that take stock per location; web does not).
                    """SELECT l.variant_id, s.location_id FROM channel_listings l
                   JOIN channel_locations cl ON cl.channel = l.channel AND cl.priority = 1
                   JOIN variant_locations s ON s.variant_id = l.variant_id AND s.location_id = cl.location_id
                   WHERE l.channel = 'web' AND l.reason = 'in_stock'
                   ORDER BY l.variant_id"""
                ).fetchall()
            ]
        resources = {
            "gecko_api": GeckoApiResource(api_url=sandbox.url),
            "warehouse": warehouse,
            "channel_config": ChannelConfigResource(channels_file=str(channels_file)),
            "ops_store": OpsStoreResource(data_dir=str(data_dir)),
        }
        listings = settings.feeds_dir / "web" / "listings.json"
        rng = random.Random(5)
        with run_gateway(settings, with_intake=False) as gateway:
            with GeckoClient(sandbox.url, token=sandbox.token) as client:
                ensure_subscriptions(client, gateway.webhook_url)
            http.post("/_sandbox/stats/reset")
            loop = DaemonLoop(resources, DEFAULT_INTERVAL_SECONDS)
            loop.thread.start()
            latencies: list[float] = []
            try:
                for variant_id, location_id in rng.sample(candidates, MOVES):
                    time.sleep(rng.uniform(0, DEFAULT_INTERVAL_SECONDS))
                    before = _feed_quantity(listings, variant_id)
                    moved = time.perf_counter()
                    http.post(
                        "/_sandbox/activity/stock_move",
                        json={"variant_id": variant_id, "location_id": location_id, "quantity": "-1"},
                    ).raise_for_status()
                    expected = Decimal(before) - 1 if before is not None else None
                    while time.perf_counter() - moved < 60:
                        now = _feed_quantity(listings, variant_id)
                        if now is not None and expected is not None and Decimal(now) == expected:
                            break
                        time.sleep(0.02)
                    latencies.append(time.perf_counter() - moved)
            finally:
                loop.stop.set()
                loop.thread.join(timeout=60)
            stats = http.get("/_sandbox/stats").json()
        http.close()
    return {
        "latencies": latencies,
        "runs": loop.runs,
        "api_requests": stats["requests"],
        "by_route": {k: v for k, v in stats["by_route"].items() if v},
        "baseline_s": baseline_s,
        "baseline_requests": baseline_requests,
    }


# --- 2. receiver throughput ------------------------------------------------------------------------

BARE_APP = """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def ok(request):
    await request.body()
    return JSONResponse({"status": 200})
uvicorn.run(Starlette(routes=[Route("/webhooks", ok, methods=["POST"])]), host="127.0.0.1", port={port},
            log_level="warning", access_log=False, lifespan="off")
"""


async def _blast(url: str, count: int) -> tuple[float, int]:
    now = int(time.time())
    bodies = [
        json.dumps(
            {
                "object_id": i,
                "event": "variant.stock_level_update",
                "timestamp": now,
                "resource_url": f"https://api.example/variants/{i}.json",
            }
        ).encode()
        for i in range(count)
    ]
    accepted = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post(
                url,
                content=body,
                headers={
                    "X-Gecko-Delivery": str(uuid.uuid4()),
                    "X-Gecko-Signature": sign(SECRET, body),
                    "Content-Type": "application/json",
                },
            )
            accepted += response.status_code == 200

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        return time.perf_counter() - started, accepted


def bench_receiver(root: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "GECKO_DATA_DIR": str(root / "receiver"),
        "GECKO_CLIENT_SECRET": SECRET,
        "GECKO_API_URL": "http://127.0.0.1:9",
        "GECKO_ACCESS_TOKEN": "unused",
    }
    results: dict[str, Any] = {}
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))  # the client stays off the server's core
    commands: dict[str, Callable[[int], list[str]]] = {
        "bare": lambda port: [sys.executable, "-c", BARE_APP.replace("{port}", str(port))],
        "receiver": lambda port: gecko_command(
            "--log-level", "WARNING", "gateway", "--host", "127.0.0.1", "--port", str(port)
        ),
    }
    for name, command in commands.items():
        # Each server in its own process on core 0 (when taskset exists); the client keeps the others.
        with server_process(name, command, env=env, timeout=30) as url:
            asyncio.run(_blast(f"{url}/webhooks", 200))  # warm-up
            seconds, accepted = asyncio.run(_blast(f"{url}/webhooks", DELIVERIES))
        results[name] = {"seconds": seconds, "accepted": accepted, "per_s": accepted / seconds}
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        root = Path(tmp)
        receiver = bench_receiver(root)
        print(f"webhook receiver, one core, {DELIVERIES} signed deliveries, {CONCURRENCY} connections:")
        print(
            f"  accepted and stored: {receiver['receiver']['per_s']:,.0f} deliveries/s "
            f"({receiver['receiver']['accepted']} accepted)"
        )
        print(
            f"  baseline (bare endpoint, same server): {receiver['bare']['per_s']:,.0f} requests/s; "
            f"ratio {receiver['receiver']['per_s'] / receiver['bare']['per_s']:.2f}"
        )
        latency = bench_latency(root)
        values = latency["latencies"]
        events = len(values)
        print(
            f"stock move -> channel feed row ({SCALE:,} variants, sensor interval {DEFAULT_INTERVAL_SECONDS} s, "
            f"{events} moves, {latency['runs']} runs):"
        )
        print(
            f"  p50 {statistics.median(values):.2f} s, p95 {_pct(values, 0.95):.2f} s, max {max(values):.2f} s"
        )
        print(
            f"  API requests per webhook event: {latency['api_requests'] / max(events, 1):.2f} "
            f"({latency['by_route']})"
        )
        sync_wait = SYNC_INTERVAL_SECONDS / 2 + latency["baseline_s"]
        print(
            f"  baseline without webhooks: incremental sync + full recompute + feed took {latency['baseline_s']:.2f} s "
            f"and {latency['baseline_requests']} API requests; behind the {SYNC_INTERVAL_SECONDS // 60}-minute "
            f"schedule that is {sync_wait:.0f} s on average; webhook p50 / that = "
            f"{statistics.median(values) / sync_wait:.4f}"
        )


if __name__ == "__main__":
    main()
