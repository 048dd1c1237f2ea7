"""Order push benchmark: API requests per order, orders per minute under the rate limit, intake latency.

A sandbox runs in a subprocess (the pipeline's side does not share its GIL); its catalogue is
extracted and published by the real extract, then:
1. requests per order created and followed to fulfilled (paid + shipped at once), against the floor
   of 3 (POST /orders, pay, fulfil) with no lookups: a new customer rides along in the order POST,
   a returning one and every SKU are answered from published.duckdb;
2. orders per minute under a rate limit of the real shape (300 per 300 s) scaled 30x faster
   (300 per 10 s), converted back to the real window and set against the floor's bound;
3. seconds from intake (a signed HTTP POST to the intake endpoint) to the created sales order,
   p50 and p95, for the sensor + job path without the sensor's polling interval (add up to its 15 s).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
from gecko_pipeline.assets.extract import EXTRACT_ASSETS
from gecko_pipeline.orders.jobs import order_push_job
from gecko_pipeline.orders.sensor import order_inbox_sensor

from bench._sandbox import TOKEN, sandbox_process
from gecko_pipeline import ops_db
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.config import Settings
from gecko_pipeline.defs.resources import (
    ChannelConfigResource,
    GeckoApiResource,
    OpsStoreResource,
    WarehouseResource,
)
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.intake import intake_app
from gecko_pipeline.orders.runner import RetryPolicy, run_push
from gecko_pipeline.tools.background import GatewayHandle
from gecko_pipeline.tools.orders_demo import send_orders
from gecko_pipeline.tools.runs import CONSOLE_QUIET_RUN_CONFIG
from gecko_pipeline.warehouse.publish import publish

SCALE = 2000
FLOOR = 3  # POST /orders, actions/pay, actions/fulfil
REAL_QUOTA, REAL_WINDOW = 300, 300.0
FAST_QUOTA, FAST_WINDOW = 300, 10.0
CHANNEL_FILE = (
    "channels:\n  - name: webstore\n    price_list: retail\n    order_secret_env: BENCH_WEBSTORE_SECRET\n"
)
SECRET = "bench-webstore-secret"
POLICY = RetryPolicy(unknown_sku_wait_seconds=3600, retry_delay_seconds=60, stale_after_seconds=3600)


def _orders(
    skus: list[str], companies: list[dict[str, Any]], prefix: str, count: int
) -> list[dict[str, Any]]:
    orders = []
    for n in range(count):
        returning = companies and n % 3 == 0
        customer = (
            {
                "name": companies[n % len(companies)]["name"],
                "email": companies[n % len(companies)]["email"],
                "type": "business",
            }
            if returning
            else {"name": f"Bench Buyer {prefix}{n}", "email": f"bench.{prefix}{n}@example.org"}
        )
        lines = [
            {"sku": skus[(n * 7 + i) % len(skus)], "quantity": "1", "unit_price": "10.00"} for i in range(2)
        ]
        orders.append(
            {
                "channel": "webstore",
                "channel_order_id": f"{prefix}{n}",
                "placed_at": "2026-11-27T07:00:00Z",
                "currency": "NZD",
                "customer": customer,
                "shipping_address": {"address1": f"{n} Bench Rd", "city": "Auckland", "country_code": "NZ"},
                "lines": lines,
                "shipping_lines": [{"label": "Courier", "amount": "5"}],
                "financial_status": "paid",
                "shipments": [
                    {
                        "shipment_id": "s1",
                        "tracking_number": f"TR{prefix}{n}",
                        "lines": [{"sku": x["sku"], "quantity": "1"} for x in lines],
                    }
                ],
            }
        )
    return orders


def _push(client: GeckoClient, data: Path, channels: Any, orders: list[dict[str, Any]]) -> tuple[float, Any]:
    con = ops_db.connect(data / "ops.sqlite")
    try:
        inbox.ensure_schema(con)
        ids = inbox.add_orders(con, None, orders, "bench")
        started = time.perf_counter()
        stats = run_push(
            client,
            con,
            data / "published.duckdb",
            channels,
            first_inbox_id=ids[0],
            last_inbox_id=ids[-1],
            policy=POLICY,
        )
        return time.perf_counter() - started, stats
    finally:
        con.close()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    # The sandbox in its own process, not pinned: this benchmark measures requests, not one core's speed.
    with (
        tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp,
        sandbox_process("--scale", str(SCALE), "--rate-limit-quota", "1000000", pin=False) as url,
    ):
        data = Path(tmp) / "data"
        data.mkdir()
        channel_file = Path(tmp) / "channels.yaml"
        channel_file.write_text(CHANNEL_FILE)
        token = TOKEN
        os.environ.update(
            GECKO_API_URL=url,
            GECKO_ACCESS_TOKEN=token,
            GECKO_DATA_DIR=str(data),
            GECKO_CHANNELS_FILE=str(channel_file),
        )
        warehouse = WarehouseResource(data_dir=str(data))
        dg.materialize(
            EXTRACT_ASSETS,
            resources={"gecko_api": GeckoApiResource(api_url=url), "warehouse": warehouse},
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=True,
            run_config=CONSOLE_QUIET_RUN_CONFIG,
        )
        publish(warehouse.warehouse_path, warehouse.published_path)
        channels = load_channels(channel_file)
        http = httpx.Client(base_url=url, timeout=30)
        variants = http.get("/_sandbox/dump/variants").json()
        variants = variants.get("variants", variants) if isinstance(variants, dict) else variants
        skus = sorted(
            v["sku"] for v in variants if v["status"] == "active" and v.get("sku") and v.get("sellable", True)
        )
        companies = http.get("/_sandbox/dump/companies").json()
        companies = companies.get("companies", companies) if isinstance(companies, dict) else companies
        companies = [c for c in companies if c.get("email") and c.get("company_type") == "business"][:20]

        # 1. Requests per order, rate limit off.
        count = 150
        with GeckoClient(url, token=token) as client:
            seconds, stats = _push(client, data, channels, _orders(skus, companies, "A", count))
            requests = client.stats.snapshot()["requests"]
        assert stats.created == count and stats.lookups == 0, stats
        per_order = requests / count
        print(
            f"requests per order created and fulfilled: {per_order:.2f} (floor {FLOOR}; lookups {stats.lookups}); "
            f"{count} orders in {seconds:.1f} s unthrottled ({count / seconds * 60:,.0f} orders/min)"
        )

        # 2. Orders per minute under the real limit's shape, 30x faster.
        http.put("/_sandbox/rate_limit", json={"quota": FAST_QUOTA, "window": FAST_WINDOW}).raise_for_status()
        time.sleep(FAST_WINDOW - time.time() % FAST_WINDOW)  # start at a window boundary
        count = 200  # 600 requests: two full windows and change
        with GeckoClient(url, token=token) as client:
            seconds, stats = _push(client, data, channels, _orders(skus, companies, "B", count))
            throttled = client.stats.snapshot()
        http.put("/_sandbox/rate_limit", json={"quota": 1000000, "window": FAST_WINDOW}).raise_for_status()
        used = int(throttled["requests"])
        minimum = (math.ceil(used / FAST_QUOTA) - 1) * FAST_WINDOW  # started at a window boundary
        print(
            f"under the rate limit ({FAST_QUOTA} per {FAST_WINDOW:.0f} s, the real shape {REAL_WINDOW / FAST_WINDOW:.0f}x "
            f"faster): {count} orders, {used} requests in {seconds:.1f} s; window-bound minimum {minimum:.1f} s "
            f"(ratio {seconds / minimum:.2f}); 429s {int(throttled.get('responses_429', 0))}"
        )
        per_minute = (REAL_QUOTA / REAL_WINDOW) * 60 / (used / count)
        bound = (REAL_QUOTA / REAL_WINDOW) * 60 / FLOOR
        print(
            f"at the real limit (300 per 300 s): {per_minute:.1f} orders/min created and fulfilled, against the "
            f"floor's bound of {bound:.1f} (ratio {per_minute / bound:.2f}); the pacing spends each window in full"
        )

        # 3. Intake to created sales order: signed HTTP intake, sensor tick, order_push_job.
        settings = Settings(api_url=url, access_token=token, data_dir=data, channels_file=channel_file)
        resources = {
            "ops_store": OpsStoreResource(data_dir=str(data)),
            "warehouse": warehouse,
            "gecko_api": GeckoApiResource(api_url=url),
            "channel_config": ChannelConfigResource(channels_file=str(channel_file)),
        }
        instance = dg.DagsterInstance.ephemeral()
        con = ops_db.connect(data / "ops.sqlite")
        cursor = json.dumps({"inbox": inbox.last_inbox_id(con)})
        latencies: list[float] = []
        with GatewayHandle(
            intake_app(settings, env={"BENCH_WEBSTORE_SECRET": SECRET}, channels=channels)
        ) as intake:
            for batch in range(5):
                orders = _orders(skus, companies, f"C{batch}-", 20)
                send_orders(intake.url, "webstore", SECRET, orders)
                result = order_inbox_sensor(
                    dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
                )
                assert isinstance(result, dg.SensorResult)
                cursor = result.cursor or cursor
                for request in result.run_requests or []:
                    order_push_job.execute_in_process(
                        run_config={**request.run_config, **CONSOLE_QUIET_RUN_CONFIG},
                        instance=instance,
                        resources=resources,
                    )
                for order in orders:
                    row = ledger.get(con, "webstore", order["channel_order_id"])
                    received = con.execute(
                        "SELECT received_at FROM order_inbox WHERE id = ?", (row.inbox_id,)
                    ).fetchone()[0]
                    latencies.append(
                        (
                            datetime.fromisoformat(row.created_at) - datetime.fromisoformat(received)
                        ).total_seconds()
                    )
        con.close()
        print(
            f"intake to created sales order ({len(latencies)} orders in batches of 20, sensor + job in process): "
            f"p50 {statistics.median(latencies):.2f} s, p95 {_percentile(latencies, 0.95):.2f} s "
            f"(+ up to 15 s of sensor interval under the daemon)"
        )


if __name__ == "__main__":
    sys.exit(main())
