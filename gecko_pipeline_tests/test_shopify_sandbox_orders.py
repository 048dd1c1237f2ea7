"""Shopper and merchant activity through the control plane: order totals computed by hand from the
documented arithmetic (discount allocation, taxes added or included, shipping tax, presentment
currency), payments, refunds with and without restock, cancels."""

from __future__ import annotations

from typing import Any

from gecko_pipeline_tests.shopify_fixtures import ShopifyClient

STATE = {"title": "State Tax", "rate": "0.06"}
COUNTY = {"title": "County Tax", "rate": "0.01"}


def boots(client: ShopifyClient) -> dict[str, Any]:
    product = client.control(
        "POST",
        "/products",
        {
            "title": "Boot",
            "options": [{"name": "Size", "values": ["S", "M"]}],
            "variants": [
                {"options": ["S"], "price": "74.99", "sku": "BOOT-S", "available": 10},
                {"options": ["M"], "price": "199.00", "sku": "BOOT-M", "available": 10},
            ],
        },
    )["product"]
    return {v["sku"]: v for v in product["variants"]}


def level(client: ShopifyClient, sku: str) -> dict[str, int]:
    levels = client.control("GET", "/dump/inventory_levels")["inventory_levels"]
    return next(entry["quantities"] for entry in levels if entry["sku"] == sku)


def money(body: dict[str, Any], key: str, side: str = "shop_money") -> str:
    return body[f"{key}_set"][side]["amount"]  # type: ignore[no-any-return]


def test_taxes_added_with_a_code_discount_shipping_tax_and_a_custom_line(gql: ShopifyClient) -> None:
    boots(gql)
    order = gql.control(
        "POST",
        "/orders",
        {
            "line_items": [
                {"sku": "BOOT-S", "quantity": 3},
                {"sku": "BOOT-M", "quantity": 1},
                {
                    "title": "Gift wrap",
                    "price": "5.00",
                    "quantity": 1,
                    "taxable": False,
                    "requires_shipping": False,
                },
            ],
            "tax_lines": [STATE, COUNTY],
            "discounts": [{"code": "TENOFF", "value_type": "fixed_amount", "value": "10.00"}],
            "shipping_lines": [{"title": "Standard", "code": "STD", "price": "10.00", "tax_lines": [STATE]}],
            "customer": {"email": "bob@example.com", "first_name": "Bob", "last_name": "Norman"},
            "shipping_address": {
                "first_name": "Bob",
                "last_name": "Norman",
                "address1": "Chestnut Street 92",
                "city": "Louisville",
                "province_code": "KY",
                "zip": "40202",
                "country_code": "US",
            },
            "financial_status": "paid",
        },
    )["order"]
    # 10.00 over 224.97 / 199.00 / 5.00: shares 5.24 / 4.63 / 0.11 rounded down, the two cents left go to
    # the largest remainders (199.00's, then 5.00's)
    assert [li["discount_allocations"][0]["amount"] for li in order["line_items"]] == ["5.24", "4.64", "0.12"]
    # taxes on (line - discount): 219.73 x 6% = 13.18, x 1% = 2.20; 194.36 x 6% = 11.66, x 1% = 1.94; the
    # custom line is not taxable; shipping 10.00 x 6% = 0.60
    assert [[t["price"] for t in li["tax_lines"]] for li in order["line_items"]] == [
        ["13.18", "2.20"],
        ["11.66", "1.94"],
        [],
    ]
    assert order["shipping_lines"][0]["tax_lines"][0]["price"] == "0.60"
    assert {t["title"]: t["price"] for t in order["tax_lines"]} == {
        "State Tax": "25.44",
        "County Tax": "4.14",
    }
    assert order["tax_lines"][0]["rate"] == 0.06  # a JSON number
    assert order["total_line_items_price"] == "428.97"
    assert order["total_discounts"] == "10.00"
    assert order["subtotal_price"] == "418.97"
    assert order["total_tax"] == "29.58"
    assert money(order, "total_shipping_price") == "10.00"
    assert order["total_price"] == "458.55"  # 418.97 + 10.00 + 29.58
    assert order["financial_status"] == "paid" and order["total_outstanding"] == "0.00"
    assert order["discount_codes"] == [{"code": "TENOFF", "amount": "10.00", "type": "fixed_amount"}]
    assert order["line_items"][2]["sku"] is None and order["line_items"][2]["product_exists"] is False
    graph = gql.data(
        "query($id: ID!) { order(id: $id) { totalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } "
        "discountApplications(first: 2) { nodes { allocationMethod targetSelection value { ... on MoneyV2 { amount } } ... on DiscountCodeApplication { code } } } } }",
        {"id": order["admin_graphql_api_id"]},
    )["order"]
    assert (
        graph["totalPriceSet"]["shopMoney"]["amount"] == "458.55"
        and graph["totalTaxSet"]["shopMoney"]["amount"] == "29.58"
    )
    assert graph["discountApplications"]["nodes"] == [
        {
            "allocationMethod": "ACROSS",
            "targetSelection": "ALL",
            "value": {"amount": "10.0"},
            "code": "TENOFF",
        }
    ]
    assert level(gql, "BOOT-S")["available"] == 7 and level(gql, "BOOT-S")["committed"] == 3

    # refund one unshipped boot with restock, and the shipping
    line = order["line_items"][0]
    result = gql.control(
        "POST",
        f"/orders/{order['id']}/refunds",
        {
            "line_items": [{"line_item_id": line["id"], "quantity": 1, "restock": True}],
            "shipping": {"full_refund": True},
            "note": "changed mind",
        },
    )
    refund = result["refund"]
    rli = refund["refund_line_items"][0]
    assert (
        rli["restock_type"] == "cancel" and rli["subtotal"] == 73.24 and rli["total_tax"] == 5.13
    )  # numbers
    assert (
        refund["transactions"][0]["amount"] == "88.97" and refund["transactions"][0]["kind"] == "refund"
    )  # 73.24 + 5.13 + 10.00 + 0.60
    after = result["order"]
    assert after["financial_status"] == "partially_refunded"
    assert (
        after["current_total_price"] == "369.58"
        and after["current_subtotal_price"] == "345.73"
        and after["current_total_tax"] == "23.85"
    )
    assert level(gql, "BOOT-S") == {**level(gql, "BOOT-S"), "available": 8, "committed": 2}

    # ship the rest, then a return of the shipped BOOT-M restocks on hand
    gql.control(
        "POST", f"/orders/{order['id']}/fulfillments", {"tracking": {"number": "1Z9", "company": "UPS"}}
    )
    assert level(gql, "BOOT-M")["committed"] == 0 and level(gql, "BOOT-M")["on_hand"] == 9
    returned = gql.control(
        "POST",
        f"/orders/{order['id']}/refunds",
        {"line_items": [{"line_item_id": order["line_items"][1]["id"], "quantity": 1, "restock": True}]},
    )
    assert returned["refund"]["refund_line_items"][0]["restock_type"] == "return"
    assert returned["refund"]["transactions"][0]["amount"] == "207.96"  # 194.36 + 11.66 + 1.94
    assert level(gql, "BOOT-M")["available"] == 10 and level(gql, "BOOT-M")["on_hand"] == 10


def test_taxes_included_manual_percentage_discount_and_presentment_currency(gql: ShopifyClient) -> None:
    boots(gql)
    order = gql.control(
        "POST",
        "/orders",
        {
            "line_items": [{"sku": "BOOT-M", "quantity": 2}],
            "taxes_included": True,
            "tax_lines": [STATE, COUNTY],
            "discounts": [
                {
                    "title": "Staff",
                    "description": "staff 10%",
                    "value_type": "percentage",
                    "value": "10",
                    "line_items": [0],
                }
            ],
            "shipping_lines": [{"title": "Express", "price": "5.00", "tax_lines": [STATE]}],
            "presentment_currency": "EUR",
            "exchange_rate": "0.9",
            "company": {"name": "Acme Wholesale", "location": "Head office", "external_id": "ACME-1"},
            "customer": {"email": "buyer@acme.example"},
            "financial_status": "pending",
        },
    )["order"]
    assert (
        order["taxes_included"] is True
        and order["presentment_currency"] == "EUR"
        and order["currency"] == "USD"
    )
    # shop: 398.00 - 39.80 = 358.20; included tax 358.20 x 0.06 / 1.07 = 20.09, x 0.01 / 1.07 = 3.35; shipping 5 x 0.06 / 1.06 = 0.28
    assert (
        order["subtotal_price"] == "358.20"
        and order["total_tax"] == "23.72"
        and order["total_price"] == "363.20"
    )
    # presentment: unit 179.10, 358.20 - 35.82 = 322.38; tax 18.08 + 3.01 + 0.25 (on 4.50 shipping)
    assert money(order, "subtotal_price", "presentment_money") == "322.38"
    assert money(order, "total_tax", "presentment_money") == "21.34"
    assert money(order, "total_price", "presentment_money") == "326.88"
    assert order["total_price_set"]["presentment_money"]["currency_code"] == "EUR"
    application = order["discount_applications"][0]
    assert application == {
        "target_type": "line_item",
        "type": "manual",
        "value": "10.0",
        "value_type": "percentage",
        "allocation_method": "across",
        "target_selection": "explicit",
        "title": "Staff",
        "description": "staff 10%",
    }
    assert (
        order["company"]["id"]
        and order["financial_status"] == "pending"
        and order["total_outstanding"] == "363.20"
    )
    graph = gql.data(
        "query($id: ID!) { order(id: $id) { presentmentCurrencyCode purchasingEntity { ... on PurchasingCompany { company { name externalId } location { name } } } } }",
        {"id": order["admin_graphql_api_id"]},
    )["order"]
    assert graph == {
        "presentmentCurrencyCode": "EUR",
        "purchasingEntity": {
            "company": {"name": "Acme Wholesale", "externalId": "ACME-1"},
            "location": {"name": "Head office"},
        },
    }

    paid = gql.control(
        "POST", f"/orders/{order['id']}/payments", {"financial_status": "partially_paid", "amount": "100.00"}
    )["order"]
    assert paid["financial_status"] == "partially_paid" and paid["total_outstanding"] == "263.20"
    paid = gql.control("POST", f"/orders/{order['id']}/payments", {"financial_status": "paid"})["order"]
    assert paid["financial_status"] == "paid" and paid["total_outstanding"] == "0.00"


def test_authorization_and_cancel_without_restock(gql: ShopifyClient) -> None:
    boots(gql)
    order = gql.control(
        "POST",
        "/orders",
        {"line_items": [{"sku": "BOOT-S", "quantity": 2}], "financial_status": "authorized"},
    )["order"]
    assert order["financial_status"] == "authorized"
    cancelled = gql.control(
        "POST", f"/orders/{order['id']}/cancel", {"reason": "inventory", "restock": False, "refund": False}
    )["order"]
    assert (
        cancelled["cancel_reason"] == "inventory"
        and cancelled["cancelled_at"]
        and cancelled["financial_status"] == "voided"
    )
    assert level(gql, "BOOT-S") == {
        **level(gql, "BOOT-S"),
        "available": 8,
        "committed": 0,
        "on_hand": 8,
    }  # not restocked
    refused = gql.http.post(
        f"{gql.handle.url}/_sandbox/orders/{order['id']}/cancel", json={"reason": "other"}
    )
    assert refused.status_code == 422
