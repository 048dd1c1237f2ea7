"""Helpers of the product import and publish tests, on top of shopify_stock_world's world (an inventory
sandbox extracted into a warehouse, a Shopify sandbox as the `shop` channel's store): run the import
and the publish, and read both sandboxes' ground truth (their dumps and request stats)."""

from __future__ import annotations

from typing import Any

from shopify_stock_world import StockWorld

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.stores.shopify.product_import import ImportHooks, ImportResult, import_products
from gecko_pipeline.stores.shopify.product_publish import PublishHooks, PublishResult, publish_products


def run_import(world: StockWorld, *, dry_run: bool = False, hooks: ImportHooks | None = None) -> ImportResult:
    with GeckoClient(world.inventory.url, token=world.inventory.token) as gecko, world.con() as con:
        return import_products(
            world.client(),
            gecko,
            con,
            world.resolved(con),
            dry_run=dry_run,
            hooks=hooks,
            bulk_poll_interval=0.05,
        )


def run_publish(
    world: StockWorld, *, variant_ids: list[int] | None = None, hooks: PublishHooks | None = None
) -> PublishResult:
    with world.con() as con:
        return publish_products(
            world.client(), con, world.resolved(con), variant_ids=variant_ids, hooks=hooks
        )


def inventory_dump(world: StockWorld, resource: str) -> list[dict[str, Any]]:
    return world.inv_http.get(f"/dump/{resource}").raise_for_status().json()[resource]  # type: ignore[no-any-return]


def inventory_writes(world: StockWorld) -> dict[str, int]:
    """Requests per write route the inventory sandbox served (POST/PUT/DELETE)."""
    stats = world.inv_http.get("/stats").raise_for_status().json()
    return {k: v for k, v in stats["by_route"].items() if not k.startswith("GET ")}


def reset_inventory_stats(world: StockWorld) -> None:
    world.inv_http.post("/stats/reset").raise_for_status()


def store_products(world: StockWorld) -> list[dict[str, Any]]:
    return world.shop_http.get("/dump/products").raise_for_status().json()["products"]  # type: ignore[no-any-return]


def shopify_writes(world: StockWorld) -> dict[str, int]:
    """Mutation requests per operation the Shopify sandbox served."""
    return {
        name: int(v["requests"])
        for name, v in world.stats()["operations"].items()
        if name.startswith("mutation ")
    }
