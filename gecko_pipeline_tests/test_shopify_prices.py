"""Prices, inventory policies and tracked flags out to Shopify (productVariantsBulkUpdate per product), over
HTTP against both sandboxes: sent once, then only when they change; a missing price is never sent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from shopify_stock_world import StockWorld, stock_world

pytestmark = pytest.mark.slow(17)

UPDATE = "mutation productVariantsBulkUpdate"


@pytest.fixture
def world(tmp_path: Path) -> StockWorld:
    with stock_world(tmp_path) as world:
        world.catalogue()
        yield world  # type: ignore[misc]


def listing(world: StockWorld) -> dict[int, tuple[Decimal | None, str, bool]]:
    """Inventory variant -> (price to cents, POLICY, tracked) as the channel listing says."""
    return {
        int(v): (None if p is None else Decimal(p).quantize(Decimal("0.01")), str(pol).upper(), bool(t))
        for v, p, pol, t in world.query(
            "SELECT variant_id, CAST(price AS VARCHAR), inventory_policy, quantity IS NOT NULL "
            "FROM channel_listings WHERE channel = 'shop'"
        )
    }


def test_prices_policies_and_tracked_are_sent_once_then_only_when_they_change(world: StockWorld) -> None:
    fields, _ = world.push()
    links = world.links()
    assert fields.prices_sent == len(links) and fields.rejected == 0
    products = {
        p
        for (p,) in world.query(
            "SELECT DISTINCT store_product_id FROM channel_product_links WHERE status = 'linked'"
        )
    }
    assert fields.mutations == fields.products_updated == len(products)  # one call per product
    store = world.variant_fields([sv for sv, _ in links.values()])
    wanted = listing(world)
    assert {v: store[sv] for v, (sv, _) in links.items()} == {v: wanted[v] for v in links}

    world.reset_stats()
    again, _ = world.push()
    assert (again.mutations, again.prices_sent, again.prices_unchanged) == (0, 0, len(links))
    assert world.operation(UPDATE) == 0

    # One price changes at home: one call, for that variant's product, with that price.
    variant = world.linked()[0][0]
    world.edit_variant(variant, {"retail_price": "12.34"})
    world.sync()
    world.reset_stats()
    changed, _ = world.push()
    assert (changed.mutations, changed.prices_sent, changed.policies_sent, changed.tracked_sent) == (
        1,
        1,
        0,
        0,
    )
    assert world.operation(UPDATE) == 1
    assert world.variant_fields([links[variant][0]])[links[variant][0]][0] == Decimal("12.34")


def test_a_missing_price_is_never_sent_and_counted(world: StockWorld) -> None:
    world.push()
    links = world.links()
    variant = world.linked()[1][0]  # listed: its missing price is `price_missing`
    store_variant = links[variant][0]
    before = world.variant_fields([store_variant])[store_variant][0]
    world.edit_variant(variant, {"retail_price": None})
    world.sync()
    [(missing,)] = world.query(
        "SELECT price_missing FROM channel_listings WHERE channel = 'shop' AND variant_id = ?", [variant]
    )
    assert missing is True
    world.reset_stats()
    fields, _ = world.push()
    assert fields.prices_skipped_missing == 1 and fields.prices_sent == 0 and fields.mutations == 0
    assert world.variant_fields([store_variant])[store_variant][0] == before != 0


def test_keep_selling_and_untracked_stock_become_the_policy_and_the_tracked_flag(world: StockWorld) -> None:
    world.push()
    links = world.links()
    (backorder, _, _), (untracked, _, _) = world.linked()[2:4]
    world.edit_variant(backorder, {"keep_selling": True})
    world.edit_variant(untracked, {"manage_stock": False})
    world.sync()
    world.reset_stats()
    fields, stock = world.push()
    assert fields.policies_sent >= 2 and fields.tracked_sent == 1 and fields.prices_sent == 0
    store = world.variant_fields([links[backorder][0], links[untracked][0]])
    assert store[links[backorder][0]][1:] == ("CONTINUE", True)
    assert store[links[untracked][0]][1:] == ("CONTINUE", False)  # untracked sells on, Shopify ignores stock
    assert stock.untracked >= 1
    world.reset_stats()
    assert world.push()[0].mutations == 0


def test_prices_in_another_currency_than_the_shops_are_not_sent(tmp_path: Path) -> None:
    with stock_world(tmp_path, shop_config={"shop_currency": "USD"}) as world:
        world.catalogue()
        fields, stock = world.push()
        assert fields.prices_sent == 0 and fields.prices_skipped_currency == len(world.links())
        assert any("NZD" in e and "USD" in e for e in fields.errors)
        assert stock.sent > 0  # stock is not money: it still goes
