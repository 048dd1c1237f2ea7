"""Webhooks: subscriptions, signed deliveries with Shopify's headers and REST bodies (the orders/create
key set of Shopify's documented fixture), retries replaying the same body and id, removal after repeated
failures, duplicates and out-of-order deliveries on demand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

from shopify_sandbox import verify

from gecko_pipeline_tests.shopify_fixtures import Receiver, ShopifyClient, ShopifyFactory, order_fixture_path

SUBSCRIBE = """mutation($topic: WebhookSubscriptionTopic!, $uri: String!) { webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
  webhookSubscription { id topic uri format endpoint { ... on WebhookHttpEndpoint { callbackUrl } } } userErrors { field message } } }"""


def subscribe(client: ShopifyClient, topic: str, uri: str) -> dict[str, Any]:
    result = client.data(SUBSCRIBE, {"topic": topic, "uri": uri})["webhookSubscriptionCreate"]
    assert result["userErrors"] == []
    return result["webhookSubscription"]  # type: ignore[no-any-return]


def first_variant(client: ShopifyClient) -> str:
    nodes = client.data("{ productVariants(first: 10) { nodes { id inventoryItem { tracked } } } }")[
        "productVariants"
    ]["nodes"]
    return next(v["id"] for v in nodes if v["inventoryItem"]["tracked"])


def test_orders_create_is_signed_with_shopify_headers_and_the_fixture_key_set(
    gql: ShopifyClient, receiver: Receiver
) -> None:
    hook = subscribe(gql, "ORDERS_CREATE", receiver.hook)
    assert (
        hook["topic"] == "ORDERS_CREATE"
        and hook["uri"] == receiver.hook
        and hook["endpoint"]["callbackUrl"] == receiver.hook
    )
    gql.control(
        "POST",
        "/orders",
        {
            "line_items": [{"variant_id": first_variant(gql), "quantity": 2}],
            "customer": {"email": "a@example.com"},
            "financial_status": "paid",
        },
    )
    (got,) = receiver.wait_for(1)
    secret = gql.handle.app_secret
    expected = base64.b64encode(hmac.new(secret.encode(), got.body, hashlib.sha256).digest()).decode()
    assert got.headers["x-shopify-hmac-sha256"] == expected and verify(secret, got.body, expected)
    assert got.headers["x-shopify-topic"] == "orders/create"
    assert got.headers["x-shopify-shop-domain"] == gql.handle.shop_domain
    assert got.headers["x-shopify-api-version"] == "2026-10"
    assert re.fullmatch(r"[0-9a-f-]{36}", got.headers["x-shopify-webhook-id"])
    assert re.fullmatch(r"[0-9a-f-]{36}", got.headers["x-shopify-event-id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", got.headers["x-shopify-triggered-at"])
    body = json.loads(got.body)
    fixture = json.loads(order_fixture_path().read_text())
    assert list(body) == list(fixture)  # same keys, same order (no version-drift keys in this shape)
    assert set(body["line_items"][0]) == set(fixture["line_items"][0])
    assert set(body["customer"]) == set(fixture["customer"])
    assert isinstance(body["id"], int) and body["admin_graphql_api_id"] == f"gid://shopify/Order/{body['id']}"
    assert isinstance(body["line_items"][0]["id"], int) and isinstance(
        body["line_items"][0]["variant_id"], int
    )
    assert isinstance(body["total_price"], str) and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", body["created_at"]
    )


def test_failed_deliveries_are_retried_with_the_same_body_and_id(
    gql: ShopifyClient, receiver: Receiver
) -> None:
    subscribe(gql, "PRODUCTS_UPDATE", receiver.hook)
    receiver.statuses[:] = [500, 302]  # a redirect is a failure too
    product = gql.control("GET", "/dump/products")["products"][0]
    gql.control("PUT", f"/products/{product['id']}", {"title": "Renamed"})
    got = receiver.wait_for(3)
    assert len(got) == 3
    assert len({r.body for r in got}) == 1 and len({r.headers["x-shopify-webhook-id"] for r in got}) == 1
    assert len({r.headers["x-shopify-hmac-sha256"] for r in got}) == 1
    assert json.loads(got[0].body)["title"] == "Renamed"
    time.sleep(0.05)
    (delivery,) = gql.control("GET", "/webhook_deliveries?topic=products/update")["webhook_deliveries"]
    assert delivery["state"] == "delivered" and [a.get("status") for a in delivery["attempts"]] == [
        500,
        302,
        200,
    ]


def test_subscription_is_removed_after_repeated_failures(
    shopify_factory: ShopifyFactory, receiver: Receiver
) -> None:
    client = ShopifyClient(
        shopify_factory(scale=40, webhook_failures_before_removal=3, webhook_max_retries=5)
    )
    subscribe(client, "INVENTORY_LEVELS_UPDATE", receiver.hook)
    receiver.statuses[:] = [503] * 10
    client.control(
        "PUT",
        "/inventory",
        {
            "sku": next(
                v["sku"]
                for v in client.control("GET", "/dump/inventory_levels")["inventory_levels"]
                if v["sku"]
            ),
            "available": 77,
        },
    )
    assert len(receiver.wait_for(3)) == 3
    deadline = time.monotonic() + 5
    while client.data("{ webhookSubscriptions(first: 5) { nodes { id } } }")["webhookSubscriptions"]["nodes"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    assert len(receiver.received) == 3  # no retry after the removal
    assert client.control("GET", "/webhook_deliveries")["webhook_deliveries"][0]["state"] == "removed"
    client.close()


def test_duplicates_and_out_of_order_on_demand(gql: ShopifyClient, receiver: Receiver) -> None:
    subscribe(gql, "INVENTORY_LEVELS_UPDATE", receiver.hook)
    sku = next(v["sku"] for v in gql.control("GET", "/dump/inventory_levels")["inventory_levels"] if v["sku"])
    gql.control("PUT", "/webhooks/settings", {"duplicate_rate": 1.0})
    gql.control("PUT", "/inventory", {"sku": sku, "available": 5})
    twice = receiver.wait_for(2)
    assert len(twice) == 2 and twice[0].body == twice[1].body
    assert twice[0].headers["x-shopify-webhook-id"] == twice[1].headers["x-shopify-webhook-id"]
    gql.control("PUT", "/webhooks/settings", {"duplicate_rate": 0.0, "hold": True})
    for available in (6, 7, 8):
        gql.control("PUT", "/inventory", {"sku": sku, "available": available})
    time.sleep(0.1)
    assert len(receiver.received) == 2  # held
    assert gql.control("POST", "/webhooks/release", {"order": "reverse"}) == {"released": 3}
    got = receiver.wait_for(5)
    assert [json.loads(r.body)["available"] for r in got[2:]] == [8, 7, 6]  # newest first
    again = gql.control("POST", "/webhooks/redeliver", {"webhook_id": got[2].headers["x-shopify-webhook-id"]})
    assert again["redelivered"] == got[2].headers["x-shopify-webhook-id"]
    assert receiver.wait_for(6)[5].body == got[2].body


def test_topics_fire_with_rest_shapes(gql: ShopifyClient, receiver: Receiver) -> None:
    for topic in (
        "ORDERS_PAID",
        "ORDERS_CANCELLED",
        "ORDERS_UPDATED",
        "REFUNDS_CREATE",
        "FULFILLMENTS_CREATE",
        "PRODUCTS_CREATE",
        "INVENTORY_LEVELS_UPDATE",
    ):
        subscribe(gql, topic, receiver.hook)
    duplicate = gql.data(SUBSCRIBE, {"topic": "ORDERS_PAID", "uri": receiver.hook})[
        "webhookSubscriptionCreate"
    ]
    assert duplicate["userErrors"][0]["message"] == "Address for this topic has already been taken"
    variant = first_variant(gql)
    order = gql.control(
        "POST",
        "/orders",
        {"line_items": [{"variant_id": variant, "quantity": 1}], "financial_status": "paid"},
    )["order"]
    gql.control(
        "POST",
        f"/orders/{order['id']}/fulfillments",
        {"tracking": {"number": "1Z1", "company": "UPS", "url": "https://ups.example/1Z1"}},
    )
    gql.control(
        "POST",
        f"/orders/{order['id']}/refunds",
        {"line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 1, "restock": True}]},
    )
    gql.control("POST", "/products", {"title": "New thing", "variants": [{"price": "3.00", "sku": "NEW-1"}]})
    expected = {
        "orders/paid",
        "orders/updated",
        "refunds/create",
        "fulfillments/create",
        "products/create",
        "inventory_levels/update",
    }
    received = receiver.wait_topics(expected)
    by_topic = {topic: [json.loads(r.body) for r in items] for topic, items in received.items()}
    assert by_topic["orders/paid"][0]["financial_status"] == "paid"
    fulfillment = by_topic["fulfillments/create"][0]
    assert (
        fulfillment["order_id"] == order["id"]
        and fulfillment["tracking_numbers"] == ["1Z1"]
        and fulfillment["status"] == "success"
    )
    refund = by_topic["refunds/create"][0]
    assert refund["order_id"] == order["id"] and refund["refund_line_items"][0]["restock_type"] == "return"
    assert isinstance(refund["refund_line_items"][0]["subtotal"], float)
    level = by_topic["inventory_levels/update"][0]
    assert set(level) == {
        "inventory_item_id",
        "location_id",
        "available",
        "updated_at",
        "admin_graphql_api_id",
    }
    assert (
        level["admin_graphql_api_id"]
        == f"gid://shopify/InventoryLevel/{level['location_id']}?inventory_item_id={level['inventory_item_id']}"
    )
    created = by_topic["products/create"][0]
    assert (
        created["title"] == "New thing"
        and created["status"] == "active"
        and created["variants"][0]["sku"] == "NEW-1"
    )
    assert "orders/cancelled" not in by_topic
    hooks = gql.data("{ webhookSubscriptions(first: 20, topics: [ORDERS_PAID]) { nodes { id } } }")[
        "webhookSubscriptions"
    ]["nodes"]
    deleted = gql.data(
        "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { message } } }",
        {"id": hooks[0]["id"]},
    )
    assert deleted["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"] == hooks[0]["id"]


def test_a_slow_receiver_times_out_and_gets_the_retry(
    shopify_factory: ShopifyFactory, receiver: Receiver
) -> None:
    client = ShopifyClient(shopify_factory(scale=40, webhook_timeout=0.3))
    subscribe(client, "PRODUCTS_UPDATE", receiver.hook)
    receiver.delays[:] = [1.0]  # longer than the timeout: the attempt fails although it answers 200 later
    product = client.control("GET", "/dump/products")["products"][0]
    client.control("POST", f"/products/{product['id']}/archive")
    first, second = receiver.wait_for(2)
    assert first.body == second.body and json.loads(first.body)["status"] == "archived"
    time.sleep(0.1)
    (delivery,) = client.control("GET", "/webhook_deliveries")["webhook_deliveries"]
    assert "Timeout" in delivery["attempts"][0]["error"] and delivery["attempts"][1]["status"] == 200
    client.close()
