"""Drift between the store's stock and what we last pushed, over HTTP against both sandboxes: the
merchant edits stock in the Shopify admin (the sandbox's PUT /_sandbox/inventory), the drift check
reports every SKU and location, and the next push repairs it against the store's actual value."""

from __future__ import annotations

from pathlib import Path

import pytest
from shopify_stock_world import MAIN, RETAIL, StockWorld, stock_world


@pytest.fixture
def world(tmp_path: Path) -> StockWorld:
    with stock_world(tmp_path) as world:
        world.catalogue()
        yield world  # type: ignore[misc]


@pytest.mark.parametrize("mode", ["pages", "bulk"])
def test_drift_is_reported_per_sku_and_location_then_the_next_push_repairs_it(
    world: StockWorld, mode: str
) -> None:
    assert world.drift(mode).compared == 0  # nothing pushed yet: nothing to disagree with
    world.push()
    clean = world.drift(mode)
    assert clean.compared > 60 and clean.drifted == 0
    (_, item, sku), (_, other_item, other_sku) = world.linked()[:2]
    expected = world.expected()
    world.set_store(item, MAIN, expected[(item, MAIN)] + 40)
    world.set_store(other_item, RETAIL, expected[(other_item, RETAIL)] + 7)

    report = world.drift(mode)
    assert (report.drifted, report.drifted_skus, report.missing) == (2, 2, 0)
    assert report.by_location == {MAIN: 1, RETAIL: 1}
    assert sorted((r["sku"], r["location"], r["pushed"], r["store"]) for r in report.sample) == sorted(
        [
            (sku, MAIN, expected[(item, MAIN)], expected[(item, MAIN)] + 40),
            (other_sku, RETAIL, expected[(other_item, RETAIL)], expected[(other_item, RETAIL)] + 7),
        ]
    )
    assert len(world.query("SELECT * FROM shopify_stock_drift WHERE channel = 'shop'")) == 2

    # The push compares against what the drift read saw: no stale compare, both repaired in one call.
    world.reset_stats()
    _, stock = world.push()
    assert (stock.sent, stock.stale_retried, stock.mutations) == (2, 0, 1)
    levels = world.levels()
    assert (
        levels[(item, MAIN)] == expected[(item, MAIN)]
        and levels[(other_item, RETAIL)] == expected[(other_item, RETAIL)]
    )
    assert world.drift(mode).drifted == 0
    assert world.query("SELECT count(*) FROM shopify_stock_drift")[0][0] == 0
