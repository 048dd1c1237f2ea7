"""Channel orders pushed into the sandbox over HTTP, exactly once.

One sandbox and one extracted + published catalogue serve the whole module (orders_world.py; each test
uses its own channel order ids). The sandbox's control plane is the ground truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from harness import pipeline
from orders_world import SECRET, World, full_shipment, new_order, open_world

from gecko_pipeline.config import Settings
from gecko_pipeline.defs.orders import channel_order_sync
from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.intake import intake_app
from gecko_pipeline.orders.runner import RetryPolicy
from gecko_pipeline.tools.background import GatewayHandle
from gecko_pipeline.tools.daemon import launch
from gecko_pipeline.tools.orders_demo import send_orders


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from open_world(tmp_path_factory)


def test_a_mixed_batch_becomes_the_right_sales_orders(world: World) -> None:
    returning = next(
        c for c in world.dump("companies") if c.get("email") and c.get("company_type") == "business"
    )
    paid_shipped = new_order(world)
    paid_shipped["shipments"] = full_shipment(paid_shipped)
    paid_shipped["discount_lines"] = [{"label": "WELCOME", "amount": "5"}]
    same_customer = new_order(
        world, n_lines=1, customer=paid_shipped["customer"], shipping_address=paid_shipped["shipping_address"]
    )
    pending = new_order(
        world,
        channel="market",
        n_lines=1,
        financial_status="pending",
        customer={"name": returning["name"], "email": returning["email"].upper(), "type": "business"},
    )
    cancelled = new_order(world, cancelled=True, financial_status="refunded")
    returned = new_order(world)
    returned["shipments"] = full_shipment(returned)
    returned["returns"] = [
        {"return_id": "r1", "lines": [{"sku": returned["lines"][1]["sku"], "quantity": "1"}]}
    ]
    partial = new_order(world)
    partial["shipments"] = [
        {
            "shipment_id": "p1",
            "tracking_number": "P-1",
            "lines": [{"sku": partial["lines"][0]["sku"], "quantity": "1"}],
        }
    ]
    batch = [paid_shipped, same_customer, pending, cancelled, returned, partial]

    variants = world.variant_ids()
    pending_variant = variants[pending["lines"][0]["sku"]]
    market_location = next(loc["id"] for loc in world.dump("locations") if loc["label"] == "Warehouse 2")
    committed_before = world.committed(pending_variant, market_location)
    companies_before = len(world.dump("companies"))
    stock_before = world.stock()

    world.reset_stats()
    stats = world.push(world.deliver(*batch))
    assert stats.created == 6 and stats.quarantined == 0 and stats.failed == 0, stats
    assert world.requests("POST", "/orders") - world.requests("POST", "/orders/") == 6
    assert world.requests("GET", "/orders") == 0, "the normal path spends no lookup"

    def sales_order(order: dict[str, Any]) -> dict[str, Any]:
        (found,) = world.orders_with(f"{order['channel']}:{order['channel_order_id']}")
        return found

    first = sales_order(paid_shipped)
    assert first["status"] == "fulfilled"
    assert first["payment_status"] == "paid"
    assert first["default_price_list_id"] == "retail"
    assert {"gecko-pipeline", "channel:webstore", "web"} <= set(first["tags"])
    lines = world.lines_of(first["id"])
    products = [x for x in lines if not x.get("freeform")]
    assert [(x["variant_id"], Decimal(x["quantity"]), Decimal(x["price"])) for x in products] == [
        (variants[x["sku"]], Decimal(x["quantity"]), Decimal("12.50")) for x in paid_shipped["lines"]
    ]
    freeform = {x["line_type"]: Decimal(x["price"]) for x in lines if x.get("freeform")}
    assert freeform == {"shipping": Decimal("7.95"), "discount": Decimal("-5")}
    fulfillment = next(f for f in world.dump("fulfillments") if f["order_id"] == first["id"])
    assert fulfillment["tracking_number"] == "TRK1"

    # A new consumer is created once, with the order; the second order reuses it and its address.
    company = next(c for c in world.dump("companies") if c["id"] == first["company_id"])
    assert (company["email"], company["company_type"]) == (paid_shipped["customer"]["email"], "consumer")
    second = sales_order(same_customer)
    assert second["company_id"] == first["company_id"]
    assert second["shipping_address_id"] == first["shipping_address_id"]
    assert len(world.dump("companies")) == companies_before + 4  # paid_shipped, cancelled, returned, partial

    # The returning customer is matched by e-mail (case-insensitively), in the market channel's setup.
    third = sales_order(pending)
    assert third["company_id"] == returning["id"]
    assert third["status"] == "active" and third["invoice_status"] == "invoiced"
    assert third["payment_status"] == "unpaid"
    assert third["default_price_list_id"] == "2" and third["stock_location_id"] == market_location
    assert world.committed(pending_variant, market_location) == committed_before + Decimal(
        pending["lines"][0]["quantity"]
    )

    assert sales_order(cancelled)["status"] == "void"
    fifth = sales_order(returned)
    ret = next(r for r in world.dump("fulfillment_returns") if r["order_id"] == fifth["id"])
    ret_lines = [
        x for x in world.dump("fulfillment_return_line_items") if x["fulfillment_return_id"] == ret["id"]
    ]
    assert [Decimal(x["quantity"]) for x in ret_lines] == [Decimal(1)]
    sixth = sales_order(partial)
    assert sixth["fulfillment_status"] == "partial"

    for order in batch:
        row = world.ledger_row(order["channel"], order["channel_order_id"])
        assert row.state == "done" and row.order_id is not None and row.intent_at is None

    # Stock, over the whole batch: unshipped lines of live orders are committed at their order's stock
    # location, shipped ones left the shelf, the voided order holds nothing (a return not yet received
    # restocks nothing).
    expected: dict[tuple[int, int, str], Decimal] = {}

    def expect(order: dict[str, Any], sku: str, field: str, quantity: Decimal) -> None:
        key = (variants[sku], sales_order(order)["stock_location_id"], field)
        expected[key] = expected.get(key, Decimal(0)) + quantity

    for order in (paid_shipped, same_customer, pending, returned, partial):
        shipped: dict[str, Decimal] = {}
        for shipment in order.get("shipments") or []:
            for item in shipment["lines"]:
                shipped[item["sku"]] = shipped.get(item["sku"], Decimal(0)) + Decimal(item["quantity"])
        for line in order["lines"]:
            out = shipped.get(line["sku"], Decimal(0))
            expect(order, line["sku"], "stock_on_hand", -out)
            expect(order, line["sku"], "committed", Decimal(line["quantity"]) - out)
    stock_after = world.stock()
    changed = {
        (vid, loc, field): after[i] - stock_before.get((vid, loc), (Decimal(0), Decimal(0)))[i]
        for (vid, loc), after in stock_after.items()
        for i, field in enumerate(("stock_on_hand", "committed"))
    }
    assert {k: v for k, v in changed.items() if v} == {k: v for k, v in expected.items() if v}


def test_the_same_order_again_and_a_newer_state_make_no_second_order(world: World) -> None:
    order = new_order(world, financial_status="pending")
    world.push(world.deliver(order))
    world.reset_stats()
    world.push(world.deliver(order))  # the very same delivery again
    assert world.requests("POST", "/") == 0 and world.requests("GET", "/") == 0

    packed = dict(
        order,
        financial_status="paid",
        updated_at="2026-11-27T08:00:00Z",
        shipments=[{**full_shipment(order, "NEWER")[0], "status": "packed"}],
    )
    older = dict(order, updated_at="2026-11-27T07:30:00Z", cancelled=True)
    stats = world.push(world.deliver(packed, older))
    assert stats.created == 0
    (sales_order,) = world.orders_with(f"webstore:{order['channel_order_id']}")
    assert sales_order["payment_status"] == "paid" and sales_order["packed_status"] == "packed"
    assert sales_order["status"] != "void"  # the older (cancelled) state came late and was ignored

    shipped = dict(packed, updated_at="2026-11-27T09:00:00Z", shipments=full_shipment(order, "NEWER"))
    world.push(world.deliver(shipped))
    (sales_order,) = world.orders_with(f"webstore:{order['channel_order_id']}")
    assert sales_order["status"] == "fulfilled"
    assert world.ledger_row("webstore", order["channel_order_id"]).done == [
        "invoice",
        "pay",
        "pack",
        "fulfil",
    ]


def test_a_job_killed_between_post_and_ledger_write_creates_one_order(world: World) -> None:
    order = new_order(world)
    ids = world.deliver(order)
    reference = f"webstore:{order['channel_order_id']}"
    # The test suite's own script installs a hook on the push that kills the process at the seam.
    killed = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("crash_after_post.py")),
            world.handle.url,
            world.handle.token,
            str(world.ops_path),
            str(world.warehouse.published_path),
            str(world.channel_file),
            str(ids[0]),
            reference,
        ],
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == 86, killed.stderr.decode()[-2000:]
    assert len(world.orders_with(reference)) == 1  # the POST happened
    row = world.ledger_row("webstore", order["channel_order_id"])
    assert row.intent_at is not None and row.order_id is None  # ... but the ledger never heard of it

    world.reset_stats()
    stats = world.push(retry=True, policy=RetryPolicy(3600, 0, stale_after_seconds=0))
    assert stats.lookups == 1 and stats.created == 1
    assert world.requests("POST", "/orders") - world.requests("POST", "/orders/") == 0
    (sales_order,) = world.orders_with(reference)
    assert world.ledger_row("webstore", order["channel_order_id"]).order_id == sales_order["id"]
    assert sales_order["payment_status"] == "paid"  # and the follow-up went on from there


def test_a_500_after_the_sandbox_created_the_order_ends_with_one_order(world: World) -> None:
    order = new_order(world)
    reference = f"webstore:{order['channel_order_id']}"
    world.faults(error_after_write_rate=1.0)  # every POST is performed, then answered 500
    try:
        # No client retries: the lost answer reaches the push, which must find the order, not repost it.
        stats = world.push(world.deliver(order), client=world.client(max_retries=0))
    finally:
        world.faults(error_after_write_rate=0.0)
    (sales_order,) = world.orders_with(reference)
    assert stats.lookups >= 1 and stats.created == 1 and stats.failed == 0, stats
    row = world.ledger_row("webstore", order["channel_order_id"])
    assert row.order_id == sales_order["id"] and row.state == "done"
    assert sales_order["payment_status"] == "paid"  # the pay action's lost answer was checked, not resent

    world.push(world.deliver(order), retry=True, policy=RetryPolicy(3600, 0, stale_after_seconds=0))
    assert len(world.orders_with(reference)) == 1


def test_unknown_skus_wait_for_the_catalog_then_are_quarantined_and_can_be_replayed(world: World) -> None:
    order = new_order(world, n_lines=1)
    order["lines"].append({"sku": "NOT-YET-IN-CATALOG", "quantity": "1", "unit_price": "3"})
    stats = world.push(world.deliver(order))
    assert stats.waiting == 1 and stats.created == 0
    row = world.ledger_row("webstore", order["channel_order_id"])
    assert row.state == "waiting" and "NOT-YET-IN-CATALOG" in (row.last_error or "")

    # The sensor leaves a waiting order alone until a catalog sync republishes the copy.
    instance = dg.DagsterInstance.ephemeral()
    cursor = json.dumps({"inbox": row.inbox_id})
    assert isinstance(world.sensor(instance, cursor), dg.SkipReason)
    later = time.time() + 5
    os.utime(world.warehouse.published_path, (later, later))
    result = world.sensor(instance, cursor)
    assert isinstance(result, dg.SensorResult)
    assert [r.run_key.split(":")[0] for r in result.run_requests or []] == ["retry"]

    stats = world.push(
        retry=True,
        policy=RetryPolicy(unknown_sku_wait_seconds=0, retry_delay_seconds=0, stale_after_seconds=3600),
    )
    assert stats.quarantined == 1
    (entry,) = [q for q in world.quarantined() if q.channel_order_id == order["channel_order_id"]]
    assert entry.field == "lines[1].sku" and "NOT-YET-IN-CATALOG" in entry.reason

    fixed = dict(order, lines=order["lines"][:1])  # the merchant fixes the order and replays it
    con = world.ops()
    try:
        replayed = inbox.replay(con, entry.id, json.dumps(fixed))
    finally:
        con.close()
    assert world.push([replayed]).created == 1
    assert len(world.orders_with(f"webstore:{order['channel_order_id']}")) == 1
    assert not [q for q in world.quarantined() if q.channel_order_id == order["channel_order_id"]]


MALFORMED: list[tuple[str, Any]] = [
    ("channel", {"channel": "nowhere"}),
    ("lines[0].quantity", {"lines": [{"sku": "X", "unit_price": "1"}]}),
    ("lines[0].quantity", {"lines": [{"sku": "X", "quantity": "0", "unit_price": "1"}]}),
    ("currency", {"currency": "EURO"}),
    ("placed_at", {"placed_at": "27/11/2026 7am"}),
    ("lines", {"lines": []}),
    ("customer", {"customer": None}),
]


def test_a_hundred_malformed_orders_are_quarantined_and_the_good_ones_created(world: World) -> None:
    good = [new_order(world, n_lines=1) for _ in range(4)]
    bad = []
    for i in range(100):
        field, change = MALFORMED[i % len(MALFORMED)]
        bad.append((field, new_order(world, n_lines=1, **change)))
    batch: list[Any] = []
    for i, (_, order) in enumerate(bad):
        batch.append(order)
        if i % 25 == 0:
            batch.append(good[i // 25])
    con = world.ops()
    before = inbox.count_open_quarantine(con)
    con.close()
    # The batch arrives as one signed POST at the intake endpoint, as a channel would send it.
    settings = Settings(api_url=world.handle.url, data_dir=world.data_dir)
    app = intake_app(
        replace(settings, named_secrets={"TEST_WEBSTORE_ORDER_SECRET": SECRET}), channels=world.channels
    )
    with GatewayHandle(app) as intake:
        accepted = send_orders(intake.url, "webstore", SECRET, batch)
    ids = accepted["inbox_ids"]
    assert accepted["accepted"] == len(batch) == 104

    instance = dg.DagsterInstance.ephemeral()
    resources = world.resources()
    result = world.sensor(instance, json.dumps({"inbox": ids[0] - 1}))
    assert isinstance(result, dg.SensorResult)
    inbox_runs = [r for r in result.run_requests or [] if r.run_key.startswith("inbox:")]
    assert [r.run_key for r in inbox_runs] == [f"inbox:{ids[0]}-{ids[-1]}"]
    assert json.loads(result.cursor or "{}") == {"inbox": ids[-1]}

    run = launch(pipeline(resources), instance, "order_push_job", inbox_runs[0])
    assert run.success

    for order in good:
        assert len(world.orders_with(f"webstore:{order['channel_order_id']}")) == 1
    quarantined = {q.channel_order_id: q for q in world.quarantined()}
    assert len(quarantined) - before == 100
    for field, order in bad:
        entry = quarantined[order["channel_order_id"]]
        assert entry.field == field and field in entry.reason and order["channel_order_id"] in entry.reason
        assert json.loads(entry.payload)["channel_order_id"] == order["channel_order_id"]  # nothing lost

    # The ledger mirror landed in the warehouse, and the sensor keeps going: nothing new, so it skips.
    mirrored = instance.get_latest_materialization_event(dg.AssetKey("channel_order_sync"))
    assert mirrored is not None
    skipped = world.sensor(instance, result.cursor)
    assert isinstance(skipped, dg.SkipReason) and "no new orders" in (skipped.skip_message or "")


def test_channel_order_sync_mirrors_the_ledger_into_the_warehouse(world: World) -> None:
    order = new_order(world, n_lines=1)
    world.push(world.deliver(order))
    result = dg.materialize(
        [channel_order_sync], resources=world.resources(), instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    metadata = result.asset_materializations_for_node("channel_order_sync")[0].metadata
    assert metadata["created"].value >= 1
    with world.warehouse.connect(read_only=True) as con:
        row = con.execute(
            "SELECT state, order_id, actions_done FROM channel_order_sync WHERE channel_order_id = ?",
            [order["channel_order_id"]],
        ).fetchone()
    assert row is not None
    assert row[0] == "done" and row[1] == world.orders_with(f"webstore:{order['channel_order_id']}")[0]["id"]
    assert row[2] == ["pay"]


def test_a_currency_the_account_lacks_is_created_once(world: World) -> None:
    first = new_order(world, n_lines=1, currency="sgd")
    second = new_order(world, n_lines=1, currency="SGD")
    world.reset_stats()
    stats = world.push(world.deliver(first, second))
    assert stats.created == 2
    assert world.requests("POST", "/currencies") == 1  # the second order reuses what the first learned
    (sgd,) = [c for c in world.dump("currencies") if c["iso"] == "SGD"]
    for order in (first, second):
        (sales_order,) = world.orders_with(f"webstore:{order['channel_order_id']}")
        assert sales_order["currency_id"] == sgd["id"]


def test_under_injected_faults_every_order_is_created_exactly_once(world: World) -> None:
    orders = [new_order(world, n_lines=1, shipments=None) for _ in range(12)]
    for order in orders:
        order["shipments"] = full_shipment(order)
    world.faults(error_rate=0.2, drop_rate=0.1, error_after_write_rate=0.2)
    try:
        ids = world.deliver(*orders)
        stats = world.push(ids, client=world.client(max_retries=2))
        for _ in range(5):  # what the sensor's retry runs would do, without waiting for the delay
            if not stats.failed:
                break
            stats = world.push(
                retry=True,
                policy=RetryPolicy(3600, 0, stale_after_seconds=0),
                client=world.client(max_retries=2),
            )
    finally:
        world.faults(error_rate=0.0, drop_rate=0.0, error_after_write_rate=0.0)
    world.push(retry=True, policy=RetryPolicy(3600, 0, stale_after_seconds=0))
    for order in orders:
        (sales_order,) = world.orders_with(f"webstore:{order['channel_order_id']}")
        assert sales_order["status"] == "fulfilled" and sales_order["payment_status"] == "paid"
        assert world.ledger_row("webstore", order["channel_order_id"]).state == "done"


def test_a_sku_that_is_not_sellable_is_quarantined_without_asking_the_api(world: World) -> None:
    sellable = world.variant_ids()
    (sku, *_) = [s for s in world.variant_ids(sellable=False) if s not in sellable]
    order = new_order(world, n_lines=1)
    order["lines"][0]["sku"] = sku
    world.reset_stats()
    stats = world.push(world.deliver(order))
    assert stats.quarantined == 1 and world.requests("POST", "/") == 0
    (entry,) = [q for q in world.quarantined() if q.channel_order_id == order["channel_order_id"]]
    assert entry.field == "lines[0].sku" and "not sellable" in entry.reason and sku in entry.reason
