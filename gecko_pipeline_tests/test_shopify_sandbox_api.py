"""The Shopify sandbox's HTTP surface: auth, content types, version paths, GraphQL error shapes."""

from __future__ import annotations

import time

import httpx
import pytest
from shopify_sandbox import ShopifySandboxHandle

from gecko_pipeline_tests.shopify_fixtures import ShopifyClient

SHOP = "{ shop { name myshopifyDomain currencyCode } }"


def test_missing_or_wrong_token_is_401_with_a_string_error(shopify_shared: ShopifySandboxHandle) -> None:
    url = shopify_shared.graphql_url()
    for headers in ({}, {"X-Shopify-Access-Token": "shpat_wrong"}):
        response = httpx.post(url, json={"query": SHOP}, headers=headers)
        assert response.status_code == 401
        assert isinstance(response.json()["errors"], str)
        assert "Invalid API key or access token" in response.json()["errors"]


def test_content_type_must_be_json_or_graphql(shopify_shared: ShopifySandboxHandle) -> None:
    headers = {"X-Shopify-Access-Token": shopify_shared.token}
    url = shopify_shared.graphql_url()
    plain = httpx.post(url, content=SHOP, headers={**headers, "Content-Type": "text/plain"})
    assert plain.status_code == 400
    assert isinstance(plain.json()["errors"], str)
    raw = httpx.post(url, content=SHOP, headers={**headers, "Content-Type": "application/graphql"})
    assert raw.status_code == 200
    assert raw.json()["data"]["shop"]["myshopifyDomain"] == shopify_shared.shop_domain


def test_other_versions_answer_as_the_configured_one_and_say_so(gql_shared: ShopifyClient) -> None:
    response = gql_shared.post(SHOP, version="2025-01")
    assert response.status_code == 200
    assert response.headers["X-Shopify-API-Version"] == gql_shared.handle.api_version == "2026-10"
    assert gql_shared.post(SHOP, version="not-a-version").status_code == 404


def test_unknown_field_is_a_200_with_shopify_error_shape(gql_shared: ShopifyClient) -> None:
    response = gql_shared.post("{ shop { nam } }")
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "Field 'nam' doesn't exist on type 'Shop'"
    assert error["extensions"]["code"] == "undefinedField"
    assert error["locations"] == [{"line": 1, "column": 10}]


def test_syntax_error_is_a_200_with_locations(gql_shared: ShopifyClient) -> None:
    response = gql_shared.post("{ shop { name ")
    assert response.status_code == 200
    assert response.json()["errors"][0]["locations"]


def test_money_datetime_and_ids_are_in_shopify_formats(gql_shared: ShopifyClient) -> None:
    data = gql_shared.data(
        "{ productVariants(first: 1) { nodes { id legacyResourceId price updatedAt inventoryItem { id } } } "
        "orders(first: 1) { nodes { totalPriceSet { shopMoney { amount currencyCode } } } } }"
    )
    variant = data["productVariants"]["nodes"][0]
    assert variant["id"] == f"gid://shopify/ProductVariant/{variant['legacyResourceId']}"
    assert isinstance(variant["legacyResourceId"], str)  # UnsignedInt64 is a string
    assert variant["price"].count(".") == 1 and len(variant["price"].split(".")[1]) == 2
    assert variant["updatedAt"].endswith("Z") and len(variant["updatedAt"]) == 20
    # inventory item ids are above 2**53 (as Shopify's own samples): a float parser loses them
    assert int(variant["inventoryItem"]["id"].rsplit("/", 1)[1]) > 2**53
    amount = data["orders"]["nodes"][0]["totalPriceSet"]["shopMoney"]["amount"]
    assert isinstance(amount, str) and "." in amount


def test_unknown_path_is_404_and_client_credentials_issue_the_token(
    shopify_shared: ShopifySandboxHandle,
) -> None:
    assert httpx.get(f"{shopify_shared.url}/admin/api/2026-10/products.json").status_code == 404
    token = httpx.post(
        f"{shopify_shared.url}/admin/oauth/access_token",
        data={
            "grant_type": "client_credentials",
            "client_id": shopify_shared.config.client_id,
            "client_secret": shopify_shared.app_secret,
        },
    )
    assert token.status_code == 200 and token.json()["access_token"] == shopify_shared.token
    bad = httpx.post(
        f"{shopify_shared.url}/admin/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    )
    assert bad.status_code == 400


def test_injected_errors_drops_and_latency_and_stats_reset(gql: ShopifyClient) -> None:
    gql.control("PUT", "/faults", {"error_rate": 1.0})
    statuses = {gql.post(SHOP).status_code for _ in range(12)}
    assert statuses <= {500, 503} and statuses
    gql.control("PUT", "/faults", {"error_rate": 0.0, "drop_rate": 1.0})
    with pytest.raises(httpx.HTTPError):
        gql.post(SHOP)
    gql.control("PUT", "/faults", {"drop_rate": 0.0, "latency_ms": 150})
    started = time.monotonic()
    assert gql.post(SHOP).status_code == 200
    assert time.monotonic() - started >= 0.15
    stats = gql.control("GET", "/stats")
    assert stats["faults_injected"]["drop"] == 1 and sum(stats["faults_injected"].values()) == 13
    assert stats["operations"]["query shop"]["requests"] >= 1 and stats["cost_spent"] >= 1
    reset = gql.control("POST", "/stats/reset")
    assert reset["requests"] == 0 and reset["operations"] == {}
