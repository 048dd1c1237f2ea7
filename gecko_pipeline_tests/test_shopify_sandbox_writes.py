"""Mutations: inventory compare-and-set (2026-10 shapes and 2025-01 ones), activation, idempotency keys,
prices, products, fulfilment from fulfilment orders, cancellation."""

from __future__ import annotations

import uuid
from typing import Any

from gecko_pipeline_tests.shopify_fixtures import ShopifyClient, ShopifyFactory

LEVEL = """query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 5) { nodes { location { id }
  quantities(names: ["available", "committed", "on_hand"]) { name quantity } } } } }"""
SET = """mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { reason referenceDocumentUri changes { name delta quantityAfterChange location { id } } }
    userErrors { code field message } } }"""
ADJUST = """mutation($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes { name delta quantityAfterChange } } userErrors { code field message } } }"""


def levels(client: ShopifyClient, item: str) -> dict[str, dict[str, int]]:
    nodes = client.data(LEVEL, {"id": item})["inventoryItem"]["inventoryLevels"]["nodes"]
    return {n["location"]["id"]: {q["name"]: q["quantity"] for q in n["quantities"]} for n in nodes}


def stocked_items(client: ShopifyClient, count: int) -> list[tuple[str, str, int]]:
    """(inventory item id, location id, available) of tracked variants stocked at the first location."""
    location = client.data("{ locations(first: 1) { nodes { id } } }")["locations"]["nodes"][0]["id"]
    found = []
    variants = client.data("{ productVariants(first: 40) { nodes { inventoryItem { id tracked } } } }")[
        "productVariants"
    ]["nodes"]
    for v in variants:
        item = v["inventoryItem"]
        here = levels(client, item["id"]).get(location)
        if item["tracked"] and here is not None:
            found.append((item["id"], location, here["available"]))
        if len(found) == count:
            return found
    raise AssertionError("not enough stocked variants")


def set_input(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://gecko/Sync/1",
        "quantities": entries,
    }


def test_set_quantities_is_compare_and_set_all_or_nothing(gql: ShopifyClient) -> None:
    (a, loc, qa), (b, _, qb) = stocked_items(gql, 2)
    stale = set_input(
        [
            {"inventoryItemId": a, "locationId": loc, "quantity": qa + 5, "changeFromQuantity": qa},
            {"inventoryItemId": b, "locationId": loc, "quantity": 3, "changeFromQuantity": qb + 1},
        ]
    )
    result = gql.data(SET, {"input": stale, "key": str(uuid.uuid4())})["inventorySetQuantities"]
    assert result["inventoryAdjustmentGroup"] is None
    assert result["userErrors"] == [
        {
            "code": "CHANGE_FROM_QUANTITY_STALE",
            "field": ["input", "quantities", "1", "changeFromQuantity"],
            "message": "The changeFromQuantity value does not match persisted value.",
        }
    ]
    assert (
        levels(gql, a)[loc]["available"] == qa and levels(gql, b)[loc]["available"] == qb
    )  # nothing written
    good = set_input(
        [
            {"inventoryItemId": a, "locationId": loc, "quantity": qa + 5, "changeFromQuantity": qa},
            {
                "inventoryItemId": b,
                "locationId": loc,
                "quantity": 3,
                "changeFromQuantity": None,
            },  # null opts out
        ]
    )
    result = gql.data(SET, {"input": good, "key": str(uuid.uuid4())})["inventorySetQuantities"]
    assert result["userErrors"] == []
    changes = result["inventoryAdjustmentGroup"]["changes"]
    assert {
        "name": "available",
        "delta": 5,
        "quantityAfterChange": qa + 5,
        "location": {"id": loc},
    } in changes
    assert levels(gql, a)[loc]["available"] == qa + 5 and levels(gql, b)[loc]["available"] == 3
    omitted = set_input([{"inventoryItemId": a, "locationId": loc, "quantity": 1}])
    errors = gql.data(SET, {"input": omitted, "key": str(uuid.uuid4())})["inventorySetQuantities"][
        "userErrors"
    ]
    assert errors[0]["field"] == ["input", "quantities", "0", "changeFromQuantity"]
    assert levels(gql, a)[loc]["available"] == qa + 5


def test_idempotency_key_is_required_and_replays_the_first_result(gql: ShopifyClient) -> None:
    ((item, loc, before),) = stocked_items(gql, 1)
    no_key = gql.post(
        "mutation($input: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $input) { userErrors { code } } }",
        {
            "input": {
                "name": "available",
                "reason": "restock",
                "changes": [
                    {"delta": 5, "inventoryItemId": item, "locationId": loc, "changeFromQuantity": None}
                ],
            }
        },
    ).json()
    assert "@idempotent" in no_key["errors"][0]["message"]
    assert levels(gql, item)[loc]["available"] == before
    adjust = {
        "name": "available",
        "reason": "restock",
        "changes": [{"delta": 5, "inventoryItemId": item, "locationId": loc, "changeFromQuantity": None}],
    }
    key = str(uuid.uuid4())
    first = gql.data(ADJUST, {"input": adjust, "key": key})["inventoryAdjustQuantities"]
    again = gql.data(ADJUST, {"input": adjust, "key": key})["inventoryAdjustQuantities"]
    assert first == again and first["userErrors"] == []
    assert levels(gql, item)[loc]["available"] == before + 5  # the replay did not add 5 again
    adjust["changes"][0]["delta"] = 6
    mismatch = gql.data(ADJUST, {"input": adjust, "key": key})["inventoryAdjustQuantities"]
    assert mismatch["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"


def test_activate_creates_a_level_and_keeps_an_existing_one(gql: ShopifyClient) -> None:
    created = gql.data(
        'mutation { productCreate(product: {title: "Fresh"}) { product { variants(first: 1) { nodes { inventoryItem { id } } } } } }'
    )
    item = created["productCreate"]["product"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    loc = gql.data("{ locations(first: 1) { nodes { id } } }")["locations"]["nodes"][0]["id"]
    assert levels(gql, item) == {}
    activate = """mutation($item: ID!, $loc: ID!, $n: Int, $key: String!) { inventoryActivate(inventoryItemId: $item, locationId: $loc, available: $n)
      @idempotent(key: $key) { inventoryLevel { id quantities(names: ["available"]) { quantity } } userErrors { field message } } }"""
    result = gql.data(activate, {"item": item, "loc": loc, "n": 7, "key": str(uuid.uuid4())})[
        "inventoryActivate"
    ]
    assert result["userErrors"] == [] and result["inventoryLevel"]["quantities"][0]["quantity"] == 7
    assert result["inventoryLevel"]["id"].startswith(
        f"gid://shopify/InventoryLevel/{loc.rsplit('/', 1)[1]}?inventory_item_id="
    )
    again = gql.data(activate, {"item": item, "loc": loc, "n": 99, "key": str(uuid.uuid4())})[
        "inventoryActivate"
    ]
    assert again["inventoryLevel"]["quantities"][0]["quantity"] == 7
    missing = gql.data(
        activate, {"item": "gid://shopify/InventoryItem/1", "loc": loc, "n": 1, "key": str(uuid.uuid4())}
    )["inventoryActivate"]
    assert missing["userErrors"][0]["field"] == ["inventoryItemId"]


def test_variant_price_update_and_its_errors(gql: ShopifyClient) -> None:
    products = gql.data(
        "{ products(first: 2) { nodes { id updatedAt variants(first: 5) { nodes { id price } } } } }"
    )["products"]["nodes"]
    product, other = products
    variant = product["variants"]["nodes"][0]["id"]
    update = """mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkUpdate(productId: $p, variants: $v) {
      productVariants { id price compareAtPrice } product { updatedAt } userErrors { code field message } } }"""
    wrong = gql.data(
        update,
        {
            "p": product["id"],
            "v": [
                {"id": variant, "price": "1.00"},
                {"id": other["variants"]["nodes"][0]["id"], "price": "2.00"},
            ],
        },
    )
    assert wrong["productVariantsBulkUpdate"]["userErrors"][0]["code"] == "MUST_BE_FOR_THIS_PRODUCT"
    assert wrong["productVariantsBulkUpdate"]["userErrors"][0]["field"] == ["variants", "1", "id"]
    assert (
        gql.data("query($id: ID!) { productVariant(id: $id) { price } }", {"id": variant})["productVariant"][
            "price"
        ]
        == product["variants"]["nodes"][0]["price"]
    )
    ok = gql.data(
        update, {"p": product["id"], "v": [{"id": variant, "price": "189.00", "compareAtPrice": "199.5"}]}
    )["productVariantsBulkUpdate"]
    assert ok["userErrors"] == []
    assert ok["productVariants"] == [{"id": variant, "price": "189.00", "compareAtPrice": "199.50"}]
    assert ok["product"]["updatedAt"] >= product["updatedAt"]
    negative = gql.data(update, {"p": product["id"], "v": [{"id": variant, "price": "-1"}]})[
        "productVariantsBulkUpdate"
    ]
    assert negative["userErrors"][0]["field"] == ["variants", "0", "price"]


PRODUCT_SET = """mutation($input: ProductSetInput!) { productSet(synchronous: true, input: $input) {
  product { id handle options { name values } variants(first: 10) { nodes { id sku price selectedOptions { name value } inventoryItem { id tracked } } } }
  userErrors { code field message } } }"""


def test_product_set_creates_then_replaces_variants(gql: ShopifyClient) -> None:
    shirt = {
        "title": "T-Shirt",
        "handle": "t-shirt",
        "status": "ACTIVE",
        "vendor": "Acme",
        "productType": "Shirts",
        "tags": ["cotton"],
        "productOptions": [{"name": "Size", "values": [{"name": "S"}, {"name": "M"}]}],
        "variants": [
            {
                "optionValues": [{"optionName": "Size", "name": "S"}],
                "price": "20.00",
                "inventoryItem": {"sku": "TS-S", "tracked": True},
            },
            {
                "optionValues": [{"optionName": "Size", "name": "M"}],
                "price": "20.00",
                "inventoryItem": {"sku": "TS-M", "tracked": True},
            },
        ],
    }
    created = gql.data(PRODUCT_SET, {"input": shirt})["productSet"]
    assert created["userErrors"] == []
    product = created["product"]
    assert product["handle"] == "t-shirt" and product["options"] == [{"name": "Size", "values": ["S", "M"]}]
    assert [v["sku"] for v in product["variants"]["nodes"]] == ["TS-S", "TS-M"]
    small = product["variants"]["nodes"][0]
    update = {
        "id": product["id"],
        "variants": [
            {
                "optionValues": [{"optionName": "Size", "name": "S"}],
                "price": "22.00",
                "inventoryItem": {"sku": "TS-S2"},
            }
        ],
    }
    replaced = gql.data(PRODUCT_SET, {"input": update})["productSet"]["product"]["variants"]["nodes"]
    assert len(replaced) == 1  # the omitted variant was deleted
    assert (
        replaced[0]["id"] == small["id"] and replaced[0]["sku"] == "TS-S2" and replaced[0]["price"] == "22.00"
    )
    bad = {
        "title": "X",
        "productOptions": [{"name": "Size", "values": [{"name": "S"}]}],
        "variants": [{"optionValues": [{"optionName": "Size", "name": "XL"}], "price": "1"}],
    }
    errors = gql.data(PRODUCT_SET, {"input": bad})["productSet"]["userErrors"]
    assert errors[0]["code"] == "INVALID_VARIANT" and errors[0]["field"] == [
        "input",
        "variants",
        "0",
        "optionValues",
    ]


def test_product_create_then_bulk_create_replacing_the_standalone_variant(gql: ShopifyClient) -> None:
    created = gql.data(
        'mutation { productCreate(product: {title: "Mug", productOptions: [{name: "Color", values: [{name: "Red"}, {name: "Blue"}]}]}) '
        "{ product { id variants(first: 5) { nodes { id selectedOptions { value } } } } userErrors { message } } }"
    )["productCreate"]["product"]
    assert [v["selectedOptions"][0]["value"] for v in created["variants"]["nodes"]] == [
        "Red"
    ]  # one standalone variant
    result = gql.data(
        """mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkCreate(productId: $p, variants: $v, strategy: REMOVE_STANDALONE_VARIANT) {
        product { variants(first: 5) { nodes { sku selectedOptions { value } } } } userErrors { code field message } } }""",
        {
            "p": created["id"],
            "v": [
                {
                    "optionValues": [{"optionName": "Color", "name": "Red"}],
                    "price": "9.00",
                    "inventoryItem": {"sku": "MUG-R"},
                },
                {
                    "optionValues": [{"optionName": "Color", "name": "Blue"}],
                    "price": "9.00",
                    "inventoryItem": {"sku": "MUG-B"},
                },
            ],
        },
    )["productVariantsBulkCreate"]
    assert result["userErrors"] == []
    assert [(v["sku"], v["selectedOptions"][0]["value"]) for v in result["product"]["variants"]["nodes"]] == [
        ("MUG-R", "Red"),
        ("MUG-B", "Blue"),
    ]


ORDER_FO = """query($id: ID!) { order(id: $id) { displayFulfillmentStatus fulfillmentOrders(first: 5) { nodes { id status
  lineItems(first: 10) { nodes { id remainingQuantity totalQuantity lineItem { id sku } } } } } } }"""
FULFIL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f, message: "Shipped") {
  fulfillment { id status trackingInfo { number url company } } userErrors { field message } } }"""


def place(client: ShopifyClient, quantity: int = 3, **extra: Any) -> dict[str, Any]:
    variants = client.data("{ productVariants(first: 40) { nodes { id inventoryItem { tracked } } } }")[
        "productVariants"
    ]["nodes"]
    tracked = [v["id"] for v in variants if v["inventoryItem"]["tracked"]]
    body = {
        "line_items": [
            {"variant_id": tracked[0], "quantity": quantity},
            {"variant_id": tracked[1], "quantity": 1},
        ],
        **extra,
    }
    return client.control("POST", "/orders", body)["order"]  # type: ignore[no-any-return]


def test_fulfillment_create_against_fulfillment_orders(gql: ShopifyClient) -> None:
    order = place(gql, 3, financial_status="paid")
    fo = gql.data(ORDER_FO, {"id": order["admin_graphql_api_id"]})["order"]["fulfillmentOrders"]["nodes"][0]
    line = fo["lineItems"]["nodes"][0]
    assert fo["status"] == "OPEN" and line["remainingQuantity"] == 3
    too_many = {
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": [{"id": line["id"], "quantity": 4}]}
        ]
    }
    assert gql.data(FULFIL, {"f": too_many})["fulfillmentCreate"]["userErrors"]
    partial = {
        "notifyCustomer": False,
        "trackingInfo": {
            "number": "1Z1234512345123456",
            "company": "USPS",
            "url": "https://tools.usps.com/t?1Z1234512345123456",
        },
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": [{"id": line["id"], "quantity": 1}]}
        ],
    }
    made = gql.data(FULFIL, {"f": partial})["fulfillmentCreate"]
    assert made["userErrors"] == [] and made["fulfillment"]["status"] == "SUCCESS"
    assert made["fulfillment"]["trackingInfo"] == [
        {
            "number": "1Z1234512345123456",
            "url": "https://tools.usps.com/t?1Z1234512345123456",
            "company": "USPS",
        }
    ]
    after = gql.data(ORDER_FO, {"id": order["admin_graphql_api_id"]})["order"]
    assert after["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    assert after["fulfillmentOrders"]["nodes"][0]["status"] == "IN_PROGRESS"
    assert after["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"][0]["remainingQuantity"] == 2
    rest = gql.data(FULFIL, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}})[
        "fulfillmentCreate"
    ]
    assert rest["userErrors"] == []
    done = gql.data(ORDER_FO, {"id": order["admin_graphql_api_id"]})["order"]
    assert (
        done["displayFulfillmentStatus"] == "FULFILLED"
        and done["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    )
    again = gql.data(FULFIL, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}})[
        "fulfillmentCreate"
    ]
    assert again["fulfillment"] is None and again["userErrors"]


def test_order_cancel_with_refund_and_restock(gql: ShopifyClient) -> None:
    order = place(gql, 2, financial_status="paid")
    line = order["line_items"][0]
    item_query = "query($id: ID!) { productVariant(id: $id) { inventoryItem { id } } }"
    item = gql.data(item_query, {"id": f"gid://shopify/ProductVariant/{line['variant_id']}"})[
        "productVariant"
    ]["inventoryItem"]["id"]
    before = next(iter(levels(gql, item).values()))
    cancel = """mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refundMethod: {originalPaymentMethodsRefund: true}, restock: true, staffNote: "asked") {
      job { id done } orderCancelUserErrors { code field message } } }"""
    result = gql.data(cancel, {"id": order["admin_graphql_api_id"]})["orderCancel"]
    assert result["orderCancelUserErrors"] == [] and result["job"]["id"].startswith("gid://shopify/Job/")
    read = gql.data(
        "query($id: ID!) { order(id: $id) { cancelledAt cancelReason displayFinancialStatus totalRefundedSet { shopMoney { amount } } totalPriceSet { shopMoney { amount } } } }",
        {"id": order["admin_graphql_api_id"]},
    )["order"]
    assert (
        read["cancelledAt"]
        and read["cancelReason"] == "CUSTOMER"
        and read["displayFinancialStatus"] == "REFUNDED"
    )
    assert read["totalRefundedSet"]["shopMoney"]["amount"] == read["totalPriceSet"]["shopMoney"]["amount"]
    after = next(iter(levels(gql, item).values()))
    assert after["available"] == before["available"] + 2 and after["committed"] == before["committed"] - 2
    twice = gql.data(cancel, {"id": order["admin_graphql_api_id"]})["orderCancel"]
    assert twice["orderCancelUserErrors"][0]["code"] == "INVALID"


def test_2025_01_shapes_compare_quantity_and_unstocked_locations(shopify_factory: ShopifyFactory) -> None:
    client = ShopifyClient(shopify_factory(scale=40, api_version="2025-01"))
    (item, loc, available), *_ = stocked_items(client, 1)
    old_set = """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { code field } } }"""
    stale = {
        **set_input(
            [{"inventoryItemId": item, "locationId": loc, "quantity": 1, "compareQuantity": available + 1}]
        )
    }
    assert (
        client.data(old_set, {"input": stale})["inventorySetQuantities"]["userErrors"][0]["code"]
        == "COMPARE_QUANTITY_STALE"
    )
    ignored = {
        **set_input([{"inventoryItemId": item, "locationId": loc, "quantity": 1}]),
        "ignoreCompareQuantity": True,
    }
    assert client.data(old_set, {"input": ignored})["inventorySetQuantities"]["userErrors"] == []
    assert (
        client.post(SET, {"input": stale, "key": "k"}).json()["errors"][0]["message"]
        == "Unknown directive '@idempotent'."
    )
    unstocked = client.data(
        'mutation { productCreate(product: {title: "Loose"}) { product { variants(first: 1) { nodes { inventoryItem { id } } } } } }'
    )
    loose = unstocked["productCreate"]["product"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    result = client.data(
        old_set,
        {
            "input": {
                **set_input([{"inventoryItemId": loose, "locationId": loc, "quantity": 2}]),
                "ignoreCompareQuantity": True,
            }
        },
    )
    assert result["inventorySetQuantities"]["userErrors"][0]["code"] == "ITEM_NOT_STOCKED_AT_LOCATION"
    hook = client.data(
        'mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: {callbackUrl: "https://example.com/h"}) { webhookSubscription { endpoint { ... on WebhookHttpEndpoint { callbackUrl } } } userErrors { message } } }'
    )
    assert (
        hook["webhookSubscriptionCreate"]["webhookSubscription"]["endpoint"]["callbackUrl"]
        == "https://example.com/h"
    )
    client.close()


def test_set_at_an_unstocked_location_creates_the_level_in_2026_10(gql: ShopifyClient) -> None:
    unstocked = gql.data(
        'mutation { productCreate(product: {title: "Loose"}) { product { variants(first: 1) { nodes { inventoryItem { id } } } } } }'
    )
    loose = unstocked["productCreate"]["product"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    loc = gql.data("{ locations(first: 1) { nodes { id } } }")["locations"]["nodes"][0]["id"]
    result = gql.data(
        SET,
        {
            "input": set_input(
                [{"inventoryItemId": loose, "locationId": loc, "quantity": 4, "changeFromQuantity": 0}]
            ),
            "key": str(uuid.uuid4()),
        },
    )
    assert result["inventorySetQuantities"]["userErrors"] == []
    assert levels(gql, loose)[loc]["available"] == 4
