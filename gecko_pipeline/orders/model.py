"""The canonical channel order (channel_order.schema.json) parsed into dataclasses, with Decimal amounts.

`parse_order` is the one validator: the published JSON Schema decides what is valid (schema.py), then
the few rules a schema cannot express (the channel file, shipments and returns against the lines). It
either returns a `ChannelOrder` or raises `OrderInvalid`, whose message names the order
(channel:channel_order_id, or its inbox row when even that is missing) and the field (a JSON path such
as `lines[2].quantity`), so a person can fix the record and replay it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from gecko_pipeline.orders import schema
from gecko_pipeline.orders.schema import load_schema

__all__ = ["ChannelOrder", "OrderInvalid", "load_schema", "order_key", "parse_order"]

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


class OrderInvalid(ValueError):
    """A channel order that cannot be pushed as it is; names the order and the field. `rule` says which
    kind of rule refused it: `schema` (the published schema), `order` (a rule across fields that a
    schema cannot express) or `channel` (the channel file)."""

    def __init__(self, order_ref: str, field_name: str, problem: str, rule: str = "schema") -> None:
        self.order_ref = order_ref
        self.field = field_name
        self.problem = problem
        self.rule = rule
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
    tax_treatment: str | None = None  # inclusive | exclusive; None: the account's default
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        return order_key(self.channel, self.channel_order_id)

    def ordered_quantity(self, sku: str) -> Decimal:
        return sum((line.quantity for line in self.lines if line.sku == sku), Decimal(0))


def order_key(channel: str, channel_order_id: str) -> str:
    """The stable key of a channel order; also its reference_number in the inventory system."""
    return f"{channel}:{channel_order_id}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _short(text: str, limit: int = 60) -> str:
    """A name fit for a message and a terminal: control characters escaped, a huge id shortened."""
    shown = text if len(text) <= limit else f"{text[:40]}...({len(text)} characters)"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", shown)


def describe_ref(payload: Any, fallback: str) -> str:
    """How to name an order in messages, even a broken one: channel:id when both are there (a huge
    id is shortened, so a message stays readable)."""
    if isinstance(payload, Mapping):
        channel, order_id = payload.get("channel"), payload.get("channel_order_id")
        if isinstance(order_id, bool) or not isinstance(order_id, str | int) or not str(order_id):
            return fallback
        if isinstance(channel, str) and channel:
            return _short(order_key(channel, str(order_id)))
        return f"{fallback} (channel_order_id {_short(str(order_id))})"
    return fallback


def parse_order(
    payload: Any,
    *,
    known_channels: Collection[str] | None = None,
    default_channel: str | None = None,
    fallback_ref: str = "<unnamed order>",
) -> ChannelOrder:
    """Validates one canonical order against the published schema, then the rules a schema cannot
    express, and converts it (Decimals, datetimes). `default_channel` (the intake URL's) fills a
    missing `channel` before validation; a `channel` that disagrees with it, or is not in
    `known_channels`, is an error on field `channel`."""
    if not isinstance(payload, Mapping):
        raise OrderInvalid(fallback_ref, "(order)", f"must be a JSON object (got {type(payload).__name__})")
    if default_channel is not None and payload.get("channel") in (None, ""):
        payload = {**payload, "channel": default_channel}
    ref = describe_ref(payload, fallback_ref)
    problem = schema.first_problem(payload)
    if problem is not None:
        raise OrderInvalid(ref, *problem)
    channel = payload["channel"]
    if default_channel is not None and channel != default_channel:
        raise OrderInvalid(
            ref,
            "channel",
            f"says {channel!r} but the order came in for channel {default_channel!r}",
            "channel",
        )
    if known_channels is not None and channel not in known_channels:
        known = ", ".join(sorted(known_channels)) or "none"
        raise OrderInvalid(ref, "channel", f"unknown channel {channel!r} (configured: {known})", "channel")
    order = _convert(payload)
    _check_quantities(order)
    return order


def _text(value: Any) -> str | None:
    """Schema-checked text (or an id number) with surrounding spaces dropped; blank is absent."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _decimal(value: Any) -> Decimal | None:
    """A schema-checked decimal, read through its text (never a binary float), in plain notation."""
    if value is None:
        return None
    return Decimal(str(value))  # exact; mapping writes it in plain notation (no exponent)


def _when(value: Any) -> datetime | None:
    return schema.parse_timestamp(value) if isinstance(value, str) else None


def _items(payload: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    return list(payload.get(name) or [])


def _convert(payload: Mapping[str, Any]) -> ChannelOrder:
    """The dataclasses of an order the schema accepted (so every field has its documented type)."""
    customer = payload["customer"]
    email = _text(customer.get("email"))
    shipping = _address(payload["shipping_address"])
    billing = payload.get("billing_address")
    return ChannelOrder(
        channel=payload["channel"],
        channel_order_id=str(payload["channel_order_id"]),
        placed_at=_when(payload["placed_at"]),  # type: ignore[arg-type]  # required by the schema
        currency=payload["currency"].upper(),
        customer=Customer(
            name=_text(customer.get("name")),
            email=email.lower() if email else None,
            phone_number=_text(customer.get("phone_number")),
            type=customer.get("type") or "consumer",
            company_code=_text(customer.get("company_code")),
        ),
        shipping_address=shipping,
        billing_address=_address(billing) if billing else shipping,
        lines=tuple(
            OrderLine(
                sku=_text(line["sku"]),  # type: ignore[arg-type]
                quantity=_decimal(line["quantity"]),  # type: ignore[arg-type]
                unit_price=_decimal(line["unit_price"]),  # type: ignore[arg-type]
                discount_percent=_decimal(line.get("discount_percent")),
                tax_rate=_decimal(line.get("tax_rate")),
                title=_text(line.get("title")),
                line_id=_text(line.get("line_id")),
            )
            for line in payload["lines"]
        ),
        extra_lines=tuple(
            ExtraLine(
                kind=kind,
                label=_text(item.get("label")) or kind.capitalize(),
                amount=_decimal(item["amount"]),  # type: ignore[arg-type]
                tax_rate=_decimal(item.get("tax_rate")),
            )
            for name, kind in (
                ("shipping_lines", "shipping"),
                ("fee_lines", "fee"),
                ("discount_lines", "discount"),
            )
            for item in _items(payload, name)
        ),
        notes=_text(payload.get("notes")),
        tags=tuple(t.strip() for t in payload.get("tags") or () if t.strip()),
        financial_status=payload.get("financial_status") or "pending",
        cancelled=bool(payload.get("cancelled")),
        shipments=tuple(
            Shipment(
                shipment_id=str(item["shipment_id"]),
                lines=_sku_quantities(item),
                status=item.get("status") or "shipped",
                tracking_number=_text(item.get("tracking_number")),
                tracking_url=_text(item.get("tracking_url")),
                tracking_company=_text(item.get("tracking_company")),
                shipped_at=_when(item.get("shipped_at")),
            )
            for item in _items(payload, "shipments")
        ),
        returns=tuple(
            Return(
                return_id=str(item["return_id"]), lines=_sku_quantities(item), notes=_text(item.get("notes"))
            )
            for item in _items(payload, "returns")
        ),
        updated_at=_when(payload.get("updated_at")),
        order_name=_text(payload.get("order_name")),
        source_url=_text(payload.get("source_url")),
        tax_treatment=payload.get("tax_treatment"),
        raw=payload,
    )


def _address(obj: Mapping[str, Any]) -> Address:
    values = ((name, _text(obj.get(name))) for name in ADDRESS_FIELDS)
    return Address(tuple((name, value) for name, value in values if value is not None))


def _sku_quantities(obj: Mapping[str, Any]) -> tuple[SkuQuantity, ...]:
    return tuple(
        SkuQuantity(sku=_text(item["sku"]), quantity=_decimal(item["quantity"]))  # type: ignore[arg-type]
        for item in obj["lines"]
    )


def _check_quantities(order: ChannelOrder) -> None:
    """Rules across fields: shipments and returns may only name the order's SKUs, never carry more than
    was ordered, and their ids are unique within the order."""
    skus = {line.sku for line in order.lines}
    groups: tuple[tuple[str, Sequence[Shipment | Return]], ...] = (
        ("shipments", order.shipments),
        ("returns", order.returns),
    )
    for group, entries in groups:
        totals: dict[str, Decimal] = {}
        ids: set[str] = set()
        for i, entry in enumerate(entries):
            entry_id = entry.shipment_id if isinstance(entry, Shipment) else entry.return_id
            if entry_id in ids:
                raise OrderInvalid(order.key, f"{group}[{i}]", f"repeats id {entry_id!r}", "order")
            ids.add(entry_id)
            for j, item in enumerate(entry.lines):
                if item.sku not in skus:
                    raise OrderInvalid(
                        order.key,
                        f"{group}[{i}].lines[{j}].sku",
                        f"{item.sku!r} is not a line of this order",
                        "order",
                    )
                totals[item.sku] = totals.get(item.sku, Decimal(0)) + item.quantity
        for sku, total in totals.items():
            if total > order.ordered_quantity(sku):
                raise OrderInvalid(
                    order.key,
                    group,
                    f"carry {total} of {sku!r} but the order has {order.ordered_quantity(sku)}",
                    "order",
                )
