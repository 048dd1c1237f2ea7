"""The published JSON Schema and `parse_order` agree: on hand-picked bodies the two used to disagree
on, and on several hundred generated mutations of valid orders (wrong types, blanks, padded strings,
exponents, huge numbers, missing and extra fields, boundary lengths). Every refusal names a field the
schema itself finds wrong."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.model import OrderInvalid, parse_order
from gecko_pipeline.orders.schema import error_paths, validator

Path = tuple[str | int, ...]


def valid_orders() -> list[dict[str, Any]]:
    full: dict[str, Any] = {
        "channel": "webstore",
        "channel_order_id": "1001",
        "order_name": "#1001",
        "placed_at": "2026-11-27T07:00:00Z",
        "updated_at": "2026-11-27T08:00:00.123+13:00",
        "currency": "NZD",
        "source_url": "https://shop.example.com/orders/1001",
        "customer": {
            "name": "Ava Tan",
            "email": "ava@example.com",
            "phone_number": "+64 21 555",
            "type": "business",
            "company_code": "AVA-1",
        },
        "shipping_address": {
            "first_name": "Ava",
            "last_name": "Tan",
            "address1": "65 Tennyson St",
            "city": "Auckland",
            "country": "New Zealand",
            "country_code": "NZ",
        },
        "billing_address": {"address1": "1 Queen St", "country_code": "nz"},
        "lines": [
            {"line_id": 1, "sku": "A-1", "title": "Peach", "quantity": "2", "unit_price": "9.95"},
            {
                "sku": "B-2",
                "quantity": 1,
                "unit_price": Decimal("24.1"),
                "discount_percent": "10",
                "tax_rate": "15",
            },
        ],
        "shipping_lines": [{"label": "Courier", "amount": "7.95", "tax_rate": "15"}],
        "fee_lines": [{"label": "Gift wrap", "amount": "2"}],
        "discount_lines": [{"label": "WELCOME", "amount": "5"}],
        "notes": "Leave at the door",
        "tags": ["vip"],
        "financial_status": "paid",
        "cancelled": False,
        "shipments": [
            {
                "shipment_id": "s1",
                "status": "shipped",
                "lines": [{"sku": "A-1", "quantity": "1"}],
                "tracking_number": "T1",
                "shipped_at": "2026-11-28",
            }
        ],
        "returns": [{"return_id": 7, "lines": [{"sku": "A-1", "quantity": "1"}], "notes": "too big"}],
    }
    minimal: dict[str, Any] = {
        "channel": "marketplace",
        "channel_order_id": 555,
        "placed_at": "2026-11-27",
        "currency": "usd",
        "customer": {"email": "bo@example.org"},
        "shipping_address": {"address1": "9 Rue X"},
        "lines": [{"sku": "C-3", "quantity": "0.5", "unit_price": "-1.25"}],
    }
    return [full, minimal]


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every position in the order (objects and lists included), with its value."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, (*path, index))


def replaced(order: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    copy_ = copy.deepcopy(order)
    parent: Any = copy_
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return copy_


def removed(order: dict[str, Any], path: Path) -> dict[str, Any]:
    copy_ = copy.deepcopy(order)
    parent: Any = copy_
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return copy_


NUMBERS_AND_TEXT = [
    "",
    "   ",
    "x",
    "0",
    "-0",
    "-1",
    "0.0",
    "1",
    "2",
    "007",
    "1.",
    ".5",
    "1e3",
    "1E+2",
    "-1e-3",
    " 2 ",
    "2\n",
    "12.5000001",
    "100",
    "100.0",
    "100.5",
    "999999999999",
    "999999999999.999",
    "9" * 13,
    "1,5",
    "NaN",
    "Infinity",
    0,
    1,
    -1,
    5,
    2**40,
    10**12,
    10**13,
    -(10**13),
    True,
    False,
    None,
    [],
    {},
    Decimal("0.5"),
    Decimal("-0.0"),
    Decimal("1E+2"),
    Decimal("1E+400"),
    Decimal("1E-7"),
    Decimal("999999999999.9"),
    Decimal("1000000000000"),
    9.95,
]
SPECIAL_TEXT = [
    "USD",
    "usd",
    "Usd",
    " USD ",
    "XXX",
    "XTS",
    "ZZZ",
    "EUR",
    "eur",
    "2026-11-27T07:00:00Z",
    "2026-11-27T07:00:00",
    "2026-11-27t07:00:00z",
    "2026-11-27 07:00:00Z",
    "2026-02-29",
    "2028-02-29",
    "2026-11-27T24:00:00Z",
    "20261127",
    "2026-11-27T07:00:00.5-03:30",
    "a@b",
    "@b",
    "a@",
    "a b@c",
    "a@b@c",
    " a@b.c ",
    "NZ",
    "nz",
    "N",
    "NZL",
    " NZ",
    "webstore",
    "Web Store",
    "web-store_2",
    "-web",
    "packed",
    "shipped",
    "Shipped",
    "consumer",
    "business",
    "Business",
    "pending",
    "paid",
    "refunded",
    "🦎-１００１",
    "a,b",
    "tab\there",
    "bell\u0007",
    " padded",
    "padded ",
    "x" * 128,
    "x" * 129,
    "y" * 255,
    "y" * 256,
    "line\nbreak",
]
EXTRA_FIELDS = [("x_custom", 1), ("x_note", "hi"), ("x_nested", {"a": [1, 2]})]


def mutations() -> Iterator[tuple[str, dict[str, Any]]]:
    for base_index, base in enumerate(valid_orders()):
        for path, value in list(leaves(base)):
            where = f"#{base_index} {'/'.join(map(str, path)) or '(root)'}"
            if path:
                yield f"{where} removed", removed(base, path)
            if isinstance(value, dict):
                for name, extra in EXTRA_FIELDS:
                    yield (
                        f"{where} +{name}",
                        replaced(base, (*path, name), extra) if path else {**base, name: extra},
                    )
                continue
            if not path:
                continue
            for candidate in [*NUMBERS_AND_TEXT, *SPECIAL_TEXT]:
                yield f"{where} = {candidate!r:.30}", replaced(base, path, candidate)
            if isinstance(value, str):
                yield f"{where} padded", replaced(base, path, f" {value} ")


def sample() -> list[tuple[str, dict[str, Any]]]:
    every = list(mutations())
    return random.Random(20261130).sample(every, 900)


def schema_accepts(payload: Any) -> bool:
    return validator().is_valid(payload)


def test_generated_mutations_are_accepted_by_the_schema_exactly_when_by_parse_order() -> None:
    accepted = refused = by_other_rules = 0
    for name, payload in sample():
        expected = schema_accepts(payload)
        try:
            parse_order(payload)
        except OrderInvalid as exc:
            if exc.rule != "schema":  # rules a schema cannot express: only on orders the schema takes
                assert expected, f"{name}: refused by rule {exc.rule}, but the schema refuses it too"
                by_other_rules += 1
                continue
            assert not expected, f"{name}: the schema accepts it, parse_order says {exc}"
            assert exc.field in error_paths(payload), f"{name}: {exc.field} is not a field the schema names"
            assert exc.field in str(exc) and "order " in str(exc)
            refused += 1
        else:
            assert expected, f"{name}: parse_order accepts it, the schema refuses {error_paths(payload)}"
            accepted += 1
    # The generator is worth something only if it produces plenty of both outcomes.
    assert accepted >= 150 and refused >= 300, (accepted, refused, by_other_rules)


def test_the_intake_round_trip_keeps_the_verdict() -> None:
    """What a channel sends (JSON numbers included) is stored as inbox text; the stored copy is judged
    as the body was: numbers stay numbers (1.5e2 valid, 1e400 too big), text stays text."""
    for name, payload in sample()[:300]:
        try:
            text = inbox.dumps(payload)
        except TypeError:
            continue
        stored = inbox.loads(text)
        assert schema_accepts(stored) == schema_accepts(payload), name


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"notes": 5}, "notes"),  # numbers for text fields
        ({"customer": {"name": 42}}, "customer.name"),
        ({"lines": [{"sku": 7, "quantity": "1", "unit_price": "1"}]}, "lines[0].sku"),
        ({"lines": [{"sku": "A", "quantity": " 2 ", "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": "1e30", "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": Decimal("1E+400"), "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": "1", "unit_price": "1e30"}]}, "lines[0].unit_price"),
        ({"shipping_lines": [{"amount": "1e30"}]}, "shipping_lines[0].amount"),
        ({"currency": " USD "}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"channel": None}, "channel"),
        ({"customer": {"type": "Business", "name": "B"}}, "customer.type"),
        ({"placed_at": "2026-11-27T07:00:00"}, "placed_at"),  # no time zone: ambiguous
    ],
)
def test_bodies_the_schema_refuses_are_refused(change: dict[str, Any], field: str) -> None:
    payload = {**valid_orders()[1], **change}
    assert not schema_accepts(payload)
    with pytest.raises(OrderInvalid) as caught:
        parse_order(payload)
    assert caught.value.field == field and caught.value.rule == "schema"


def test_a_missing_channel_is_refused_unless_the_intake_url_names_it() -> None:
    payload = valid_orders()[1]
    del payload["channel"]
    assert not schema_accepts(payload)
    with pytest.raises(OrderInvalid, match="field channel: is missing"):
        parse_order(payload)
    assert parse_order(payload, default_channel="marketplace").channel == "marketplace"


@pytest.mark.parametrize(
    "change",
    [
        {"shipping_address": {"address1": "9 Rue X", "country": "France"}},  # no country_code
        {"shipping_address": {"address1": "9 Rue X"}},  # no country at all: the API needs none
        {"lines": [{"sku": "C-3", "quantity": "1", "unit_price": "-3.50"}]},  # a credit line
        {"shipping_lines": [{"label": "Refund of shipping", "amount": "-7.95"}]},
        {"customer": {"email": "first.last+tag@sub.example.co.nz"}},
        {"customer": {"name": "Bo", "email": ""}},
        {"currency": "eur"},
        {"channel_order_id": "🦎-１００１"},
        {"lines": [{"sku": "C-3", "quantity": 1.5, "unit_price": 10}]},
    ],
)
def test_bodies_the_schema_accepts_are_accepted(change: dict[str, Any]) -> None:
    payload = {**valid_orders()[1], **change}
    assert schema_accepts(payload), error_paths(payload)
    order = parse_order(payload)
    assert order.lines and all(isinstance(x.unit_price, Decimal) for x in order.lines)


def test_numbers_become_exact_decimals_in_plain_notation() -> None:
    payload = {
        **valid_orders()[1],
        "lines": [{"sku": "C", "quantity": Decimal("1.5E+2"), "unit_price": 9.95}],
    }
    (line,) = parse_order(payload).lines
    assert (line.quantity, line.unit_price) == (Decimal(150), Decimal("9.95"))
    assert format(line.quantity, "f") == "150"
    stored = inbox.dumps({"q": Decimal("1E-7"), "r": Decimal("1.5E+2"), "s": Decimal("9.95")})
    assert stored == '{"q":1E-7,"r":1.5E+2,"s":9.95}'  # numbers stay numbers, with their own text
    assert inbox.loads(stored) == {"q": Decimal("1E-7"), "r": Decimal(150), "s": Decimal("9.95")}
