"""The shared world of the order tests: one sandbox and one extracted + published catalogue per test
module, and helpers to deliver, push and inspect orders. The sandbox's control plane
(/_sandbox/dump, /_sandbox/stats, /_sandbox/faults) is the ground truth: what sales orders, lines,
companies and addresses exist, and which requests the pipeline spent.

A test module defines its `world` fixture (module scope) as `yield from open_world(tmp_path_factory)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from gecko_sandbox import SandboxConfig, run_sandbox
from harness import sandbox_resources

from gecko_pipeline import ops_db
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.defs.extract import extract
from gecko_pipeline.defs.orders import order_inbox_sensor
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.context import PushStats
from gecko_pipeline.orders.runner import RetryPolicy, run_push
from gecko_pipeline.warehouse.publish import publish

CHANNEL_FILE = """
channels:
  - name: webstore
    price_list: retail
    order_tags: [web]
    order_secret_env: TEST_WEBSTORE_ORDER_SECRET
    create_missing_currencies: true
  - name: market
    price_list: VIP
    locations: [Warehouse 2, Primary Location]
    stock_location: Warehouse 2
    order_tags: [marketplace]
"""
SECRET = "test-webstore-secret"
QUIET = RetryPolicy(unknown_sku_wait_seconds=3600, retry_delay_seconds=0, stale_after_seconds=3600)


class World:
    """The sandbox, the data folder with a published catalogue, and helpers to drive and inspect them."""

    def __init__(self, handle: Any, data_dir: Path, channel_file: Path) -> None:
        self.handle = handle
        self.data_dir = data_dir
        self.channel_file = channel_file
        self.channels = load_channels(channel_file)
        self.http = httpx.Client(base_url=handle.url, timeout=30)
        self._resources = sandbox_resources(handle, data_dir, channel_file)
        self.warehouse = self._resources["warehouse"]
        self.ops_path = data_dir / "ops.sqlite"

    def resources(self) -> dict[str, Any]:
        return dict(self._resources)

    def sensor(self, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=self.resources()) as context:
            return order_inbox_sensor(context)

    def client(self, **overrides: Any) -> GeckoClient:
        return GeckoClient(self.handle.url, token=self.handle.token, backoff_base=0.01, **overrides)

    def ops(self) -> Any:
        con = ops_db.connect(self.ops_path)
        inbox.ensure_schema(con)
        ledger.ensure_schema(con)
        return con

    def deliver(self, *orders: Any, channel: str | None = None) -> list[int]:
        con = self.ops()
        try:
            return inbox.add_orders(con, channel, list(orders), "test")
        finally:
            con.close()

    def push(
        self,
        ids: list[int] | None = None,
        *,
        retry: bool = False,
        policy: RetryPolicy = QUIET,
        client: GeckoClient | None = None,
    ) -> PushStats:
        own = client is None
        client = client or self.client()
        con = self.ops()
        try:
            first, last = (min(ids), max(ids)) if ids else (0, 0)
            return run_push(
                client,
                con,
                self.warehouse.published_path,
                self.channels,
                first_inbox_id=first,
                last_inbox_id=last,
                retry_pending=retry,
                policy=policy,
            )
        finally:
            con.close()
            if own:
                client.close()

    def dump(self, resource: str) -> list[dict[str, Any]]:
        body = self.http.get(f"/_sandbox/dump/{resource}").raise_for_status().json()
        return body[resource] if isinstance(body, dict) else body

    def orders_with(self, reference: str) -> list[dict[str, Any]]:
        return [o for o in self.dump("orders") if o.get("reference_number") == reference]

    def lines_of(self, order_id: int) -> list[dict[str, Any]]:
        return sorted(
            (x for x in self.dump("order_line_items") if x["order_id"] == order_id),
            key=lambda x: x.get("position") or 0,
        )

    def reset_stats(self) -> None:
        self.http.post("/_sandbox/stats/reset").raise_for_status()

    def requests(self, method: str, prefix: str) -> int:
        routes = self.http.get("/_sandbox/stats").raise_for_status().json()["by_route"]
        return sum(n for route, n in routes.items() if route.startswith(f"{method} {prefix}"))

    def faults(self, **values: Any) -> None:
        self.http.put("/_sandbox/faults", json=values).raise_for_status()

    def ledger_row(self, channel: str, order_id: str) -> ledger.LedgerRow:
        con = self.ops()
        try:
            row = ledger.get(con, channel, order_id)
            assert row is not None
            return row
        finally:
            con.close()

    def quarantined(self) -> list[inbox.QuarantineRow]:
        con = self.ops()
        try:
            return inbox.list_quarantine(con)
        finally:
            con.close()

    def variant_ids(self, sellable: bool = True) -> dict[str, int]:
        return {
            v["sku"]: v["id"]
            for v in sorted(self.dump("variants"), key=lambda v: -v["id"])
            if v["status"] == "active" and v.get("sku") and bool(v.get("sellable", True)) == sellable
        }

    def stock(self) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
        """(variant, location) -> (on hand, committed), as the sandbox holds them."""
        return {
            (v["id"], loc["location_id"]): (
                Decimal(loc.get("stock_on_hand") or "0"),
                Decimal(loc.get("committed") or "0"),
            )
            for v in self.dump("variants")
            for loc in v.get("locations") or []
        }

    def committed(self, variant_id: int, location_id: int) -> Decimal:
        variant = next(v for v in self.dump("variants") if v["id"] == variant_id)
        for loc in variant.get("locations") or []:
            if loc["location_id"] == location_id:
                return Decimal(loc.get("committed") or "0")
        return Decimal(0)


def open_world(
    tmp_path_factory: pytest.TempPathFactory, channel_file_text: str = CHANNEL_FILE
) -> Iterator[World]:
    """The body of a module-scoped `world` fixture: `yield from open_world(tmp_path_factory)`
    (`channel_file_text`: another channel file, e.g. with a `kind: shopify` channel)."""
    root = tmp_path_factory.mktemp("orders")
    data_dir = root / "data"
    channel_file = root / "channels.yaml"
    channel_file.write_text(channel_file_text)
    with run_sandbox(SandboxConfig(scale=40, seed=3, rate_limit_quota=100_000)) as handle:
        world = World(handle, data_dir, channel_file)
        result = dg.materialize(
            [extract], resources=world.resources(), instance=dg.DagsterInstance.ephemeral()
        )
        assert result.success
        publish(world.warehouse.warehouse_path, world.warehouse.published_path)
        yield world
        world.http.close()


_counter = iter(range(1, 10**6))


def new_order(world: World, *, channel: str = "webstore", n_lines: int = 2, **changes: Any) -> dict[str, Any]:
    skus = sorted(world.variant_ids())
    n = next(_counter)
    order: dict[str, Any] = {
        "channel": channel,
        "channel_order_id": f"T{n}",
        "placed_at": "2026-11-27T07:00:00Z",
        "currency": "NZD",
        "customer": {"name": f"Test Buyer {n}", "email": f"buyer.t{n}@example.org"},
        "shipping_address": {
            "first_name": "Test",
            "last_name": f"Buyer {n}",
            "address1": f"{n} Queen St",
            "city": "Auckland",
            "country_code": "NZ",
        },
        "lines": [
            {"sku": skus[(n * 3 + i) % len(skus)], "quantity": str(i + 1), "unit_price": "12.50"}
            for i in range(n_lines)
        ],
        "shipping_lines": [{"label": "Courier", "amount": "7.95"}],
        "financial_status": "paid",
    }
    order.update(changes)
    return order


def full_shipment(order: dict[str, Any], tracking: str = "TRK1") -> list[dict[str, Any]]:
    return [
        {
            "shipment_id": "s1",
            "tracking_number": tracking,
            "tracking_company": "NZ Post",
            "lines": [{"sku": x["sku"], "quantity": x["quantity"]} for x in order["lines"]],
        }
    ]
