"""Stock out to Shopify at scale: mutations per push against the floor, cost points against the bucket's
budget, THROTTLED answers, and stock move -> Shopify quantity latency through the webhook path.

Both sandboxes run in their own processes (pinned to core 0 when there are two cores): the inventory
sandbox at SCALE variants, the Shopify sandbox at SCALE variants with LOCATIONS active locations and a
Standard plan's bucket (2,000 points, 100/s). The channel maps the Shopify locations to as many inventory
locations, per location. Steps, each printed:

1. full extract + channel stock (setup, for context);
2. the store catalogue read in bulk and linked by SKU;
3. the first stock push (every linked level that differs): levels sent, mutations against the floor
   ceil(sent / 250), cost points against the bucket's budget over the push (bucket + restore rate x
   seconds), THROTTLED (the sandbox's count, of every request in the run);
4. a push with nothing changed (mutations: 0);
5. MOVES stock moves in the inventory sandbox, an incremental sync and channel recompute, then a push:
   levels sent against the floor;
6. a few price changes: productVariantsBulkUpdate calls (one per product touched);
7. latency: the gateway receives the inventory sandbox's signed webhooks; a loop stands in for the
   Dagster daemon: it evaluates webhook_event_sensor every GECKO_WEBHOOK_SENSOR_INTERVAL (5 s) on a fixed
   cadence (a tick that falls while a run is going is skipped, as the sensor skips it) and executes the run
   it asks for in process. Each stock move happens at a random moment of the interval; its latency is
   until the run that pushed it ended (the store's quantity is then read back and checked). Not included:
   a deployment's run launcher starting a run worker process (the code location load is timed and printed
   beside it).

    .venv/bin/python -m bench shopify_stock
    BENCH_SHOPIFY_STOCK_SCALE=20000 .venv/bin/python -m bench shopify_stock   # a smaller machine
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg
import httpx

from bench._pipeline import LoopRun, SensorLoop
from bench._sandbox import HOST, TOKEN, sandbox_process, server_process
from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.channels.config import load_channels, resolve_channels
from gecko_pipeline.channels.stock import compute_channel_stock
from gecko_pipeline.config import load_settings
from gecko_pipeline.defs.resources import build_resources
from gecko_pipeline.stores.shopify.catalogue import read_levels
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.links import refresh_catalogue
from gecko_pipeline.stores.shopify.price_push import push_variant_fields
from gecko_pipeline.stores.shopify.stock_push import MAX_ENTRIES, push_stock
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.warehouse.sync import sync_all
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

SCALE = int(os.environ.get("BENCH_SHOPIFY_STOCK_SCALE", "100000"))
LOCATIONS = int(os.environ.get("BENCH_SHOPIFY_STOCK_LOCATIONS", "5"))
MOVES = int(os.environ.get("BENCH_SHOPIFY_STOCK_MOVES", "1000"))
LATENCY_MOVES = int(os.environ.get("BENCH_SHOPIFY_STOCK_LATENCY_MOVES", "20"))
PRICE_CHANGES = 20
BUCKET, RESTORE = 2_000.0, 100.0  # Shopify's Standard plan
SHOP_TOKEN, SHOP_TOKEN_ENV = "shpat_bench", "BENCH_SHOPIFY_TOKEN"
SECRET = "bench-webhook-secret"


def channel_file() -> str:
    # The inventory sandbox's first LOCATIONS locations hold stock (its last two do not, at 10 locations).
    mapping = "".join(f"      {71_000_000_000 + i}: {i}\n" for i in range(1, LOCATIONS + 1))
    return (
        "channels:\n  - name: shop\n    kind: shopify\n    shop: bench.myshopify.com\n"
        f"    access_token_env: {SHOP_TOKEN_ENV}\n    app_secret_env: BENCH_SHOPIFY_SECRET\n"
        "    price_list: retail\n    per_location: true\n    locations:\n" + mapping
    )


def shopify_process() -> Any:
    config = (
        f"ShopifySandboxConfig(host={HOST!r}, port={{port}}, shop='bench', token={SHOP_TOKEN!r}, scale={SCALE}, "
        f"locations={LOCATIONS + 1}, bucket_size={BUCKET}, restore_rate={RESTORE}, shop_currency='NZD')"
    )

    def command(port: int) -> list[str]:
        code = (
            "from shopify_sandbox import ShopifySandboxConfig, serve_forever; "
            f"serve_forever({config.format(port=port)})"
        )
        return [sys.executable, "-c", code]

    return server_process("shopify", command, ready_path="/_sandbox/health", timeout=600)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Shop:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=f"{url}/_sandbox", timeout=120)

    def stats(self) -> dict[str, Any]:
        return self.http.get("/stats").raise_for_status().json()  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.http.post("/stats/reset").raise_for_status()

    def client(self) -> ShopifyClient:
        return ShopifyClient("bench.myshopify.com", SHOP_TOKEN, base_url=self.url, max_wait_seconds=900)


def budget_line(label: str, cost: float, seconds: float, sent: int, mutations: int, throttled: int) -> None:
    floor = math.ceil(sent / MAX_ENTRIES)
    budget = BUCKET + RESTORE * seconds
    print(
        f"{label}: {sent:,} levels sent in {mutations:,} mutations (floor ceil({sent:,}/250) = {floor:,}); "
        f"{cost:,.0f} cost points used of a {budget:,.0f}-point budget over {seconds:.1f} s "
        f"({BUCKET:,.0f} bucket + {RESTORE:.0f}/s; {100 * cost / budget:.0f}%); THROTTLED {throttled}",
        flush=True,
    )


def _refreshed_ids(run: LoopRun) -> list[int]:
    """The variants a webhook refresh run pushed to the stores (its shopify_stores config)."""
    ops = (run.request.run_config or {}).get("ops", {})
    return list(((ops.get("shopify_stores") or {}).get("config") or {}).get("variant_ids") or [])


def run_with(loop: SensorLoop, variant: int, after: float, timeout: float = 120.0) -> float:
    """When the first run started after `after` that pushed `variant` ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in loop.finished_runs():
            if run.started >= after and variant in _refreshed_ids(run):
                return run.ended
        time.sleep(0.05)
    raise TimeoutError(f"no refresh run pushed variant {variant} within {timeout} s")


def main() -> None:
    print(
        f"scale: {SCALE:,} variants x {LOCATIONS} Shopify locations (per location); "
        f"bucket {BUCKET:,.0f} points at {RESTORE:.0f}/s; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-shopify-stock-") as folder,
        sandbox_process(
            "--scale",
            str(SCALE),
            "--locations",
            str(max(LOCATIONS + 2, 5)),
            "--rate-limit-quota",
            "1000000",
            "--app-secret",
            SECRET,
            "--webhook-retry-base-delay",
            "0.5",
            timeout=900,
        ) as inventory_url,
        shopify_process() as shop_url,
    ):
        root = Path(folder)
        channels_path = root / "channels.yaml"
        channels_path.write_text(channel_file())
        os.environ.update(
            {
                "GECKO_API_URL": inventory_url,
                "GECKO_ACCESS_TOKEN": TOKEN,
                "GECKO_CLIENT_SECRET": SECRET,
                "GECKO_DATA_DIR": str(root / "data"),
                "GECKO_CHANNELS_FILE": str(channels_path),
                SHOP_TOKEN_ENV: SHOP_TOKEN,
            }
        )
        settings = load_settings()
        resources = build_resources(settings)
        warehouse = resources["warehouse"]
        channels = load_channels(channels_path)
        shop = Shop(shop_url)
        inventory = httpx.Client(base_url=f"{inventory_url}/_sandbox", timeout=120)

        # 1. setup
        started = time.perf_counter()
        with GeckoClient(inventory_url, token=TOKEN) as api, warehouse.connect() as con:
            sync_all(api, con, full=True)
            compute_channel_stock(con, channels)
        print(f"setup: full extract + channel stock in {time.perf_counter() - started:.1f} s", flush=True)

        # 2. catalogue
        client = shop.client()
        with warehouse.connect() as con:
            (channel,) = resolve_channels(con, channels)
            read, links = refresh_catalogue(client, con, channel, mode="bulk")
        print(
            f"catalogue: {read.variants:,} store variants read ({read.mode}) in {read.seconds:.1f} s, "
            f"{read.requests} requests, {read.cost_actual:,.0f} points; {links.linked_by_sku:,} linked by SKU, "
            f"{links.problem_total:,} problems",
            flush=True,
        )

        # 3. first push
        shop.reset()
        paced = client.stats.snapshot()
        with warehouse.connect() as con:
            first = push_stock(client, con, channel)
        paced = {k: v - paced[k] for k, v in client.stats.snapshot().items()}
        budget_line(
            "first push",
            first.cost_actual,
            first.seconds,
            first.sent,
            first.mutations,
            shop.stats()["throttled"],
        )
        print(
            f"  {first.levels:,} levels in scope, {first.unchanged:,} already right, {first.stale_retried} stale; "
            f"the client held {paced['pacing_waits']:,.0f} requests back for the bucket ({paced['waited_seconds']:.1f} s), "
            f"{first.sent / max(first.seconds, 1e-9):,.0f} levels/s",
            flush=True,
        )

        # 4. nothing changed
        shop.reset()
        with warehouse.connect() as con:
            idle = push_stock(client, con, channel)
        print(
            f"push with nothing changed: {idle.mutations} mutations, {idle.sent} sent, {idle.seconds:.1f} s",
            flush=True,
        )

        # 5. stock moves
        with warehouse.connect() as con:
            candidates = con.execute(
                """SELECT s.variant_id, s.location_id FROM channel_stock_levels s
                   JOIN channel_product_links l ON l.channel = s.channel AND l.variant_id = s.variant_id
                   JOIN channel_listings li ON li.channel = s.channel AND li.variant_id = s.variant_id
                   WHERE s.channel = 'shop' AND l.status = 'linked' AND li.reason = 'in_stock'
                     AND s.available >= 3 AND s.quantity >= 3"""
            ).fetchall()
        rng = random.Random(7)
        moves = rng.sample(candidates, min(MOVES, len(candidates)))
        for variant, location in moves:
            inventory.post(
                "/activity/stock_move",
                json={"variant_id": variant, "location_id": location, "quantity": "-1"},
            ).raise_for_status()
        started = time.perf_counter()
        with GeckoClient(inventory_url, token=TOKEN) as api, warehouse.connect() as con:
            sync_all(api, con, full=False)
            compute_channel_stock(con, channels)
        sync_seconds = time.perf_counter() - started
        shop.reset()
        with warehouse.connect() as con:
            moved = push_stock(client, con, channel)
        budget_line(
            f"after {len(moves):,} stock moves",
            moved.cost_actual,
            moved.seconds,
            moved.sent,
            moved.mutations,
            shop.stats()["throttled"],
        )
        print(f"  (incremental sync + channel recompute before it: {sync_seconds:.1f} s)", flush=True)

        # 6. prices (of a few variants: a store's first full price push is one call per product, ~20,000
        # calls at 100,000 variants, which a Standard bucket takes about 35 minutes to pay for)
        with warehouse.connect() as con:
            priced = [
                v
                for (v,) in con.execute(
                    "SELECT variant_id FROM channel_product_links WHERE channel = 'shop' AND status = 'linked' "
                    "ORDER BY variant_id LIMIT $1",
                    [PRICE_CHANGES],
                ).fetchall()
            ]
            push_variant_fields(client, con, channel, variant_ids=priced)  # their first push: the baseline
        for variant in priced:
            inventory.post(
                "/activity/update",
                json={"resource": "variants", "id": variant, "fields": {"retail_price": "9.99"}},
            ).raise_for_status()
        with GeckoClient(inventory_url, token=TOKEN) as api, warehouse.connect() as con:
            sync_all(api, con, full=False)
            compute_channel_stock(con, channels, priced)
        shop.reset()
        with warehouse.connect() as con:
            fields = push_variant_fields(client, con, channel, variant_ids=priced)
            again = push_variant_fields(client, con, channel, variant_ids=priced)
            (products,) = con.execute(
                "SELECT count(DISTINCT store_product_id) FROM channel_product_links WHERE variant_id IN "
                "(SELECT unnest($1::BIGINT[]))",
                [priced],
            ).fetchone() or (0,)
        print(
            f"{len(priced)} price changes: {fields.prices_sent} prices sent in {fields.mutations} "
            f"productVariantsBulkUpdate calls ({products} products touched), {fields.cost_actual:.0f} points, "
            f"{fields.seconds:.1f} s; pushed again: {again.mutations} calls; THROTTLED {shop.stats()['throttled']}",
            flush=True,
        )

        # 7. latency through the webhook path
        latency(settings, shop, inventory, warehouse, channel, candidates, rng)
        inventory.close()
        client.close()


def latency(
    settings: Any,
    shop: Shop,
    inventory: httpx.Client,
    warehouse: Any,
    channel: Any,
    candidates: list[Any],
    rng: random.Random,
) -> None:
    from gecko_pipeline.definitions import build_definitions, definitions_with  # noqa: PLC0415 - reads the env
    from gecko_pipeline.stores.shopify.shops import ShopifyShops  # noqa: PLC0415

    started = time.perf_counter()
    loaded = build_definitions()
    load_seconds = time.perf_counter() - started
    resources = build_resources(settings)
    resources["shopify_shops"] = ShopifyShops.from_settings(settings, base_urls={"shop": shop.url})
    defs = definitions_with(resources, loaded)
    interval = float(settings.webhook_sensor_interval_seconds)
    gateway = run_gateway(settings, with_intake=False)
    instance = dg.DagsterInstance.ephemeral()
    loop = SensorLoop(defs, instance, "webhook_event_sensor", "webhook_refresh_job", interval)
    client = shop.client()
    try:
        with GeckoClient(settings.api_url, token=TOKEN) as api:
            ensure_subscriptions(api, gateway.webhook_url)
        shop.reset()
        seconds: list[float] = []
        wrong = 0
        picks = rng.sample(candidates, LATENCY_MOVES)
        gid_of = {}
        with warehouse.connect() as con:
            for variant, _location in picks:
                row = con.execute(
                    "SELECT store_inventory_item_id FROM channel_product_links WHERE channel = 'shop' AND variant_id = $1",
                    [variant],
                ).fetchone()
                gid_of[variant] = row[0] if row else None
        loop.start()  # after our own look-ups: its runs write the warehouse
        for variant, location in picks:
            shop_location = f"gid://shopify/Location/{71_000_000_000 + location}"
            before = read_levels(client, [(gid_of[variant], shop_location)])[(gid_of[variant], shop_location)]
            time.sleep(rng.uniform(0, interval))
            moved_at = time.monotonic()
            inventory.post(
                "/activity/stock_move",
                json={"variant_id": variant, "location_id": location, "quantity": "-1"},
            ).raise_for_status()
            ended = run_with(loop, variant, moved_at)
            seconds.append(ended - moved_at)
            after = read_levels(client, [(gid_of[variant], shop_location)])[(gid_of[variant], shop_location)]
            if after != (before or 0) - 1:
                wrong += 1
                print(
                    f"  variant {variant} at {shop_location}: {before} before, {after} after the move",
                    flush=True,
                )
        stats = shop.stats()
        done = loop.finished_runs()
        steps_of: dict[str, list[float]] = {}
        for run in done:
            for stat in instance.get_run_step_stats(run.result.run_id):
                if stat.end_time and stat.start_time:
                    steps_of.setdefault(stat.step_key, []).append(stat.end_time - stat.start_time)
        print(
            f"latency, stock move -> Shopify quantity through receiver, sensor (every {interval:.0f} s) and one run, "
            f"{len(seconds)} moves: p50 {statistics.median(seconds):.2f} s, p95 {pct(seconds, 0.95):.2f} s, "
            f"max {max(seconds):.2f} s; runs {len(done)} ({len(loop.problems)} problems); wrong quantities {wrong}; "
            f"THROTTLED {stats['throttled']}",
            flush=True,
        )
        for problem in loop.problems:
            print(f"  problem: {problem}", flush=True)
        runs = [run.ended - run.started for run in done]
        steps = ", ".join(f"{step} {statistics.median(v):.2f} s" for step, v in steps_of.items())
        print(
            f"  refresh run (extract by id, targeted channel recompute, targeted push) p50 "
            f"{statistics.median(runs):.2f} s, max {max(runs):.2f} s (step p50: {steps}); a deployment's run "
            f"worker also loads the code location first: {load_seconds:.1f} s here",
            flush=True,
        )
    finally:
        loop.stop(timeout=300)
        gateway.stop()
        client.close()


if __name__ == "__main__":
    main()
