"""New inventory products published to a Shopify store, over HTTP against both sandboxes: created with
productSet, linked, given their stock at the mapped locations, exactly once across a crash, new variants
added to a published product, and an archived inventory product archived in the store. The store's dumps
and request stats are the ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shopify_products_world import run_publish, shopify_writes, store_products
from shopify_stock_world import MAIN, RETAIL, StockWorld, channel_file, stock_world

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.stores.shopify.links import double_links
from gecko_pipeline.stores.shopify.product_publish import PublishHooks, handle_for

pytestmark = pytest.mark.slow(25)

PRODUCT_SET = "mutation productSet"


def publishing_channels(**kwargs: Any) -> str:
    text = channel_file(**kwargs)
    return text.replace(
        "    price_list: retail\n", "    price_list: retail\n    publish_new_products: true\n"
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[StockWorld]:
    with stock_world(tmp_path, scale=120, shop_scale=40, channels=publishing_channels()) as world:
        world.catalogue()
        first = run_publish(world)
        assert first.baseline_set and first.variants_published == 0  # the existing catalogue stays home
        yield world


def new_product(world: StockWorld, variants: int, name: str | None = None) -> tuple[int, list[int]]:
    body: dict[str, Any] = {"variants": variants}
    if name:
        body["name"] = name
    answer = world.inv_http.post("/activity/new_product", json=body).raise_for_status().json()
    return int(answer["product_id"]), [int(v) for v in answer["variant_ids"]]


def store_product(world: StockWorld, handle: str) -> dict[str, Any]:
    (product,) = [p for p in store_products(world) if p["handle"] == handle]
    return product


def published_links(world: StockWorld) -> dict[int, tuple[str, str]]:
    return {
        int(v): (str(s), str(i))
        for v, s, i in world.query(
            "SELECT variant_id, store_variant_id, store_inventory_item_id FROM channel_product_links "
            "WHERE channel = 'shop' AND linked_by = 'published' AND status = 'linked'"
        )
    }


def test_a_new_inventory_product_appears_in_the_store_with_its_stock_once(world: StockWorld) -> None:
    product_id, variant_ids = new_product(world, 3, "Trail Runner")
    world.sync()
    world.reset_stats()
    result = run_publish(world)
    assert (result.products_published, result.variants_published, result.problem_total) == (1, 3, 0)
    # One productSet made the product with its three variants, SKUs, option values and prices.
    assert shopify_writes(world)[PRODUCT_SET] == 1
    product = store_product(world, handle_for("Trail Runner", product_id))
    assert product["status"] == "active" and product["title"] == "Trail Runner"
    assert [o["name"] for o in product["options"]] == ["Size"]
    skus = {v["sku"]: v for v in product["variants"]}
    assert sorted(skus) == [f"NEW-{product_id:05d}-{i:02d}" for i in (1, 2, 3)]
    assert [skus[f"NEW-{product_id:05d}-{i:02d}"]["price"] for i in (1, 2, 3)] == ["22.00", "24.00", "26.00"]
    # Linked as published, and given its stock at both mapped locations (10 on hand at the primary).
    links = published_links(world)
    assert sorted(links) == sorted(variant_ids)
    levels, expected = world.levels(), world.expected()
    for _store_variant, item in links.values():
        assert levels[(item, MAIN)] == expected[(item, MAIN)] == 10
        assert levels[(item, RETAIL)] == expected[(item, RETAIL)] == 0
    assert result.stock is not None and result.stock.sent == 6
    # Nothing happens twice: a second run sends no mutation at all.
    world.reset_stats()
    again = run_publish(world)
    assert (again.candidates, again.mutations, again.variants_published) == (0, 0, 0)
    assert shopify_writes(world) == {}
    with world.con() as con:
        assert double_links(con, "shop") == []


def test_archived_in_the_inventory_system_means_archived_in_the_store(world: StockWorld) -> None:
    product_id, _ = new_product(world, 2, "Old Lamp")
    world.sync()
    run_publish(world)
    handle = handle_for("Old Lamp", product_id)
    with GeckoClient(world.inventory.url, token=world.inventory.token) as gecko:
        gecko.delete(f"/products/{product_id}")  # archives it, and its variants
    world.sync()
    result = run_publish(world)
    assert result.unpublished == 1 and store_product(world, handle)["status"] == "archived"
    assert run_publish(world).mutations == 0  # said once
    # Made active again, it is back on sale.
    world.inv_http.post(
        "/activity/update", json={"resource": "products", "id": product_id, "fields": {"status": "active"}}
    ).raise_for_status()
    world.sync()
    assert run_publish(world).republished == 1
    assert store_product(world, handle)["status"] == "active"


def test_a_crash_between_the_product_set_and_the_link_is_recovered_by_sku(world: StockWorld) -> None:
    product_id, variant_ids = new_product(world, 2, "Crashy Kettle")
    world.sync()

    def crash(operation: str, ids: list[int]) -> None:
        raise RuntimeError(f"killed after {operation}")

    with pytest.raises(RuntimeError, match="killed after productSet"):
        run_publish(world, hooks=PublishHooks(after_send=crash))
    assert published_links(world) == {}
    world.reset_stats()
    result = run_publish(world)
    # Found in the store by SKU and linked: not created again.
    assert (result.recovered, result.products_published, result.variants_published) == (2, 0, 0)
    assert PRODUCT_SET not in shopify_writes(world)
    assert sorted(published_links(world)) == sorted(variant_ids)
    matching = [p for p in store_products(world) if p["handle"].startswith("crashy-kettle")]
    assert len(matching) == 1 and len(matching[0]["variants"]) == 2


def test_a_new_variant_of_a_published_product_is_added_to_it(world: StockWorld) -> None:
    product_id, _ = new_product(world, 2, "Wool Socks")
    world.sync()
    run_publish(world)
    with GeckoClient(world.inventory.url, token=world.inventory.token) as gecko:
        answer = gecko.post(
            "/variants",
            {"variant": {"product_id": product_id, "sku": "SOCK-XL", "opt1": "XL", "retail_price": "9.50"}},
        )
    world.sync()
    world.reset_stats()
    result = run_publish(world)
    assert (result.products_published, result.variants_published) == (0, 1)
    assert shopify_writes(world) == {
        "mutation productVariantsBulkCreate": 1,
        "mutation inventorySetQuantities": 1,
    }
    product = store_product(world, handle_for("Wool Socks", product_id))
    assert {v["sku"] for v in product["variants"]} >= {"SOCK-XL"} and len(product["variants"]) == 3
    assert int(answer["variant"]["id"]) in published_links(world)


def test_nothing_is_published_without_the_option(tmp_path: Path) -> None:
    with stock_world(tmp_path, scale=60, shop_scale=20, channels=channel_file()) as world:
        world.catalogue()
        product_id, _ = new_product(world, 1)
        world.sync()
        result = run_publish(world)
        assert not result.enabled and result.mutations == 0
        assert not any(
            v["sku"].startswith(f"NEW-{product_id:05d}")
            for p in store_products(world)
            for v in p["variants"]
            if v["sku"]
        )
        assert world.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'shopify_publish_state'"
        ) == [(0,)]


def test_on_2025_01_the_new_levels_are_activated_and_the_variant_cap_is_100(tmp_path: Path) -> None:
    channels = publishing_channels(api_version="2025-01")
    with stock_world(
        tmp_path, scale=120, shop_scale=40, channels=channels, shop_config={"api_version": "2025-01"}
    ) as world:
        world.catalogue()
        run_publish(world)
        product_id, variant_ids = new_product(world, 2, "Old API Mug")
        big_id, _ = new_product(world, 101, "Too Many Sizes")
        world.sync()
        result = run_publish(world)
        assert (result.products_published, result.variants_published) == (1, 2)
        assert result.problems["over_variant_limit"] == 101
        assert result.stock is not None and result.stock.activated > 0
        links = published_links(world)
        assert sorted(links) == sorted(variant_ids)
        levels = world.levels()
        assert all(levels[(item, MAIN)] == 10 for _, item in links.values())
        assert not [p for p in store_products(world) if p["handle"] == handle_for("Too Many Sizes", big_id)]
        assert store_product(world, handle_for("Old API Mug", product_id))["status"] == "active"


def test_a_refusal_is_reported_and_not_resent_until_the_product_changes(world: StockWorld) -> None:
    _, (variant_id,) = new_product(world, 1, "Negative Deal")
    world.edit_variant(variant_id, {"retail_price": "-5.00"})  # planted: the store refuses a negative price
    world.sync()
    refused = run_publish(world)
    assert refused.problems["refused"] == 1 and refused.mutations == 1
    [item] = [i for i in refused.items if i.action == "refused"]
    assert "Price must be greater than or equal to 0" in str(item.detail)
    again = run_publish(world)
    assert again.problems["refused"] == 1 and again.mutations == 0  # reported, not sent again
    world.edit_variant(variant_id, {"retail_price": "5.00"})
    world.sync()
    fixed = run_publish(world)
    assert (fixed.variants_published, fixed.problem_total) == (1, 0)
    assert variant_id in published_links(world)
