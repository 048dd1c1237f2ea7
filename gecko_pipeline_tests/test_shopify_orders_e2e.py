"""Shopify store orders become sales orders, end to end over real HTTP: an order placed in the Shopify
sandbox (its control plane plays the shopper and the merchant) -> signed webhook -> the gateway's
Shopify route -> ops.sqlite inbox -> the push runner (`run_push`) -> one sales order in the inventory
sandbox, with its follow-ups once. The backfill path reads the same orders by GraphQL.

One inventory sandbox with a published catalogue and two Shopify sandboxes serve the module
(shopify_world.py): `shop` is subscribed to the test gateway, `quiet` has no subscriptions (the
backfill's own). Each test places its own orders.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from orders_world import World
from shopify_world import ShopWorld, open_shopify_world

from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.runner import RetryPolicy
from gecko_pipeline.stores.shopify import backfill_orders
from gecko_pipeline.stores.shopify.backfill import read_watermark


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, ShopWorld, ShopWorld]]:
    yield from open_shopify_world(tmp_path_factory)


@pytest.fixture
def shop(worlds: tuple[World, ShopWorld, ShopWorld]) -> ShopWorld:
    return worlds[1]


@pytest.fixture
def quiet(worlds: tuple[World, ShopWorld, ShopWorld]) -> ShopWorld:
    return worlds[2]


def lines_of(world: World, sales_order: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lines = world.lines_of(sales_order["id"])
    return [x for x in lines if not x.get("freeform")], [x for x in lines if x.get("freeform")]


def test_a_placed_order_becomes_one_sales_order_with_its_lines_taxes_discounts_shipping_and_customer(
    shop: ShopWorld,
) -> None:
    world = shop.world
    skus = shop.common_skus()[:2]
    placed = shop.place(
        skus,
        email="lines.buyer@example.com",
        line_items=[
            {"sku": skus[0], "quantity": 2},
            {"sku": skus[1], "quantity": 1, "price": "19.99"},
            {
                "title": "Gift wrapping",
                "price": "4.50",
                "quantity": 1,
                "taxable": False,
                "requires_shipping": False,
            },
        ],
        discounts=[{"code": "SAVE10", "value_type": "percentage", "value": "10"}],
        shipping_lines=[
            {
                "title": "Standard",
                "code": "STANDARD",
                "price": "6.95",
                "tax_lines": [{"title": "State tax", "rate": "0.0625"}],
            }
        ],
        note="Leave at the door",
    )
    shop.settle()
    stats = shop.push()
    assert stats.created == 1 and stats.quarantined == 0, stats

    (sales_order,) = shop.sales_orders(placed["id"])
    assert sales_order["tax_treatment"] == "exclusive"
    assert sales_order["payment_status"] == "paid"  # orders/create said paid: pay, once
    assert sales_order["notes"] == "Leave at the door"
    assert "shopify" in sales_order["tags"]
    products, freeform = lines_of(world, sales_order)
    variants = world.variant_ids()
    by_variant = {x["variant_id"]: x for x in products}
    for line in placed["line_items"][:2]:
        got = by_variant[variants[line["sku"]]]
        assert Decimal(got["quantity"]) == line["quantity"]
        assert Decimal(got["price"]) == Decimal(line["price"])  # Shopify's unit price, exact
        assert Decimal(got["tax_rate_override"]) == Decimal("6.25")
    labels = {x["label"]: x for x in freeform}
    assert Decimal(labels["Gift wrapping"]["price"]) == Decimal("4.50")
    assert Decimal(labels["Gift wrapping"]["tax_rate_override"]) == 0
    assert Decimal(labels["Standard"]["price"]) == Decimal("6.95")
    # The code's allocations, one discount line per tax rate (6.25 % lines, the untaxed wrapping), to the cent.
    discounts = sorted(
        (x for x in freeform if x["label"] == "Discount SAVE10"), key=lambda x: x["tax_rate_override"]
    )
    assert [Decimal(x["tax_rate_override"]) for x in discounts] == [0, Decimal("6.25")]
    assert sum(Decimal(x["price"]) for x in discounts) == -Decimal(placed["total_discounts"])
    # What the sales order charges before tax is what Shopify charged before tax.
    net = sum(Decimal(x["price"]) * Decimal(x["quantity"]) for x in world.lines_of(sales_order["id"]))
    assert net == Decimal(placed["subtotal_price"]) + Decimal("6.95")

    company = next(c for c in world.dump("companies") if c["id"] == sales_order["company_id"])
    assert company["email"] == "lines.buyer@example.com" and company["name"] == "Ava Tan"
    address = next(a for a in world.dump("addresses") if a["id"] == sales_order["shipping_address_id"])
    assert (address["address1"], address["city"], address["zip_code"]) == ("20 Main St", "Boston", "02108")

    row = shop.ledger_row(placed["id"])
    assert row.state == "done" and row.order_id == sales_order["id"]
    # orders/create and orders/paid of one moment carry the same updated_at: one state
    assert row.channel_updated_at is not None and row.channel_updated_at.startswith(
        datetime.fromisoformat(placed["updated_at"]).astimezone(timezone.utc).isoformat()[:19]
    )


def test_redeliveries_and_duplicate_deliveries_make_one_sales_order(shop: ShopWorld) -> None:
    sku = shop.common_skus()[2]
    shop.control("PUT", "/webhooks/settings", {"duplicate_rate": 1.0})  # every delivery sent twice
    try:
        placed = shop.place([sku], email="twice.buyer@example.com")
        shop.settle()
    finally:
        shop.control("PUT", "/webhooks/settings", {"duplicate_rate": 0.0})
    created = [d for d in shop.deliveries("orders/create") if d["payload"]["id"] == placed["id"]]
    shop.control("POST", "/webhooks/redeliver", {"webhook_id": created[0]["id"]})  # and once more
    shop.settle()
    con = shop.world.ops()
    try:
        rows = con.execute(
            "SELECT webhook_id, duplicate_of FROM shopify_webhooks WHERE inbox_id IN "
            "(SELECT id FROM order_inbox WHERE channel_order_id = ?)",
            (str(placed["id"]),),
        ).fetchall()
        stored = con.execute(
            "SELECT count(*) FROM order_inbox WHERE channel = 'shopify' AND channel_order_id = ?",
            (str(placed["id"]),),
        ).fetchone()[0]
    finally:
        con.close()
    assert len(rows) == 2  # orders/create and orders/paid, each remembered once by its webhook id
    assert stored == 2  # two topics of one moment: two rows, one state
    assert shop.push().created == 1
    assert shop.push().created == 0
    (sales_order,) = shop.sales_orders(placed["id"])
    assert sales_order["payment_status"] == "paid"
    assert shop.ledger_row(placed["id"]).done == ["pay"]


def test_states_delivered_in_reverse_end_in_the_newest_state_each_follow_up_once(shop: ShopWorld) -> None:
    skus = shop.common_skus()[3:5]
    shop.control("PUT", "/webhooks/settings", {"hold": True})
    try:
        placed = shop.place(skus, email="reverse.buyer@example.com", financial_status="pending")
        shop.control("POST", f"/orders/{placed['id']}/payments", {"financial_status": "paid"})
        shop.control(
            "POST",
            f"/orders/{placed['id']}/fulfillments",
            {"tracking": {"number": "1Z999", "url": "https://ups.example/1Z999", "company": "UPS"}},
        )
    finally:
        shop.control("POST", "/webhooks/release", {"order": "reverse"})
    shop.settle()
    stats = shop.push()
    assert stats.created == 1, stats
    (sales_order,) = shop.sales_orders(placed["id"])
    assert sales_order["payment_status"] == "paid" and sales_order["fulfillment_status"] == "shipped"
    (fulfillment,) = [f for f in shop.world.dump("fulfillments") if f["order_id"] == sales_order["id"]]
    assert (fulfillment["tracking_number"], fulfillment["tracking_company"]) == ("1Z999", "UPS")
    row = shop.ledger_row(placed["id"])
    assert row.done == ["pay", "fulfil"] and row.state == "done"

    # The oldest state once more. The route would take Shopify's late retry of it as a duplicate (same
    # webhook id); forgetting the delivery makes it store it again, to show what the ledger does with an
    # older state: nothing moves.
    created = [d for d in shop.deliveries("orders/create") if d["payload"]["id"] == placed["id"]]
    con = shop.world.ops()
    try:
        con.execute("DELETE FROM shopify_webhooks WHERE webhook_id = ?", (created[0]["id"],))
        con.execute(
            "DELETE FROM shopify_webhooks WHERE business_key LIKE ?", (f"orders/create|{placed['id']}|%",)
        )
    finally:
        con.close()
    shop.control("POST", "/webhooks/redeliver", {"webhook_id": created[0]["id"]})
    shop.settle()
    shop.world.reset_stats()
    assert shop.push().created == 0
    assert shop.ledger_row(placed["id"]).done == ["pay", "fulfil"]
    assert shop.world.requests("POST", "/") == 0


def test_pending_is_invoiced_then_paid_then_cancelled_one_is_voided(shop: ShopWorld) -> None:
    skus = shop.common_skus()[5:7]
    pending = shop.place(skus[:1], email="later.payer@example.com", financial_status="pending")
    cancelled = shop.place(skus[1:], email="cancel.buyer@example.com", financial_status="pending")
    shop.settle()
    assert shop.push().created == 2
    (sales_order,) = shop.sales_orders(pending["id"])
    assert (sales_order["invoice_status"], sales_order["payment_status"]) == ("invoiced", "unpaid")

    shop.control("POST", f"/orders/{pending['id']}/payments", {"financial_status": "paid"})
    shop.control("POST", f"/orders/{cancelled['id']}/cancel", {"reason": "customer", "restock": True})
    shop.settle()
    shop.push()
    (sales_order,) = shop.sales_orders(pending["id"])
    assert sales_order["payment_status"] == "paid"
    assert shop.ledger_row(pending["id"]).done == ["invoice", "pay"]
    (voided,) = shop.sales_orders(cancelled["id"])
    assert voided["status"] == "void"
    assert "void" in shop.ledger_row(cancelled["id"]).done


def test_a_refund_with_restock_becomes_a_fulfillment_return(shop: ShopWorld) -> None:
    world = shop.world
    skus = shop.common_skus()[7:9]
    placed = shop.place(skus, email="refund.buyer@example.com")  # quantities 1 and 2
    shop.control(
        "POST", f"/orders/{placed['id']}/fulfillments", {"tracking": {"number": "TRK-R", "company": "USPS"}}
    )
    shop.settle()
    shop.push()
    second = placed["line_items"][1]
    refund = shop.control(
        "POST",
        f"/orders/{placed['id']}/refunds",
        {"line_items": [{"line_item_id": second["id"], "quantity": 1, "restock": True}], "note": "too small"},
    )["refund"]
    assert refund["refund_line_items"][0]["restock_type"] == "return"
    shop.settle()
    stats = shop.push()
    assert stats.quarantined == 0
    (sales_order,) = shop.sales_orders(placed["id"])
    (returned,) = [r for r in world.dump("fulfillment_returns") if r["order_id"] == sales_order["id"]]
    items = [
        x for x in world.dump("fulfillment_return_line_items") if x["fulfillment_return_id"] == returned["id"]
    ]
    line_ids = {x["id"]: x["variant_id"] for x in world.lines_of(sales_order["id"])}
    assert [(line_ids[x["order_line_item_id"]], Decimal(x["quantity"])) for x in items] == [
        (world.variant_ids()[second["sku"]], Decimal(1))
    ]
    assert returned["notes"] == "too small"
    assert shop.ledger_row(placed["id"]).done == ["pay", "fulfil", f"return:{refund['id']}"]
    # The refunds/create notice was taken (handled), not quarantined.
    assert not [q for q in world.quarantined() if q.channel == "shopify"]


def test_an_unknown_sku_waits_for_the_catalogue(shop: ShopWorld) -> None:
    products = shop.control("GET", "/dump/products")["products"]
    known = set(shop.world.variant_ids(sellable=True)) | set(shop.world.variant_ids(sellable=False))
    store_only = next(
        v["sku"]
        for p in products
        if p["status"] == "active"
        for v in p["variants"]
        if v.get("sku") and v["sku"] not in known
    )
    placed = shop.place([store_only], email="early.buyer@example.com")
    shop.settle()
    stats = shop.push()
    assert stats.waiting == 1 and stats.created == 0
    assert shop.ledger_row(placed["id"]).state == "waiting"


def test_a_push_killed_between_post_and_ledger_write_creates_one_order(shop: ShopWorld) -> None:
    world = shop.world
    placed = shop.place(shop.common_skus()[9:10], email="crash.buyer@example.com")
    shop.settle()
    con = world.ops()
    try:
        (inbox_id,) = con.execute(
            "SELECT min(id) FROM order_inbox WHERE channel = 'shopify' AND channel_order_id = ?",
            (str(placed["id"]),),
        ).fetchone()
        shop.pushed = inbox.last_inbox_id(con)  # the crashing run takes this order's row
    finally:
        con.close()
    reference = f"shopify:{placed['id']}"
    killed = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("crash_after_post.py")),
            world.handle.url,
            world.handle.token,
            str(world.ops_path),
            str(world.warehouse.published_path),
            str(world.channel_file),
            str(inbox_id),
            reference,
        ],
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == 86, killed.stderr.decode()[-2000:]
    assert len(world.orders_with(reference)) == 1
    row = shop.ledger_row(placed["id"])
    assert row.intent_at is not None and row.order_id is None
    stats = shop.push(retry=True, policy=RetryPolicy(3600, 0, stale_after_seconds=0))
    assert stats.lookups >= 1 and stats.created == 1
    (sales_order,) = world.orders_with(reference)
    assert shop.ledger_row(placed["id"]).order_id == sales_order["id"]


def test_the_backfill_alone_imports_a_store_and_goes_on_from_its_watermark(quiet: ShopWorld) -> None:
    world = quiet.world
    since = datetime.now(timezone.utc) - timedelta(seconds=2)
    skus = quiet.common_skus()
    placed = [
        quiet.place([skus[i % len(skus)]], email=f"quiet{i}@example.com", financial_status="pending")
        for i in range(4)
    ]
    assert not quiet.deliveries()  # no subscriptions: only the backfill can see them
    con = world.ops()
    try:
        with quiet.client() as client:
            first = backfill_orders(client, con, quiet.config, since=since)
            assert first.stored == 4 and first.throttled == 0
            again = backfill_orders(client, con, quiet.config)  # from the watermark: the boundary is skipped
            assert again.stored == 0 and again.skipped >= 1
            quiet.control("POST", f"/orders/{placed[0]['id']}/payments", {"financial_status": "paid"})
            later = backfill_orders(client, con, quiet.config)
        mark = read_watermark(con, "quiet")
    finally:
        con.close()
    assert later.stored == 1  # the payment, even within the watermark's second
    assert mark.updated_at == later.watermark.updated_at
    assert any(key.startswith(f"{placed[0]['id']}:") for key in mark.boundary_ids)
    stats = quiet.push()
    assert stats.created == 4 and stats.quarantined == 0
    for order in placed:
        assert len(quiet.sales_orders(order["id"])) == 1
    (paid,) = quiet.sales_orders(placed[0]["id"])
    assert paid["payment_status"] == "paid"
    assert quiet.ledger_row(placed[0]["id"]).done == ["pay"]  # the newest state only: paid
    assert quiet.ledger_row(placed[1]["id"]).done == ["invoice"]


def test_both_paths_together_make_one_sales_order_each_follow_up_once(shop: ShopWorld) -> None:
    since = datetime.now(timezone.utc) - timedelta(seconds=2)
    placed = shop.place(shop.common_skus()[10:12], email="both.paths@example.com", financial_status="pending")
    shop.settle()
    con = shop.world.ops()
    try:
        with shop.client() as client:
            backfill_orders(client, con, shop.config, since=since)  # the same order, by GraphQL
    finally:
        con.close()
    stats = shop.push()
    assert stats.created == 1 and stats.held == 0 and stats.quarantined == 0, stats
    shop.control("POST", f"/orders/{placed['id']}/payments", {"financial_status": "paid"})
    shop.settle()
    con = shop.world.ops()
    try:
        with shop.client() as client:
            backfill_orders(client, con, shop.config)
    finally:
        con.close()
    stats = shop.push()
    assert stats.created == 0 and stats.held == 0, stats
    (sales_order,) = shop.sales_orders(placed["id"])
    assert sales_order["payment_status"] == "paid"
    assert shop.ledger_row(placed["id"]).done == ["invoice", "pay"]
    # Both paths carried the same state: the same updated_at, so the same channel_updated_at.
    assert shop.ledger_row(placed["id"]).state == "done"
