"""Shopify order backfill: requests and cost per order, and the time the cost bucket allows.

A Shopify sandbox with 300 seeded orders (scale 3,000) is backfilled from the beginning into a fresh
ops.sqlite, once with a Plus-sized bucket (20,000 points, 1,000/s: the answer times bound it) and once,
for its first 60 orders, with the Standard plan's (2,000 points, 100/s: the bucket bounds it). Printed:
orders, pages, requests, requested and actual cost, THROTTLED answers (the sandbox's count), seconds,
and the rate the restore rate allows once the bucket is drained (restore rate / actual cost per order).

    .venv/bin/python -m bench shopify
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from shopify_sandbox import ShopifySandboxConfig, run_shopify_sandbox

from gecko_pipeline import ops_db
from gecko_pipeline.channels.config import ChannelConfig, ShopifyChannel
from gecko_pipeline.stores.shopify import ShopifyClient, backfill_orders

SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)


def run(bucket: float, rate: float, max_pages: int | None) -> None:
    config = ShopifySandboxConfig(scale=3000, bucket_size=bucket, restore_rate=rate)
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
    print(
        f"bucket {bucket:,.0f} @ {rate:,.0f}/s: {result.stored} orders, {result.pages} pages, "
        f"{result.requests} requests ({result.requests / n:.2f}/order), requested {result.cost_requested:,.0f}, "
        f"actual {result.cost_actual:,.0f} points ({result.cost_actual / n:.1f}/order), THROTTLED {throttled}, "
        f"{seconds:.1f} s ({result.stored / seconds:.1f} orders/s; once the bucket is drained the restore "
        f"rate allows {rate / (result.cost_actual / n):.1f} orders/s)",
        flush=True,
    )


def main() -> None:
    run(20_000, 1_000, None)
    run(2_000, 100, 20)


if __name__ == "__main__":
    main()
