"""Stock out to Shopify, over HTTP against both sandboxes: the inventory sandbox extracted into a real
warehouse with its channel stock computed, the Shopify sandbox as the store. What the store holds and
which operations it served (its control plane) are the ground truth; nothing of ours is mocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from shopify_stock_world import MAIN, RETAIL, StockWorld, channel_file, stock_world

from gecko_pipeline.stores.shopify.stock_push import Entry, InventoryApi, PushHooks, batch_key

pytestmark = pytest.mark.slow(20)

SET = "mutation inventorySetQuantities"
ACTIVATE = "mutation inventoryActivate"


@pytest.fixture
def world(tmp_path: Path) -> StockWorld:
    with stock_world(tmp_path) as world:
        world.catalogue()
        yield world  # type: ignore[misc]


def mismatches(world: StockWorld) -> dict[tuple[str, str], tuple[int, int | None]]:
    levels = world.levels()
    return {k: (v, levels.get(k)) for k, v in world.expected().items() if levels.get(k) != v}


def test_first_push_sets_every_linked_level_then_a_second_sends_nothing(world: StockWorld) -> None:
    _, stock = world.push()
    assert stock.levels > 60 and stock.sent + stock.unchanged == stock.levels
    assert stock.mutations == 1 and stock.stale_retried == 0 and stock.rejected == 0
    assert mismatches(world) == {}
    # Store variants that are not linked are never touched; unmapped locations neither.
    world.reset_stats()
    fields, again = world.push()
    assert (again.sent, again.mutations, fields.mutations) == (0, 0, 0)
    assert again.unchanged == stock.levels
    assert world.stats()["operations"] == {}  # not a single request: nothing changed


def test_three_stock_moves_send_exactly_those_levels(world: StockWorld) -> None:
    world.push()
    before = world.levels()
    moved, spare = world.linked()[:3], world.linked()[5][0]
    for variant, _item, _sku in moved:
        world.stock_move(variant, 1, "-2")
    world.sync()
    world.reset_stats()
    _, stock = world.push()
    assert (stock.sent, stock.mutations, stock.batches) == (3, 1, 1)
    assert world.operation(SET) == 1
    after = world.levels()
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {(item, MAIN) for _, item, _ in moved}
    assert mismatches(world) == {}
    # A targeted push (the webhook path) of another variant sends nothing: it did not move.
    world.reset_stats()
    _, targeted = world.push(variant_ids=[spare])
    assert (targeted.levels, targeted.sent, targeted.mutations) == (2, 0, 0)


def test_a_store_edit_meanwhile_is_caught_by_compare_and_set_then_resolved(world: StockWorld) -> None:
    world.push()
    (variant, item, _), (other, other_item, _) = world.linked()[:2]
    # The merchant edits both in the Shopify admin (we do not know) while stock moves at home.
    world.set_store(item, MAIN, 999)
    world.stock_move(variant, 1, "-1")
    target_other = world.expected()[(other_item, MAIN)] - 1
    world.set_store(other_item, MAIN, target_other)  # the edit happens to be what we are about to set
    world.stock_move(other, 1, "-1")
    world.sync()
    world.reset_stats()
    _, stock = world.push()
    # One call went stale (all or nothing), both were re-read: one already right, one sent again.
    assert (stock.stale_retried, stock.stale_resolved_by_read, stock.stale_unresolved) == (2, 1, 0)
    assert (stock.sent, stock.mutations, stock.reads) == (1, 2, 1)
    assert world.levels()[(item, MAIN)] == world.expected()[(item, MAIN)] != 999
    assert world.levels()[(other_item, MAIN)] == target_other
    assert mismatches(world) == {}
    assert world.stats()["throttled"] == 0
    world.reset_stats()
    assert world.push()[1].mutations == 0  # and nothing is left to send


def test_a_lost_answer_is_replayed_by_its_idempotency_key_not_applied_twice(world: StockWorld) -> None:
    world.push()
    variant, item, _ = world.linked()[0]
    world.stock_move(variant, 1, "-3")
    world.sync()
    keys: list[str] = []

    def crash(entries: list[Entry], key: str) -> None:
        keys.append(key)
        raise RuntimeError("the worker died before it recorded the answer")

    with pytest.raises(RuntimeError, match="worker died"):
        world.push(hooks=PushHooks(after_send=crash))
    target = world.expected()[(item, MAIN)]
    assert world.levels()[(item, MAIN)] == target  # it was applied; we never heard

    world.reset_stats()
    seen: list[str] = []
    _, stock = world.push(hooks=PushHooks(after_send=lambda _entries, key: seen.append(key)))
    # The same batch, the same key: Shopify replays its first answer (no stale compare, no second write).
    assert seen == keys and (stock.sent, stock.stale_retried, stock.mutations) == (1, 0, 1)
    assert world.levels()[(item, MAIN)] == target
    world.reset_stats()
    assert world.push()[1].mutations == 0


def test_keys_differ_for_a_later_write_of_the_same_numbers() -> None:
    api = InventoryApi.for_version("2026-10")
    entry = Entry("gid://shopify/InventoryItem/1", MAIN, 5, 7, writes=3, variant_id=1, sku="A")
    again = Entry("gid://shopify/InventoryItem/1", MAIN, 5, 7, writes=3, variant_id=1, sku="A")
    later = Entry("gid://shopify/InventoryItem/1", MAIN, 5, 7, writes=4, variant_id=1, sku="A")
    assert batch_key("shop", api, [entry], 0) == batch_key("shop", api, [again], 0)
    assert batch_key("shop", api, [entry], 0) != batch_key("shop", api, [later], 0)
    assert batch_key("shop", api, [entry], 0) != batch_key("shop", api, [entry], 1)
    assert batch_key("shop", api, [entry], 0) != batch_key("other", api, [entry], 0)


def test_versions_differ_in_one_place() -> None:
    old, mid, new = (InventoryApi.for_version(v) for v in ("2025-01", "2026-04", "2026-10"))
    assert (old.compare_field, old.idempotency_key, old.activate_unstocked) == (
        "compareQuantity",
        False,
        True,
    )
    assert (mid.compare_field, mid.idempotency_key, mid.activate_unstocked) == (
        "changeFromQuantity",
        True,
        True,
    )
    assert (new.compare_field, new.idempotency_key, new.activate_unstocked) == (
        "changeFromQuantity",
        True,
        False,
    )
    assert "@idempotent(key: $key)" in new.set_document() and "@idempotent" not in old.set_document()
    assert new.entry("i", "l", 3, 2) == {
        "inventoryItemId": "i",
        "locationId": "l",
        "quantity": 3,
        "changeFromQuantity": 2,
    }


def test_2025_01_activates_unstocked_levels_and_compares_with_compare_quantity(tmp_path: Path) -> None:
    with stock_world(
        tmp_path, shop_config={"api_version": "2025-01"}, channels=channel_file(api_version="2025-01")
    ) as world:
        world.catalogue()
        unstocked = [k for k in world.expected() if k not in world.levels()]
        assert unstocked  # items the store does not stock at the Retail store yet
        _, stock = world.push()
        assert stock.activated == len(unstocked) and stock.rejected == 0
        assert world.operation(ACTIVATE) == 1 and world.operation(SET) == 1  # 25 activations a request
        assert mismatches(world) == {}
        assert world.stats()["throttled"] == 0
        world.reset_stats()
        assert world.push()[1].mutations == 0


def test_a_total_goes_to_the_first_mapped_location_and_zero_to_the_others(tmp_path: Path) -> None:
    with stock_world(tmp_path, channels=channel_file(per_location=False)) as world:
        world.catalogue()
        _, stock = world.push()
        assert stock.rejected == 0
        totals = dict(
            world.query(
                """SELECT l.store_inventory_item_id, CAST(floor(li.quantity) AS BIGINT)
                   FROM channel_product_links l JOIN channel_listings li USING (channel, variant_id)
                   WHERE l.status = 'linked' AND li.quantity IS NOT NULL"""
            )
        )
        levels = world.levels()
        assert totals and all(levels[(item, MAIN)] == total for item, total in totals.items())
        assert all(levels[(item, RETAIL)] == 0 for item in totals)


def test_a_full_push_rereads_the_store_and_repairs_edits_nobody_told_us_about(world: StockWorld) -> None:
    world.push()
    _, item, _ = world.linked()[0]
    world.set_store(item, RETAIL, 77)
    world.reset_stats()
    assert world.push()[1].sent == 0  # nothing changed as far as we know
    _, full = world.push(full=True)
    assert (full.full, full.sent, full.stale_retried) == (True, 1, 0)
    assert mismatches(world) == {}


def test_pacing_keeps_a_small_bucket_from_ever_throttling(tmp_path: Path) -> None:
    # A 60-point bucket: catalogue pages of 4 items, then 10-entry batches and the price updates, all
    # paced by the client so the shop never answers THROTTLED.
    with stock_world(tmp_path, shop_config={"bucket_size": 60.0, "restore_rate": 100.0}) as world:
        client = world.client()
        world.catalogue(client=client)
        world.push(client=client, batch_size=10)
        stats = world.stats()
        assert stats["throttled"] == 0
        assert stats["operations"][SET]["requests"] >= 8
        assert client.stats.pacing_waits > 0 and client.stats.throttled == 0
        assert mismatches(world) == {}
