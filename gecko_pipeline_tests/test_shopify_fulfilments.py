"""Fulfilments flow back to Shopify, exactly once, end to end over real HTTP against both sandboxes.

A shopper checks out in the Shopify sandbox -> signed webhook -> the gateway's Shopify route -> the order
push makes the sales order (the existing path, shopify_world.py). Then the merchant ships it in the
inventory sandbox (order actions, POST /fulfillments) -> the fulfillments are re-read into the
warehouse (the webhook refresh job, or `refresh_ids`) -> `shopify_fulfilments_pushed` /
`push_fulfilments` -> the Shopify sandbox's order shows the fulfilment. Both sandboxes' control planes
are the ground truth. Crashes use a real subprocess killed at the suite's seam (`FulfilmentHooks`);
lost answers are the Shopify sandbox's own faults (`drop_rate`: the mutation runs, the answer is cut;
`error_rate`: a 5xx before anything runs), plus one deterministic cut of a fulfillmentCreate answer
by a transport that passes the request on to the sandbox first.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from harness import pipeline
from orders_world import World
from shopify_world import TOKEN_ENV, ShopWorld, open_shopify_world

from gecko_pipeline.defs.fulfilments import ATTENTION_CHECK, FULFILMENTS_KEY, build_fulfilments_asset
from gecko_pipeline.defs.stores import NO_STORES, StoreRefresh
from gecko_pipeline.defs.webhooks import refresh_request
from gecko_pipeline.stores.shopify import fulfilment_ledger as fl
from gecko_pipeline.stores.shopify.fulfilments import (
    CancelRequest,
    FulfilmentOrder,
    FulfilmentOrderLine,
    FulfilmentPushResult,
    cancel_store_order,
    dismiss_void,
    plan_fulfilment,
    push_fulfilments,
)
from gecko_pipeline.stores.shopify.shops import ShopifyShops
from gecko_pipeline.tools import cli
from gecko_pipeline.tools.daemon import launch
from gecko_pipeline.warehouse.sync import refresh_ids

TRACKING = {
    "tracking_number": "NZP-1001",
    "tracking_url": "https://track.example.com/NZP-1001",
    "tracking_company": "NZ Post",
}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, ShopWorld, ShopWorld]]:
    yield from open_shopify_world(tmp_path_factory)


@pytest.fixture
def shop(worlds: tuple[World, ShopWorld, ShopWorld]) -> Iterator[ShopWorld]:
    shop = worlds[1]
    yield shop
    shop.control("PUT", "/faults", {"error_rate": 0, "drop_rate": 0})


_skus = iter(range(10**6))


# What the webhook sensor adds to a refresh for a code location with one Shopify channel.
STORES = StoreRefresh(fulfilments=True)


def shops_of(shop: ShopWorld, **options: Any) -> ShopifyShops:
    return ShopifyShops({TOKEN_ENV: shop.shop.token}.get, base_urls={shop.channel: shop.shop.url}, **options)


def store_order(shop: ShopWorld, quantities: list[int], email: str) -> tuple[dict[str, Any], int]:
    """A paid store order of fresh SKUs (both catalogues sell them) made a sales order by the order push."""
    skus = shop.common_skus()
    start = next(_skus) * 3
    line_items = [{"sku": skus[(start + i) % len(skus)], "quantity": q} for i, q in enumerate(quantities)]
    placed = shop.place([x["sku"] for x in line_items], email=email, line_items=line_items)
    shop.settle()
    shop.push()
    (sales_order,) = shop.sales_orders(placed["id"])
    return placed, int(sales_order["id"])


def ship(world: World, order_id: int, lines: dict[str, int] | None = None, **tracking: Any) -> int:
    """The merchant ships in the inventory system: everything left (actions/fulfil), or these SKUs
    (POST /fulfillments, status fulfilled). Returns the fulfillment's id."""
    before = {f["id"] for f in world.dump("fulfillments") if f["order_id"] == order_id}
    with world.client() as client:
        if lines is None:
            client.post(f"/orders/{order_id}/actions/fulfil", {"fulfillment": tracking})
        else:
            variant_of = world.variant_ids()
            line_of = {x["variant_id"]: x["id"] for x in world.lines_of(order_id) if not x.get("freeform")}
            items = [
                {"order_line_item_id": line_of[variant_of[sku]], "quantity": str(q)}
                for sku, q in lines.items()
            ]
            body = {"order_id": order_id, "status": "fulfilled", "fulfillment_line_items": items, **tracking}
            client.post("/fulfillments", {"fulfillment": body})
    (new,) = [
        f["id"] for f in world.dump("fulfillments") if f["order_id"] == order_id and f["id"] not in before
    ]
    return int(new)


def refresh(world: World, order_ids: list[int]) -> None:
    """What the webhook refresh does with fulfillment / order events: re-read them into the warehouse."""
    fulfillments = [f["id"] for f in world.dump("fulfillments") if f["order_id"] in order_ids]
    with world.warehouse.connect() as con, world.client() as client:
        refresh_ids(client, con, "orders", order_ids)
        refresh_ids(client, con, "fulfillments", fulfillments)


def push(shop: ShopWorld, shops: ShopifyShops | None = None, **options: Any) -> FulfilmentPushResult:
    """One pass of the fulfilment push (an intent left by a dead pass is looked up at once)."""
    shops = shops or shops_of(shop, **options.pop("client_options", {}))
    con = shop.world.ops()
    try:
        with shop.world.warehouse.connect() as warehouse:
            return push_fulfilments(
                shops, con, warehouse, shop.world.channels, stale_after_seconds=0, **options
            )
    finally:
        con.close()


def store_fulfilments(shop: ShopWorld, order_id: Any) -> list[dict[str, Any]]:
    orders = shop.control("GET", "/dump/orders")["orders"]
    (order,) = [o for o in orders if o["id"] == order_id]
    return sorted(order.get("fulfillments") or [], key=lambda f: f["id"])


def shipped_by_sku(fulfilment: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in fulfilment["line_items"]:
        out[line["sku"]] = out.get(line["sku"], 0) + int(line["quantity"])
    return out


def inventory_fulfilments(world: World, order_id: int) -> list[dict[str, Any]]:
    return [f for f in world.dump("fulfillments") if f["order_id"] == order_id and f["status"] != "void"]


def ledger_row(world: World, fulfillment_id: int) -> fl.FulfilmentRow:
    con = world.ops()
    try:
        row = fl.get(con, fulfillment_id)
        assert row is not None
        return row
    finally:
        con.close()


def sku_quantities(placed: dict[str, Any]) -> dict[str, int]:
    return {x["sku"]: int(x["quantity"]) for x in placed["line_items"]}


# --- the whole path through Dagster ---------------------------------------------------------------------


def test_a_shipment_reaches_the_store_once_through_the_webhook_refresh(shop: ShopWorld) -> None:
    world = shop.world
    placed, order_id = store_order(shop, [1, 2], "ship.once@example.com")
    # Packed is not shipped: nothing goes to the store yet.
    with world.client() as client:
        client.post(f"/orders/{order_id}/actions/pack", {})
    resources = {**world.resources(), "shopify_shops": shops_of(shop)}
    defs = pipeline(resources)
    instance = dg.DagsterInstance.ephemeral()

    def webhook_run(first: int) -> dict[str, Any]:
        ids = {"fulfillments": [f["id"] for f in world.dump("fulfillments") if f["order_id"] == order_id]}
        request = refresh_request({**ids, "orders": [order_id]}, first, first, STORES)
        assert FULFILMENTS_KEY in (request.asset_selection or [])
        result = launch(defs, instance, "webhook_refresh_job", request)
        (materialization,) = result.asset_materializations_for_node("shopify_fulfilments_pushed")
        (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == ATTENTION_CHECK]
        assert check.passed, check.metadata
        return {k: v.value for k, v in materialization.metadata.items()}

    refresh(world, [order_id])
    assert push(shop).not_shipped == 1
    assert store_fulfilments(shop, placed["id"]) == []

    with world.client() as client:  # fulfil ships the packed fulfillment, with the carrier's details
        client.post(f"/orders/{order_id}/actions/fulfil", {"fulfillment": TRACKING})
    figures = webhook_run(2)
    assert (figures["sent"], figures["failed"], figures["attention"]) == (1, 0, 0), figures
    (sent,) = store_fulfilments(shop, placed["id"])
    assert (sent["tracking_number"], sent["tracking_url"], sent["tracking_company"]) == (
        "NZP-1001",
        "https://track.example.com/NZP-1001",
        "NZ Post",
    )
    assert shipped_by_sku(sent) == sku_quantities(placed)

    # The same events again (a redelivered fulfillment webhook): nothing more.
    again = webhook_run(3)
    assert (again["sent"], again["already_there"], again["skipped_store_side"]) == (0, 0, 0), again
    assert len(store_fulfilments(shop, placed["id"])) == 1

    # Shopify tells the pipeline about the fulfilment it just got (orders/updated): the order push must
    # not make a second inventory fulfillment of it.
    shop.settle()
    shop.push()
    assert len(inventory_fulfilments(world, order_id)) == 1
    assert shop.ledger_row(placed["id"]).state == "done"


def test_the_sync_jobs_and_the_webhook_refresh_select_the_push(shop: ShopWorld) -> None:
    defs = pipeline(shop.world.resources())
    for job in ("incremental_sync_job", "full_refresh_job", "webhook_refresh_job"):
        assert FULFILMENTS_KEY in defs.resolve_job_def(job).asset_layer.asset_graph.get_all_asset_keys()
    assert FULFILMENTS_KEY not in (refresh_request({"variants": [1]}, 1, 1, STORES).asset_selection or [])
    # Without Shopify channels there is no push to select.
    news = {"fulfillments": [1], "orders": [1]}
    assert FULFILMENTS_KEY not in (refresh_request(news, 1, 1, NO_STORES).asset_selection or [])


# --- partial shipments, store-side fulfilments --------------------------------------------------------


def test_a_partial_shipment_then_the_rest_are_two_fulfilments_with_their_quantities(shop: ShopWorld) -> None:
    world = shop.world
    placed, order_id = store_order(shop, [3, 1], "partial.buyer@example.com")
    first_sku, second_sku = (x["sku"] for x in placed["line_items"])
    ship(world, order_id, {first_sku: 2}, tracking_number="PART-1", tracking_company="DHL")
    refresh(world, [order_id])
    # Without the shop's token nothing can go: a failure naming the variable (the check warns).
    blocked = push(shop, ShopifyShops(lambda _name: None, base_urls={shop.channel: shop.shop.url}))
    assert (blocked.sent, blocked.failed) == (0, 1) and TOKEN_ENV in blocked.errors[0], blocked
    assert push(shop).sent == 1
    ship(world, order_id, {first_sku: 1, second_sku: 1}, tracking_number="PART-2", tracking_company="DHL")
    refresh(world, [order_id])
    result = push(shop)
    assert (result.sent, result.failed) == (1, 0), result
    one, two = store_fulfilments(shop, placed["id"])
    assert (one["tracking_number"], shipped_by_sku(one)) == ("PART-1", {first_sku: 2})
    assert (two["tracking_number"], shipped_by_sku(two)) == ("PART-2", {first_sku: 1, second_sku: 1})
    assert "tracking_url" not in one or not one["tracking_url"]
    assert push(shop).sent == 0  # a second pass finds nothing to do
    # Shopify's news of both partial fulfilments: the order push recognises them as the inventory's own.
    shop.settle()
    stats = shop.push()
    assert stats.failed == 0 and stats.quarantined == 0, stats
    assert len(inventory_fulfilments(world, order_id)) == 2
    assert len(store_fulfilments(shop, placed["id"])) == 2


def test_a_store_side_fulfilment_is_not_echoed_back(shop: ShopWorld) -> None:
    world = shop.world
    placed, order_id = store_order(shop, [2, 1], "store.side@example.com")
    first = placed["line_items"][0]
    # The merchant ships part of it in the Shopify admin; the order push ships it in the inventory.
    shop.control(
        "POST",
        f"/orders/{placed['id']}/fulfillments",
        {
            "line_items": [{"line_item_id": first["id"], "quantity": 1}],
            "tracking": {"number": "STORE-1", "company": "USPS"},
        },
    )
    shop.settle()
    shop.push()
    (echo,) = inventory_fulfilments(world, order_id)
    assert echo["tracking_number"] == "STORE-1"
    # The warehouse ships the rest.
    rest = ship(world, order_id, **TRACKING)
    refresh(world, [order_id])
    result = push(shop)
    assert (result.skipped_store_side, result.sent) == (1, 1), result
    store_side = ledger_row(world, int(echo["id"]))
    assert store_side.state == "store_side" and store_side.plan is None
    store_one, ours = store_fulfilments(shop, placed["id"])
    assert store_side.shopify_fulfillment_id == str(store_one["id"])
    assert ledger_row(world, rest).shopify_fulfillment_id == str(ours["id"])
    assert shipped_by_sku(ours) == {first["sku"]: 1, placed["line_items"][1]["sku"]: 1}
    assert push(shop).counts()["sent"] == 0


def test_the_same_parcel_fulfilled_in_the_shopify_admin_too_is_already_there(shop: ShopWorld) -> None:
    world = shop.world
    placed, order_id = store_order(shop, [1, 1], "admin.too@example.com")
    fulfillment_id = ship(world, order_id, tracking_number="SAME-1", tracking_company="UPS")
    # The merchant also marks the order fulfilled in the Shopify admin, with the same tracking number,
    # before the order push has heard of it.
    shop.control("POST", f"/orders/{placed['id']}/fulfillments", {"tracking": {"number": "SAME-1"}})
    refresh(world, [order_id])
    result = push(shop)
    assert (result.already_there, result.sent) == (1, 0), result
    (admin,) = store_fulfilments(shop, placed["id"])
    row = ledger_row(world, fulfillment_id)
    assert (row.state, row.shopify_fulfillment_id) == ("already_there", str(admin["id"]))
    shop.settle()
    shop.push()
    assert len(inventory_fulfilments(world, order_id)) == 1


# --- exactly once across crashes and lost answers -----------------------------------------------------


def test_a_pass_killed_between_the_store_write_and_the_ledger_write_sends_once(shop: ShopWorld) -> None:
    world = shop.world
    placed, order_id = store_order(shop, [1], "crash.buyer@example.com")
    fulfillment_id = ship(world, order_id, **TRACKING)
    refresh(world, [order_id])
    killed = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("shopify_fulfil_crash.py")),
            shop.shop.url,
            shop.shop.token,
            str(world.ops_path),
            str(world.warehouse.warehouse_path),
            str(world.channel_file),
            shop.channel,
            str(fulfillment_id),
        ],
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == 86, killed.stderr.decode()[-2000:]
    assert len(store_fulfilments(shop, placed["id"])) == 1
    row = ledger_row(world, fulfillment_id)
    assert row.state == "sending" and row.intent_at is not None and row.shopify_fulfillment_id is None
    # Shopify's news of it reaches the order push before the fulfilment push runs again.
    shop.settle()
    shop.push()
    assert len(inventory_fulfilments(world, order_id)) == 1
    # A pass that finds the intent looks first, and takes the store's fulfilment as its outcome.
    result = push(shop)
    assert (result.sent, result.recovered) == (1, 1), result
    (found,) = store_fulfilments(shop, placed["id"])
    row = ledger_row(world, fulfillment_id)
    assert (row.state, row.shopify_fulfillment_id, row.recovered) == ("sent", str(found["id"]), 1)


class CutAnswers(httpx.BaseTransport):
    """A network that loses the answer: the first `times` fulfillmentCreate requests reach the sandbox
    (which runs them), then the connection drops before the answer arrives."""

    def __init__(self, times: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.times = times

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.times and b"fulfillmentCreate(" in request.content:
            self.times -= 1
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_lost_answer_is_looked_up_not_sent_again(shop: ShopWorld) -> None:
    world = shop.world
    placed, order_id = store_order(shop, [2], "lost.answer@example.com")
    fulfillment_id = ship(world, order_id, **TRACKING)
    refresh(world, [order_id])
    shop.control("POST", "/stats/reset")
    result = push(shop, client_options={"transport": CutAnswers(times=1)})
    assert (result.sent, result.recovered, result.failed) == (1, 1, 0), result
    assert len(store_fulfilments(shop, placed["id"])) == 1
    assert ledger_row(world, fulfillment_id).recovered == 1
    operations = shop.control("GET", "/stats")["operations"]
    assert operations["mutation fulfillmentCreate"]["requests"] == 1


def test_random_5xx_and_dropped_answers_leave_one_fulfilment_each(shop: ShopWorld) -> None:
    world = shop.world
    orders = [store_order(shop, [1, 1], f"faulty{i}@example.com") for i in range(4)]
    for _, order_id in orders:
        ship(world, order_id, tracking_number=f"F-{order_id}", tracking_company="UPS")
    refresh(world, [order_id for _, order_id in orders])
    shop.control("POST", "/stats/reset")
    shop.control("PUT", "/faults", {"error_rate": 0.25, "drop_rate": 0.25})
    sent = 0
    for _ in range(8):
        sent += push(shop, client_options={"backoff_base": 0.01, "max_retries": 6}).sent
        if sent == len(orders):
            break
    shop.control("PUT", "/faults", {"error_rate": 0, "drop_rate": 0})
    sent += push(shop).sent
    assert sent == len(orders)
    for placed, order_id in orders:
        (one,) = store_fulfilments(shop, placed["id"])
        assert one["tracking_number"] == f"F-{order_id}"
    faults = shop.control("GET", "/stats")["faults_injected"]
    assert faults.get("drop", 0) + faults.get("500", 0) + faults.get("503", 0) > 0, faults


# --- voids ---------------------------------------------------------------------------------------------


def test_a_void_in_the_inventory_is_flagged_for_a_person_who_may_cancel_the_store_order(
    shop: ShopWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world = shop.world
    # Cancelled in the store first: the order push voids the sales order; that void is no news.
    cancelled, cancelled_id = store_order(shop, [1], "cancelled.first@example.com")
    shop.control("POST", f"/orders/{cancelled['id']}/cancel", {"reason": "customer", "restock": True})
    shop.settle()
    shop.push()
    # Voided in the inventory system while the store order is open: flagged, nothing sent to the store.
    placed, order_id = store_order(shop, [1], "voided.later@example.com")
    kept, kept_id = store_order(shop, [1], "voided.kept@example.com")
    with world.client() as client:
        client.post(f"/orders/{order_id}/actions/void", {})
        client.post(f"/orders/{kept_id}/actions/void", {})
    refresh(world, [cancelled_id, order_id, kept_id])
    result = push(shop)
    assert result.voids_from_store >= 1 and result.voids_flagged == 2, result
    assert not _store_order(shop, placed["id"]).get("cancelled_at")
    # The asset says so: its check warns, naming the store orders; a person lists them.
    run = dg.materialize(
        [build_fulfilments_asset()],
        resources={**world.resources(), "shopify_shops": shops_of(shop)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    (check,) = run.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["voids_flagged"].value == 2
    assert f"{shop.channel}:{placed['id']}" in str(check.metadata["details"].value)
    monkeypatch.setenv("GECKO_DATA_DIR", str(world.data_dir))
    assert cli.main(["shopify-voids", "list"]) == 0
    assert f"{shop.channel}:{kept['id']}" in capsys.readouterr().out
    con = world.ops()
    try:
        # The person's decisions: cancel one in the store (once), keep the other.
        with shops_of(shop).client(shop.config) as client:
            row = cancel_store_order(
                client, con, shop.channel, str(placed["id"]), CancelRequest(reason="INVENTORY", refund=True)
            )
            assert row.state == "cancelled"
            with pytest.raises(KeyError):
                cancel_store_order(client, con, shop.channel, str(placed["id"]))
    finally:
        con.close()
    assert cli.main(["shopify-voids", "dismiss", shop.channel, str(kept["id"]), "--note", "kept"]) == 0
    con = world.ops()
    try:
        assert {v.state for v in fl.voids(con)} >= {"cancelled", "dismissed"}
        with pytest.raises(KeyError):
            dismiss_void(con, shop.channel, str(kept["id"]))
    finally:
        con.close()
    assert _store_order(shop, placed["id"])["cancelled_at"]
    assert push(shop).voids_flagged == 0
    # Shopify's news of the cancellation: the sales order is void already, nothing breaks.
    shop.settle()
    stats = shop.push()
    assert stats.failed == 0 and stats.quarantined == 0, stats


def _store_order(shop: ShopWorld, order_id: Any) -> dict[str, Any]:
    (order,) = [o for o in shop.control("GET", "/dump/orders")["orders"] if o["id"] == order_id]
    return order  # type: ignore[no-any-return]


# --- the line mapping (pure) ---------------------------------------------------------------------------


def _fo(ident: int, location: int, status: str, *lines: tuple[str, int, int]) -> FulfilmentOrder:
    return FulfilmentOrder(
        f"gid://shopify/FulfillmentOrder/{ident}",
        status,
        f"gid://shopify/Location/{location}",
        tuple(
            FulfilmentOrderLine(
                f"gid://shopify/FulfillmentOrderLineItem/{ident}{i}", f"{ident}{i}", sku, rest, total
            )
            for i, (sku, rest, total) in enumerate(lines)
        ),
    )


def test_the_line_mapping_splits_across_fulfilment_orders_of_one_location() -> None:
    orders = [
        _fo(1, 7, "IN_PROGRESS", ("A", 1, 2), ("B", 0, 1)),
        _fo(2, 7, "OPEN", ("A", 3, 3)),
        _fo(3, 9, "OPEN", ("A", 5, 5), ("C", 1, 1)),
    ]
    plan = plan_fulfilment({"A": 3}, orders).plan
    assert plan is not None and plan.location == "gid://shopify/Location/7"
    assert [(fo, lines) for fo, lines in plan.groups] == [
        ("gid://shopify/FulfillmentOrder/1", (("gid://shopify/FulfillmentOrderLineItem/10", 1),)),
        ("gid://shopify/FulfillmentOrder/2", (("gid://shopify/FulfillmentOrderLineItem/20", 2),)),
    ]
    # The location mapped to the stock location it shipped from comes first.
    preferred = plan_fulfilment({"A": 2}, orders, ["gid://shopify/Location/9"]).plan
    assert preferred is not None and preferred.location == "gid://shopify/Location/9"
    # A SKU the store order lacks (added in the inventory system) is left out; none left: skipped.
    partly = plan_fulfilment({"A": 1, "EXTRA": 1}, orders)
    assert partly.kind == "send" and dict(partly.unmapped) == {"EXTRA": 1}
    assert plan_fulfilment({"EXTRA": 1}, orders).kind == "skip"
    # Lines open only at two locations together: wait (a fulfilment has one location).
    split = plan_fulfilment(
        {"A": 2, "C": 1}, [_fo(4, 7, "OPEN", ("A", 2, 2)), _fo(6, 9, "OPEN", ("C", 1, 1))]
    )
    assert split.kind == "wait" and "locations" in (split.reason or "")
    # Everything fulfilled in the store already: covered; fulfilment orders on hold: wait.
    assert plan_fulfilment({"B": 1}, orders).kind == "covered"
    held = plan_fulfilment({"D": 1}, [_fo(5, 7, "ON_HOLD", ("D", 1, 1))])
    assert held.kind == "wait" and "on_hold" in (held.reason or "")
    short = plan_fulfilment({"C": 2}, orders)
    assert short.kind == "wait" and "C 2 (open 1)" in (short.reason or "")


def test_the_ledger_refuses_moves_its_table_does_not_list(tmp_path: Path) -> None:
    from gecko_pipeline import ops_db

    con = ops_db.connect(tmp_path / "ops.sqlite")
    fl.ensure_schema(con)
    row = fl.insert(
        con, fulfillment_id=1, channel="s", channel_order_id="9", order_id=5, lines="{}", tracking=None
    )
    with pytest.raises(fl.IllegalTransition):
        fl.transition(con, row, fl.FulfilmentAction.RECORD)  # an outcome without an intent
    fl.transition(con, row, fl.FulfilmentAction.SEND, intent_at="2026-01-01T00:00:00+00:00")
    with pytest.raises(fl.IllegalTransition):
        fl.transition(con, row, fl.FulfilmentAction.SKIP)  # an intent is resolved by a lookup first
    with pytest.raises(fl.IllegalTransition):
        fl.note(con, row, state="sent")
    fl.transition(con, row, fl.FulfilmentAction.RECORD, shopify_fulfillment_id="77")
    assert fl.get(con, 1) == row and row.state == "sent"
    con.close()
