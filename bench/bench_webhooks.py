"""Webhooks: the receiver's throughput under a load generator that is not the bottleneck, and the latency
from a stock move to the channel feed row through the webhook path.

1. Receiver throughput. Each server in its own process pinned to core 0 (taskset); the load generator
   (bench/_load.py: processes x keep-alive connections over raw asyncio streams, every signed delivery
   built before the clock starts) pinned to the other cores. Three servers, same generator, same run:
   - a raw asyncio responder (a fixed 200, no framework): the generator's reach, a lower bound of its own
     ceiling, so a server measured well below it is measured, not the generator;
   - a bare Starlette endpoint under uvicorn with the gateway's options: the server stack's ceiling
     (the baseline);
   - the gateway's receiver (`gecko-pipeline gateway`): verify the signature, deduplicate, store in
     ops.sqlite, answer. Ratio to the bare endpoint: what verifying and storing cost.
2. Stock move -> feed row. A sandbox in its own process delivers real signed webhooks to the gateway
   (a thread here); a loop stands in for the daemon: every sensor interval it evaluates
   webhook_event_sensor and runs what it asks for (tools/daemon.tick and launch, SQLite instance). Each
   stock move happens at a random moment of the interval; we time it until the channel's listings.json
   shows the new quantity. Baseline, same run: the periodic incremental_sync_job's run picking up one
   such move, plus on average half its 15-minute schedule.

    .venv/bin/python -m bench webhooks
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx

from bench._load import Load, Outcome, blast
from bench._pipeline import PipelineHome, SensorLoop
from bench._sandbox import TOKEN, sandbox_process, server_process
from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.daemon import launch
from gecko_pipeline.tools.processes import gecko_command
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

SCALE = int(os.environ.get("BENCH_WEBHOOKS_SCALE", "2000"))
MOVES = int(os.environ.get("BENCH_WEBHOOKS_MOVES", "8"))
DELIVERIES = int(os.environ.get("BENCH_WEBHOOKS_DELIVERIES", "10000"))
SYNC_INTERVAL_SECONDS = 15 * 60  # incremental_sync_schedule's default cron
SECRET = "bench-webhook-secret"
CHANNELS = "channels:\n  - name: web\n    price_list: retail\n"


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- 1. receiver throughput ---------------------------------------------------------------------------


def _generator_cpus() -> frozenset[int] | None:
    """Every core but the servers' (core 0), when there is another one."""
    cores = os.cpu_count() or 1
    return frozenset(range(1, cores)) if cores > 1 else None


def bench_receiver(root: Path) -> dict[str, Outcome]:
    env = {
        **os.environ,
        "GECKO_DATA_DIR": str(root / "receiver"),
        "GECKO_CLIENT_SECRET": SECRET,
        "GECKO_API_URL": "http://127.0.0.1:9",
        "GECKO_ACCESS_TOKEN": "unused",
    }
    servers: dict[str, Callable[[int], list[str]]] = {
        "raw": lambda port: [sys.executable, "-m", "bench._servers", "raw", str(port)],
        "bare": lambda port: [sys.executable, "-m", "bench._servers", "bare", str(port)],
        "receiver": lambda port: gecko_command(
            "--log-level", "WARNING", "gateway", "--host", "127.0.0.1", "--port", str(port)
        ),
    }
    load = Load(DELIVERIES, cpus=_generator_cpus())
    results = {}
    for name, command in servers.items():
        with server_process(name, command, env=env, timeout=60) as url:
            blast(f"{url}/webhooks", SECRET, Load(400, cpus=load.cpus))  # warm-up: connections, caches
            results[name] = blast(f"{url}/webhooks", SECRET, load)
    return results


def report_receiver(results: dict[str, Outcome]) -> None:
    raw, bare, receiver = results["raw"], results["bare"], results["receiver"]
    load = Load(DELIVERIES)
    print(
        f"webhook receiver, server on core 0, load generator ({load.processes} processes x {load.connections} "
        f"keep-alive connections, uvloop) on the other core(s), {DELIVERIES} signed deliveries each:"
    )
    print(
        f"  load generator against a raw responder: {raw.per_second:,.0f} requests/s, generator busy "
        f"{raw.busy:.0%} of its core(s) (its reach: a lower bound of its ceiling)"
    )
    print(
        f"  bare Starlette endpoint, uvicorn as the gateway runs it (baseline): {bare.per_second:,.0f} requests/s "
        f"= {bare.per_second / raw.per_second:.2f}x the generator's reach; generator busy {bare.busy:.0%}"
    )
    print(
        f"  receiver (verify, deduplicate, store in ops.sqlite): {receiver.per_second:,.0f} deliveries/s, "
        f"{receiver.accepted} of {receiver.sent} accepted; {receiver.per_second / bare.per_second:.2f}x the bare "
        f"endpoint; generator busy {receiver.busy:.0%}"
    )


# --- 2. stock move -> feed row ------------------------------------------------------------------------


def _feed_quantity(listings: Path, variant_id: int) -> str | None:
    try:
        rows = json.loads(listings.read_text())
    except (OSError, ValueError):
        return None
    return next((str(r["quantity"]) for r in rows if r["variant_id"] == variant_id), None)


def _movable(warehouse: Path) -> list[tuple[int, int]]:
    """(variant, location) pairs whose move shows in the web channel's quantity."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            # Stock at the channel's first location (channel_stock_levels holds rows only for channels
            # that take stock per location; web does not).
            """SELECT l.variant_id, s.location_id FROM channel_listings l
               JOIN channel_locations cl ON cl.channel = l.channel AND cl.priority = 1
               JOIN variant_locations s ON s.variant_id = l.variant_id AND s.location_id = cl.location_id
               WHERE l.channel = 'web' AND l.reason = 'in_stock'
               ORDER BY l.variant_id"""
        ).fetchall()


def _move(http: httpx.Client, variant_id: int, location_id: int) -> None:
    http.post(
        "/_sandbox/activity/stock_move",
        json={"variant_id": variant_id, "location_id": location_id, "quantity": "-1"},
    ).raise_for_status()


def _wait_for_feed(listings: Path, variant_id: int, expected: Decimal | None, timeout: float = 60) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        now = _feed_quantity(listings, variant_id)
        if now is not None and expected is not None and Decimal(now) == expected:
            return
        time.sleep(0.02)


def bench_latency(root: Path) -> dict[str, Any]:
    channels_file = root / "channels.yaml"
    channels_file.write_text(CHANNELS)
    with sandbox_process(
        "--scale",
        str(SCALE),
        "--app-secret",
        SECRET,
        "--webhook-retry-base-delay",
        "0.5",
        "--rate-limit-quota",
        "100000",
        pin=False,
    ) as url:
        home = PipelineHome(root, "latency", url, channels_file, app_secret=SECRET)
        defs = home.definitions()
        http = httpx.Client(base_url=url, timeout=30)
        listings = home.settings.feeds_dir / "web" / "listings.json"
        with home.instance() as instance, home.environment():
            launch(defs, instance, "incremental_sync_job", dg.RunRequest())  # the first (full) sync
            candidates = _movable(home.settings.warehouse_path)
            rng = random.Random(5)
            # Baseline: the periodic job picking up one move, without webhooks.
            variant_id, location_id = candidates[-1]
            _move(http, variant_id, location_id)
            http.post("/_sandbox/stats/reset")
            started = time.perf_counter()
            launch(defs, instance, "incremental_sync_job", dg.RunRequest())
            baseline_s = time.perf_counter() - started
            baseline_requests = http.get("/_sandbox/stats").json()["requests"]
            latencies: list[float] = []
            with run_gateway(home.settings, with_intake=False) as gateway:
                with GeckoClient(url, token=TOKEN) as client:
                    ensure_subscriptions(client, gateway.webhook_url)
                http.post("/_sandbox/stats/reset")
                loop = SensorLoop(
                    defs,
                    instance,
                    "webhook_event_sensor",
                    "webhook_refresh_job",
                    home.settings.webhook_sensor_interval_seconds,
                    problem_skips=("need no refresh",),  # events that moved nothing
                )
                with loop:
                    for variant_id, location_id in rng.sample(candidates[:-1], MOVES):
                        time.sleep(rng.uniform(0, loop.interval))
                        before = _feed_quantity(listings, variant_id)
                        moved = time.perf_counter()
                        _move(http, variant_id, location_id)
                        _wait_for_feed(
                            listings, variant_id, Decimal(before) - 1 if before is not None else None
                        )
                        latencies.append(time.perf_counter() - moved)
                        if latencies[-1] >= 60:  # not seen: what became of its delivery and its event
                            sent = http.get("/_sandbox/webhook_deliveries").json()["webhook_deliveries"]
                            mine = [d for d in sent if d["object_id"] == variant_id]
                            with closing(sqlite3.connect(home.settings.ops_path)) as ops:
                                stored = ops.execute(
                                    "SELECT id, status FROM webhook_events WHERE object_id = ?", (variant_id,)
                                ).fetchall()
                            loop.problems.append(
                                f"variant {variant_id} not seen: deliveries "
                                f"{[(d['state'], d['attempts']) for d in mine]}, stored events {stored}, "
                                f"sensor cursor {loop.cursor}, the stand-in daemon: {loop.doing()}"
                            )
                stats = http.get("/_sandbox/stats").json()
        http.close()
    return {
        "latencies": latencies,
        "runs": len(loop.finished_runs()),
        "problems": loop.problems,
        "interval": loop.interval,
        "api_requests": stats["requests"],
        "by_route": {k: v for k, v in stats["by_route"].items() if v},
        "baseline_s": baseline_s,
        "baseline_requests": baseline_requests,
    }


def report_latency(latency: dict[str, Any]) -> None:
    values = latency["latencies"]
    events = len(values)
    print(
        f"stock move -> channel feed row ({SCALE:,} variants, sensor interval {latency['interval']} s, "
        f"{events} moves, {latency['runs']} webhook_refresh_job runs, SQLite instance):"
    )
    print(f"  p50 {statistics.median(values):.2f} s, p95 {_pct(values, 0.95):.2f} s, max {max(values):.2f} s")
    print(
        f"  each move, in order: {', '.join(f'{v:.1f}' for v in values)} s (a move not seen in 60 s reads 60)"
    )
    for problem in latency["problems"]:
        print(f"  problem: {problem}")
    print(
        f"  API requests per webhook event: {latency['api_requests'] / max(events, 1):.2f} "
        f"({latency['by_route']})"
    )
    sync_wait = SYNC_INTERVAL_SECONDS / 2 + latency["baseline_s"]
    print(
        f"  baseline without webhooks: incremental_sync_job's run picking up a move took {latency['baseline_s']:.2f} s "
        f"and {latency['baseline_requests']} API requests; behind the {SYNC_INTERVAL_SECONDS // 60}-minute "
        f"schedule that is {sync_wait:.0f} s on average; webhook p50 / that = "
        f"{statistics.median(values) / sync_wait:.4f}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        root = Path(tmp)
        report_receiver(bench_receiver(root))
        report_latency(bench_latency(root))


if __name__ == "__main__":
    main()
