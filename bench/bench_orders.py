"""Order push benchmark: runs of `order_push_job` as the daemon launches them (order_inbox_sensor, then the
job, in process on a SQLite instance: tools/daemon.tick and launch), against a sandbox in its own process.

1. Requests per order created and followed to fulfilled (paid and shipped at once), rate limit off, against
   the floor of 3 (POST /orders, pay, fulfil; a returning customer and every SKU are answered from
   published.duckdb, a new customer rides along in the order's POST).
2. A run at the real limit's shape, scaled: 300 requests per 30 s window (the real one is 300 per 300 s),
   one batch of orders, started at a window's start. Measured: the run's wall time against the
   window-bound minimum for the requests it made (same run), and the orders per minute it achieved,
   scaled back to the real window, against the floor's bound (300 / 300 s / 3 = 20 orders per minute).
   The run's fixed costs (Dagster, the ledger mirror) are not scaled: at the real window they weigh 10x
   less than here, so the scaled-back rate is a lower bound.
3. Seconds from a signed HTTP POST at the intake endpoint to the created sales order, p50 and p95 (sensor
   tick + job run, without the sensor's polling interval: add up to its 15 s).

    .venv/bin/python -m bench orders
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx

from bench._pipeline import PipelineHome, quiet_tick
from bench._sandbox import sandbox_process
from gecko_pipeline import ops_db
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.intake import intake_app
from gecko_pipeline.tools.background import GatewayHandle
from gecko_pipeline.tools.daemon import launch, run_requests
from gecko_pipeline.tools.orders_demo import send_orders

SCALE = 2000
FLOOR = 3  # POST /orders, actions/pay, actions/fulfil
REAL_QUOTA, REAL_WINDOW = 300, 300.0
SCALED_WINDOW = 30.0  # the real limit's shape, 10x faster
UNLIMITED = 1_000_000
UNTHROTTLED_ORDERS, SCALED_ORDERS = 150, 200  # one run each (order_push_job takes batches of 200)
CHANNEL = "webstore"
CHANNEL_FILE = (
    f"channels:\n  - name: {CHANNEL}\n    price_list: retail\n    order_secret_env: BENCH_WEBSTORE_SECRET\n"
)
SECRET = "bench-webstore-secret"


def make_orders(
    skus: list[str], companies: list[dict[str, Any]], prefix: str, count: int
) -> list[dict[str, Any]]:
    """Paid, shipped orders of two lines; every third one from a returning customer."""
    orders = []
    for n in range(count):
        known = companies[n % len(companies)] if companies and n % 3 == 0 else None
        customer = (
            {"name": known["name"], "email": known["email"], "type": "business"}
            if known
            else {"name": f"Bench Buyer {prefix}{n}", "email": f"bench.{prefix}{n}@example.org"}
        )
        lines = [
            {"sku": skus[(n * 7 + i) % len(skus)], "quantity": "1", "unit_price": "10.00"} for i in range(2)
        ]
        orders.append(
            {
                "channel": CHANNEL,
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


class OrderRuns:
    """The inbox, the sensor's cursor and the runs it asks for, on one pipeline home."""

    def __init__(self, home: PipelineHome, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.home, self.defs, self.instance = home, defs, instance
        with closing(ops_db.connect(home.settings.ops_path)) as con:
            inbox.ensure_schema(con)
            self.cursor: str | None = json.dumps({"inbox": inbox.last_inbox_id(con)})

    def add(self, orders: Sequence[dict[str, Any]]) -> None:
        with closing(ops_db.connect(self.home.settings.ops_path)) as con:
            inbox.add_orders(con, None, list(orders), "bench")

    def tick_and_run(self) -> list[dg.ExecuteInProcessResult]:
        """One sensor evaluation and every run it asks for, as the daemon would."""
        with self.home.environment():
            result = quiet_tick(self.defs, self.instance, "order_inbox_sensor", self.cursor)
            self.cursor = (
                result.cursor if isinstance(result, dg.SensorResult) and result.cursor else self.cursor
            )
            return [launch(self.defs, self.instance, "order_push_job", r) for r in run_requests(result)]


def pushed_requests(runs: list[dg.ExecuteInProcessResult]) -> int:
    """API requests of the push itself (channel_orders_pushed's metadata), without the ledger mirror's."""
    total = 0
    for run in runs:
        for event in run.asset_materializations_for_node("channel_orders_pushed"):
            total += int(event.metadata["api_requests"].value)  # type: ignore[arg-type]
    return total


def catalogue(url: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Sellable active SKUs and a few business customers of the sandbox account."""
    http = httpx.Client(base_url=url, timeout=30)
    variants = http.get("/_sandbox/dump/variants").json()["variants"]
    skus = sorted(
        v["sku"] for v in variants if v["status"] == "active" and v.get("sku") and v.get("sellable", True)
    )
    companies = http.get("/_sandbox/dump/companies").json()["companies"]
    business = [c for c in companies if c.get("email") and c.get("company_type") == "business"][:20]
    return skus, business


def _rate_limit(url: str, quota: int, window: float) -> None:
    httpx.put(f"{url}/_sandbox/rate_limit", json={"quota": quota, "window": window}).raise_for_status()


def _api_requests(url: str) -> int:
    return int(httpx.get(f"{url}/_sandbox/stats").json()["requests"])


def unthrottled(url: str, runs: OrderRuns, orders: list[dict[str, Any]]) -> None:
    httpx.post(f"{url}/_sandbox/stats/reset").raise_for_status()
    runs.add(orders)
    started = time.perf_counter()
    done = runs.tick_and_run()
    seconds = time.perf_counter() - started
    pushed, total = pushed_requests(done), _api_requests(url)
    print(
        f"1. rate limit off: {len(orders)} orders created and fulfilled in {len(done)} run(s), {seconds:.1f} s; "
        f"push requests per order {pushed / len(orders):.2f} (floor {FLOOR}: ratio {pushed / len(orders) / FLOOR:.2f}); "
        f"with the run's ledger mirror {total / len(orders):.2f}"
    )


def scaled_limit(url: str, runs: OrderRuns, orders: list[dict[str, Any]]) -> None:
    scale = REAL_WINDOW / SCALED_WINDOW
    runs.add(orders)
    _rate_limit(url, REAL_QUOTA, SCALED_WINDOW)
    time.sleep(SCALED_WINDOW - time.time() % SCALED_WINDOW)  # windows are aligned to multiples of the window
    httpx.post(f"{url}/_sandbox/stats/reset").raise_for_status()  # the control plane is not rate limited
    started = time.perf_counter()
    done = runs.tick_and_run()
    seconds = time.perf_counter() - started
    stats = httpx.get(f"{url}/_sandbox/stats").json()
    _rate_limit(url, UNLIMITED, SCALED_WINDOW)
    used = int(stats["requests"])
    bound = (math.ceil(used / REAL_QUOTA) - 1) * SCALED_WINDOW
    per_minute = len(orders) / (seconds * scale) * 60
    floor_bound = REAL_QUOTA / REAL_WINDOW * 60 / FLOOR
    print(
        f"2. a run at the real limit's shape ({REAL_QUOTA} per {SCALED_WINDOW:.0f} s, {scale:.0f}x faster than "
        f"{REAL_QUOTA} per {REAL_WINDOW:.0f} s): {len(orders)} orders, {used} requests, {len(done)} run(s) in "
        f"{seconds:.1f} s; the window-bound minimum for {used} requests from a window's start "
        f"{bound:.0f} s (ratio {seconds / bound:.2f}); 429s {stats.get('responses_429', 0)}"
    )
    print(
        f"   orders per minute at the real limit, from this run: {per_minute:.1f}; the floor's bound "
        f"({FLOOR} requests an order) {floor_bound:.1f} (ratio {per_minute / floor_bound:.2f})"
    )


def intake_latency(
    home: PipelineHome, runs: OrderRuns, skus: list[str], companies: list[dict[str, Any]]
) -> None:
    latencies: list[float] = []
    with GatewayHandle(intake_app(home.settings)) as intake:
        for batch in range(5):
            orders = make_orders(skus, companies, f"C{batch}-", 20)
            send_orders(intake.url, CHANNEL, SECRET, orders)
            runs.tick_and_run()
            latencies += _latencies(home, orders)
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"3. intake to created sales order ({len(latencies)} orders in batches of 20, sensor tick + job run in "
        f"process): p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s (+ up to 15 s of sensor interval "
        "under the daemon)"
    )


def _latencies(home: PipelineHome, orders: list[dict[str, Any]]) -> list[float]:
    with closing(ops_db.connect(home.settings.ops_path)) as con:
        out = []
        for order in orders:
            row = ledger.get(con, CHANNEL, order["channel_order_id"])
            assert row is not None and row.created_at, order["channel_order_id"]
            (received,) = con.execute(
                "SELECT received_at FROM order_inbox WHERE id = ?", (row.inbox_id,)
            ).fetchone()
            out.append(
                (datetime.fromisoformat(row.created_at) - datetime.fromisoformat(received)).total_seconds()
            )
    return out


def main() -> None:
    # The sandbox in its own process, not pinned: this benchmark measures requests and windows.
    with (
        tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp,
        sandbox_process("--scale", str(SCALE), "--rate-limit-quota", str(UNLIMITED), pin=False) as url,
    ):
        channel_file = Path(tmp) / "channels.yaml"
        channel_file.write_text(CHANNEL_FILE)
        home = PipelineHome(Path(tmp), "orders", url, channel_file, {"BENCH_WEBSTORE_SECRET": SECRET})
        defs = home.definitions()
        with home.instance() as instance:
            # The catalogue the push reads: the sync job publishes published.duckdb.
            launch(defs, instance, "incremental_sync_job", dg.RunRequest())
            skus, companies = catalogue(url)
            runs = OrderRuns(home, defs, instance)
            unthrottled(url, runs, make_orders(skus, companies, "A", UNTHROTTLED_ORDERS))
            scaled_limit(url, runs, make_orders(skus, companies, "B", SCALED_ORDERS))
            intake_latency(home, runs, skus, companies)


if __name__ == "__main__":
    main()
