"""The Shopify store of `make run` and `make dev`: a local Shopify sandbox as a `kind: shopify` channel.

`make run` shows both directions: the demo's store orders becoming sales orders (one fulfilled then
refunded with restock, one cancelled) through the signed webhook route, the inbox sensor and the order
push job; then a stock move and a shipment made in the inventory system reaching the store through the
webhook refresh, the store's catalogue imported, and a new inventory product published to the store."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import yaml

from gecko_pipeline import ops_db
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import DEFAULT_CHANNELS_FILE, load_channels
from gecko_pipeline.config import Settings
from gecko_pipeline.defs.store_products import OP_NAME as PRODUCTS_OP
from gecko_pipeline.defs.stores import asset_key as store_asset_key
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.stores.shopify import subscribe_shopify, webhook_path
from gecko_pipeline.stores.shopify.shops import shopify_channels, shopify_client
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.daemon import launch, run_requests, tick
from gecko_pipeline.tools.runs import CONSOLE_INFO_RUN_CONFIG
from gecko_pipeline.tools.webhooks_demo import last_event_id, refresh_after
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

SHOPIFY_PORT = 8767
SHOP = "gecko-demo"
# The sandbox's public demo credentials (never a real store's): the channel names the variables.
TOKEN_ENV, SECRET_ENV = "GECKO_DEMO_SHOPIFY_TOKEN", "GECKO_DEMO_SHOPIFY_APP_SECRET"
TOKEN, APP_SECRET = "shpat_demo_token", "shpss_demo_app_secret"
FIRST_LOCATION = 71000000001  # the Shopify sandbox's first location (its seed numbers them)
TRACKING = {
    "tracking_number": "NZP-DEMO-1",
    "tracking_url": "https://track.example/NZP-DEMO-1",
    "tracking_company": "NZ Post",
}


def sandbox_command(port: int = SHOPIFY_PORT) -> list[str]:
    # Few seeded orders: the demo's own orders are the ones worth reading.
    return [
        sys.executable,  # the console script may not be on PATH (make runs .venv/bin/... directly)
        "-m",
        "shopify_sandbox.cli",
        "--port",
        str(port),
        "--shop",
        SHOP,
        "--token",
        TOKEN,
        "--app-secret",
        APP_SECRET,
        "--scale",
        "200",
        # The demo channel sells from the NZD retail list: a shop in NZD takes its prices (one in another
        # currency would get none, by design: docs/shopify.md).
        "--shop-currency",
        "NZD",
        "--orders",
        "12",
        "--webhook-retry-base-delay",
        "1",
    ]


def write_channel_file(data_dir: Path, admin_url: str) -> Path:
    """The packaged demo channels plus the Shopify sandbox as channel `shopify` (selling retail from the
    primary location); written under the data folder and named by GECKO_CHANNELS_FILE."""
    document = yaml.safe_load(DEFAULT_CHANNELS_FILE.read_text())
    document["channels"].append(
        {
            "name": "shopify",
            "kind": "shopify",
            "description": "A Shopify store (the local Shopify sandbox), orders in and stock out.",
            "shop": f"{SHOP}.myshopify.com",
            "admin_url": admin_url,
            "access_token_env": TOKEN_ENV,
            "app_secret_env": SECRET_ENV,
            "price_list": "retail",
            "locations": {FIRST_LOCATION: "Primary Location"},
            "order_tags": ["shopify"],
            "publish_new_products": True,
        }
    )
    path = data_dir / "demo_channels.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def environment(data_dir: Path, admin_url: str) -> dict[str, str]:
    """The variables the demo and dev stack set for the Shopify channel (the channel file and its secrets)."""
    return {
        "GECKO_CHANNELS_FILE": str(write_channel_file(data_dir, admin_url)),
        TOKEN_ENV: TOKEN,
        SECRET_ENV: APP_SECRET,
    }


def _states(settings: Settings, ids: list[str]) -> dict[str, ledger.LedgerRow]:
    con = ops_db.connect(settings.ops_path)
    try:
        ledger.ensure_schema(con)
        return {
            r.channel_order_id: r
            for r in ledger.all_rows(con)
            if r.channel == "shopify" and r.channel_order_id in ids
        }
    finally:
        con.close()


def _last_inbox(settings: Settings) -> int:
    con = ops_db.connect(settings.ops_path)
    try:
        inbox.ensure_schema(con)
        return inbox.last_inbox_id(con)
    finally:
        con.close()


ASSET_JOB = "__ASSET_JOB"  # Dagster's job over every asset: how the UI materializes an asset on its own
IMPORT_KEY = store_asset_key("shopify", "import")
PUBLISH_KEY = store_asset_key("shopify", "publish")


def _metadata(run: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, Any]:
    (event,) = [e for e in run.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


class ShopifyDemo:
    """Plays the shopper and the merchant in the Shopify sandbox (its control plane), then lets the
    pipeline's sensor and job do the rest, as the daemon would."""

    def __init__(self, settings: Settings, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.settings, self.defs, self.instance = settings, defs, instance
        (self.channel,) = [
            c for c in shopify_channels(load_channels(settings.channels_file)) if c.name == "shopify"
        ]
        assert self.channel.shopify is not None and self.channel.shopify.admin_url is not None
        self.control = httpx.Client(base_url=f"{self.channel.shopify.admin_url}/_sandbox", timeout=30)
        self.cursor: str | None = None

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.control.post(path, json=body)
        response.raise_for_status()
        return dict(response.json())

    def settle(self, timeout: float = 20.0) -> None:
        """Waits until the store has delivered every webhook it owes (the gateway stores them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = [
                d
                for d in self.control.get("/webhook_deliveries").json()["webhook_deliveries"]
                if d["state"] not in ("delivered", "failed", "removed")
            ]
            if not pending:
                return
            time.sleep(0.1)
        raise RuntimeError("the Shopify sandbox still owes webhooks; see GET /_sandbox/webhook_deliveries")

    def push(self, out: Callable[[str], None]) -> None:
        """One tick of order_inbox_sensor and the runs it asks for."""
        result = tick(self.defs, self.instance, "order_inbox_sensor", self.cursor)
        if isinstance(result, dg.SensorResult) and result.cursor:
            self.cursor = result.cursor
        for request in run_requests(result):
            run = launch(self.defs, self.instance, "order_push_job", request, CONSOLE_INFO_RUN_CONFIG)
            out(f"  order_push_job run {run.run_id}: {'succeeded' if run.success else 'FAILED'}")

    def common_skus(self) -> list[str]:
        """SKUs the store sells that the inventory catalogue (published.duckdb) sells too."""
        products = self.control.get("/dump/products").json()["products"]
        store = {v["sku"] for p in products if p["status"] == "active" for v in p["variants"] if v.get("sku")}
        with duckdb.connect(str(self.settings.published_path), read_only=True) as con:
            ours = {
                r[0]
                for r in con.execute(
                    "SELECT sku FROM channel_listings WHERE channel = 'shopify' AND listed AND price IS NOT NULL"
                ).fetchall()
            }
        return sorted(store & ours)

    def run(self, out: Callable[[str], None] = print) -> dict[str, ledger.LedgerRow]:
        skus = self.common_skus()
        if len(skus) < 5:
            raise RuntimeError(f"the store and the catalogue share {len(skus)} SKUs; the demo needs 5")
        self.cursor = json.dumps({"inbox": _last_inbox(self.settings)})
        with run_gateway(self.settings) as gateway, shopify_client(self.channel, self.settings) as client:
            address = gateway.url + webhook_path(self.channel.name)
            result = subscribe_shopify(client, address)
            out(f"  store webhooks -> {address}: {len(result.created)} created, {len(result.existing)} there")
            customer = {"email": "mia.lee@example.com", "first_name": "Mia", "last_name": "Lee"}
            address_body = {
                "first_name": "Mia",
                "last_name": "Lee",
                "address1": "1 Queen St",
                "city": "Auckland",
                "zip": "1010",
                "country": "New Zealand",
                "country_code": "NZ",
            }
            placed = [
                self.post(
                    "/orders",
                    {
                        "line_items": [{"sku": sku, "quantity": 1 + i % 2} for i, sku in enumerate(group)],
                        "customer": customer,
                        "shipping_address": address_body,
                        "tax_lines": [{"title": "GST", "rate": "0.15"}],
                        "taxes_included": True,
                        "shipping_lines": [{"title": "Courier", "code": "courier", "price": "6.50"}],
                        "financial_status": "paid",
                    },
                )["order"]
                for group in (skus[0:2], skus[2:3], skus[3:5])
            ]
            ids = [str(o["id"]) for o in placed]
            out(f"  three orders placed in the store: {', '.join(o['name'] for o in placed)}")
            self.settle()
            self.push(out)

            refunded, cancelled = placed[0], placed[1]
            self.post(
                f"/orders/{refunded['id']}/fulfillments",
                {
                    "tracking": {
                        "number": "NZP123456",
                        "url": "https://track.example/NZP123456",
                        "company": "NZ Post",
                    }
                },
            )
            line = refunded["line_items"][0]
            self.post(
                f"/orders/{refunded['id']}/refunds",
                {"line_items": [{"line_item_id": line["id"], "quantity": line["quantity"], "restock": True}]},
            )
            self.post(f"/orders/{cancelled['id']}/cancel", {"reason": "customer", "restock": True})
            out(
                f"  the store ships and refunds {refunded['name']} (restocked) and cancels {cancelled['name']}"
            )
            self.settle()
            self.push(out)
        rows = _states(self.settings, ids)
        out("  what became of the store's orders:")
        for order in placed:
            row = rows.get(str(order["id"]))
            if row is None:
                out(f"    {order['name']}: not in the ledger")
                continue
            out(
                f"    {order['name']:8s} -> {row.order_number or '-':8s} {row.state:9s} {', '.join(row.done) or '-'}"
            )
            if row.last_error and row.state != "done":
                out(f"        why: {row.last_error}")
        return rows

    # --- the other direction: what the inventory system does reaches the store -----------------------

    def _levels(self) -> dict[str, int | None]:
        """Store inventory item GID -> available at the channel's Shopify location."""
        levels = self.control.get("/dump/inventory_levels").raise_for_status().json()["inventory_levels"]
        return {
            f"gid://shopify/InventoryItem/{r['inventory_item_id']}": r["available"]
            for r in levels
            if int(r["location_id"]) == FIRST_LOCATION
        }

    def _linked_in_stock(self) -> tuple[int, int, str, str]:
        """(variant, its inventory location, SKU, store item) of a linked, in-stock listing of the store."""
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as con:
            row = con.execute(
                """SELECT l.variant_id, cl.location_id, k.sku, k.store_inventory_item_id
                   FROM channel_listings l
                   JOIN channel_product_links k ON k.channel = l.channel AND k.variant_id = l.variant_id
                   JOIN channel_locations cl ON cl.channel = l.channel AND cl.priority = 1
                   JOIN variant_locations s ON s.variant_id = l.variant_id AND s.location_id = cl.location_id
                   WHERE l.channel = ? AND l.reason = 'in_stock' AND k.status = 'linked'
                   ORDER BY l.variant_id LIMIT 1""",
                [self.channel.name],
            ).fetchone()
        if row is None:
            raise RuntimeError("no store variant is linked to an in-stock listing: nothing to move")
        return int(row[0]), int(row[1]), str(row[2]), str(row[3])

    def outbound(self, orders: dict[str, ledger.LedgerRow], out: Callable[[str], None] = print) -> None:
        """A stock move and a shipment in the inventory system reach the store through the webhook
        refresh; then the store's catalogue is imported and a new inventory product published."""
        with (
            run_gateway(self.settings) as gateway,
            GeckoClient.from_settings(self.settings) as gecko,
            httpx.Client(base_url=f"{self.settings.api_url}/_sandbox", timeout=30) as inventory,
        ):
            ensure_subscriptions(gecko, gateway.webhook_url)
            variant_id, location_id, sku, item = self._linked_in_stock()
            before = self._levels().get(item)
            cursor = last_event_id(self.settings)
            inventory.post(
                "/activity/stock_move",
                json={"variant_id": variant_id, "location_id": location_id, "quantity": "-2"},
            ).raise_for_status()
            run = refresh_after(self.settings, self.defs, self.instance, cursor)
            out(
                f"  stock move in the inventory system: {sku} -2 -> webhook_refresh_job run {run.run_id} -> "
                f"Shopify available at the store location: {before} -> {self._levels().get(item)}"
            )

            # A store order that is paid, not yet shipped and not cancelled.
            shipped = next(
                (
                    r
                    for r in orders.values()
                    if r.state == "done" and r.order_id and not {"fulfil", "void"} & set(r.done)
                ),
                None,
            )
            if shipped is not None:
                cursor = last_event_id(self.settings)
                gecko.post(f"/orders/{shipped.order_id}/actions/fulfil", {"fulfillment": TRACKING})
                run = refresh_after(self.settings, self.defs, self.instance, cursor)
                store_order = next(
                    o
                    for o in self.control.get("/dump/orders").raise_for_status().json()["orders"]
                    if str(o["id"]) == shipped.channel_order_id
                )
                sent = [
                    f"{f.get('tracking_company')} {f.get('tracking_number')}"
                    for f in store_order.get("fulfillments") or []
                ]
                out(
                    f"  sales order {shipped.order_number} shipped with tracking {TRACKING['tracking_number']} -> "
                    f"run {run.run_id} -> store order {store_order['name']} fulfilments: {', '.join(sent) or 'none'}"
                )

            for dry_run in (True, False):
                run = launch(
                    self.defs,
                    self.instance,
                    ASSET_JOB,
                    dg.RunRequest(
                        asset_selection=[IMPORT_KEY],
                        run_config={"ops": {PRODUCTS_OP: {"config": {"dry_run": dry_run}}}},
                    ),
                )
                figures = _metadata(run, IMPORT_KEY)
                verb = "would create" if dry_run else "created"
                made = figures["variants to create" if dry_run else "variants created"]
                out(
                    f"  catalogue import{' (dry run)' if dry_run else ''}: {figures['store variants']} store variants, "
                    f"{figures['linked by sku']} linked by SKU, {verb} {made} variants in the inventory system, "
                    f"{figures['problems']} problems"
                )

            cursor = last_event_id(self.settings)
            answer = inventory.post("/activity/new_product", json={"variants": 2, "name": "Demo Rain Hat"})
            product_id = int(answer.raise_for_status().json()["product_id"])
            run = refresh_after(self.settings, self.defs, self.instance, cursor, events=3)
            figures = _metadata(run, PUBLISH_KEY)
            out(
                f"  new inventory product {product_id} (2 variants) -> run {run.run_id} -> "
                f"{figures['products published']} product and {figures['variants published']} variants published "
                f"to the store, {figures['stock levels sent']} stock levels sent"
            )
        self.control.close()
