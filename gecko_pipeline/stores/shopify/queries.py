"""The GraphQL documents the Shopify order adapter sends (Admin API 2025-01 ... 2026-10).

Cost (shared/shopify-api.md section 2): a connection costs `2 + first` plus `first` times its node's
selection, multiplied through nesting, and the bucket must hold the whole *requested* cost before a
query runs (at most 1,000 points). So nested `first`s are kept small: `ORDERS_PAGE` with 5 orders of up
to 10 lines, 3 fulfilments and 3 refunds of 10 lines each requests about 960 points (measured against
the sandbox's exact cost rules: `test_shopify_client.py`); what an order has beyond those `first`s is
read afterwards, page by page, from the node itself (`LINE_ITEMS_OF`, ...), which a normal order never
needs. `refunds` and `fulfillments` are plain lists (not connections): Shopify's bulk operations refuse
a connection inside a list, which is why the backfill pages instead of using a bulk operation.

Money is read in the shop's currency and the customer's (`MoneyBag`), so the mapping can use either.
"""

from __future__ import annotations

PAGE_ORDERS = 3
NESTED_FIRST = 10
NESTED_LISTS = 3  # fulfillments(first:) and refunds(first:)
MORE_FIRST = 50  # page size when an order's nested connection is read on its own

MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
ADDRESS = (
    "firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone"
)
TAX_LINES = f"taxLines {{ title rate priceSet {{ {MONEY} }} }}"
DISCOUNT_ALLOCATIONS = (
    f"discountAllocations {{ allocatedAmountSet {{ {MONEY} }} discountApplication {{ index }} }}"
)

LINE_ITEM = (
    "id sku name title quantity currentQuantity isGiftCard taxable requiresShipping variant { id } "
    f"originalUnitPriceSet {{ {MONEY} }} {DISCOUNT_ALLOCATIONS} {TAX_LINES}"
)
FULFILLMENT_LINE = "quantity lineItem { id sku }"
REFUND_LINE = "quantity restockType location { id } lineItem { id sku }"
PAGE_INFO = "pageInfo { hasNextPage endCursor }"

ORDER = f"""
  id legacyResourceId name createdAt updatedAt processedAt cancelledAt cancelReason email phone note tags
  currencyCode presentmentCurrencyCode taxesIncluded taxExempt displayFinancialStatus test sourceName
  customer {{ id email firstName lastName phone }}
  purchasingEntity {{ __typename ... on PurchasingCompany {{ company {{ id name }} }} }}
  shippingAddress {{ {ADDRESS} }}
  billingAddress {{ {ADDRESS} }}
  discountApplications(first: {NESTED_FIRST}) {{ {PAGE_INFO} nodes {{
    index allocationMethod targetSelection targetType
    value {{ ... on MoneyV2 {{ amount currencyCode }} ... on PricingPercentageValue {{ percentage }} }}
    ... on DiscountCodeApplication {{ code }}
    ... on ManualDiscountApplication {{ title }}
    ... on AutomaticDiscountApplication {{ title }}
  }} }}
  shippingLines(first: {NESTED_LISTS}, includeRemovals: true) {{ {PAGE_INFO} nodes {{
    title code source originalPriceSet {{ {MONEY} }} {TAX_LINES} {DISCOUNT_ALLOCATIONS}
  }} }}
  lineItems(first: {NESTED_FIRST}) {{ {PAGE_INFO} nodes {{ {LINE_ITEM} }} }}
  fulfillments(first: {NESTED_LISTS}) {{
    id status createdAt trackingInfo(first: 3) {{ number url company }} location {{ id }}
    fulfillmentLineItems(first: {NESTED_FIRST}) {{ {PAGE_INFO} nodes {{ {FULFILLMENT_LINE} }} }}
  }}
  refunds(first: {NESTED_LISTS}) {{
    id createdAt note
    refundLineItems(first: {NESTED_FIRST}) {{ {PAGE_INFO} nodes {{ {REFUND_LINE} }} }}
  }}
"""

# The backfill's page: orders changed at or after a moment, oldest change first.
ORDERS_PAGE = f"""query BackfillOrders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE_INFO}
    nodes {{ {ORDER} }}
  }}
}}"""

# One order by GID (a refresh after a refunds/create, or a check): the same shape as a page's node.
ORDER_BY_ID = f"""query OrderById($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}"""

# What an order has beyond the nested `first`s, read from its node page by page.
LINE_ITEMS_OF = f"""query MoreLineItems($id: ID!, $after: String) {{ node(id: $id) {{ ... on Order {{
  lineItems(first: {MORE_FIRST}, after: $after) {{ {PAGE_INFO} nodes {{ {LINE_ITEM} }} }} }} }} }}"""
FULFILLMENT_LINES_OF = f"""query MoreFulfillmentLines($id: ID!, $after: String) {{ node(id: $id) {{ ... on Fulfillment {{
  fulfillmentLineItems(first: {MORE_FIRST}, after: $after) {{ {PAGE_INFO} nodes {{ {FULFILLMENT_LINE} }} }} }} }} }}"""
REFUND_LINES_OF = f"""query MoreRefundLines($id: ID!, $after: String) {{ node(id: $id) {{ ... on Refund {{
  refundLineItems(first: {MORE_FIRST}, after: $after) {{ {PAGE_INFO} nodes {{ {REFUND_LINE} }} }} }} }} }}"""
ORDER_LISTS_OF = f"""query MoreOrderLists($id: ID!, $first: Int!) {{ node(id: $id) {{ ... on Order {{
  fulfillments(first: $first) {{ id status createdAt trackingInfo(first: 3) {{ number url company }} location {{ id }}
    fulfillmentLineItems(first: {NESTED_FIRST}) {{ {PAGE_INFO} nodes {{ {FULFILLMENT_LINE} }} }} }}
  refunds(first: $first) {{ id createdAt note
    refundLineItems(first: {NESTED_FIRST}) {{ {PAGE_INFO} nodes {{ {REFUND_LINE} }} }} }} }} }} }}"""
SHIPPING_LINES_OF = f"""query MoreShippingLines($id: ID!, $after: String) {{ node(id: $id) {{ ... on Order {{
  shippingLines(first: {MORE_FIRST}, after: $after, includeRemovals: true) {{ {PAGE_INFO} nodes {{
    title code source originalPriceSet {{ {MONEY} }} {TAX_LINES} {DISCOUNT_ALLOCATIONS} }} }} }} }} }}"""
DISCOUNTS_OF = f"""query MoreDiscounts($id: ID!, $after: String) {{ node(id: $id) {{ ... on Order {{
  discountApplications(first: {MORE_FIRST}, after: $after) {{ {PAGE_INFO} nodes {{
    index allocationMethod targetSelection targetType
    value {{ ... on MoneyV2 {{ amount currencyCode }} ... on PricingPercentageValue {{ percentage }} }}
    ... on DiscountCodeApplication {{ code }} ... on ManualDiscountApplication {{ title }}
    ... on AutomaticDiscountApplication {{ title }} }} }} }} }} }}"""

SHOP = "{ shop { myshopifyDomain currencyCode ianaTimezone } }"
