"""Onboarding a Shopify store of SCALE variants: the catalogue import's requests and cost against their
minimum, and its time against the inventory API's rate limit.

Both sandboxes run in their own processes (pinned to core 0 when there are two cores): the inventory
sandbox at INVENTORY_SCALE variants (default SCALE: about 63% of the store's SKUs exist there, the rest
is created), the Shopify sandbox at SCALE variants with a Standard plan's bucket (2,000 points, 100/s).
The account is extracted first (rate limit lifted: setup), then the limit is set to the real quota, 300
requests, over a window of WINDOW seconds instead of 300 s, so the bench takes minutes. Printed:

1. setup: the extract and the channel stock (for context);
2. a dry run: what the import would create and link (no write);
3. the import: inventory API requests against the minimum (one POST per product and per variant to
   create: `POST /products` takes no variants), 429s; Shopify requests and cost points against the
   minimum (two bulk operations at 10 points each, one for the products with options, barcodes and
   weights, one for the catalogue and levels the SKU links come from, and a 1-point shop query; the
   polls of the running operations are the rest); the time against the rate-limit bound for the creates
   (fixed windows: ceil(N / 300) - 1 full windows at least) and what both become at the real 300 s window;
4. a second import: write requests (0) and its time.

    .venv/bin/python -m bench shopify_import
    BENCH_SHOPIFY_IMPORT_SCALE=2000 BENCH_SHOPIFY_IMPORT_WINDOW=1 .venv/bin/python -m bench shopify_import
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._sandbox import HOST, TOKEN, sandbox_process, server_process
from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.channels.config import load_channels, resolve_channels
from gecko_pipeline.channels.stock import compute_channel_stock
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.product_import import ImportResult, import_products
from gecko_pipeline.warehouse import db
from gecko_pipeline.warehouse.sync import sync_all

SCALE = int(os.environ.get("BENCH_SHOPIFY_IMPORT_SCALE", "20000"))
INVENTORY_SCALE = int(os.environ.get("BENCH_SHOPIFY_IMPORT_INVENTORY_SCALE", str(SCALE)))
QUOTA = 300  # the inventory API's requests per window
REAL_WINDOW = 300.0  # its window, seconds
WINDOW = float(os.environ.get("BENCH_SHOPIFY_IMPORT_WINDOW", "3"))
BUCKET, RESTORE = 2_000.0, 100.0  # Shopify's Standard plan
SHOP_TOKEN = "shpat_bench"
BULK_MINIMUM = 2 * 10 + 1  # two bulkOperationRunQuery mutations and the shop's currency


def channel_file() -> str:
    return (
        "channels:\n  - name: shop\n    kind: shopify\n    shop: bench.myshopify.com\n"
        "    access_token_env: BENCH_SHOPIFY_TOKEN\n    app_secret_env: BENCH_SHOPIFY_SECRET\n"
        "    price_list: retail\n"
    )


def shopify_process() -> Any:
    config = (
        f"ShopifySandboxConfig(host={HOST!r}, port={{port}}, shop='bench', token={SHOP_TOKEN!r}, scale={SCALE}, "
        f"bucket_size={BUCKET}, restore_rate={RESTORE}, shop_currency='NZD')"
    )

    def command(port: int) -> list[str]:
        code = f"from shopify_sandbox import ShopifySandboxConfig, serve_forever; serve_forever({config.format(port=port)})"
        return [sys.executable, "-c", code]

    return server_process("shopify", command, ready_path="/_sandbox/health", timeout=600)


def routes(control: httpx.Client) -> dict[str, int]:
    stats = control.get("/stats").raise_for_status().json()
    return {k: int(v) for k, v in stats["by_route"].items()} | {"429": int(stats.get("responses_429", 0))}


def line(label: str, result: ImportResult, seconds: float) -> None:
    print(
        f"{label}: {result.store_variants:,} store variants in {result.store_products:,} products; "
        f"{result.linked_by_sku:,} linked by SKU, {result.already_linked:,} linked before; "
        f"{result.products_to_create:,} products and {result.variants_to_create:,} variants to create "
        f"({result.products_created:,} / {result.variants_created:,} created); problems {result.problem_total:,} "
        + str({k: v for k, v in result.problems.items() if v})
        + f"; {seconds:.1f} s",
        flush=True,
    )


def main() -> None:
    print(
        f"store: {SCALE:,} variants; inventory account: {INVENTORY_SCALE:,} variants; rate limit {QUOTA} requests "
        f"per {WINDOW:g} s (real: per {REAL_WINDOW:g} s); {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-shopify-import-") as folder,
        sandbox_process(
            "--scale", str(INVENTORY_SCALE), "--rate-limit-quota", "1000000", timeout=600
        ) as api_url,
        shopify_process() as shop_url,
    ):
        channels_path = Path(folder) / "channels.yaml"
        channels_path.write_text(channel_file())
        channels = load_channels(channels_path)
        control = httpx.Client(base_url=f"{api_url}/_sandbox", timeout=120)
        con = db.connect(Path(folder) / "warehouse.duckdb")
        started = time.perf_counter()
        with GeckoClient(api_url, token=TOKEN) as setup:
            sync_all(setup, con, full=True)
        compute_channel_stock(con, channels)
        print(f"1. setup: full extract + channel stock {time.perf_counter() - started:.1f} s", flush=True)
        (channel,) = resolve_channels(con, channels)
        control.put("/rate_limit", json={"quota": QUOTA, "window": WINDOW}).raise_for_status()
        shop = ShopifyClient("bench.myshopify.com", SHOP_TOKEN, base_url=shop_url, max_wait_seconds=900)
        state = Path(folder) / "rate_limit_state.json"
        with GeckoClient(
            api_url, token=TOKEN, rate_limit_state_path=state, max_rate_limit_wait_seconds=3600
        ) as gecko:
            started = time.perf_counter()
            dry = import_products(shop, gecko, con, channel, dry_run=True)
            line("2. dry run", dry, time.perf_counter() - started)

            control.post("/stats/reset").raise_for_status()
            before = shop.stats.snapshot()
            started = time.perf_counter()
            result = import_products(shop, gecko, con, channel)
            seconds = time.perf_counter() - started
            after = shop.stats.snapshot()
            line("3. import", result, seconds)
            served = routes(control)
            writes = {k: v for k, v in served.items() if k.startswith(("POST", "PUT", "DELETE"))}
            creates = result.products_to_create + result.variants_to_create
            requests = sum(v for k, v in served.items() if k != "429")
            print(
                f"   inventory API: {requests:,} requests ({writes}; 429: {served['429']}) against the minimum "
                f"{creates:,} (one POST per product and variant to create; x{requests / max(1, creates):.3f})",
                flush=True,
            )
            cost = after["cost_actual"] - before["cost_actual"]
            shop_requests = int(after["requests"] - before["requests"])
            print(
                f"   Shopify: {shop_requests} requests, {cost:,.0f} cost points against the minimum {BULK_MINIMUM} "
                f"(two bulk operations and the shop query; the rest are polls of the running operations); "
                f"THROTTLED {int(after['throttled'] - before['throttled'])}",
                flush=True,
            )
            windows = math.ceil(creates / QUOTA)
            bound = max(0, windows - 1) * WINDOW
            real_bound = max(0, windows - 1) * REAL_WINDOW
            overhead = max(0.0, seconds - bound)
            print(
                f"   time: {seconds:.1f} s against the rate-limit bound {bound:.1f} s ({creates:,} creates = {windows:,} "
                f"windows of {QUOTA}, {WINDOW:g} s each; x{seconds / max(bound, 1e-9):.2f}); at the real {REAL_WINDOW:g} s "
                f"window the bound is {real_bound / 3600:.2f} h ({real_bound:,.0f} s) and the import about "
                f"{(real_bound + overhead) / 3600:.2f} h: the rest ({overhead:.0f} s here: reads, DuckDB, HTTP) does not "
                "grow with the window",
                flush=True,
            )

            control.post("/stats/reset").raise_for_status()
            started = time.perf_counter()
            again = import_products(shop, gecko, con, channel)
            line("4. second import", again, time.perf_counter() - started)
            served = routes(control)
            writes = {k: v for k, v in served.items() if k.startswith(("POST", "PUT", "DELETE"))}
            print(f"   write requests: {sum(writes.values())} {writes}; posts {again.posts}", flush=True)
        shop.close()
        con.close()
        control.close()
