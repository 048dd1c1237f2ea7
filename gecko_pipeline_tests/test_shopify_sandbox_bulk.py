"""Bulk operations: the JSONL result with `__parentId` children, polling, the concurrency limit of the
configured version, the bulk_operations/finish webhook."""

from __future__ import annotations

import json
import time

import httpx

from gecko_pipeline_tests.shopify_fixtures import Receiver, ShopifyClient

RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { code field message } } }"""
PRODUCTS = """{ products { edges { node { id title variants { edges { node { id sku } } } } } } }"""


def wait_done(client: ShopifyClient, op_id: str) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        op = client.data(
            "query($id: ID!) { node(id: $id) { ... on BulkOperation { id status errorCode objectCount rootObjectCount fileSize url partialDataUrl } } }",
            {"id": op_id},
        )["node"]
        if op["status"] in ("COMPLETED", "FAILED"):
            return op  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("bulk operation did not finish")


def test_bulk_query_writes_jsonl_with_parent_ids(gql: ShopifyClient, receiver: Receiver) -> None:
    gql.data(
        "mutation($uri: String!) { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH, webhookSubscription: {uri: $uri, format: JSON}) { userErrors { message } } }",
        {"uri": receiver.hook},
    )
    body = gql.query(RUN, {"q": PRODUCTS})
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10  # only the mutation is charged
    started = body["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] in ("CREATED", "RUNNING")
    op = wait_done(gql, started["bulkOperation"]["id"])
    current = gql.data("{ currentBulkOperation { id status url } }")["currentBulkOperation"]
    assert current["id"] == op["id"] and current["status"] == "COMPLETED"
    assert op["url"] and op["partialDataUrl"] is None
    data = httpx.get(op["url"]).content
    assert int(op["fileSize"]) == len(data)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    products = [line for line in lines if "__parentId" not in line]
    variants = [line for line in lines if "__parentId" in line]
    dumped = gql.control("GET", "/dump/products")["products"]
    assert int(op["rootObjectCount"]) == len(products) == len(dumped)
    assert int(op["objectCount"]) == len(lines) == len(dumped) + sum(len(p["variants"]) for p in dumped)
    product_ids = {p["id"] for p in products}
    assert all(
        v["__parentId"] in product_ids and v["id"].startswith("gid://shopify/ProductVariant/")
        for v in variants
    )
    assert all("variants" not in p for p in products)  # children are lines of their own
    by_parent = {}
    for v in variants:
        by_parent.setdefault(v["__parentId"], []).append(v["sku"])
    first = dumped[0]
    assert by_parent[f"gid://shopify/Product/{first['id']}"] == [v["sku"] for v in first["variants"]]
    finish = receiver.wait_for(1, topic="bulk_operations/finish")
    payload = json.loads(finish[0].body)
    assert (
        payload["admin_graphql_api_id"] == op["id"]
        and payload["status"] == "completed"
        and payload["type"] == "query"
    )
    assert set(payload) == {
        "admin_graphql_api_id",
        "completed_at",
        "created_at",
        "error_code",
        "status",
        "type",
    }


def test_bulk_query_checks_and_the_concurrency_limit(gql: ShopifyClient) -> None:
    no_connection = gql.data(RUN, {"q": "{ shop { name } }"})["bulkOperationRunQuery"]
    assert no_connection["bulkOperation"] is None and no_connection["userErrors"][0]["field"] == ["query"]
    too_deep = "{ products { edges { node { id variants { edges { node { id inventoryItem { inventoryLevels { edges { node { id } } } } } } } } } } }"
    assert "nesting" in gql.data(RUN, {"q": too_deep})["bulkOperationRunQuery"]["userErrors"][0]["message"]
    six = (
        "mutation { "
        + " ".join(
            f'b{i}: bulkOperationRunQuery(query: "{{ products {{ edges {{ node {{ id }} }} }} }}") {{ bulkOperation {{ id }} userErrors {{ code message }} }}'
            for i in range(6)
        )
        + " }"
    )
    results = gql.data(six)
    assert all(results[f"b{i}"]["userErrors"] == [] for i in range(5))  # 2026-10: five at a time
    assert results["b5"]["userErrors"][0]["code"] == "LIMIT_REACHED"
