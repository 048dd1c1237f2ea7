"""The canonical channel order: parsing into Decimals, and errors that name the order and the field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from gecko_pipeline.orders.follow_ups import planned_actions
from gecko_pipeline.orders.model import OrderInvalid, load_schema, parse_order

CHANNELS = {"webstore", "marketplace"}


def good_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "channel": "webstore",
        "channel_order_id": "1001",
        "placed_at": "2026-11-27T07:00:00Z",
        "currency": "NZD",
        "customer": {"name": "Ava Tan", "email": "Ava@Example.com"},
        "shipping_address": {"address1": "65 Tennyson St", "city": "Auckland", "country_code": "NZ"},
        "lines": [
            {"sku": "A-1", "quantity": "2", "unit_price": "9.95"},
            {"sku": "B-2", "quantity": 1, "unit_price": 24.1, "discount_percent": "10"},
        ],
        "shipping_lines": [{"label": "DHL", "amount": "7.50"}],
        "financial_status": "paid",
    }
    order.update(changes)
    return order


def test_a_good_order_parses_with_exact_decimals() -> None:
    order = parse_order(good_order(), known_channels=CHANNELS)
    assert order.key == "webstore:1001"
    assert order.lines[0].unit_price == Decimal("9.95")
    assert order.lines[1].unit_price == Decimal("24.1")  # a JSON number read through its text
    assert order.lines[1].quantity == Decimal("1")
    assert order.customer.email == "ava@example.com" and order.customer.type == "consumer"
    assert order.billing_address == order.shipping_address
    assert [(x.kind, x.amount) for x in order.extra_lines] == [("shipping", Decimal("7.50"))]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "nowhere"}, "channel"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "A-1", "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A-1", "quantity": "0", "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A-1", "quantity": "-2", "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A-1", "quantity": "two", "unit_price": "1"}]}, "lines[0].quantity"),
        ({"currency": "DOLLARS"}, "currency"),
        ({"currency": "N1"}, "currency"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"placed_at": "2026-13-45"}, "placed_at"),
        ({"customer": {}}, "customer"),
        ({"shipping_address": {"city": "Auckland", "country": "NZ"}}, "shipping_address.address1"),
        ({"financial_status": "maybe"}, "financial_status"),
        (
            {"shipments": [{"shipment_id": "s1", "lines": [{"sku": "ZZZ", "quantity": "1"}]}]},
            "shipments[0].lines[0].sku",
        ),
        ({"returns": [{"return_id": "r1", "lines": [{"sku": "A-1", "quantity": "3"}]}]}, "returns"),
    ],
)
def test_bad_orders_name_the_order_and_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(OrderInvalid) as caught:
        parse_order(good_order(**change), known_channels=CHANNELS)
    assert caught.value.field == field
    assert field in str(caught.value)
    expected_ref = "webstore:1001" if field != "channel" else "nowhere:1001"
    assert caught.value.order_ref == expected_ref


def test_an_order_without_an_id_is_named_by_its_inbox_row() -> None:
    payload = good_order()
    del payload["channel_order_id"]
    with pytest.raises(OrderInvalid) as caught:
        parse_order(payload, known_channels=CHANNELS, fallback_ref="inbox #7")
    assert str(caught.value) == "order inbox #7: field channel_order_id: is missing"


def test_the_intake_channel_fills_in_and_must_agree() -> None:
    payload = good_order()
    del payload["channel"]
    assert (
        parse_order(payload, known_channels=CHANNELS, default_channel="marketplace").channel == "marketplace"
    )
    with pytest.raises(OrderInvalid, match="field channel"):
        parse_order(good_order(), known_channels=CHANNELS, default_channel="marketplace")


def test_follow_ups_follow_the_channel_state() -> None:
    shipped = good_order(
        shipments=[
            {
                "shipment_id": "s1",
                "tracking_number": "T1",
                "lines": [{"sku": "A-1", "quantity": "2"}, {"sku": "B-2", "quantity": "1"}],
            }
        ]
    )
    assert [a.key for a in planned_actions(parse_order(shipped))] == ["pay", "fulfil"]
    packed = copy.deepcopy(shipped)
    packed["shipments"][0]["status"] = "packed"
    assert [a.key for a in planned_actions(parse_order(packed))] == ["pay", "pack"]
    partial = copy.deepcopy(shipped)
    partial["shipments"][0]["lines"] = [{"sku": "A-1", "quantity": "1"}]
    assert [a.key for a in planned_actions(parse_order(partial))] == ["pay", "ship:s1"]
    assert [a.key for a in planned_actions(parse_order(good_order(financial_status="pending")))] == [
        "invoice"
    ]
    assert [a.key for a in planned_actions(parse_order(good_order(cancelled=True)))] == ["void"]
    returned = copy.deepcopy(shipped)
    returned["returns"] = [{"return_id": "r1", "lines": [{"sku": "B-2", "quantity": "1"}]}]
    assert [a.key for a in planned_actions(parse_order(returned))] == ["pay", "fulfil", "return:r1"]


def test_the_json_schema_documents_every_field_the_parser_reads() -> None:
    schema = load_schema()
    json.dumps(schema)
    assert set(schema["required"]) == {
        "channel",
        "channel_order_id",
        "placed_at",
        "currency",
        "customer",
        "shipping_address",
        "lines",
    }
    documented = set(schema["properties"])
    assert set(good_order()) <= documented
    assert {
        "shipments",
        "returns",
        "cancelled",
        "notes",
        "tags",
        "fee_lines",
        "discount_lines",
        "updated_at",
        "billing_address",
    } <= documented
