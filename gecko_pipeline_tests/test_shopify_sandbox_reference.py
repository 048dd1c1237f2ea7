"""The queries shared/shopify-api.md gives the client (copied verbatim) run against the sandbox: every field
they name exists. As written, the products, orders and fulfilment-order queries cost more than 1,000 under the documented
rules, so they are refused; with smaller `first` they run."""

from __future__ import annotations

from gecko_pipeline_tests.shopify_fixtures import ShopifyClient

PRODUCTS = """query Products($cursor: String) {
  products(first: 50, after: $cursor, sortKey: UPDATED_AT, query: "updated_at:>='2025-01-01T00:00:00Z'") {
    pageInfo { hasNextPage endCursor }
    nodes { id legacyResourceId title handle status vendor productType tags updatedAt
      options { id name position optionValues { id name } }
      variants(first: 20) { nodes { id sku barcode price compareAtPrice inventoryPolicy inventoryQuantity
        selectedOptions { name value } inventoryItem { id tracked measurement { weight { unit value } } } } } } } }"""

ORDERS = """query Orders($cursor: String, $q: String) { orders(first: 10, after: $cursor, query: $q, sortKey: UPDATED_AT) {
  pageInfo { hasNextPage endCursor }
  nodes { id legacyResourceId name createdAt updatedAt processedAt cancelledAt cancelReason closedAt test email
    currencyCode presentmentCurrencyCode taxesIncluded displayFinancialStatus displayFulfillmentStatus
    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    currentTotalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } } totalShippingPriceSet { shopMoney { amount } }
    customer { id email firstName lastName }
    shippingAddress { firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone }
    billingAddress { address1 city provinceCode zip countryCodeV2 }
    taxLines { title rate priceSet { shopMoney { amount } } }
    discountApplications(first: 5) { nodes { index allocationMethod targetSelection targetType
      value { ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } }
      ... on DiscountCodeApplication { code } ... on ManualDiscountApplication { title } } }
    shippingLines(first: 3) { nodes { title code source originalPriceSet { shopMoney { amount } }
      discountedPriceSet { shopMoney { amount } } taxLines { rate priceSet { shopMoney { amount } } } } }
    lineItems(first: 30) { nodes { id sku name quantity currentQuantity variant { id } product { id }
      originalUnitPriceSet { shopMoney { amount } }
      discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } }
      taxLines { title rate priceSet { shopMoney { amount } } } } }
    refunds(first: 5) { id createdAt refundLineItems(first: 30) { nodes { quantity restockType lineItem { id } location { id } } } } } } }"""

INVENTORY_ITEM = """query($id: ID!) { inventoryItem(id: $id) { id sku tracked inventoryLevels(first: 20) { nodes { id location { id name }
  quantities(names: ["available","incoming","committed","damaged","on_hand","quality_control","reserved","safety_stock"]) { name quantity } } } } }"""

FULFILLMENT_ORDERS = """query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 10) { nodes { id status assignedLocation { location { id } }
lineItems(first: 50) { nodes { id remainingQuantity totalQuantity lineItem { id sku } } } } } } }"""


def test_reference_queries_as_written_exceed_the_single_query_cap(gql_shared: ShopifyClient) -> None:
    for query, cost in ((PRODUCTS, 5252), (ORDERS, 5112), (FULFILLMENT_ORDERS, 1053)):
        body = gql_shared.post(query, {"id": "gid://shopify/Order/1"}).json()
        assert body["errors"][0]["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": 1000}


def test_reference_queries_run_with_smaller_pages(gql_shared: ShopifyClient) -> None:
    products = gql_shared.query(
        PRODUCTS.replace("first: 50", "first: 5").replace("variants(first: 20)", "variants(first: 5)")
    )
    assert products["extensions"]["cost"]["requestedQueryCost"] <= 1000
    nodes = products["data"]["products"]["nodes"]
    assert (
        nodes
        and nodes[0]["variants"]["nodes"][0]["inventoryItem"]["measurement"]["weight"]["unit"] == "KILOGRAMS"
    )
    orders = gql_shared.query(
        ORDERS.replace("orders(first: 10", "orders(first: 1"), {"q": "financial_status:paid"}
    )
    order = orders["data"]["orders"]["nodes"][0]
    assert order["displayFinancialStatus"] == "PAID" and order["lineItems"]["nodes"]
    item = order["lineItems"]["nodes"][0]["variant"]["id"]
    inventory_item = gql_shared.data(
        "query($id: ID!) { productVariant(id: $id) { inventoryItem { id } } }", {"id": item}
    )
    levels = gql_shared.data(INVENTORY_ITEM, {"id": inventory_item["productVariant"]["inventoryItem"]["id"]})
    names = [q["name"] for q in levels["inventoryItem"]["inventoryLevels"]["nodes"][0]["quantities"]]
    assert names == [
        "available",
        "incoming",
        "committed",
        "damaged",
        "on_hand",
        "quality_control",
        "reserved",
        "safety_stock",
    ]
    fulfillment_orders = gql_shared.data(
        FULFILLMENT_ORDERS.replace("fulfillmentOrders(first: 10)", "fulfillmentOrders(first: 5)"),
        {"id": order["id"]},
    )["order"]["fulfillmentOrders"]["nodes"]
    assert fulfillment_orders[0]["assignedLocation"]["location"]["id"].startswith("gid://shopify/Location/")
