"""The store catalogue and `channel_product_links`, over HTTP against both sandboxes: a Shopify sandbox
read in pages and in bulk into a real warehouse, linked by SKU to the inventory sandbox's variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from shopify_stock_world import StockWorld, stock_world

from gecko_pipeline.stores.shopify.links import (
    LinkConflict,
    add_link,
    double_links,
    link_for_store_variant,
    link_for_variant,
)

pytestmark = pytest.mark.slow(20)


@pytest.fixture
def world(tmp_path: Path) -> StockWorld:
    with stock_world(tmp_path) as world:
        yield world  # type: ignore[misc]


def new_store_product(world: StockWorld, skus: list[str | None]) -> list[str]:
    """A product made in the Shopify admin with one variant per SKU; returns their GIDs."""
    body: dict[str, Any] = {
        "title": "Made in the admin",
        "options": [{"name": "Size", "values": [f"S{i}" for i in range(len(skus))]}],
        "variants": [{"options": [f"S{i}"], "price": "5.00", "sku": sku} for i, sku in enumerate(skus)],
    }
    product = world.shop_http.post("/products", json=body).raise_for_status().json()["product"]
    return [v["admin_graphql_api_id"] for v in product["variants"]]


def rows(world: StockWorld) -> dict[str, tuple[Any, ...]]:
    """store variant -> (sku, variant_id, linked_by, status, problem)."""
    return {
        r[0]: r[1:]
        for r in world.query(
            "SELECT store_variant_id, sku, variant_id, linked_by, status, problem FROM channel_product_links "
            "WHERE channel = 'shop'"
        )
    }


def test_store_variants_are_linked_by_sku_and_every_problem_is_named(world: StockWorld) -> None:
    counts = world.catalogue()
    assert counts.store_variants == 60 and counts.linked_by_sku == 44
    assert counts.problems == {**dict.fromkeys(counts.problems or {}, 0), "sku_unknown": 16}
    linked = world.links()
    a_variant = world.linked()[0][0]
    a_sku = world.linked()[0][2]
    # At home: another active variant takes A's SKU (the inventory API does not enforce unique SKUs).
    other = next(
        int(v)
        for (v,) in world.query("SELECT id FROM variants WHERE status = 'active' ORDER BY id DESC")
        if int(v) not in linked
    )
    world.edit_variant(other, {"sku": a_sku})
    world.sync()
    # In the store: a variant without a SKU, one SKU on two variants, a SKU nobody knows.
    no_sku, dup1, dup2, unknown = new_store_product(world, [None, "DUP-1", "DUP-1", "NOBODY-1"])
    counts = world.catalogue()
    found = rows(world)
    assert found[no_sku][3:] == ("problem", "no_sku")
    assert found[dup1][3:] == found[dup2][3:] == ("problem", "sku_duplicate_in_store")
    assert found[unknown][3:] == ("problem", "sku_unknown")
    store_a = linked[a_variant][0]
    assert found[store_a] == (a_sku, None, "sku", "problem", "sku_ambiguous")
    assert counts.linked_by_sku == 43
    assert (counts.problems or {})["sku_ambiguous"] == 1 and (counts.problems or {})["no_sku"] == 1
    detail = world.query("SELECT detail FROM channel_product_links WHERE store_variant_id = ?", [store_a])[0][
        0
    ]
    assert a_sku in detail and str(a_variant) in detail and str(other) in detail
    with world.con() as con:
        assert link_for_variant(con, "shop", a_variant) is None  # a problem row is never a link
        assert double_links(con, "shop") == []


def test_a_published_link_keeps_its_variant_and_sku_matching_never_takes_it(world: StockWorld) -> None:
    world.catalogue()
    variant, _item, _sku = world.linked()[0]
    store_before = world.links()[variant][0]
    [published] = new_store_product(world, ["PUBLISHED-1"])
    world.catalogue()
    with world.con() as con:
        link = add_link(con, "shop", store_variant_id=published, variant_id=variant, linked_by="published")
        assert link.status == "linked" and link.linked_by == "published"
    # The SKU link of the same variant gave way at once, and stays a problem after the next read.
    world.catalogue()
    found = rows(world)
    assert found[published] == ("PUBLISHED-1", variant, "published", "linked", None)
    assert found[store_before][3:] == ("problem", "variant_linked_elsewhere")
    with world.con() as con:
        by_variant = link_for_variant(con, "shop", variant)
        assert by_variant is not None and by_variant.store_variant_id == published
        by_store = link_for_store_variant(con, "shop", store_before)
        assert by_store is not None and by_store.problem == "variant_linked_elsewhere"
        assert double_links(con, "shop") == []
        # A second store variant for the same inventory variant is refused.
        with pytest.raises(LinkConflict, match=f"already linked to store variant {published}"):
            add_link(
                con,
                "shop",
                store_variant_id="gid://shopify/ProductVariant/1",
                variant_id=variant,
                linked_by="created",
            )
        with pytest.raises(ValueError, match="sku links come from the catalogue"):
            add_link(con, "shop", store_variant_id=published, variant_id=variant, linked_by="sku")
        # A writer that skipped add_link is what the check is for.
        con.execute(
            """INSERT INTO channel_product_links VALUES ('shop', NULL, 'gid://shopify/ProductVariant/2', NULL, NULL,
               ?, 'created', 'linked', NULL, NULL, now()::TIMESTAMP, now()::TIMESTAMP, NULL)""",
            [variant],
        )
        [double] = double_links(con, "shop")
        assert double["variant_id"] == variant and len(double["store_variant_ids"]) == 2


def test_a_sku_changed_in_the_store_moves_only_that_link(world: StockWorld) -> None:
    world.catalogue()
    variant, _item, _sku = world.linked()[0]
    store_variant = world.links()[variant][0]
    before = {
        r[0]: r[1:]
        for r in world.query("SELECT store_variant_id, linked_at, updated_at FROM channel_product_links")
    }
    product = world.query(
        "SELECT store_product_id FROM channel_product_links WHERE store_variant_id = ?", [store_variant]
    )[0][0]
    world.shop_http.put(
        f"/products/{product.rsplit('/', 1)[1]}",
        json={"variants": [{"id": store_variant, "sku": "RENAMED-1"}]},
    ).raise_for_status()
    counts = world.catalogue()
    assert (counts.new, counts.changed, counts.removed) == (0, 1, 0)
    after = {
        r[0]: r[1:]
        for r in world.query("SELECT store_variant_id, linked_at, updated_at FROM channel_product_links")
    }
    assert rows(world)[store_variant] == ("RENAMED-1", None, "sku", "problem", "sku_unknown")
    assert after[store_variant][1] > before[store_variant][1]
    assert {k: v for k, v in after.items() if k != store_variant} == {
        k: v for k, v in before.items() if k != store_variant
    }


def test_bulk_and_pages_read_the_same_catalogue(world: StockWorld) -> None:
    def snapshot() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        catalogue = world.query(
            "SELECT store_variant_id, store_product_id, store_inventory_item_id, sku, product_title, variant_title, "
            "product_status, price, inventory_policy, tracked FROM shopify_catalogue ORDER BY 1"
        )
        levels = world.query(
            "SELECT store_inventory_item_id, store_location_id, available FROM shopify_inventory_levels ORDER BY 1, 2"
        )
        return catalogue, levels

    world.reset_stats()
    world.catalogue(mode="pages")
    pages = snapshot()
    paged_ops = world.stats()["operations"]
    world.reset_stats()
    world.catalogue(mode="bulk")
    bulk = snapshot()
    assert pages == bulk and len(pages[0]) == 60 and len(pages[1]) > 60
    assert (
        "query inventoryItems" in paged_ops
        and "mutation bulkOperationRunQuery" in world.stats()["operations"]
    )
    # Inventory item ids are above 2**53: kept exact as text.
    assert all(int(item.rsplit("/", 1)[1]) > 2**53 for _, _, item, *_ in pages[0])
    [(mode, variants)] = world.query("SELECT mode, variants FROM shopify_shop WHERE channel = 'shop'")
    assert (mode, variants) == ("bulk", 60)
