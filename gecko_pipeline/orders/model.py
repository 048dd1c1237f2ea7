"""The canonical channel order (channel_order.schema.json) parsed into dataclasses, with Decimal amounts.

`parse_order` is the one validator: it either returns a `ChannelOrder` or raises `OrderInvalid`, whose
message names the order (channel/channel_order_id, or its inbox row when even that is missing) and the
field (a JSON path such as `lines[2].quantity`), so a person can fix the record and replay it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("channel_order.schema.json")

CURRENCY_PATTERN = re.compile(r"^[A-Za-z]{3}$")
FINANCIAL_STATUSES = ("pending", "paid", "refunded")
CUSTOMER_TYPES = ("consumer", "business")
ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "address1",
    "address2",
    "suburb",
    "city",
    "state",
    "zip_code",
    "country",
    "country_code",
    "phone_number",
    "email",
)
HUNDRED = Decimal(100)


class OrderInvalid(ValueError):
    """A channel order that cannot be pushed as it is; names the order and the field."""

    def __init__(self, order_ref: str, field_name: str, problem: str) -> None:
        self.order_ref = order_ref
        self.field = field_name
        self.problem = problem
        super().__init__(f"order {order_ref}: field {field_name}: {problem}")


@dataclass(frozen=True)
class Customer:
    name: str | None
    email: str | None
    phone_number: str | None
    type: str  # consumer | business
    company_code: str | None

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.company_code or "Channel customer"


@dataclass(frozen=True)
class Address:
    fields: tuple[
        tuple[str, str], ...
    ]  # (api field, value) for the non-blank fields, in ADDRESS_FIELDS order

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

    @property
    def fingerprint(self) -> str:
        """Case- and space-insensitive identity, used to reuse an identical address instead of a new one."""
        return json.dumps(
            [(k, " ".join(v.split()).casefold()) for k, v in self.fields if k in IDENTITY_FIELDS]
        )


# What makes two addresses "the same place for the same person": every field but phone and e-mail,
# which may differ. In ADDRESS_FIELDS order (mapping.py's address columns follow it).
IDENTITY_FIELDS = tuple(name for name in ADDRESS_FIELDS if name not in ("phone_number", "email"))


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal | None = None
    tax_rate: Decimal | None = None
    title: str | None = None
    line_id: str | None = None


@dataclass(frozen=True)
class ExtraLine:
    kind: str  # shipping | fee | discount
    label: str
    amount: Decimal
    tax_rate: Decimal | None = None


@dataclass(frozen=True)
class SkuQuantity:
    sku: str
    quantity: Decimal


SHIPMENT_STATUSES = ("packed", "shipped")


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    lines: tuple[SkuQuantity, ...]
    status: str = "shipped"  # packed: boxed, not yet handed to the carrier
    tracking_number: str | None = None
    tracking_url: str | None = None
    tracking_company: str | None = None
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class Return:
    return_id: str
    lines: tuple[SkuQuantity, ...]
    notes: str | None = None


@dataclass(frozen=True)
class ChannelOrder:
    channel: str
    channel_order_id: str
    placed_at: datetime
    currency: str
    customer: Customer
    shipping_address: Address
    billing_address: Address
    lines: tuple[OrderLine, ...]
    extra_lines: tuple[ExtraLine, ...] = ()
    notes: str | None = None
    tags: tuple[str, ...] = ()
    financial_status: str = "pending"
    cancelled: bool = False
    shipments: tuple[Shipment, ...] = ()
    returns: tuple[Return, ...] = ()
    updated_at: datetime | None = None
    order_name: str | None = None
    source_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return order_key(self.channel, self.channel_order_id)

    def ordered_quantity(self, sku: str) -> Decimal:
        return sum((line.quantity for line in self.lines if line.sku == sku), Decimal(0))


def order_key(channel: str, channel_order_id: str) -> str:
    """The stable key of a channel order; also its reference_number in the inventory system."""
    return f"{channel}:{channel_order_id}"


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def describe_ref(payload: Any, fallback: str) -> str:
    """How to name an order in messages, even a broken one: channel:id when both are there."""
    if isinstance(payload, Mapping):
        channel, order_id = payload.get("channel"), payload.get("channel_order_id")
        if isinstance(channel, str) and channel and isinstance(order_id, str | int) and str(order_id):
            return order_key(channel, str(order_id))
        if isinstance(order_id, str | int) and str(order_id):
            return f"{fallback} (channel_order_id {order_id})"
    return fallback


class _Reader:
    """Reads fields out of a payload, raising OrderInvalid that names the order and the JSON path."""

    def __init__(self, ref: str) -> None:
        self.ref = ref

    def fail(self, path: str, problem: str) -> OrderInvalid:
        return OrderInvalid(self.ref, path, problem)

    def text(self, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> str | None:
        value = obj.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(path, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(path, f"must be text (got {value!r})")
        return str(value).strip()

    def decimal(
        self,
        obj: Mapping[str, Any],
        name: str,
        path: str,
        *,
        required: bool = False,
        positive: bool = False,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
    ) -> Decimal | None:
        value = obj.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(path, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(path, f"must be a decimal number (got {value!r})")
        try:
            # str() first: a JSON number 9.95 becomes Decimal("9.95"), never a binary fraction.
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.fail(path, f"must be a decimal number (got {value!r})") from None
        if not number.is_finite():
            raise self.fail(path, f"must be a finite number (got {value!r})")
        if positive and number <= 0:
            raise self.fail(path, f"must be greater than zero (got {value!r})")
        if minimum is not None and number < minimum:
            raise self.fail(path, f"must be at least {minimum} (got {value!r})")
        if maximum is not None and number > maximum:
            raise self.fail(path, f"must be at most {maximum} (got {value!r})")
        return number

    def timestamp(
        self, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False
    ) -> datetime | None:
        value = obj.get(name)
        if value is None or value == "":
            if required:
                raise self.fail(path, "is missing")
            return None
        if not isinstance(value, str):
            raise self.fail(path, f"must be an ISO-8601 date or date-time (got {value!r})")
        parsed = parse_timestamp(value)
        if parsed is None:
            raise self.fail(path, f"is not an ISO-8601 date or date-time (got {value!r})")
        return parsed

    def mapping(
        self, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False
    ) -> Mapping[str, Any] | None:
        value = obj.get(name)
        if value is None:
            if required:
                raise self.fail(path, "is missing")
            return None
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be an object (got {type(value).__name__})")
        return value

    def items(self, obj: Mapping[str, Any], name: str, path: str) -> list[Mapping[str, Any]]:
        value = obj.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list (got {type(value).__name__})")
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self.fail(f"{path}[{index}]", f"must be an object (got {type(item).__name__})")
        return value


def parse_timestamp(value: str) -> datetime | None:
    """ISO-8601 date-time (Z or an offset; naive means UTC) or a date; None when it does not parse."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_order(
    payload: Any,
    *,
    known_channels: Collection[str] | None = None,
    default_channel: str | None = None,
    fallback_ref: str = "<unnamed order>",
) -> ChannelOrder:
    """Validates one canonical order. `default_channel` fills a missing `channel` (the intake URL's);
    a `channel` that disagrees with it, or is not in `known_channels`, is an error on field `channel`."""
    if not isinstance(payload, Mapping):
        raise OrderInvalid(fallback_ref, "(order)", f"must be a JSON object (got {type(payload).__name__})")
    ref = describe_ref(payload, fallback_ref)
    r = _Reader(ref)

    channel = r.text(payload, "channel", "channel", required=default_channel is None) or default_channel
    assert channel is not None
    if default_channel is not None and channel != default_channel:
        raise r.fail("channel", f"says {channel!r} but the order came in for channel {default_channel!r}")
    order_id = r.text(payload, "channel_order_id", "channel_order_id", required=True)
    assert order_id is not None
    r.ref = order_key(channel, order_id)
    if known_channels is not None and channel not in known_channels:
        known = ", ".join(sorted(known_channels)) or "none"
        raise r.fail("channel", f"unknown channel {channel!r} (configured: {known})")

    placed_at = r.timestamp(payload, "placed_at", "placed_at", required=True)
    updated_at = r.timestamp(payload, "updated_at", "updated_at")
    currency = r.text(payload, "currency", "currency", required=True)
    if currency is None or not CURRENCY_PATTERN.match(currency):
        raise r.fail(
            "currency", f"must be a 3-letter ISO 4217 code such as USD (got {payload.get('currency')!r})"
        )

    customer = _customer(r, r.mapping(payload, "customer", "customer", required=True) or {})
    shipping = _address(
        r, r.mapping(payload, "shipping_address", "shipping_address", required=True) or {}, "shipping_address"
    )
    billing_raw = r.mapping(payload, "billing_address", "billing_address")
    billing = _address(r, billing_raw, "billing_address") if billing_raw else shipping

    raw_lines = r.items(payload, "lines", "lines")
    if not raw_lines:
        raise r.fail("lines", "has no order lines")
    lines = tuple(_line(r, item, f"lines[{i}]") for i, item in enumerate(raw_lines))
    extras = tuple(
        _extra(r, item, f"{name}[{i}]", kind)
        for name, kind in (
            ("shipping_lines", "shipping"),
            ("fee_lines", "fee"),
            ("discount_lines", "discount"),
        )
        for i, item in enumerate(r.items(payload, name, name))
    )

    financial = (r.text(payload, "financial_status", "financial_status") or "pending").lower()
    if financial not in FINANCIAL_STATUSES:
        raise r.fail(
            "financial_status", f"must be one of {', '.join(FINANCIAL_STATUSES)} (got {financial!r})"
        )
    cancelled = payload.get("cancelled", False)
    if not isinstance(cancelled, bool):
        raise r.fail("cancelled", f"must be true or false (got {cancelled!r})")
    tags = payload.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise r.fail("tags", f"must be a list of words (got {tags!r})")

    order = ChannelOrder(
        channel=channel,
        channel_order_id=order_id,
        placed_at=placed_at,  # type: ignore[arg-type]  # required=True
        currency=currency.upper(),
        customer=customer,
        shipping_address=shipping,
        billing_address=billing,
        lines=lines,
        extra_lines=extras,
        notes=r.text(payload, "notes", "notes"),
        tags=tuple(t.strip() for t in tags if t.strip()),
        financial_status=financial,
        cancelled=cancelled,
        shipments=tuple(
            _shipment(r, item, f"shipments[{i}]")
            for i, item in enumerate(r.items(payload, "shipments", "shipments"))
        ),
        returns=tuple(
            _return(r, item, f"returns[{i}]") for i, item in enumerate(r.items(payload, "returns", "returns"))
        ),
        updated_at=updated_at,
        order_name=r.text(payload, "order_name", "order_name"),
        source_url=r.text(payload, "source_url", "source_url"),
        raw=payload,
    )
    _check_quantities(r, order)
    return order


def _customer(r: _Reader, obj: Mapping[str, Any]) -> Customer:
    name = r.text(obj, "name", "customer.name")
    email = r.text(obj, "email", "customer.email")
    code = r.text(obj, "company_code", "customer.company_code")
    if not (name or email or code):
        raise r.fail("customer", "needs a name, an email or a company_code")
    if email is not None and ("@" not in email or email.startswith("@") or email.endswith("@")):
        raise r.fail("customer.email", f"is not an e-mail address (got {email!r})")
    kind = (r.text(obj, "type", "customer.type") or "consumer").lower()
    if kind not in CUSTOMER_TYPES:
        raise r.fail("customer.type", f"must be consumer or business (got {kind!r})")
    return Customer(
        name=name,
        email=email.lower() if email else None,
        company_code=code,
        type=kind,
        phone_number=r.text(obj, "phone_number", "customer.phone_number"),
    )


def _address(r: _Reader, obj: Mapping[str, Any], path: str) -> Address:
    values: list[tuple[str, str]] = []
    for name in ADDRESS_FIELDS:
        value = r.text(obj, name, f"{path}.{name}", required=name == "address1")
        if value is not None:
            values.append((name, value))
    found = dict(values)
    if "country" not in found and "country_code" not in found:
        raise r.fail(f"{path}.country", "is missing (give country or country_code)")
    if "country_code" in found and not re.match(r"^[A-Za-z]{2}$", found["country_code"]):
        raise r.fail(f"{path}.country_code", f"must be a 2-letter ISO code (got {found['country_code']!r})")
    return Address(tuple(values))


def _line(r: _Reader, obj: Mapping[str, Any], path: str) -> OrderLine:
    sku = r.text(obj, "sku", f"{path}.sku", required=True)
    quantity = r.decimal(obj, "quantity", f"{path}.quantity", required=True, positive=True)
    price = r.decimal(obj, "unit_price", f"{path}.unit_price", required=True, minimum=Decimal(0))
    return OrderLine(
        sku=sku,  # type: ignore[arg-type]
        quantity=quantity,  # type: ignore[arg-type]
        unit_price=price,  # type: ignore[arg-type]
        discount_percent=r.decimal(
            obj, "discount_percent", f"{path}.discount_percent", minimum=Decimal(0), maximum=HUNDRED
        ),
        tax_rate=r.decimal(obj, "tax_rate", f"{path}.tax_rate", minimum=Decimal(0)),
        title=r.text(obj, "title", f"{path}.title"),
        line_id=r.text(obj, "line_id", f"{path}.line_id"),
    )


def _extra(r: _Reader, obj: Mapping[str, Any], path: str, kind: str) -> ExtraLine:
    amount = r.decimal(obj, "amount", f"{path}.amount", required=True, minimum=Decimal(0))
    label = r.text(obj, "label", f"{path}.label") or kind.capitalize()
    return ExtraLine(
        kind=kind,
        label=label,
        amount=amount,  # type: ignore[arg-type]
        tax_rate=r.decimal(obj, "tax_rate", f"{path}.tax_rate", minimum=Decimal(0)),
    )


def _sku_quantities(r: _Reader, obj: Mapping[str, Any], path: str) -> tuple[SkuQuantity, ...]:
    items = r.items(obj, "lines", f"{path}.lines")
    if not items:
        raise r.fail(f"{path}.lines", "has no lines")
    return tuple(
        SkuQuantity(
            sku=r.text(item, "sku", f"{path}.lines[{i}].sku", required=True),  # type: ignore[arg-type]
            quantity=r.decimal(
                item,
                "quantity",
                f"{path}.lines[{i}].quantity",  # type: ignore[arg-type]
                required=True,
                positive=True,
            ),
        )
        for i, item in enumerate(items)
    )


def _shipment(r: _Reader, obj: Mapping[str, Any], path: str) -> Shipment:
    status = (r.text(obj, "status", f"{path}.status") or "shipped").lower()
    if status not in SHIPMENT_STATUSES:
        raise r.fail(f"{path}.status", f"must be packed or shipped (got {status!r})")
    return Shipment(
        shipment_id=r.text(obj, "shipment_id", f"{path}.shipment_id", required=True),  # type: ignore[arg-type]
        lines=_sku_quantities(r, obj, path),
        status=status,
        tracking_number=r.text(obj, "tracking_number", f"{path}.tracking_number"),
        tracking_url=r.text(obj, "tracking_url", f"{path}.tracking_url"),
        tracking_company=r.text(obj, "tracking_company", f"{path}.tracking_company"),
        shipped_at=r.timestamp(obj, "shipped_at", f"{path}.shipped_at"),
    )


def _return(r: _Reader, obj: Mapping[str, Any], path: str) -> Return:
    return Return(
        return_id=r.text(obj, "return_id", f"{path}.return_id", required=True),  # type: ignore[arg-type]
        lines=_sku_quantities(r, obj, path),
        notes=r.text(obj, "notes", f"{path}.notes"),
    )


def _check_quantities(r: _Reader, order: ChannelOrder) -> None:
    """Shipments and returns may only name the order's SKUs, and never more than was ordered/shipped."""
    skus = {line.sku for line in order.lines}
    for group, entries in (("shipments", order.shipments), ("returns", order.returns)):
        totals: dict[str, Decimal] = {}
        ids: set[str] = set()
        for i, entry in enumerate(entries):
            entry_id = entry.shipment_id if isinstance(entry, Shipment) else entry.return_id
            if entry_id in ids:
                raise r.fail(f"{group}[{i}]", f"repeats id {entry_id!r}")
            ids.add(entry_id)
            for j, item in enumerate(entry.lines):
                if item.sku not in skus:
                    raise r.fail(f"{group}[{i}].lines[{j}].sku", f"{item.sku!r} is not a line of this order")
                totals[item.sku] = totals.get(item.sku, Decimal(0)) + item.quantity
        for sku, total in totals.items():
            if total > order.ordered_quantity(sku):
                raise r.fail(
                    group, f"carry {total} of {sku!r} but the order has {order.ordered_quantity(sku)}"
                )
