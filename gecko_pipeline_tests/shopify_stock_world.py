"""The world of the Shopify stock, price and drift tests: an inventory sandbox extracted into a warehouse
with its channel stock computed, a Shopify sandbox as the channel's store, and helpers to move stock on
either side (the inventory sandbox's and the Shopify sandbox's control planes play the merchant), run
the catalogue read, the pushes and the drift check, and look at what the store now holds.

Both control planes are the ground truth: `/_sandbox/dump/inventory_levels` and `/_sandbox/stats` of
the Shopify sandbox say what the store holds and which operations (and how many THROTTLED) it served.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
from gecko_sandbox import SandboxConfig, SandboxHandle, run_sandbox
from harness import sandbox_resources
from shopify_sandbox import ShopifySandboxConfig, ShopifySandboxHandle, run_shopify_sandbox

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import ResolvedChannel, load_channels, resolve_channels
from gecko_pipeline.channels.stock import compute_channel_stock
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.drift import DriftReport, check_drift
from gecko_pipeline.stores.shopify.links import LinkCounts, refresh_catalogue
from gecko_pipeline.stores.shopify.price_push import VariantPushResult, push_variant_fields
from gecko_pipeline.stores.shopify.stock_push import PushHooks, StockPushResult, push_stock
from gecko_pipeline.warehouse.sync import sync_all

SHOP = "gecko-sandbox"
TOKEN_ENV, SECRET_ENV = "TEST_SHOP_TOKEN", "TEST_SHOP_SECRET"
MAIN, RETAIL = "gid://shopify/Location/71000000001", "gid://shopify/Location/71000000002"


def channel_file(*, per_location: bool = True, api_version: str = "2026-10", mapped: bool = True) -> str:
    locations = (
        "    locations:\n      71000000001: Primary Location\n      71000000002: Warehouse 2\n"
        if mapped
        else ""
    )
    return f"""
channels:
  - name: shop
    kind: shopify
    shop: {SHOP}.myshopify.com
    access_token_env: {TOKEN_ENV}
    app_secret_env: {SECRET_ENV}
    api_version: "{api_version}"
    price_list: retail
    per_location: {"true" if per_location else "false"}
{locations}"""


class StockWorld:
    """An inventory sandbox + warehouse, a Shopify sandbox, and the `shop` channel between them."""

    def __init__(
        self, inventory: SandboxHandle, shop: ShopifySandboxHandle, data_dir: Path, channels: Path
    ) -> None:
        self.inventory, self.shop, self.data_dir, self.channels_path = inventory, shop, data_dir, channels
        self.channels = load_channels(channels)
        self.resources = sandbox_resources(inventory, data_dir, channels)
        self.warehouse = self.resources["warehouse"]
        self.inv_http = httpx.Client(base_url=f"{inventory.url}/_sandbox", timeout=30)
        self.shop_http = httpx.Client(base_url=f"{shop.url}/_sandbox", timeout=30)
        self.clients: list[ShopifyClient] = []

    # --- the pipeline ---------------------------------------------------------------------------
    @contextmanager
    def con(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.warehouse.connect() as con:
            yield con

    def sync(self, *, full: bool = False) -> None:
        """An extract (incremental unless `full`) and the channel stock recomputed."""
        with GeckoClient(self.inventory.url, token=self.inventory.token) as client, self.con() as con:
            sync_all(client, con, full=full)
            compute_channel_stock(con, self.channels)

    def resolved(self, con: duckdb.DuckDBPyConnection) -> ResolvedChannel:
        (channel,) = resolve_channels(con, self.channels)
        return channel

    def client(self, **kwargs: Any) -> ShopifyClient:
        config = self.channels[0].shopify
        assert config is not None
        client = ShopifyClient.for_channel(config, self.shop.token, base_url=self.shop.url, **kwargs)
        self.clients.append(client)
        return client

    def catalogue(self, mode: str = "auto", client: ShopifyClient | None = None) -> LinkCounts:
        with self.con() as con:
            _read, counts = refresh_catalogue(client or self.client(), con, self.resolved(con), mode=mode)
            return counts

    def push(
        self,
        *,
        variant_ids: list[int] | None = None,
        full: bool = False,
        client: ShopifyClient | None = None,
        hooks: PushHooks | None = None,
        batch_size: int = 250,
    ) -> tuple[VariantPushResult, StockPushResult]:
        client = client or self.client()
        with self.con() as con:
            channel = self.resolved(con)
            fields = push_variant_fields(client, con, channel, variant_ids=variant_ids)
            stock = push_stock(
                client, con, channel, variant_ids=variant_ids, full=full, hooks=hooks, batch_size=batch_size
            )
            return fields, stock

    def drift(self, mode: str = "auto") -> DriftReport:
        with self.con() as con:
            return check_drift(self.client(), con, self.resolved(con), mode=mode)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.con() as con:
            return con.execute(sql, params or []).fetchall()

    # --- the inventory side ---------------------------------------------------------------------
    def stock_move(self, variant_id: int, location_id: int, quantity: str) -> None:
        self.inv_http.post(
            "/activity/stock_move",
            json={"variant_id": variant_id, "location_id": location_id, "quantity": quantity},
        ).raise_for_status()

    def edit_variant(self, variant_id: int, fields: dict[str, Any]) -> None:
        self.inv_http.post(
            "/activity/update", json={"resource": "variants", "id": variant_id, "fields": fields}
        ).raise_for_status()

    def expected(self) -> dict[tuple[str, str], int]:
        """(item, Shopify location) -> the quantity the channel says the store should hold."""
        return {
            (item, location): int(quantity)
            for item, location, quantity in self.query(
                """SELECT l.store_inventory_item_id, t.location,
                          CAST(floor(greatest(CASE WHEN t.location = $1 THEN s1.quantity ELSE s2.quantity END, 0))
                               AS BIGINT)
                   FROM channel_product_links l
                   JOIN channel_listings li ON li.channel = l.channel AND li.variant_id = l.variant_id
                   CROSS JOIN (SELECT unnest([$1, $2]) AS location) t
                   JOIN channel_stock_levels s1 ON s1.channel = l.channel AND s1.variant_id = l.variant_id
                        AND s1.location_id = 1
                   JOIN channel_stock_levels s2 ON s2.channel = l.channel AND s2.variant_id = l.variant_id
                        AND s2.location_id = 2
                   WHERE l.channel = 'shop' AND l.status = 'linked' AND li.quantity IS NOT NULL""",
                [MAIN, RETAIL],
            )
        }

    # --- the store ------------------------------------------------------------------------------
    def levels(self) -> dict[tuple[str, str], int | None]:
        """(item GID, location GID) -> available, as the Shopify sandbox holds it."""
        dump = self.shop_http.get("/dump/inventory_levels").raise_for_status().json()
        return {
            (
                f"gid://shopify/InventoryItem/{r['inventory_item_id']}",
                f"gid://shopify/Location/{r['location_id']}",
            ): r["available"]
            for r in dump["inventory_levels"]
        }

    def store_variants(self) -> dict[str, dict[str, Any]]:
        """Store variant GID -> its REST shape (price, inventory_policy, ...)."""
        products = self.shop_http.get("/dump/products").raise_for_status().json()["products"]
        return {f"gid://shopify/ProductVariant/{v['id']}": v for p in products for v in p["variants"]}

    def variant_fields(self, store_variant_ids: list[str]) -> dict[str, tuple[Decimal, str, bool]]:
        """Store variant GID -> (price, inventoryPolicy, tracked), read back over GraphQL."""
        data = self.client().execute(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on ProductVariant { id price inventoryPolicy "
            "inventoryItem { tracked } } } }",
            {"ids": store_variant_ids},
        )
        return {
            n["id"]: (Decimal(str(n["price"])), n["inventoryPolicy"], n["inventoryItem"]["tracked"])
            for n in data["nodes"]
            if n
        }

    def links(self) -> dict[int, tuple[str, str]]:
        """Inventory variant id -> (store variant GID, item GID) of the linked rows."""
        return {
            int(v): (str(sv), str(i))
            for v, sv, i in self.query(
                "SELECT variant_id, store_variant_id, store_inventory_item_id FROM channel_product_links "
                "WHERE channel = 'shop' AND status = 'linked'"
            )
        }

    def set_store(self, item: str, location: str, available: int) -> None:
        """The merchant sets `available` in the Shopify admin."""
        self.shop_http.put(
            "/inventory", json={"inventory_item_id": item, "location_id": location, "available": available}
        ).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self.shop_http.get("/stats").raise_for_status().json()  # type: ignore[no-any-return]

    def operation(self, name: str) -> int:
        """Requests the store served for one operation (e.g. `mutation inventorySetQuantities`)."""
        return int((self.stats()["operations"].get(name) or {}).get("requests", 0))

    def reset_stats(self) -> None:
        self.shop_http.post("/stats/reset").raise_for_status()

    def throttle(self, **values: Any) -> None:
        self.shop_http.put("/throttle", json=values).raise_for_status()

    def linked(self) -> list[tuple[int, str, str]]:
        """(variant id, item GID, SKU) of the linked, tracked, listed variants with stock at location 1."""
        return [
            (int(v), str(i), str(s))
            for v, i, s in self.query(
                """SELECT l.variant_id, l.store_inventory_item_id, l.sku FROM channel_product_links l
                   JOIN channel_listings li ON li.channel = l.channel AND li.variant_id = l.variant_id
                   JOIN channel_stock_levels sl ON sl.channel = l.channel AND sl.variant_id = l.variant_id
                        AND sl.location_id = 1
                   WHERE l.channel = 'shop' AND l.status = 'linked' AND li.listed AND li.quantity IS NOT NULL
                     AND li.reason = 'in_stock' AND sl.stocked AND sl.available > 5
                   ORDER BY l.variant_id"""
            )
        ]

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.inv_http.close()
        self.shop_http.close()


@contextmanager
def stock_world(
    tmp_path: Path,
    *,
    scale: int = 200,
    shop_scale: int = 60,
    shop_config: dict[str, Any] | None = None,
    channels: str | None = None,
    inventory_config: dict[str, Any] | None = None,
) -> Iterator[StockWorld]:
    """A fresh world: the inventory account extracted (full) with channel stock, a Shopify sandbox."""
    data_dir = tmp_path / "data"
    channels_path = tmp_path / "channels.yaml"
    channels_path.write_text(channels or channel_file())
    # Its own webhook secret, so a stray retry from another test's sandbox never verifies.
    inventory_fields: dict[str, Any] = {
        "scale": scale,
        "seed": 3,
        "rate_limit_quota": 100_000,
        "app_secret": secrets.token_urlsafe(16),
    }
    inventory_fields.update(inventory_config or {})
    # The account's currency is NZD: so is the shop's (prices are sent only in the shop's currency).
    shop_fields: dict[str, Any] = {"shop": SHOP, "scale": shop_scale, "shop_currency": "NZD"}
    shop_fields.update(shop_config or {})
    with (
        run_sandbox(SandboxConfig(**inventory_fields)) as inventory,
        run_shopify_sandbox(ShopifySandboxConfig(**shop_fields)) as shop,
    ):
        world = StockWorld(inventory, shop, data_dir, channels_path)
        try:
            world.sync(full=True)
            yield world
        finally:
            world.close()


def decimal(value: Any) -> Decimal:
    return Decimal(str(value))
