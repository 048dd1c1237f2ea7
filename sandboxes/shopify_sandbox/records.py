"""The shop's records: small slotted classes (100,000 variants must fit comfortably in memory).

Money lives as `Pair(shop, presentment)` of Decimals; times are whole epoch seconds; ids are plain ints
(the GID is built when answering). Views that Shopify exposes as objects of their own (InventoryItem,
InventoryLevel) are made on demand from the variant that owns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from shopify_sandbox.wire import ZERO

# Quantity names and their slot in a level's list; on_hand is derived (available + committed + the
# unsellable on-hand states), incoming is not on hand.
QUANTITY_NAMES = (
    "available",
    "committed",
    "incoming",
    "damaged",
    "quality_control",
    "reserved",
    "safety_stock",
)
ON_HAND_PARTS = (0, 1, 3, 4, 5, 6)
ALL_QUANTITY_NAMES = (*QUANTITY_NAMES, "on_hand")


class Pair(NamedTuple):
    """An amount in the shop's currency and in the customer's (presentment) currency."""

    shop: Decimal
    pres: Decimal

    def __add__(self, other: object) -> Pair:  # type: ignore[override]
        assert isinstance(other, Pair)
        return Pair(self.shop + other.shop, self.pres + other.pres)

    def __sub__(self, other: Pair) -> Pair:
        return Pair(self.shop - other.shop, self.pres - other.pres)

    def __neg__(self) -> Pair:
        return Pair(-self.shop, -self.pres)


NIL = Pair(ZERO, ZERO)


def total(pairs: Any) -> Pair:
    result = NIL
    for pair in pairs:
        result = result + pair
    return result


@dataclass(slots=True)
class Shop:
    id: int
    name: str
    domain: str
    email: str
    currency: str
    timezone: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Location:
    id: int
    name: str
    address1: str
    city: str
    province: str
    province_code: str
    zip: str
    country: str
    country_code: str
    is_active: bool
    fulfills_online_orders: bool
    created_at: int
    updated_at: int


@dataclass(slots=True)
class OptionValue:
    id: int
    name: str


@dataclass(slots=True)
class ProductOption:
    id: int
    name: str
    position: int
    values: list[OptionValue]


@dataclass(slots=True)
class Product:
    id: int
    title: str
    handle: str
    status: str  # ACTIVE | ARCHIVED | DRAFT
    vendor: str
    product_type: str
    tags: list[str]
    description_html: str
    options: list[ProductOption]
    variant_ids: list[int]
    created_at: int
    updated_at: int
    published_at: int | None


@dataclass(slots=True)
class Variant:
    id: int
    product_id: int
    item_id: int  # its InventoryItem
    sku: str | None
    barcode: str | None
    price: Decimal
    compare_at_price: Decimal | None
    position: int
    options: tuple[str, ...]  # values, in the product's option order
    inventory_policy: str  # DENY | CONTINUE
    taxable: bool
    tracked: bool
    requires_shipping: bool
    weight: Decimal
    weight_unit: str  # GRAMS | KILOGRAMS | OUNCES | POUNDS
    cost: Decimal | None
    created_at: int
    updated_at: int
    item_updated_at: int
    # location id -> quantities in QUANTITY_NAMES order; an entry means "stocked (active) there".
    levels: dict[int, list[int]]
    level_updated: dict[int, int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return " / ".join(self.options) if self.options else "Default Title"

    def on_hand(self, location_id: int) -> int:
        q = self.levels[location_id]
        return sum(q[i] for i in ON_HAND_PARTS)

    def quantity(self, location_id: int, name: str) -> int:
        if name == "on_hand":
            return self.on_hand(location_id)
        return self.levels[location_id][QUANTITY_NAMES.index(name)]

    @property
    def inventory_quantity(self) -> int:
        return sum(q[0] for q in self.levels.values())


@dataclass(slots=True)
class Address:
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(slots=True)
class Customer:
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    tags: list[str]
    currency: str
    created_at: int
    updated_at: int
    default_address: Address | None = None
    address_id: int = 0


@dataclass(slots=True)
class Company:
    id: int
    name: str
    external_id: str | None
    location_id: int
    location_name: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class TaxLine:
    title: str
    rate: Decimal
    price: Pair
    channel_liable: bool = False


@dataclass(slots=True)
class DiscountApplication:
    index: int
    kind: str  # discount_code | manual | automatic
    value_type: str  # fixed_amount | percentage
    value: Decimal  # percent (10.0) or the fixed amount in the shop's currency
    pres_value: Decimal  # the fixed amount in the presentment currency (= value for percentages)
    code: str | None
    title: str | None
    description: str | None
    target_selection: str  # all | explicit
    target_type: str = "line_item"
    allocation_method: str = "across"


@dataclass(slots=True)
class LineItem:
    id: int
    order_id: int
    variant_id: int | None
    product_id: int | None
    sku: str | None
    title: str
    variant_title: str | None
    vendor: str | None
    quantity: int
    price: Pair  # unit price
    taxable: bool
    requires_shipping: bool
    grams: int
    tax_lines: list[TaxLine]
    discount_allocations: list[tuple[int, Pair]]  # (discount application index, amount)
    properties: list[dict[str, str]]
    fulfilled: int = 0
    refunded: int = 0  # refunded (removed) units: current_quantity = quantity - refunded
    restocked_unfulfilled: int = 0

    @property
    def current_quantity(self) -> int:
        return self.quantity - self.refunded

    @property
    def fulfillable(self) -> int:
        return max(0, self.quantity - self.refunded - self.fulfilled) if self.requires_shipping else 0

    @property
    def discount(self) -> Pair:
        return total(amount for _, amount in self.discount_allocations)

    @property
    def tax(self) -> Pair:
        return total(t.price for t in self.tax_lines)


@dataclass(slots=True)
class ShippingLine:
    id: int
    title: str
    code: str | None
    source: str
    price: Pair
    tax_lines: list[TaxLine]
    refunded: bool = False


@dataclass(slots=True)
class Transaction:
    id: int
    kind: str  # authorization | sale | capture | void | refund
    status: str  # success
    amount: Pair
    gateway: str
    created_at: int
    parent_id: int | None = None


@dataclass(slots=True)
class FulfillmentOrderLine:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@dataclass(slots=True)
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    status: str  # OPEN | IN_PROGRESS | CLOSED | CANCELLED
    lines: list[FulfillmentOrderLine]
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Fulfillment:
    id: int
    order_id: int
    location_id: int
    name: str
    status: str  # SUCCESS
    tracking: list[dict[str, str | None]]  # {number, url, company}
    lines: list[tuple[int, int, int]]  # (fulfillment line item id, line item id, quantity)
    created_at: int
    updated_at: int


@dataclass(slots=True)
class RefundLine:
    id: int
    line_item_id: int
    quantity: int
    restock_type: str  # no_restock | cancel | return
    location_id: int | None
    subtotal: Pair
    total_tax: Pair


@dataclass(slots=True)
class Refund:
    id: int
    order_id: int
    created_at: int
    note: str | None
    restock: bool
    lines: list[RefundLine]
    shipping: Pair  # refunded shipping, tax excluded
    shipping_tax: Pair
    transactions: list[Transaction]


@dataclass(slots=True)
class Order:
    id: int
    number: int
    created_at: int
    updated_at: int
    processed_at: int
    currency: str
    presentment_currency: str
    exchange_rate: Decimal
    taxes_included: bool
    email: str | None
    phone: str | None
    customer_id: int | None
    company_id: int | None
    shipping_address: Address | None
    billing_address: Address | None
    line_items: list[LineItem]
    shipping_lines: list[ShippingLine]
    discounts: list[DiscountApplication]
    location_id: int
    token: str
    confirmation_number: str
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    source_name: str = "web"
    test: bool = False
    transactions: list[Transaction] = field(default_factory=list)
    fulfillment_order_ids: list[int] = field(default_factory=list)
    fulfillment_ids: list[int] = field(default_factory=list)
    refund_ids: list[int] = field(default_factory=list)
    cancelled_at: int | None = None
    cancel_reason: str | None = None
    closed_at: int | None = None
    voided: bool = False

    @property
    def name(self) -> str:
        return f"#{self.number}"


@dataclass(slots=True)
class WebhookSubscription:
    id: int
    topic: str  # ORDERS_CREATE
    uri: str
    format: str
    include_fields: list[str]
    filter: str | None
    created_at: int
    updated_at: int
    failures: int = 0  # consecutive failed attempts


@dataclass(slots=True)
class BulkOperation:
    id: int
    query: str
    status: str  # CREATED | RUNNING | COMPLETED | FAILED | CANCELED
    created_at: int
    type: str = "QUERY"
    completed_at: int | None = None
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    data: bytes | None = None
    group_objects: bool = False
