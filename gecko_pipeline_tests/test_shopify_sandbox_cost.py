"""Cost-based throttling as Shopify documents it: object 1, scalar/enum 0, connection 2 + first with the
node's selections multiplied, interface = max over types, mutation 10; THROTTLED; MAX_COST_EXCEEDED."""

from __future__ import annotations

import time

import pytest

from gecko_pipeline_tests.shopify_fixtures import ShopifyClient, ShopifyFactory


def cost_of(client: ShopifyClient, query: str) -> dict:
    return client.query(query)["extensions"]["cost"]


@pytest.mark.parametrize(
    ("query", "requested"),
    [
        ("{ shop { name currencyCode } }", 1),  # one object, scalars and enums free
        ("{ products(first: 10) { nodes { id title status } } }", 2 + 10),
        # 2 + 5 products, each with a connection of 2 + 3 variants (cursor / pageInfo free)
        (
            "{ products(first: 5) { edges { cursor node { id variants(first: 3) { nodes { id sku } } } } pageInfo { hasNextPage } } }",
            2 + 5 + 5 * (2 + 3),
        ),
        # per order: customer 1 + totalPriceSet 1 + shopMoney 1
        (
            "{ orders(first: 2) { nodes { id customer { id } totalPriceSet { shopMoney { amount } } } } }",
            2 + 2 + 2 * 3,
        ),
        # an interface costs its most expensive possible selection: 1 + max(Product 2 + 4, Order 1)
        (
            '{ node(id: "gid://shopify/Product/1") { id ... on Product { variants(first: 4) { nodes { id } } } ... on Order { customer { id } } } }',
            1 + 6,
        ),
    ],
)
def test_requested_cost_follows_the_documented_rules(
    gql_shared: ShopifyClient, query: str, requested: int
) -> None:
    assert cost_of(gql_shared, query)["requestedQueryCost"] == requested


def test_actual_cost_counts_returned_objects_and_the_difference_is_refunded(
    gql_shared: ShopifyClient,
) -> None:
    sku = gql_shared.data("{ productVariants(first: 1) { nodes { sku } } }")["productVariants"]["nodes"][0][
        "sku"
    ]
    gql_shared.control("PUT", "/throttle", {"currently_available": 2000})
    cost = cost_of(gql_shared, f'{{ products(first: 10, query: "sku:{sku}") {{ nodes {{ id }} }} }}')
    assert cost["requestedQueryCost"] == 12
    assert cost["actualQueryCost"] == 3  # 2 + the one product found
    status = cost["throttleStatus"]
    assert isinstance(status["currentlyAvailable"], int)
    assert isinstance(status["maximumAvailable"], float) and isinstance(status["restoreRate"], float)
    assert status["currentlyAvailable"] >= 2000 - 3 - 1  # 12 taken, 9 given back


def test_mutations_cost_ten(gql_shared: ShopifyClient) -> None:
    body = gql_shared.query(
        'mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") { userErrors { message } } }'
    )
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    assert body["extensions"]["cost"]["actualQueryCost"] == 10


def test_over_the_single_query_cap_is_refused_before_running(gql_shared: ShopifyClient) -> None:
    response = gql_shared.post("{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }")
    body = response.json()
    assert response.status_code == 200 and "data" not in body
    error = body["errors"][0]
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 2 + 250 + 250 * 252, "maxCost": 1000}
    assert error["message"] == "Query cost is 63252, which exceeds the single query max cost limit (1000)."


def test_small_bucket_throttles_then_recovers_after_the_restore_time(shopify_factory: ShopifyFactory) -> None:
    handle = shopify_factory(scale=40, bucket_size=20, restore_rate=20)
    client = ShopifyClient(handle)
    query = "{ products(first: 10) { nodes { id } } }"  # 12, and 40 variants make more than 10 products
    first = client.query(query)
    assert first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] in (8, 9)
    response = client.post(query)
    throttled = response.json()
    assert response.status_code == 200
    assert "data" not in throttled
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["actualQueryCost"] is None
    assert throttled["extensions"]["cost"]["requestedQueryCost"] == 12
    available = throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
    time.sleep((12 - available) / 20 + 0.05)
    assert client.query(query)["data"]["products"]["nodes"]
    stats = client.control("GET", "/stats")
    assert stats["operations"]["query products"]["throttled"] == 1
    assert stats["operations"]["query products"]["requests"] == 3
    assert stats["throttled"] == 1
    client.close()


def test_forced_throttle_fault_and_runtime_throttle_settings(gql: ShopifyClient) -> None:
    gql.control("PUT", "/faults", {"forced_throttles": 1})
    assert gql.post("{ shop { name } }").json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" in gql.post("{ shop { name } }").json()
    status = gql.control("PUT", "/throttle", {"bucket_size": 1000, "restore_rate": 50})
    assert status["maximumAvailable"] == 1000.0 and status["restoreRate"] == 50.0
    assert (
        gql.query("{ shop { name } }")["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 1000.0
    )
