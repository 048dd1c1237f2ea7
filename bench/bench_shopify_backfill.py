"""Shopify orders in: a 10,000-order backfill against its request floor, and webhook to sales order.

1. Backfill: a Shopify sandbox seeded with BENCH_SHOPIFY_ORDERS orders (default 10,000) is read from
   the beginning into a fresh ops.sqlite with a Plus-sized bucket (20,000 points at 1,000/s). Printed:
   orders, requests against the floor (ceil(orders / orders per page): the page size is what keeps a
   page's requested cost under Shopify's 1,000-point cap), requested and actual cost points, THROTTLED
   answers (the sandbox's own count), seconds, and what the Standard plan's restore rate (100/s) would
   allow once its bucket is drained. A second run with the Standard bucket (2,000 at 100/s) reads the
   first 60 orders to show the pacing holds there too (0 THROTTLED).
2. Webhook to sales order: both sandboxes, a published catalogue, the gateway serving the signed Shopify
   route; orders placed in the store at random moments; a loop plays the daemon, ticking
   order_inbox_sensor every INBOX_SENSOR_SECONDS (its default, 15 s) and running what it asks for.
   Latency = store checkout to the sales order's id in the ledger: p50 / p95.

    .venv/bin/python -m bench shopify_backfill
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import tempfile
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import httpx
from gecko_sandbox import SandboxConfig, run_sandbox
from shopify_sandbox import ShopifySandboxConfig, run_shopify_sandbox

from bench._pipeline import SensorLoop
from gecko_pipeline import ops_db
from gecko_pipeline.channels.config import ChannelConfig, ShopifyChannel
from gecko_pipeline.config import Settings
from gecko_pipeline.definitions import definitions_with
from gecko_pipeline.defs.orders import INBOX_SENSOR_SECONDS
from gecko_pipeline.defs.resources import build_resources
from gecko_pipeline.orders import ledger
from gecko_pipeline.stores.shopify import ShopifyClient, backfill_orders, subscribe_shopify, webhook_path
from gecko_pipeline.stores.shopify.queries import PAGE_ORDERS
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.daemon import launch

SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)
ORDERS = int(os.environ.get("BENCH_SHOPIFY_ORDERS", "10000"))
LATENCY_ORDERS = int(os.environ.get("BENCH_SHOPIFY_LATENCY_ORDERS", "20"))
STANDARD_RATE = 100.0
ADDRESS = {
    "first_name": "B",
    "last_name": "Shopper",
    "address1": "1 Main St",
    "city": "Boston",
    "zip": "02108",
    "country": "United States",
    "country_code": "US",
}


def backfill(orders: int, bucket: float, rate: float, max_pages: int | None) -> None:
    config = ShopifySandboxConfig(scale=2000, orders=orders, bucket_size=bucket, restore_rate=rate)
    with run_shopify_sandbox(config) as shop, tempfile.TemporaryDirectory() as folder:
        channel = ChannelConfig(
            name="shop", kind="shopify", shopify=ShopifyChannel(shop.shop_domain, "T", "S", shop.api_version)
        )
        con = ops_db.connect(Path(folder) / "ops.sqlite")
        with ShopifyClient(shop.shop_domain, shop.token, base_url=shop.url, max_wait_seconds=600) as client:
            started = time.perf_counter()
            result = backfill_orders(client, con, channel, since=SINCE, max_pages=max_pages)
            seconds = time.perf_counter() - started
        con.close()
        throttled = httpx.get(f"{shop.url}/_sandbox/stats").json()["throttled"]
    n = max(result.stored, 1)
    floor = math.ceil(n / PAGE_ORDERS)
    print(
        f"backfill, bucket {bucket:,.0f} @ {rate:,.0f}/s: {result.stored:,} orders; {result.requests:,} "
        f"requests against a floor of {floor:,} (ceil(orders / {PAGE_ORDERS} per page)) = "
        f"{result.requests / floor:.2f}x; requested {result.cost_requested:,.0f} / actual "
        f"{result.cost_actual:,.0f} cost points ({result.cost_actual / n:.1f} per order); THROTTLED "
        f"{throttled}; {seconds:.1f} s ({result.stored / seconds:.0f} orders/s; on a Standard plan's "
        f"{STANDARD_RATE:.0f} points/s once its bucket is drained: {STANDARD_RATE / (result.cost_actual / n):.1f} "
        f"orders/s)",
        flush=True,
    )


CHANNELS = """
channels:
  - name: shopify
    kind: shopify
    shop: {shop}
    admin_url: {url}
    access_token_env: BENCH_SHOPIFY_TOKEN
    app_secret_env: BENCH_SHOPIFY_SECRET
    price_list: retail
    locations:
      71000000001: Primary Location
"""


def webhook_latency() -> None:
    with (
        run_sandbox(SandboxConfig(scale=400, rate_limit_quota=100_000)) as api,
        run_shopify_sandbox(ShopifySandboxConfig(scale=400)) as shop,
        tempfile.TemporaryDirectory() as folder,
    ):
        data = Path(folder)
        channels = data / "channels.yaml"
        channels.write_text(CHANNELS.format(shop=shop.shop_domain, url=shop.url))
        settings = Settings(
            api_url=api.url,
            access_token=api.token,
            client_secret=api.app_secret,
            data_dir=data,
            channels_file=channels,
            named_secrets={"BENCH_SHOPIFY_TOKEN": shop.token, "BENCH_SHOPIFY_SECRET": shop.app_secret},
        )
        defs, instance = definitions_with(build_resources(settings)), dg.DagsterInstance.ephemeral()
        assert launch(defs, instance, "incremental_sync_job", dg.RunRequest()).success
        products = httpx.get(f"{shop.url}/_sandbox/dump/products").json()["products"]
        store = {v["sku"] for p in products if p["status"] == "active" for v in p["variants"] if v.get("sku")}
        with closing(ops_db.connect(settings.ops_path)) as con:
            ledger.ensure_schema(con)
        with duckdb.connect(str(settings.published_path), read_only=True) as cat:
            ours = {
                r[0]
                for r in cat.execute(
                    "SELECT sku FROM channel_listings WHERE listed AND price IS NOT NULL"
                ).fetchall()
            }
        skus = sorted(store & ours)
        with run_gateway(settings) as gateway:
            with ShopifyClient(shop.shop_domain, shop.token, base_url=shop.url) as client:
                subscribe_shopify(client, gateway.url + webhook_path("shopify"))
            daemon = SensorLoop(
                defs,
                instance,
                "order_inbox_sensor",
                "order_push_job",
                INBOX_SENSOR_SECONDS,
                cursor=json.dumps({"inbox": 0}),
            )
            daemon.start()
            rng = random.Random(7)
            placed: dict[str, float] = {}
            done: dict[str, float] = {}

            def watch(seconds: float) -> None:
                """Note each placed order's sales order as it appears, for `seconds` (also while later
                orders are still being placed: an order is timed from its checkout, not from the last)."""
                end = time.monotonic() + seconds
                while True:
                    with closing(ops_db.connect(settings.ops_path)) as con:
                        for row in ledger.all_rows(con):
                            if row.channel_order_id in placed and row.order_id:
                                done.setdefault(row.channel_order_id, time.monotonic())
                    if time.monotonic() >= end or len(done) == LATENCY_ORDERS:
                        return
                    time.sleep(0.1)

            for i in range(LATENCY_ORDERS):
                watch(rng.uniform(0, INBOX_SENSOR_SECONDS / 2))
                body = {
                    "line_items": [{"sku": rng.choice(skus), "quantity": 1}],
                    "customer": {"email": f"b{i}@example.com", "first_name": "B", "last_name": str(i)},
                    "shipping_address": ADDRESS,
                    "financial_status": "paid",
                }
                order = httpx.post(f"{shop.url}/_sandbox/orders", json=body, timeout=30).json()["order"]
                placed[str(order["id"])] = time.monotonic()
            watch(6 * INBOX_SENSOR_SECONDS)
            daemon.stop(timeout=60)
    latencies = sorted(done[k] - placed[k] for k in done)
    p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)] if latencies else float("nan")
    print(
        f"webhook to sales order ({len(latencies)} of {len(placed)} store orders, order_inbox_sensor every "
        f"{INBOX_SENSOR_SECONDS} s as the daemon evaluates it): p50 {statistics.median(latencies):.1f} s, "
        f"p95 {p95:.1f} s (the sensor interval alone accounts for {INBOX_SENSOR_SECONDS / 2:.1f} s on average)",
        flush=True,
    )
    for problem in daemon.problems:
        print(f"  problem: {problem}", flush=True)


def main() -> None:
    backfill(ORDERS, 20_000, 1_000, None)
    backfill(200, 2_000, STANDARD_RATE, 20)
    webhook_latency()


if __name__ == "__main__":
    main()
