"""ShopifyClient against the Shopify sandbox over HTTP: cost pacing (no THROTTLED answer where a naive
client meets them), THROTTLED resends, typed errors that say what to fix and never show the token,
a bounded wait, the version header, cursor pagination, a bulk operation, idempotent subscriptions, and
the backfill's cost. Statuses the sandbox never sends (402, 403, 423, 429 and 503 with Retry-After, a 500
before a success) come from a scripted HTTP transport standing in for Shopify's server."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from gecko_pipeline import ops_db
from gecko_pipeline.channels.config import ChannelConfig, ShopifyChannel
from gecko_pipeline.stores.shopify import ShopifyClient, backfill_orders, queries, subscribe_shopify
from gecko_pipeline.stores.shopify.errors import (
    ShopifyAuthError,
    ShopifyForbidden,
    ShopifyGraphQLError,
    ShopifyHttpError,
    ShopifyPaymentRequired,
    ShopifyQueryCostExceeded,
    ShopifyShopLocked,
    ShopifyUserError,
    ShopifyWaitExceeded,
)
from gecko_pipeline_tests.shopify_fixtures import ShopifyFactory

SHOP_QUERY = "{ shop { name myshopifyDomain currencyCode } }"


def client_for(handle: Any, **kwargs: Any) -> ShopifyClient:
    return ShopifyClient(handle.shop_domain, handle.token, base_url=handle.url, **kwargs)


def sandbox_stats(handle: Any) -> dict[str, Any]:
    return httpx.get(f"{handle.url}/_sandbox/stats").json()  # type: ignore[no-any-return]


def control(handle: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{handle.url}/_sandbox{path}", json=body)
    assert response.status_code < 300, response.text
    return response.json()


def channel_for(handle: Any, name: str = "shop") -> ChannelConfig:
    shopify = ShopifyChannel(handle.shop_domain, "T_TOKEN", "T_SECRET", api_version=handle.api_version)
    return ChannelConfig(name=name, kind="shopify", shopify=shopify)


def test_the_client_paces_to_the_bucket_where_a_naive_client_is_throttled(
    shopify_factory: ShopifyFactory, tmp_path: Any
) -> None:
    handle = shopify_factory(scale=40, orders=30, bucket_size=850, restore_rate=600)
    naive = [
        httpx.post(
            handle.graphql_url(),
            json={"query": queries.ORDERS_PAGE, "variables": {"first": 3}},
            headers={"X-Shopify-Access-Token": handle.token},
        ).json()
        for _ in range(6)
    ]
    assert any(
        "THROTTLED" in json.dumps(answer.get("errors")) for answer in naive
    )  # the bucket is that small
    control(handle, "POST", "/stats/reset")
    control(handle, "PUT", "/throttle", {"currently_available": 850})

    con = ops_db.connect(tmp_path / "ops.sqlite")
    with client_for(handle) as client:
        result = backfill_orders(
            client, con, channel_for(handle), since=datetime(2000, 1, 1, tzinfo=timezone.utc)
        )
    con.close()
    stats = sandbox_stats(handle)
    assert stats["throttled"] == 0 and stats["max_cost_exceeded"] == 0
    assert result.stored == 30 and result.throttled == 0
    assert client.stats.pacing_waits > 0  # it waited for the bucket instead
    assert result.requests == stats["requests"]
    assert result.cost_actual == stats["cost_spent"]


def test_throttled_answers_are_waited_out_and_resent(shopify_factory: ShopifyFactory) -> None:
    handle = shopify_factory(scale=40)
    control(handle, "PUT", "/faults", {"forced_throttles": 2})
    with client_for(handle) as client:
        data = client.execute(SHOP_QUERY)
    assert data["shop"]["myshopifyDomain"] == handle.shop_domain
    assert client.stats.throttled == 2 and client.stats.requests == 3


def test_a_wrong_token_is_a_typed_error_naming_the_variable_never_the_token(
    shopify_factory: ShopifyFactory,
) -> None:
    handle = shopify_factory(scale=40)
    secret = "shpat_wrong_but_secret_123"
    client = ShopifyClient(handle.shop_domain, secret, base_url=handle.url, token_hint="SHOP_TOKEN")
    with pytest.raises(ShopifyAuthError) as raised:
        client.execute(SHOP_QUERY)
    assert raised.value.status == 401
    assert "SHOP_TOKEN" in str(raised.value) and secret not in str(raised.value)
    with pytest.raises(ShopifyAuthError, match="set the variable SHOP_TOKEN"):
        ShopifyClient(handle.shop_domain, "", token_hint="SHOP_TOKEN")


def test_user_errors_graphql_errors_and_the_cost_cap_are_typed(shopify_factory: ShopifyFactory) -> None:
    handle = shopify_factory(scale=40)
    with client_for(handle) as client:
        with pytest.raises(ShopifyUserError) as raised:
            subscribe_shopify(client, "ftp://not-a-web-address", ["orders/create"])
        assert raised.value.field == "webhookSubscription.uri"
        assert "Address is invalid" in str(raised.value)
        with pytest.raises(ShopifyGraphQLError, match="unknownField"):
            client.execute("{ shop { unknownField } }")
        with pytest.raises(ShopifyQueryCostExceeded):
            client.execute("{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }")


def test_a_wait_longer_than_the_bound_is_an_error_not_a_hang(shopify_factory: ShopifyFactory) -> None:
    handle = shopify_factory(scale=40, bucket_size=1000, restore_rate=1)
    with client_for(handle, max_wait_seconds=1.0) as client:
        client.execute(queries.ORDERS_PAGE, {"first": 1})  # learns the bucket and the query's cost
        control(handle, "PUT", "/throttle", {"currently_available": 5})
        client.execute(SHOP_QUERY)  # the bucket is now known to be nearly empty
        with pytest.raises(ShopifyWaitExceeded, match="max_wait_seconds=1"):
            client.execute(queries.ORDERS_PAGE, {"first": 1})


def test_an_answer_served_as_another_version_is_noticed(shopify_factory: ShopifyFactory) -> None:
    handle = shopify_factory(scale=40)  # speaks 2026-10
    with client_for(handle, api_version="2025-01") as client:
        client.execute(SHOP_QUERY)
        assert client.served_version == "2026-10"
    with client_for(handle, api_version="2025-01", strict_version=True) as strict:
        with pytest.raises(Exception, match="answered as API version 2026-10"):
            strict.execute(SHOP_QUERY)


def test_pagination_and_a_bulk_operation_read_everything_with_exact_ids(
    shopify_factory: ShopifyFactory,
) -> None:
    handle = shopify_factory(scale=40)
    dumped = control(handle, "GET", "/dump/products")["products"]
    with client_for(handle) as client:
        query = "query($after: String) { products(first: 7, after: $after) { pageInfo { hasNextPage endCursor } nodes { id } } }"
        ids = [node["id"] for node in client.paginate(query, path=("products",))]
        assert len(ids) == len(set(ids)) == len(dumped)
        records = list(
            client.run_bulk_query(
                "{ products { edges { node { id title variants { edges { node { id sku inventoryItem { id } } } } } } } }",
                poll_interval=0.05,
            )
        )
    assert len(records) == len(dumped)
    variants = {child["id"]: child for record in records for child in record.get("__children", [])}
    expected = {v["admin_graphql_api_id"]: v for p in dumped for v in p["variants"]}
    assert set(variants) == set(expected)
    for gid, child in variants.items():  # inventory item ids are above 2^53: still exact
        assert (
            child["inventoryItem"]["id"]
            == f"gid://shopify/InventoryItem/{expected[gid]['inventory_item_id']}"
        )


def test_subscriptions_are_created_once_in_both_address_shapes(shopify_factory: ShopifyFactory) -> None:
    for version in ("2026-10", "2025-01"):
        handle = shopify_factory(scale=40, api_version=version)
        with client_for(handle, api_version=version) as client:
            first = subscribe_shopify(client, "https://example.com/shopify/shop/webhooks")
            again = subscribe_shopify(client, "https://example.com/shopify/shop/webhooks")
        assert len(first.created) == 5 and not first.existing
        assert not again.created and sorted(again.existing) == sorted(first.created)
        assert again.ids == first.ids
        assert len(control(handle, "GET", "/dump/webhook_subscriptions")["webhook_subscriptions"]) == 5


# --- statuses the sandbox never sends: a scripted stand-in for Shopify's server ------------------------


def scripted(*answers: tuple[int, dict[str, str], Any]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(
            status, headers={"Content-Type": "application/json", **headers}, content=content
        )

    return httpx.MockTransport(handle), seen


OK = (200, {"X-Shopify-API-Version": "2026-10"}, {"data": {"shop": {"name": "S"}}})


def offline(transport: httpx.MockTransport, sleeps: list[float], **kwargs: Any) -> ShopifyClient:
    return ShopifyClient("s.myshopify.com", "tok", transport=transport, sleep=sleeps.append, **kwargs)


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (402, ShopifyPaymentRequired, "frozen"),
        (403, ShopifyForbidden, "access scope"),
        (423, ShopifyShopLocked, "locked"),
    ],
)
def test_refusals_say_what_to_fix(status: int, error: type[Exception], hint: str) -> None:
    transport, seen = scripted((status, {}, {"errors": "nope"}))
    with pytest.raises(error, match=hint):
        offline(transport, []).execute(SHOP_QUERY)
    assert len(seen) == 1


def test_429_and_503_honour_retry_after_and_a_query_is_retried_after_a_500() -> None:
    sleeps: list[float] = []
    transport, seen = scripted(
        (429, {"Retry-After": "2"}, {"errors": "Throttled"}),
        (503, {"Retry-After": "1.5"}, b"<html>busy</html>"),
        (500, {}, b"oops"),
        OK,
    )
    client = offline(transport, sleeps, backoff_base=0.01)
    assert client.execute(SHOP_QUERY) == {"shop": {"name": "S"}}
    assert len(seen) == 4 and sleeps[:2] == [2.0, 1.5]
    assert client.stats.throttled == 1 and client.stats.retries == 2


def test_a_mutation_is_not_resent_blindly_after_a_500_unless_idempotent() -> None:
    mutation = 'mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") { userErrors { field message } } }'
    transport, seen = scripted(
        (500, {}, b"oops"), (200, {}, {"data": {"webhookSubscriptionDelete": {"userErrors": []}}})
    )
    with pytest.raises(ShopifyHttpError, match="not resent blindly"):
        offline(transport, []).execute(mutation)
    assert len(seen) == 1
    transport, seen = scripted(
        (500, {}, b"oops"), (200, {}, {"data": {"webhookSubscriptionDelete": {"userErrors": []}}})
    )
    offline(transport, [], backoff_base=0.01).execute(mutation, idempotent=True)
    assert len(seen) == 2


def test_numbers_come_back_exact() -> None:
    transport, _ = scripted(
        (
            200,
            {},
            b'{"data":{"taxLine":{"rate":0.0725,"id":"gid://shopify/InventoryItem/271878346596884015"}}}',
        )
    )
    data = offline(transport, []).execute("{ taxLine { rate id } }")
    assert data["taxLine"]["rate"] == Decimal("0.0725")
    assert data["taxLine"]["id"].endswith("271878346596884015")


def test_a_backfill_watermark_survives_in_ops_sqlite(shopify_factory: ShopifyFactory, tmp_path: Any) -> None:
    handle = shopify_factory(scale=40, orders=12)
    con: sqlite3.Connection = ops_db.connect(tmp_path / "ops.sqlite")
    channel = channel_for(handle)
    with client_for(handle) as client:
        with pytest.raises(ValueError, match="say since when"):
            backfill_orders(client, con, channel)
        first = backfill_orders(
            client, con, channel, since=datetime.now(timezone.utc) - timedelta(days=400), max_pages=2
        )
        rest = backfill_orders(client, con, channel)
    assert first.stored == 6 and rest.stored == 6  # resumed after the second page, nothing twice
    assert rest.skipped == 1  # the boundary order, read again and skipped
    seen = [row[0] for row in con.execute("SELECT channel_order_id FROM order_inbox ORDER BY id")]
    assert len(seen) == len(set(seen)) == 12
    con.close()


def test_an_order_beyond_the_page_querys_nested_firsts_is_completed_from_its_node(
    shopify_factory: ShopifyFactory, tmp_path: Any
) -> None:
    handle = shopify_factory(scale=60, orders=12)
    products = control(handle, "GET", "/dump/products")["products"]
    skus = [v["sku"] for p in products if p["status"] == "active" for v in p["variants"] if v.get("sku")][:14]
    since = datetime.now(timezone.utc) - timedelta(seconds=2)
    placed = control(
        handle,
        "POST",
        "/orders",
        {
            "line_items": [{"sku": sku, "quantity": 1} for sku in skus],
            "customer": {"email": "big@example.com", "first_name": "Big", "last_name": "Order"},
            "shipping_address": {"address1": "1 Main St", "city": "Boston", "country_code": "US"},
            "financial_status": "paid",
        },
    )["order"]
    for item in placed["line_items"][:4]:  # four fulfilments: more than the page reads in its list
        control(
            handle,
            "POST",
            f"/orders/{placed['id']}/fulfillments",
            {"line_items": [{"line_item_id": item["id"], "quantity": 1}]},
        )
    con = ops_db.connect(tmp_path / "ops.sqlite")
    with client_for(handle) as client:
        result = backfill_orders(client, con, channel_for(handle), since=since)
    (payload,) = [row[0] for row in con.execute("SELECT payload FROM order_inbox")]
    con.close()
    assert result.stored == 1
    node = json.loads(payload)["order"]
    assert len(node["lineItems"]["nodes"]) == 14 and not node["lineItems"]["pageInfo"]["hasNextPage"]
    assert len(node["fulfillments"]) == 4
