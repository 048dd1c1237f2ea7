"""One Shopify order, whichever way it came: the REST shape of webhook bodies (`orders/*`, snake_case,
numeric ids, `*_set.shop_money.amount`) or the GraphQL node shape of the backfill (camelCase, GIDs,
`*Set.shopMoney.amount`), read into the same frozen dataclasses. Pure: no I/O, no clock.

Every value is read through a path-tracking reader, so a payload of an unexpected shape fails with
`ShopifyShapeError` naming the Shopify field path (`line_items[2].price_set.shop_money.amount`), and each
dataclass keeps the path it came from, so the mapping can name it too. Money and rates are `Decimal`
from the JSON text (a JSON number such as REST's `tax_lines[].rate` `0.06` is read through its text,
never through a binary float); ids are kept as text (numeric ids, GIDs' numbers), never as floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/([0-9]{1,20})(?:\?.*)?$")
_NUMERIC_ID = re.compile(r"^[0-9]{1,20}$")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
_AMOUNT = re.compile(r"^-?[0-9]{1,15}(?:\.[0-9]{1,12})?$")


class ShopifyShapeError(ValueError):
    """A Shopify payload that does not have the shape of an order (or a refund): names the field path."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path or "(body)"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class Money:
    """A MoneyBag: the amount in the shop's currency and in the customer's (presentment) currency."""

    shop: Decimal
    presentment: Decimal | None
    shop_path: str
    presentment_path: str

    def pick(self, presentment: bool) -> tuple[Decimal, str]:
        """(amount, its Shopify path) in the chosen currency."""
        if not presentment:
            return self.shop, self.shop_path
        if self.presentment is None:
            raise ShopifyShapeError(self.presentment_path, "missing (the channel uses presentment money)")
        return self.presentment, self.presentment_path


@dataclass(frozen=True)
class TaxLine:
    title: str | None
    rate: Decimal  # a fraction: 0.0625 is 6.25 %
    price: Money
    path: str


@dataclass(frozen=True)
class Allocation:
    """A share of a discount application on one line (or shipping line)."""

    amount: Money
    application_index: int
    path: str


@dataclass(frozen=True)
class DiscountApplication:
    index: int
    code: str | None  # a discount code's code; automatic and manual discounts have a title
    title: str | None
    path: str

    @property
    def label(self) -> str:
        if self.code:
            return f"Discount {self.code}"
        return self.title or "Discount"


@dataclass(frozen=True)
class LineItem:
    id: str  # the numeric id, as text
    sku: str | None
    name: str
    quantity: int
    unit_price: Money
    gift_card: bool
    taxable: bool
    tax_lines: tuple[TaxLine, ...]
    allocations: tuple[Allocation, ...]
    path: str


@dataclass(frozen=True)
class ShippingLine:
    title: str
    price: Money
    tax_lines: tuple[TaxLine, ...]
    allocations: tuple[Allocation, ...]
    path: str


@dataclass(frozen=True)
class FulfillmentLine:
    line_item_id: str
    quantity: int
    path: str


@dataclass(frozen=True)
class Fulfillment:
    id: str
    status: str  # lower case: success | open | pending | cancelled | error | failure
    created_at: datetime | None
    tracking_number: str | None
    tracking_url: str | None
    tracking_company: str | None
    location_id: str | None  # numeric id as text
    lines: tuple[FulfillmentLine, ...]
    path: str


@dataclass(frozen=True)
class RefundLine:
    line_item_id: str
    quantity: int
    restock_type: str  # lower case: return | cancel | no_restock | legacy_restock
    location_id: str | None
    path: str


@dataclass(frozen=True)
class Refund:
    id: str
    order_id: str | None
    created_at: datetime | None
    note: str | None
    lines: tuple[RefundLine, ...]
    path: str


@dataclass(frozen=True)
class Address:
    first_name: str | None
    last_name: str | None
    company: str | None
    address1: str | None
    address2: str | None
    city: str | None
    province: str | None
    zip: str | None
    country: str | None
    country_code: str | None
    phone: str | None
    path: str

    @property
    def name(self) -> str | None:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None


@dataclass(frozen=True)
class Customer:
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    path: str

    @property
    def name(self) -> str | None:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None


@dataclass(frozen=True)
class ShopifyOrder:
    """A Shopify order read from either shape; `shape` says which (`rest` or `graphql`)."""

    id: str  # the numeric order id, as text: the channel_order_id
    gid: str
    name: str | None
    created_at: datetime
    processed_at: datetime | None
    updated_at: datetime
    cancelled_at: datetime | None
    email: str | None
    phone: str | None
    note: str | None
    tags: tuple[str, ...]
    currency: str
    presentment_currency: str | None
    taxes_included: bool
    tax_exempt: bool
    financial_status: str | None  # lower case REST form: pending | authorized | ... | voided
    business: bool  # a B2B order (a company is the buyer)
    customer: Customer | None
    shipping_address: Address | None
    billing_address: Address | None
    discount_applications: tuple[DiscountApplication, ...]
    line_items: tuple[LineItem, ...]
    shipping_lines: tuple[ShippingLine, ...]
    fulfillments: tuple[Fulfillment, ...]
    refunds: tuple[Refund, ...]
    shape: str
    paths: Mapping[str, str]  # field role -> Shopify path (updated_at, currency, ...)


# --- the path-tracking reader -----------------------------------------------------------------------


class _R:
    """A JSON object at a path; every accessor names the path when the value is not what it must be."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise ShopifyShapeError(path, f"must be a JSON object (got {_kind(value)})")
        self.value = value
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> Any:
        return self.value.get(key)

    def obj(self, key: str) -> _R:
        return _R(self.value.get(key), self.at(key))

    def maybe_obj(self, key: str) -> _R | None:
        value = self.value.get(key)
        return None if value is None else _R(value, self.at(key))

    def items(self, key: str, *, required: bool = False) -> list[_R]:
        value = self.value.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise ShopifyShapeError(self.at(key), f"must be a list (got {_kind(value)})")
        return [_R(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]

    def nodes(self, key: str) -> list[_R]:
        """A GraphQL connection's nodes (`nodes` or `edges { node }`); a plain list is taken as it is."""
        value = self.value.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return self.items(key)
        connection = self.obj(key)
        if connection.raw("nodes") is not None:
            return connection.items("nodes")
        return [edge.obj("node") for edge in connection.items("edges")]

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.value.get(key)
        if value is None or value == "":
            if required:
                raise ShopifyShapeError(self.at(key), "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ShopifyShapeError(self.at(key), f"must be text (got {_kind(value)})")
        return str(value).strip() or None

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.value.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ShopifyShapeError(self.at(key), f"must be true or false (got {_kind(value)})")
        return value

    def count(self, key: str, *, minimum: int = 0) -> int:
        value = self.value.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, Decimal) and value == value.to_integral_value():
                value = int(value)
            else:
                raise ShopifyShapeError(self.at(key), f"must be a whole number (got {_kind(value)})")
        if value < minimum:
            raise ShopifyShapeError(self.at(key), f"must be at least {minimum} (got {value})")
        return value

    def decimal(self, key: str) -> Decimal:
        value = self.value.get(key)
        return _decimal(value, self.at(key))

    def when(self, key: str, *, required: bool = False) -> datetime | None:
        value = self.value.get(key)
        if value is None:
            if required:
                raise ShopifyShapeError(self.at(key), "is missing")
            return None
        if not isinstance(value, str) or not _TIMESTAMP.match(value):
            raise ShopifyShapeError(
                self.at(key), f"must be an ISO 8601 time with a zone (got {_short(value)})"
            )
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ShopifyShapeError(self.at(key), f"is not a valid time ({_short(value)})") from None

    def ident(self, key: str, kind: str, *, required: bool = True) -> str | None:
        """A numeric id (REST) or a GID (GraphQL) of `kind`, as the number's text."""
        value = self.value.get(key)
        if value is None:
            if required:
                raise ShopifyShapeError(self.at(key), "is missing")
            return None
        found = numeric_id(value, kind)
        if found is None:
            raise ShopifyShapeError(self.at(key), f"is not a Shopify {kind} id (got {_short(value)})")
        return found


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _decimal(value: Any, path: str) -> Decimal:
    """An exact decimal from a JSON string or number (a float is read through its shortest text)."""
    if isinstance(value, bool) or value is None:
        raise ShopifyShapeError(path, f"must be a decimal amount (got {_kind(value)})")
    if isinstance(value, Decimal | int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ShopifyShapeError(path, f"must be a decimal amount (got {_kind(value)})")
    if not _AMOUNT.match(text):
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or abs(number) >= Decimal(10) ** 15:
            raise ShopifyShapeError(path, f"must be a decimal amount (got {_short(value)})")
        return number
    return Decimal(text)


def numeric_id(value: Any, kind: str | None = None) -> str | None:
    """The number of a Shopify id given as a number, numeric text or a GID (of `kind` when given)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str):
        if _NUMERIC_ID.match(value):
            return str(int(value))
        match = _GID.match(value)
        if match and (kind is None or match.group(1) == kind):
            return str(int(match.group(2)))
    return None


# An address's fields: (Address field, REST key, GraphQL key), in the Address dataclass's order.
ADDRESS_KEYS = (
    ("first_name", "first_name", "firstName"),
    ("last_name", "last_name", "lastName"),
    ("company", "company", "company"),
    ("address1", "address1", "address1"),
    ("address2", "address2", "address2"),
    ("city", "city", "city"),
    ("province", "province", "province"),
    ("zip", "zip", "zip"),
    ("country", "country", "country"),
    ("country_code", "country_code", "countryCodeV2"),
    ("phone", "phone", "phone"),
)
REST, GRAPHQL = 1, 2  # the column of ADDRESS_KEYS each shape uses


def _address(obj: _R, key: str, shape: int) -> Address | None:
    a = obj.maybe_obj(key)
    if a is None:
        return None
    fields = {keys[0]: a.text(keys[shape]) for keys in ADDRESS_KEYS}
    return Address(**fields, path=a.path)


# --- REST (webhook bodies) ------------------------------------------------------------------------------


def _rest_money(obj: _R, set_key: str, plain_key: str | None) -> Money:
    """`<x>_set.shop_money.amount` / `.presentment_money.amount`; the plain `<x>` string as the shop
    amount when the set is absent (older payloads)."""
    shop_path = f"{obj.at(set_key)}.shop_money.amount"
    presentment_path = f"{obj.at(set_key)}.presentment_money.amount"
    money_set = obj.maybe_obj(set_key)
    if money_set is None:
        if plain_key is None or obj.raw(plain_key) is None:
            raise ShopifyShapeError(obj.at(set_key), "is missing")
        return Money(obj.decimal(plain_key), None, obj.at(plain_key), presentment_path)
    shop = money_set.obj("shop_money").decimal("amount")
    presentment_money = money_set.maybe_obj("presentment_money")
    presentment = None if presentment_money is None else presentment_money.decimal("amount")
    return Money(shop, presentment, shop_path, presentment_path)


def _rest_taxes(obj: _R) -> tuple[TaxLine, ...]:
    return tuple(
        TaxLine(t.text("title"), t.decimal("rate"), _rest_money(t, "price_set", "price"), t.path)
        for t in obj.items("tax_lines")
    )


def _rest_allocations(obj: _R) -> tuple[Allocation, ...]:
    return tuple(
        Allocation(_rest_money(a, "amount_set", "amount"), a.count("discount_application_index"), a.path)
        for a in obj.items("discount_allocations")
    )


def _rest_refund(r: _R) -> Refund:
    return Refund(
        id=r.ident("id", "Refund"),  # type: ignore[arg-type]
        order_id=r.ident("order_id", "Order", required=False),
        created_at=r.when("created_at"),
        note=r.text("note"),
        lines=tuple(
            RefundLine(
                line_item_id=rl.ident("line_item_id", "LineItem"),  # type: ignore[arg-type]
                quantity=rl.count("quantity", minimum=0),
                restock_type=(rl.text("restock_type") or "no_restock").lower(),
                location_id=rl.ident("location_id", "Location", required=False),
                path=rl.path,
            )
            for rl in r.items("refund_line_items")
        ),
        path=r.path,
    )


def from_rest_refund(payload: Any) -> Refund:
    """A `refunds/create` webhook body."""
    return _rest_refund(_R(payload, ""))


def from_rest(payload: Any) -> ShopifyOrder:
    """An `orders/*` webhook body (the REST Order, unwrapped)."""
    o = _R(payload, "")
    order_id = o.ident("id", "Order")
    applications = [
        DiscountApplication(index, app.text("code"), app.text("title") or app.text("description"), app.path)
        for index, app in enumerate(o.items("discount_applications"))
    ]
    lines = tuple(
        LineItem(
            id=li.ident("id", "LineItem"),  # type: ignore[arg-type]
            sku=li.text("sku"),
            name=li.text("name") or li.text("title") or "Item",
            quantity=li.count("quantity", minimum=1),
            unit_price=_rest_money(li, "price_set", "price"),
            gift_card=li.boolean("gift_card"),
            taxable=li.boolean("taxable", default=True),
            tax_lines=_rest_taxes(li),
            allocations=_rest_allocations(li),
            path=li.path,
        )
        for li in o.items("line_items", required=True)
    )
    shipping = tuple(
        ShippingLine(
            title=s.text("title") or s.text("code") or "Shipping",
            price=_rest_money(s, "price_set", "price"),
            tax_lines=_rest_taxes(s),
            allocations=_rest_allocations(s),
            path=s.path,
        )
        for s in o.items("shipping_lines")
    )
    fulfillments = []
    for f in o.items("fulfillments"):
        numbers = f.raw("tracking_numbers")
        urls = f.raw("tracking_urls")
        fulfillments.append(
            Fulfillment(
                id=f.ident("id", "Fulfillment"),  # type: ignore[arg-type]
                status=(f.text("status") or "success").lower(),
                created_at=f.when("created_at"),
                tracking_number=f.text("tracking_number") or _first_text(numbers),
                tracking_url=f.text("tracking_url") or _first_text(urls),
                tracking_company=f.text("tracking_company"),
                location_id=f.ident("location_id", "Location", required=False),
                lines=tuple(
                    FulfillmentLine(
                        fl.ident("id", "LineItem"),  # type: ignore[arg-type]
                        fl.count("quantity", minimum=0),
                        fl.path,
                    )
                    for fl in f.items("line_items")
                ),
                path=f.path,
            )
        )
    customer_obj = o.maybe_obj("customer")
    customer = None
    if customer_obj is not None:
        customer = Customer(
            customer_obj.text("email"),
            customer_obj.text("first_name"),
            customer_obj.text("last_name"),
            customer_obj.text("phone"),
            customer_obj.path,
        )
    tags = o.raw("tags")
    if tags is not None and not isinstance(tags, str):
        raise ShopifyShapeError("tags", f"must be comma-separated text (got {_kind(tags)})")
    return ShopifyOrder(
        id=order_id,  # type: ignore[arg-type]
        gid=f"gid://shopify/Order/{order_id}",
        name=o.text("name"),
        created_at=o.when("created_at", required=True),  # type: ignore[arg-type]
        processed_at=o.when("processed_at"),
        updated_at=o.when("updated_at", required=True),  # type: ignore[arg-type]
        cancelled_at=o.when("cancelled_at"),
        email=o.text("email") or o.text("contact_email"),
        phone=o.text("phone"),
        note=o.text("note"),
        tags=tuple(t.strip() for t in (tags or "").split(",") if t.strip()),
        currency=o.text("currency", required=True),  # type: ignore[arg-type]
        presentment_currency=o.text("presentment_currency"),
        taxes_included=o.boolean("taxes_included"),
        tax_exempt=o.boolean("tax_exempt"),
        financial_status=(o.text("financial_status") or "pending").lower(),
        business=o.raw("company") is not None,
        customer=customer,
        shipping_address=_address(o, "shipping_address", REST),
        billing_address=_address(o, "billing_address", REST),
        discount_applications=tuple(applications),
        line_items=lines,
        shipping_lines=shipping,
        fulfillments=tuple(fulfillments),
        refunds=tuple(_rest_refund(r) for r in o.items("refunds")),
        shape="rest",
        paths={
            "id": "id",
            "line_items": "line_items",
            "shipping_address": "shipping_address",
            "updated_at": "updated_at",
            "placed_at": "processed_at" if o.raw("processed_at") else "created_at",
            "currency": "currency",
            "presentment_currency": "presentment_currency",
            "customer": "customer",
            "email": "customer.email" if customer and customer.email else "email",
            "financial_status": "financial_status",
            "name": "name",
            "note": "note",
            "tags": "tags",
        },
    )


def _first_text(value: Any) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str) and value[0].strip():
        return value[0].strip()
    return None


# --- GraphQL (backfill nodes) ----------------------------------------------------------------------------


def _gql_money(obj: _R, key: str) -> Money:
    bag = obj.obj(key)
    shop = bag.obj("shopMoney").decimal("amount")
    presentment_money = bag.maybe_obj("presentmentMoney")
    presentment = None if presentment_money is None else presentment_money.decimal("amount")
    return Money(shop, presentment, f"{bag.path}.shopMoney.amount", f"{bag.path}.presentmentMoney.amount")


def _gql_taxes(obj: _R) -> tuple[TaxLine, ...]:
    return tuple(
        TaxLine(t.text("title"), t.decimal("rate"), _gql_money(t, "priceSet"), t.path)
        for t in obj.nodes("taxLines")
    )


def _gql_allocations(obj: _R) -> tuple[Allocation, ...]:
    return tuple(
        Allocation(_gql_money(a, "allocatedAmountSet"), a.obj("discountApplication").count("index"), a.path)
        for a in obj.items("discountAllocations")
    )


def from_graphql(node: Any, path: str = "") -> ShopifyOrder:
    """An `Order` node as `queries.ORDER` selects it (nested connections already completed)."""
    o = _R(node, path)
    order_id = o.ident("id", "Order")
    applications = tuple(
        DiscountApplication(app.count("index"), app.text("code"), app.text("title"), app.path)
        for app in o.nodes("discountApplications")
    )
    lines = tuple(
        LineItem(
            id=li.ident("id", "LineItem"),  # type: ignore[arg-type]
            sku=li.text("sku"),
            name=li.text("name") or li.text("title") or "Item",
            quantity=li.count("quantity", minimum=1),
            unit_price=_gql_money(li, "originalUnitPriceSet"),
            gift_card=li.boolean("isGiftCard"),
            taxable=li.boolean("taxable", default=True),
            tax_lines=_gql_taxes(li),
            allocations=_gql_allocations(li),
            path=li.path,
        )
        for li in o.nodes("lineItems")
    )
    if not lines and o.raw("lineItems") is None:
        raise ShopifyShapeError(o.at("lineItems"), "is missing")
    shipping = tuple(
        ShippingLine(
            title=s.text("title") or s.text("code") or "Shipping",
            price=_gql_money(s, "originalPriceSet"),
            tax_lines=_gql_taxes(s),
            allocations=_gql_allocations(s),
            path=s.path,
        )
        for s in o.nodes("shippingLines")
    )
    fulfillments = []
    for f in o.items("fulfillments"):
        tracking = f.items("trackingInfo")
        first = tracking[0] if tracking else None
        location = f.maybe_obj("location")
        fulfillments.append(
            Fulfillment(
                id=f.ident("id", "Fulfillment"),  # type: ignore[arg-type]
                status=(f.text("status") or "success").lower(),
                created_at=f.when("createdAt"),
                tracking_number=first.text("number") if first else None,
                tracking_url=first.text("url") if first else None,
                tracking_company=first.text("company") if first else None,
                location_id=location.ident("id", "Location", required=False) if location else None,
                lines=tuple(
                    FulfillmentLine(
                        fl.obj("lineItem").ident("id", "LineItem"),  # type: ignore[arg-type]
                        fl.count("quantity", minimum=0),
                        fl.path,
                    )
                    for fl in f.nodes("fulfillmentLineItems")
                ),
                path=f.path,
            )
        )
    refunds = []
    for r in o.items("refunds"):
        refund_lines = []
        for rl in r.nodes("refundLineItems"):
            location = rl.maybe_obj("location")
            refund_lines.append(
                RefundLine(
                    line_item_id=rl.obj("lineItem").ident("id", "LineItem"),  # type: ignore[arg-type]
                    quantity=rl.count("quantity", minimum=0),
                    restock_type=(rl.text("restockType") or "NO_RESTOCK").lower(),
                    location_id=location.ident("id", "Location", required=False) if location else None,
                    path=rl.path,
                )
            )
        refunds.append(
            Refund(
                id=r.ident("id", "Refund"),  # type: ignore[arg-type]
                order_id=order_id,
                created_at=r.when("createdAt"),
                note=r.text("note"),
                lines=tuple(refund_lines),
                path=r.path,
            )
        )
    customer_obj = o.maybe_obj("customer")
    customer = None
    if customer_obj is not None:
        customer = Customer(
            customer_obj.text("email"),
            customer_obj.text("firstName"),
            customer_obj.text("lastName"),
            customer_obj.text("phone"),
            customer_obj.path,
        )
    entity = o.maybe_obj("purchasingEntity")
    tags = o.raw("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise ShopifyShapeError(o.at("tags"), f"must be a list of text (got {_kind(tags)})")
    status = o.text("displayFinancialStatus")
    return ShopifyOrder(
        id=order_id,  # type: ignore[arg-type]
        gid=f"gid://shopify/Order/{order_id}",
        name=o.text("name"),
        created_at=o.when("createdAt", required=True),  # type: ignore[arg-type]
        processed_at=o.when("processedAt"),
        updated_at=o.when("updatedAt", required=True),  # type: ignore[arg-type]
        cancelled_at=o.when("cancelledAt"),
        email=o.text("email"),
        phone=o.text("phone"),
        note=o.text("note"),
        tags=tuple(t.strip() for t in tags or () if t.strip()),
        currency=o.text("currencyCode", required=True),  # type: ignore[arg-type]
        presentment_currency=o.text("presentmentCurrencyCode"),
        taxes_included=o.boolean("taxesIncluded"),
        tax_exempt=o.boolean("taxExempt"),
        financial_status=status.lower() if status else "pending",
        business=entity is not None and entity.raw("__typename") == "PurchasingCompany",
        customer=customer,
        shipping_address=_address(o, "shippingAddress", GRAPHQL),
        billing_address=_address(o, "billingAddress", GRAPHQL),
        discount_applications=applications,
        line_items=lines,
        shipping_lines=shipping,
        fulfillments=tuple(fulfillments),
        refunds=tuple(refunds),
        shape="graphql",
        paths={
            "id": o.at("id"),
            "line_items": o.at("lineItems"),
            "shipping_address": o.at("shippingAddress"),
            "updated_at": o.at("updatedAt"),
            "placed_at": o.at("processedAt" if o.raw("processedAt") else "createdAt"),
            "currency": o.at("currencyCode"),
            "presentment_currency": o.at("presentmentCurrencyCode"),
            "customer": o.at("customer"),
            "email": o.at("customer.email" if customer and customer.email else "email"),
            "financial_status": o.at("displayFinancialStatus"),
            "name": o.at("name"),
            "note": o.at("note"),
            "tags": o.at("tags"),
        },
    )


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)
