"""The Shopify order mapping, pure: every field of the canonical order from the REST webhook shape (the
2025-01 fixture and variations of it) and from the GraphQL node shape, which must give the same canonical
order; the shape errors that name the Shopify field; the `kind: shopify` channel file fields. The last
test reads the Shopify sandbox's seeded orders both ways and checks they agree, order by order."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import yaml

from gecko_pipeline.channels.config import ChannelConfigError, parse_channels
from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.model import parse_order
from gecko_pipeline.stores.shopify import ShopifyClient, queries
from gecko_pipeline.stores.shopify.mapping import MappingOptions, canonical_updated_at, to_canonical
from gecko_pipeline.stores.shopify.normalise import ShopifyShapeError, from_graphql, from_rest
from gecko_pipeline_tests.shopify_fixtures import ShopifyFactory, order_fixture_path

NY = "America/New_York"


def fixture() -> dict[str, Any]:
    return inbox.loads(order_fixture_path().read_text())  # type: ignore[no-any-return]


def rest(**options: Any) -> dict[str, Any]:
    return canonical(fixture(), **options)


def canonical(order: dict[str, Any], *, graphql: bool = False, **options: Any) -> dict[str, Any]:
    options.setdefault("channel", "shop")
    if graphql:
        options.setdefault("shop_timezone", NY)
        return to_canonical(from_graphql(to_graphql(order)), MappingOptions(**options)).order
    return to_canonical(from_rest(order), MappingOptions(**options)).order


# --- a REST order as the GraphQL node Shopify would answer for it (test-side only) ------------------------


def _utc(text: str | None) -> str | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(money_set: dict[str, Any]) -> dict[str, Any]:
    return {
        "shopMoney": {
            "amount": money_set["shop_money"]["amount"],
            "currencyCode": money_set["shop_money"]["currency_code"],
        },
        "presentmentMoney": {
            "amount": money_set["presentment_money"]["amount"],
            "currencyCode": money_set["presentment_money"]["currency_code"],
        },
    }


def _address(a: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None:
        return None
    keys = (
        "first_name",
        "last_name",
        "company",
        "address1",
        "address2",
        "city",
        "province",
        "province_code",
        "zip",
        "country",
        "phone",
    )
    out = {"".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))): a.get(k) for k in keys}
    out["countryCodeV2"] = a.get("country_code")
    return out


def _taxes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"title": t["title"], "rate": t["rate"], "priceSet": _money(t["price_set"])} for t in items]


def _allocations(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "allocatedAmountSet": _money(a["amount_set"]),
            "discountApplication": {"index": a["discount_application_index"]},
        }
        for a in items
    ]


def _nodes(items: list[Any]) -> dict[str, Any]:
    return {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": items}


def to_graphql(o: dict[str, Any]) -> dict[str, Any]:
    gid = lambda kind, n: f"gid://shopify/{kind}/{n}"  # noqa: E731
    customer = o.get("customer")
    return {
        "id": o["admin_graphql_api_id"],
        "legacyResourceId": str(o["id"]),
        "name": o["name"],
        "createdAt": _utc(o["created_at"]),
        "updatedAt": _utc(o["updated_at"]),
        "processedAt": _utc(o["processed_at"]),
        "cancelledAt": _utc(o["cancelled_at"]),
        "email": o.get("email") or None,
        "phone": o.get("phone"),
        "note": o.get("note"),
        "tags": [t.strip() for t in (o.get("tags") or "").split(",") if t.strip()],
        "currencyCode": o["currency"],
        "presentmentCurrencyCode": o["presentment_currency"],
        "taxesIncluded": o["taxes_included"],
        "taxExempt": o["tax_exempt"],
        "displayFinancialStatus": (o["financial_status"] or "pending").upper(),
        "customer": None
        if customer is None
        else {
            "id": customer["admin_graphql_api_id"],
            "email": customer.get("email"),
            "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"),
            "phone": customer.get("phone"),
        },
        "purchasingEntity": {
            "__typename": "PurchasingCompany",
            "company": {"id": gid("Company", 1), "name": "X"},
        }
        if o.get("company")
        else ({"__typename": "Customer"} if customer else None),
        "shippingAddress": _address(o.get("shipping_address")),
        "billingAddress": _address(o.get("billing_address")),
        "discountApplications": _nodes(
            [
                {"index": i, **({"code": a["code"]} if a.get("code") else {"title": a.get("title")})}
                for i, a in enumerate(o.get("discount_applications") or [])
            ]
        ),
        "shippingLines": _nodes(
            [
                {
                    "title": s["title"],
                    "code": s.get("code"),
                    "originalPriceSet": _money(s["price_set"]),
                    "taxLines": _taxes(s.get("tax_lines") or []),
                    "discountAllocations": _allocations(s.get("discount_allocations") or []),
                }
                for s in o.get("shipping_lines") or []
            ]
        ),
        "lineItems": _nodes(
            [
                {
                    "id": li["admin_graphql_api_id"],
                    "sku": li.get("sku"),
                    "name": li["name"],
                    "title": li["title"],
                    "quantity": li["quantity"],
                    "isGiftCard": li.get("gift_card", False),
                    "taxable": li.get("taxable", True),
                    "originalUnitPriceSet": _money(li["price_set"]),
                    "discountAllocations": _allocations(li.get("discount_allocations") or []),
                    "taxLines": _taxes(li.get("tax_lines") or []),
                }
                for li in o["line_items"]
            ]
        ),
        "fulfillments": [
            {
                "id": f["admin_graphql_api_id"],
                "status": f["status"].upper(),
                "createdAt": _utc(f["created_at"]),
                "trackingInfo": [
                    {
                        "number": f.get("tracking_number"),
                        "url": f.get("tracking_url"),
                        "company": f.get("tracking_company"),
                    }
                ]
                if f.get("tracking_number")
                else [],
                "location": {"id": gid("Location", f["location_id"])} if f.get("location_id") else None,
                "fulfillmentLineItems": _nodes(
                    [
                        {
                            "quantity": x["quantity"],
                            "lineItem": {"id": x["admin_graphql_api_id"], "sku": x.get("sku")},
                        }
                        for x in f["line_items"]
                    ]
                ),
            }
            for f in o.get("fulfillments") or []
        ],
        "refunds": [
            {
                "id": r["admin_graphql_api_id"],
                "createdAt": _utc(r["created_at"]),
                "note": r.get("note"),
                "refundLineItems": _nodes(
                    [
                        {
                            "quantity": x["quantity"],
                            "restockType": x["restock_type"].upper(),
                            "location": {"id": gid("Location", x["location_id"])}
                            if x.get("location_id")
                            else None,
                            "lineItem": {"id": gid("LineItem", x["line_item_id"]), "sku": None},
                        }
                        for x in r["refund_line_items"]
                    ]
                ),
            }
            for r in o.get("refunds") or []
        ],
    }


# --- a richer order: the fixture made into every case -------------------------------------------------


def line(i: int, **changes: Any) -> dict[str, Any]:
    """A line of the fixture (green, red, black, ...) with an id of its own."""
    item = copy.deepcopy(fixture()["line_items"][i % 3])
    item["id"] = item["id"] + 1000 * (i + 1)
    item["admin_graphql_api_id"] = f"gid://shopify/LineItem/{item['id']}"
    item.update(changes)
    return item


def rich(**changes: Any) -> dict[str, Any]:
    """The fixture's order, unrefunded and unfulfilled, with two SKU lines (2 x 199.00, 1 x 199.00)."""
    o = fixture()
    o["refunds"], o["fulfillments"] = [], []
    o["financial_status"] = "paid"
    first = line(0, quantity=2, current_quantity=2)
    first["discount_allocations"][0]["amount"] = "6.67"
    first["discount_allocations"][0]["amount_set"]["shop_money"]["amount"] = "6.67"
    first["discount_allocations"][0]["amount_set"]["presentment_money"]["amount"] = "6.67"
    o["line_items"] = [first, line(1)]
    o.update(changes)
    return o


def test_the_2025_01_fixture_becomes_this_canonical_order() -> None:
    assert rest(shop="jsmith.myshopify.com") == {
        "channel": "shop",
        "channel_order_id": "450789469",
        "order_name": "#1001",
        "placed_at": "2008-01-10T11:00:00-05:00",
        # 16:00:00Z plus the progress count: partially_refunded (4), a fulfilment (1), a refund (1)
        "updated_at": "2008-01-10T16:00:00.000006Z",
        "currency": "USD",
        "tax_treatment": "exclusive",
        "source_url": "https://jsmith.myshopify.com/admin/orders/450789469",
        "customer": {
            "name": "Bob Norman",
            "type": "consumer",
            "email": "bob.norman@mail.example.com",
            "phone_number": "+16136120707",
        },
        "shipping_address": {
            "first_name": "Bob",
            "last_name": "Norman",
            "address1": "Chestnut Street 92",
            "city": "Louisville",
            "state": "Kentucky",
            "zip_code": "40202",
            "country": "United States",
            "country_code": "US",
            "phone_number": "+1(502)-459-2181",
        },
        "billing_address": {
            "first_name": "Bob",
            "last_name": "Norman",
            "address1": "Chestnut Street 92",
            "city": "Louisville",
            "state": "Kentucky",
            "zip_code": "40202",
            "country": "United States",
            "country_code": "US",
            "phone_number": "+1(502)-459-2181",
        },
        # green and black were refunded with legacy_restock before shipping (the one fulfilment
        # failed): they leave the order, their shares of TENOFF with them
        "lines": [
            {
                "line_id": "518995019",
                "sku": "IPOD2008RED",
                "title": "IPod Nano - 8gb - red",
                "quantity": "1",
                "unit_price": "199.00",
                "tax_rate": "6",
            }
        ],
        "shipping_lines": [{"label": "Free Shipping", "amount": "0.00", "tax_rate": "0"}],
        "discount_lines": [{"label": "Discount TENOFF", "amount": "3.33", "tax_rate": "6"}],
        "financial_status": "paid",
        "cancelled": False,
    }
    parse_order(rest())  # valid by the published schema


def test_the_fixture_as_a_graphql_node_gives_the_same_canonical_order() -> None:
    assert canonical(fixture(), graphql=True) == rest()
    assert canonical(rich(), graphql=True) == canonical(rich())


def test_lines_prices_and_taxes_exclusive_and_inclusive() -> None:
    out = canonical(rich())
    assert [(x["sku"], x["quantity"], x["unit_price"], x["tax_rate"]) for x in out["lines"]] == [
        ("IPOD2008GREEN", "2", "199.00", "6"),
        ("IPOD2008RED", "1", "199.00", "6"),
    ]
    assert out["tax_treatment"] == "exclusive"
    included = canonical(rich(taxes_included=True))
    assert included["tax_treatment"] == "inclusive" and included["lines"] == out["lines"]
    assert canonical(rich(tax_exempt=True))["lines"][0]["tax_rate"] == "0"
    two_rates = rich()
    two_rates["line_items"][0]["tax_lines"].append(
        {
            "title": "City tax",
            "rate": Decimal("0.0125"),
            "price": "4.98",
            "price_set": two_rates["line_items"][0]["tax_lines"][0]["price_set"],
        }
    )
    assert canonical(two_rates)["lines"][0]["tax_rate"] == "7.25"  # 6 % + 1.25 %, from the JSON numbers' text
    noisy = rich()
    noisy["line_items"][0]["tax_lines"][0]["rate"] = 0.07250000000000001  # a float's last digit
    assert canonical(noisy)["lines"][0]["tax_rate"] == "7.25"
    untaxed = rich()
    untaxed["line_items"][1]["taxable"] = False
    assert canonical(untaxed)["lines"][1]["tax_rate"] == "0"


def test_shop_money_by_default_presentment_money_when_the_channel_says_so() -> None:
    o = rich(presentment_currency="EUR")
    for item in o["line_items"]:
        item["price_set"]["presentment_money"] = {"amount": "183.08", "currency_code": "EUR"}
    assert canonical(o)["currency"] == "USD" and canonical(o)["lines"][0]["unit_price"] == "199.00"
    shown = canonical(o, use_presentment_currency=True)
    assert shown["currency"] == "EUR" and shown["lines"][0]["unit_price"] == "183.08"
    assert canonical(o, graphql=True, use_presentment_currency=True) == shown


def test_discounts_from_their_allocations_per_application_and_tax_rate() -> None:
    o = rich()
    o["discount_applications"].append(
        {"type": "manual", "title": "Loyalty", "value": "5.0", "value_type": "fixed_amount"}
    )
    second = copy.deepcopy(o["line_items"][1]["discount_allocations"][0])
    second["discount_application_index"] = 1
    second["amount"] = "5.00"
    second["amount_set"]["shop_money"]["amount"] = "5.00"
    o["line_items"][1]["discount_allocations"].append(second)
    o["line_items"][1]["taxable"] = False
    o["shipping_lines"][0]["discount_allocations"] = [copy.deepcopy(second)]  # 5.00 off shipping (taxed 0)
    out = canonical(o)
    assert out["discount_lines"] == [
        {"label": "Discount TENOFF", "amount": "3.33", "tax_rate": "0"},  # off the untaxed line
        {"label": "Discount TENOFF", "amount": "6.67", "tax_rate": "6"},
        {"label": "Loyalty", "amount": "10.00", "tax_rate": "0"},  # 5.00 off the line + 5.00 off shipping
    ]
    assert canonical(o, graphql=True) == out
    o["line_items"][0]["discount_allocations"][0]["discount_application_index"] = 7
    with pytest.raises(ShopifyShapeError) as raised:
        canonical(o)
    assert raised.value.path == "line_items[0].discount_allocations[0].discount_application_index"


def test_custom_items_gift_cards_and_shipping_lines_are_freeform() -> None:
    o = rich()
    o["line_items"].append(
        line(
            2,
            sku=None,
            name="Gift wrapping",
            title="Gift wrapping",
            quantity=2,
            taxable=False,
            tax_lines=[],
            discount_allocations=[],
        )
    )
    o["line_items"].append(
        line(
            3,
            sku="GIFTCARD-25",
            name="Gift card $25",
            gift_card=True,
            tax_lines=[],
            discount_allocations=[],
        )
    )
    out = canonical(o)
    assert out["fee_lines"] == [
        {"label": "Gift wrapping x 2", "amount": "398.00", "tax_rate": "0"},
        {"label": "Gift card: Gift card $25", "amount": "199.00", "tax_rate": "0"},
    ]
    assert [x["sku"] for x in out["lines"]] == ["IPOD2008GREEN", "IPOD2008RED"]  # a gift card is no stock
    assert out["shipping_lines"] == [{"label": "Free Shipping", "amount": "0.00", "tax_rate": "0"}]
    assert canonical(o, graphql=True) == out
    only_custom = rich()
    for item in only_custom["line_items"]:
        item["sku"] = None
    with pytest.raises(ShopifyShapeError, match="no line has a SKU") as raised:
        canonical(only_custom)
    assert raised.value.path == "line_items"


@pytest.mark.parametrize(
    ("shopify", "ours"),
    [
        ("pending", "pending"),
        ("authorized", "pending"),
        ("partially_paid", "pending"),
        ("paid", "paid"),
        ("partially_refunded", "paid"),
        ("refunded", "refunded"),
        ("voided", "pending"),
    ],
)
def test_financial_status(shopify: str, ours: str) -> None:
    assert canonical(rich(financial_status=shopify))["financial_status"] == ours
    assert canonical(rich(financial_status=shopify), graphql=True)["financial_status"] == ours


def test_cancellation_keeps_the_lines_as_ordered_for_the_void() -> None:
    o = rich(cancelled_at="2025-01-03T10:00:00-05:00", cancel_reason="customer")
    o["refunds"] = [refund(o, [(0, 2, "cancel"), (1, 1, "cancel")])]
    out = canonical(o)
    assert out["cancelled"] is True and [x["quantity"] for x in out["lines"]] == ["2", "1"]
    assert "returns" not in out
    uncancelled = rich()
    uncancelled["refunds"] = [refund(uncancelled, [(0, 2, "cancel"), (1, 1, "cancel")])]
    assert canonical(uncancelled)["cancelled"] is True  # everything refunded before it shipped


def refund(
    o: dict[str, Any], items: list[tuple[int, int, str]], refund_id: int = 77, note: str | None = "damaged"
) -> dict[str, Any]:
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": o["id"],
        "created_at": "2025-01-03T09:00:00-05:00",
        "note": note,
        "refund_line_items": [
            {
                "id": refund_id * 10 + n,
                "line_item_id": o["line_items"][i]["id"],
                "quantity": q,
                "restock_type": kind,
                "location_id": 487838322,
                "subtotal": 195.66,
            }
            for n, (i, q, kind) in enumerate(items)
        ],
        "transactions": [],
    }


def fulfillment(
    o: dict[str, Any], items: list[tuple[int, int]], status: str = "success", fid: int = 55
) -> dict[str, Any]:
    return {
        "id": fid,
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fid}",
        "created_at": "2025-01-02T12:00:00-05:00",
        "location_id": 487838322,
        "status": status,
        "tracking_company": "USPS",
        "tracking_number": f"1Z{fid}",
        "tracking_url": f"https://usps.example/{fid}",
        "line_items": [{**o["line_items"][i], "quantity": q} for i, q in items],
    }


def test_fulfilments_are_shipments_with_tracking_refunds_with_restock_are_returns() -> None:
    o = rich()
    o["fulfillments"] = [
        fulfillment(o, [(0, 2), (1, 1)]),
        fulfillment(o, [(0, 1)], status="failure", fid=56),  # nothing left the warehouse
    ]
    o["refunds"] = [
        refund(o, [(0, 1, "return")]),
        refund(o, [(1, 1, "no_restock")], refund_id=78),  # money only
    ]
    out = canonical(o)
    assert out["shipments"] == [
        {
            "shipment_id": "55",
            "status": "shipped",
            "lines": [{"sku": "IPOD2008GREEN", "quantity": "2"}, {"sku": "IPOD2008RED", "quantity": "1"}],
            "tracking_number": "1Z55",
            "tracking_url": "https://usps.example/55",
            "tracking_company": "USPS",
            "shipped_at": "2025-01-02T17:00:00Z",
        }
    ]
    assert out["returns"] == [
        {"return_id": "77", "lines": [{"sku": "IPOD2008GREEN", "quantity": "1"}], "notes": "damaged"}
    ]
    assert [x["quantity"] for x in out["lines"]] == ["2", "1"]  # a return does not change what was sold
    assert canonical(o, graphql=True) == out
    o["fulfillments"][0]["status"] = "open"
    assert canonical(o)["shipments"][0]["status"] == "packed"


def test_units_refunded_before_they_shipped_leave_the_line_with_their_discount_share() -> None:
    o = rich()
    o["refunds"] = [refund(o, [(0, 1, "cancel")])]
    out = canonical(o)
    assert [x["quantity"] for x in out["lines"]] == ["1", "1"]
    # 6.67 of TENOFF on the two green units: one left with 3.34 (as Shopify counts it), 3.33 stays
    assert out["discount_lines"] == [{"label": "Discount TENOFF", "amount": "6.66", "tax_rate": "6"}]
    legacy = rich()
    legacy["fulfillments"] = [fulfillment(legacy, [(0, 1)])]
    legacy["refunds"] = [refund(legacy, [(0, 2, "legacy_restock")])]  # one shipped unit back, one never sent
    out = canonical(legacy)
    assert out["lines"][0]["quantity"] == "1"
    assert out["returns"] == [
        {"return_id": "77", "lines": [{"sku": "IPOD2008GREEN", "quantity": "1"}], "notes": "damaged"}
    ]
    assert canonical(legacy, graphql=True) == out


def test_customers_b2b_companies_and_guests() -> None:
    b2b = rich(company={"id": 9, "location_id": 3})
    b2b["billing_address"]["company"] = "Norman Supplies Ltd"
    customer = canonical(b2b)["customer"]
    assert customer == {
        "name": "Norman Supplies Ltd",
        "type": "business",
        "email": "bob.norman@mail.example.com",
        "phone_number": "+16136120707",
    }
    assert canonical(b2b, graphql=True)["customer"] == customer
    guest = rich(customer=None, email="guest@example.com", phone=None)
    assert canonical(guest)["customer"] == {
        "name": "Bob Norman",
        "type": "consumer",
        "email": "guest@example.com",
        "phone_number": "+1(502)-459-2181",
    }
    nobody = rich(customer=None, email="", contact_email=None, billing_address=None, shipping_address=None)
    with pytest.raises(ShopifyShapeError) as raised:
        canonical(nobody)
    assert raised.value.path == "customer"


def test_addresses_fall_back_and_must_have_a_street() -> None:
    only_billing = rich(shipping_address=None)
    out = canonical(only_billing)
    assert out["shipping_address"]["address1"] == "Chestnut Street 92" and "billing_address" not in out
    none = rich(shipping_address=None, billing_address=None)
    with pytest.raises(ShopifyShapeError, match="no shipping or billing address"):
        canonical(none)
    blank = rich()
    blank["shipping_address"]["address1"] = "  "
    with pytest.raises(ShopifyShapeError) as raised:
        canonical(blank)
    assert raised.value.path == "shipping_address.address1"


def test_updated_at_orders_states_of_one_second_by_progress() -> None:
    placed = from_rest(rich(financial_status="pending"))
    paid = from_rest(rich(financial_status="paid"))
    o = rich()
    o["fulfillments"] = [fulfillment(o, [(0, 2), (1, 1)])]
    shipped = from_rest(o)
    stamps = [canonical_updated_at(x) for x in (placed, paid, shipped)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert stamps[0] == "2008-01-10T16:00:00.000000Z"  # Shopify's second, in UTC


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda o: o["line_items"][1].update(quantity="2"), "line_items[1].quantity"),
        (
            lambda o: o["line_items"][1]["price_set"]["shop_money"].update(amount="1e400"),
            "line_items[1].price_set.shop_money.amount",
        ),
        (lambda o: o["line_items"][0]["tax_lines"][0].update(rate=True), "line_items[0].tax_lines[0].rate"),
        (lambda o: o.pop("updated_at"), "updated_at"),
        (lambda o: o.update(updated_at="yesterday"), "updated_at"),
        (lambda o: o.update(line_items="many"), "line_items"),
        (lambda o: o.update(tags=["a"]), "tags"),
        (lambda o: o.update(id=-4), "id"),
        (
            lambda o: o["fulfillments"].append({"id": 1, "line_items": [{"id": "x", "quantity": 1}]}),
            "fulfillments[0].line_items[0].id",
        ),
    ],
)
def test_a_payload_of_an_unexpected_shape_names_the_shopify_field(change: Any, path: str) -> None:
    o = rich()
    change(o)
    with pytest.raises(ShopifyShapeError) as raised:
        canonical(o)
    assert raised.value.path == path


def test_graphql_shape_errors_name_the_graphql_field() -> None:
    node = to_graphql(rich())
    node["lineItems"]["nodes"][1]["originalUnitPriceSet"]["shopMoney"]["amount"] = "abc"
    with pytest.raises(ShopifyShapeError) as raised:
        from_graphql(node, "order")
    assert raised.value.path == "order.lineItems.nodes[1].originalUnitPriceSet.shopMoney.amount"


def test_the_channel_file_takes_kind_shopify() -> None:
    text = """
channels:
  - name: webstore
  - name: shop
    kind: shopify
    shop: Acme.myshopify.com
    access_token_env: ACME_TOKEN
    app_secret_env: ACME_SECRET
    use_presentment_currency: true
    locations:
      12345: Primary Location
      gid://shopify/Location/678: 2
"""
    webstore, shop = parse_channels(yaml.safe_load(text))
    assert webstore.kind == "feed" and webstore.shopify is None
    assert shop.kind == "shopify" and shop.shopify is not None
    assert shop.shopify.shop == "acme.myshopify.com" and shop.shopify.api_version == "2026-10"
    assert shop.shopify.use_presentment_currency is True
    assert shop.locations == ("Primary Location", 2)  # the stock rule's locations, in the mapping's order
    assert shop.shopify.inventory_location(12345) == "Primary Location"
    assert shop.shopify.inventory_location("gid://shopify/Location/678") == 2

    def error(extra: str) -> str:
        with pytest.raises(ChannelConfigError) as raised:
            parse_channels(
                yaml.safe_load(text.replace("    use_presentment_currency: true\n", extra)), source="c.yaml"
            )
        return str(raised.value)

    assert "c.yaml, channel 'shop': field 'api_version'" in error("    api_version: 2026-11\n")
    assert "field 'access_token_env' must be the NAME" in error(
        "    access_token_env: shpat_123abc-secret\n".replace("access_token_env: ACME_TOKEN\n", "")
    )
    assert "field 'kind' must be one of feed, shopify" in error(
        "    kind: woo\n".replace("kind: shopify", "")
    )
    bad_key = text.replace("12345: Primary Location", "abc: Primary Location")
    with pytest.raises(ChannelConfigError, match="key 'abc' is not a Shopify location id"):
        parse_channels(yaml.safe_load(bad_key))
    misplaced = "channels:\n  - name: web\n    shop: acme.myshopify.com\n"
    with pytest.raises(ChannelConfigError, match="field 'shop' is only for channels of kind: shopify"):
        parse_channels(yaml.safe_load(misplaced))


def test_the_sandbox_orders_read_by_webhook_shape_and_by_graphql_agree(
    shopify_factory: ShopifyFactory,
) -> None:
    handle = shopify_factory(scale=300, bucket_size=20_000, restore_rate=5_000)
    dumped = {
        str(o["id"]): o
        for o in inbox.loads(httpx.get(f"{handle.url}/_sandbox/dump/orders").content)["orders"]
    }
    options = MappingOptions("shop", shop=handle.shop_domain, shop_timezone=NY)
    compared = 0
    kinds: set[str] = set()
    with ShopifyClient(handle.shop_domain, handle.token, base_url=handle.url) as client:
        for node in client.paginate(queries.ORDERS_PAGE, {"first": 3}, path=("orders",)):
            order_id = node["legacyResourceId"]
            rest_order = dumped[order_id]
            try:
                expected = to_canonical(from_rest(rest_order), options).order
            except ShopifyShapeError as exc:
                with pytest.raises(ShopifyShapeError, match=exc.problem[:20]):
                    to_canonical(from_graphql(node), options)
                continue
            assert to_canonical(from_graphql(node), options).order == expected, order_id
            parse_order(expected)
            compared += 1
            kinds |= {k for k in ("shipments", "returns", "fee_lines", "discount_lines") if k in expected}
            kinds |= {"cancelled"} if expected["cancelled"] else set()
            kinds |= {expected["tax_treatment"], expected["customer"]["type"]}
    assert compared >= 25
    assert kinds >= {
        "shipments",
        "returns",
        "fee_lines",
        "discount_lines",
        "cancelled",
        "inclusive",
        "exclusive",
        "business",
    }


def test_numbers_stay_exact_through_the_inbox() -> None:
    text = order_fixture_path().read_text()
    order = from_rest(inbox.loads(text))
    assert order.line_items[0].tax_lines[0].rate == Decimal("0.06")
    assert isinstance(order.id, str) and order.id == "450789469"
