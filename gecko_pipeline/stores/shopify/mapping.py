"""A Shopify order (normalise.ShopifyOrder, from either shape) as a canonical channel order: the one
internal contract (gecko_pipeline/orders/channel_order.schema.json). Pure: the same order gives the
same canonical order whether it came by webhook (REST) or by backfill (GraphQL), which is what lets
both paths meet in the one ledger row without a line ever looking changed.

Every decision is documented with its reason in docs/shopify.md ("The mapping"); in short:
- the key is the numeric order id (`channel_order_id`), `order_name` the `#1001` shown to the customer;
- money in the shop's currency unless the channel says `use_presentment_currency: true`; every
  amount is the Decimal of Shopify's text;
- lines by SKU at Shopify's unit price; a line without a SKU (a custom item, a variant without one) and
  a gift card become freeform fee lines; discounts (line or order level, from their allocations)
  become discount lines per application and tax rate, exact to the cent; shipping lines stay shipping
  lines; `taxes_included` is the order's `tax_treatment` and each line's rate is the sum of its tax
  lines' rates;
- a refund line restocked as `cancel` (units refunded before they shipped) lowers the line's
  quantity; one restocked as `return` is a return (a fulfillment return); `no_restock` moves no goods;
- fulfilments that succeeded are shipments with tracking (open / pending ones: packed);
- `updated_at` is Shopify's (whole seconds, UTC) plus a sub-second progress count (payments,
  fulfilments, refunds, cancellation only move forward), so two states of the same second order by
  progress and a late retry of the older one never wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gecko_pipeline.stores.shopify.normalise import (
    ADDRESS_KEYS,
    Address,
    Allocation,
    LineItem,
    ShopifyOrder,
    ShopifyShapeError,
    TaxLine,
    utc,
)

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
# How far a financial status has moved (it only moves forward); part of the sub-second progress count.
FINANCIAL_STAGES = {
    "pending": 0,
    "expired": 0,
    "authorized": 1,
    "partially_paid": 2,
    "paid": 3,
    "partially_refunded": 4,
    "refunded": 5,
    "voided": 6,
}
# Shopify's financial status -> the canonical one (which decides invoice or pay).
FINANCIAL_STATUS = {
    "pending": "pending",  # nothing captured: invoice
    "authorized": "pending",  # authorised, not captured: invoice
    "partially_paid": "pending",  # part paid: invoice (paying in full would be untrue)
    "expired": "pending",
    "voided": "pending",  # an authorisation voided: nothing was paid
    "paid": "paid",
    "partially_refunded": "paid",  # it was paid; what came back is a return, money stays in Shopify
    "refunded": "refunded",
}
SHIPPED = {"success"}
PACKED = {"open", "pending"}
RETURN_RESTOCKS = {"return"}
CANCEL_RESTOCKS = {"cancel"}


@dataclass(frozen=True)
class MappingOptions:
    channel: str
    shop: str | None = None  # the myshopify domain, for the order's link back to the admin
    use_presentment_currency: bool = False
    shop_timezone: str | None = None  # the shop's zone: GraphQL times are UTC, REST ones in the shop's offset


@dataclass
class Translation:
    """The canonical order and, for each canonical field, the Shopify field it came from."""

    order: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)

    def source_of(self, canonical_path: str) -> str:
        """The Shopify path behind a canonical one (`lines[1].unit_price` ->
        `line_items[2].price_set.shop_money.amount`), trying shorter prefixes when there is no exact one."""
        path = canonical_path
        while path:
            if path in self.sources:
                return self.sources[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return canonical_path


def money_text(value: Decimal) -> str:
    """Exact, in plain notation, with at least two decimals ("4.5" -> "4.50", "0.125" stays)."""
    if value == value.quantize(CENT):
        value = value.quantize(CENT)
    return format(value, "f")


def rate_text(rates: Iterable[Decimal]) -> str:
    """A line's tax rate in percent: the sum of its tax lines' rates (fractions), to 4 decimals so a
    float's last-digit noise (0.07250000000000001) never becomes part of a rate."""
    percent = (sum(rates, Decimal(0)) * HUNDRED).quantize(Decimal("0.0001")).normalize()
    return format(percent, "f")


def progress(order: ShopifyOrder) -> int:
    """How far the order has moved: financial stage + fulfilments + refunds + cancelled. Each part only
    grows, so a later state of the same second never counts less."""
    stage = FINANCIAL_STAGES.get(order.financial_status or "pending", 0)
    return stage + len(order.fulfillments) + len(order.refunds) + (1 if order.cancelled_at else 0)


def canonical_updated_at(order: ShopifyOrder) -> str:
    """Shopify's updated_at (whole seconds) in UTC, plus `progress` microseconds."""
    moment = utc(order.updated_at).replace(microsecond=0) + timedelta(
        microseconds=min(progress(order), 999_999)
    )
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def to_canonical(order: ShopifyOrder, options: MappingOptions) -> Translation:
    """The canonical order for `order`. Raises ShopifyShapeError naming the Shopify field when the
    order cannot be one (no address, a discount naming no application, ...)."""
    t = Translation({})
    src = t.sources
    presentment = options.use_presentment_currency
    p = order.paths

    def money(line_money: Any) -> tuple[Decimal, str]:
        return line_money.pick(presentment)

    currency = (order.presentment_currency if presentment else order.currency) or ""
    if not currency:
        raise ShopifyShapeError(p["presentment_currency" if presentment else "currency"], "is missing")
    zone = _zone(options.shop_timezone)
    placed = order.processed_at or order.created_at
    if zone is not None:
        placed = placed.astimezone(zone)
    out: dict[str, Any] = {
        "channel": options.channel,
        "channel_order_id": order.id,
        "placed_at": placed.isoformat(),
        "updated_at": canonical_updated_at(order),
        "currency": currency.upper(),
        "tax_treatment": "inclusive" if order.taxes_included else "exclusive",
    }
    src.update(
        {
            "channel_order_id": p["id"],
            "placed_at": p["placed_at"],
            "updated_at": p["updated_at"],
            "currency": p["presentment_currency" if presentment else "currency"],
        }
    )
    if order.name:
        out["order_name"] = order.name
        src["order_name"] = p["name"]
    if options.shop:
        out["source_url"] = f"https://{options.shop}/admin/orders/{order.id}"

    out["customer"] = _customer(order, src)
    shipping = order.shipping_address or order.billing_address
    if shipping is None:
        raise ShopifyShapeError(
            p["shipping_address"],
            "the order has no shipping or billing address (the inventory API needs one for a sales order)",
        )
    rest = order.shape == "rest"
    out["shipping_address"] = _address(shipping, "shipping_address", src, rest)
    if order.billing_address is not None and order.billing_address is not shipping:
        out["billing_address"] = _address(order.billing_address, "billing_address", src, rest)

    by_line = {li.id: li for li in order.line_items}
    sku_lines = [li for li in order.line_items if li.sku and not li.gift_card]
    returned, cancelled_units = _refunded_units(order, by_line)
    cancelled = order.cancelled_at is not None
    sold = {
        li.id: li.quantity - (0 if cancelled else cancelled_units.get(li.id, 0)) for li in order.line_items
    }
    if not cancelled and all(q <= 0 for q in sold.values()):
        # Every unit refunded before it shipped: nothing is left to sell; the sales order is voided.
        cancelled, sold = True, {li.id: li.quantity for li in order.line_items}
    tax_exempt = order.tax_exempt

    def line_rate(taxable: bool, taxes: tuple[TaxLine, ...]) -> str:
        return "0" if tax_exempt or not taxable else rate_text(tax.rate for tax in taxes)

    lines: list[dict[str, Any]] = []
    for li in sku_lines:
        if sold[li.id] <= 0:
            continue
        price, price_path = money(li.unit_price)
        at = f"lines[{len(lines)}]"
        lines.append(
            {
                "line_id": li.id,
                "sku": li.sku,
                "title": li.name,
                "quantity": str(sold[li.id]),
                "unit_price": money_text(price),
                "tax_rate": line_rate(li.taxable, li.tax_lines),
            }
        )
        src.update(
            {
                at: li.path,
                f"{at}.sku": f"{li.path}.sku",
                f"{at}.title": f"{li.path}.name",
                f"{at}.quantity": f"{li.path}.quantity",
                f"{at}.unit_price": price_path,
                f"{at}.tax_rate": f"{li.path}.tax_lines",
            }
        )
    if not lines:
        raise ShopifyShapeError(
            p["line_items"],
            "no line has a SKU: nothing on the order can be matched to an inventory variant",
        )
    out["lines"] = lines

    fees: list[dict[str, Any]] = []
    for li in order.line_items:
        if li in sku_lines or sold[li.id] <= 0:
            continue
        price, price_path = money(li.unit_price)
        label = f"Gift card: {li.name}" if li.gift_card else li.name
        if sold[li.id] != 1:
            label += f" x {sold[li.id]}"
        at = f"fee_lines[{len(fees)}]"
        fees.append(
            {
                "label": label,
                "amount": money_text(price * sold[li.id]),
                "tax_rate": "0" if li.gift_card else line_rate(li.taxable, li.tax_lines),
            }
        )
        src.update({at: li.path, f"{at}.amount": price_path, f"{at}.label": f"{li.path}.name"})
    if fees:
        out["fee_lines"] = fees

    shipping_lines: list[dict[str, Any]] = []
    for s in order.shipping_lines:  # as charged at checkout: a shipping refund is money only
        price, price_path = money(s.price)
        at = f"shipping_lines[{len(shipping_lines)}]"
        shipping_lines.append(
            {"label": s.title, "amount": money_text(price), "tax_rate": line_rate(True, s.tax_lines)}
        )
        src.update({at: s.path, f"{at}.amount": price_path, f"{at}.label": f"{s.path}.title"})
    if shipping_lines:
        out["shipping_lines"] = shipping_lines

    discounts = _discount_lines(order, sold, line_rate, money, src)
    if discounts:
        out["discount_lines"] = discounts

    if order.note:
        out["notes"] = order.note
        src["notes"] = p["note"]
    if order.tags:
        out["tags"] = list(order.tags)
        src["tags"] = p["tags"]
    out["financial_status"] = FINANCIAL_STATUS.get(order.financial_status or "pending", "pending")
    src["financial_status"] = p["financial_status"]
    out["cancelled"] = cancelled

    sku_of = {li.id: li.sku for li in sku_lines}
    shipments: list[dict[str, Any]] = []
    for f in order.fulfillments:
        if f.status not in SHIPPED | PACKED:
            continue  # cancelled, error, failure: nothing left the warehouse
        items = _sku_quantities(((fl.line_item_id, fl.quantity) for fl in f.lines), sku_of)
        if not items:
            continue  # only custom items or gift cards: nothing the inventory ships
        at = f"shipments[{len(shipments)}]"
        shipment: dict[str, Any] = {
            "shipment_id": f.id,
            "status": "shipped" if f.status in SHIPPED else "packed",
            "lines": items,
        }
        for key, value in (
            ("tracking_number", f.tracking_number),
            ("tracking_url", f.tracking_url),
            ("tracking_company", f.tracking_company),
        ):
            if value:
                shipment[key] = value
        if f.created_at is not None:
            shipment["shipped_at"] = utc(f.created_at).isoformat().replace("+00:00", "Z")
        shipments.append(shipment)
        src[at] = f.path
    if shipments:
        out["shipments"] = shipments

    returns: list[dict[str, Any]] = []
    for refund in order.refunds:
        units = returned.get(refund.id, [])
        items = _sku_quantities(units, sku_of)
        if not items:
            continue
        at = f"returns[{len(returns)}]"
        entry: dict[str, Any] = {"return_id": refund.id, "lines": items}
        if refund.note:
            entry["notes"] = refund.note
        returns.append(entry)
        src[at] = refund.path
    if returns:
        out["returns"] = returns
    t.order = out
    return t


def _customer(order: ShopifyOrder, src: dict[str, str]) -> dict[str, Any]:
    c = order.customer
    address = order.billing_address or order.shipping_address
    email = (c.email if c else None) or order.email
    person = (c.name if c else None) or (address.name if address else None)
    company = None
    if order.business:
        company = next(
            (a.company for a in (order.billing_address, order.shipping_address) if a and a.company), None
        )
    name = company or person or email
    if not name:
        raise ShopifyShapeError(
            order.paths["customer"], "the order has no customer, e-mail or name to make a customer of"
        )
    phone = (c.phone if c else None) or order.phone or (address.phone if address else None)
    customer: dict[str, Any] = {"name": name, "type": "business" if order.business else "consumer"}
    if email:
        customer["email"] = email
        src["customer.email"] = order.paths["email"]
    if phone:
        customer["phone_number"] = phone
    src["customer"] = order.paths["customer"]
    src["customer.name"] = c.path if c else order.paths["customer"]
    return customer


# The canonical name of an Address field, where it differs.
_CANONICAL_ADDRESS = {
    "company": "company_name",
    "province": "state",
    "zip": "zip_code",
    "phone": "phone_number",
}


def _address(address: Address, role: str, src: dict[str, str], rest: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, rest_key, gql_key in ADDRESS_KEYS:
        canonical = _CANONICAL_ADDRESS.get(name, name)
        value = getattr(address, name)
        if value:
            values[canonical] = value
        src[f"{role}.{canonical}"] = f"{address.path}.{rest_key if rest else gql_key}"
    if not values.get("address1"):
        raise ShopifyShapeError(
            f"{address.path}.address1", "is empty (the inventory API needs a street address)"
        )
    src[role] = address.path
    return values


def _refunded_units(
    order: ShopifyOrder, by_line: Mapping[str, LineItem]
) -> tuple[dict[str, list[tuple[str, int]]], dict[str, int]]:
    """Per refund, the (line, units) that came back to stock (returns); per line, the units refunded
    before they shipped (cancelled). `legacy_restock` (before 2020 Shopify did not say which) counts
    as a return for units the line had shipped, as a cancel for the rest."""
    shipped: dict[str, int] = {}
    for f in order.fulfillments:
        if f.status in SHIPPED:
            for fl in f.lines:
                shipped[fl.line_item_id] = shipped.get(fl.line_item_id, 0) + fl.quantity
    returned: dict[str, list[tuple[str, int]]] = {}
    cancelled: dict[str, int] = {}
    back: dict[str, int] = {}  # units returned so far per line
    for refund in order.refunds:
        for rl in refund.lines:
            if rl.line_item_id not in by_line:
                raise ShopifyShapeError(
                    f"{rl.path}.line_item_id", f"names line {rl.line_item_id}, not on the order"
                )
            kind = rl.restock_type
            units_back = 0
            if kind in RETURN_RESTOCKS:
                units_back = rl.quantity
            elif kind == "legacy_restock":
                units_back = max(
                    0, min(rl.quantity, shipped.get(rl.line_item_id, 0) - back.get(rl.line_item_id, 0))
                )
                cancelled[rl.line_item_id] = cancelled.get(rl.line_item_id, 0) + rl.quantity - units_back
            elif kind in CANCEL_RESTOCKS:
                cancelled[rl.line_item_id] = cancelled.get(rl.line_item_id, 0) + rl.quantity
            if units_back:
                back[rl.line_item_id] = back.get(rl.line_item_id, 0) + units_back
                returned.setdefault(refund.id, []).append((rl.line_item_id, units_back))
    return returned, cancelled


def _sku_quantities(
    units: Iterable[tuple[str, int]], sku_of: Mapping[str, str | None]
) -> list[dict[str, str]]:
    """(line id, units) -> [{sku, quantity}] for SKU lines, one entry per SKU, in first-seen order."""
    totals: dict[str, int] = {}
    for line_id, quantity in units:
        sku = sku_of.get(line_id)
        if sku and quantity > 0:
            totals[sku] = totals.get(sku, 0) + quantity
    return [{"sku": sku, "quantity": str(q)} for sku, q in totals.items()]


def _discount_lines(
    order: ShopifyOrder,
    sold: Mapping[str, int],
    line_rate: Any,
    money: Any,
    src: dict[str, str],
) -> list[dict[str, Any]]:
    """Every discount allocation (on lines and shipping lines), summed per (application, tax rate) into
    one positive discount line: exact to the cent, taxed at the rate of the lines it came off."""
    applications = {app.index: app for app in order.discount_applications}
    groups: dict[tuple[int, Decimal], tuple[Decimal, str, str]] = {}  # (index, rate) -> amount, label, path

    def add(allocation: Allocation, rate: str, whole: int, kept: int) -> None:
        app = applications.get(allocation.application_index)
        if app is None:
            field_name = (
                "discount_application_index" if order.shape == "rest" else "discountApplication.index"
            )
            raise ShopifyShapeError(
                f"{allocation.path}.{field_name}",
                f"names discount application {allocation.application_index}, which the order does not list",
            )
        amount, path = money(allocation.amount)
        if kept != whole:  # units refunded before they shipped take their share along, as Shopify counts it
            amount -= (amount * (whole - kept) / whole).quantize(CENT, rounding=ROUND_HALF_UP)
        key = (app.index, Decimal(rate))
        total, _, first_path = groups.get(key, (Decimal(0), app.label, path))
        groups[key] = (total + amount, app.label, first_path)

    for li in order.line_items:
        if sold[li.id] <= 0:
            continue
        rate = "0" if li.gift_card else line_rate(li.taxable, li.tax_lines)
        for allocation in li.allocations:
            add(allocation, rate, li.quantity, sold[li.id])
    for s in order.shipping_lines:
        for allocation in s.allocations:
            add(allocation, line_rate(True, s.tax_lines), 1, 1)
    lines: list[dict[str, Any]] = []
    for (_, rate), (amount, label, path) in sorted(groups.items()):
        if amount == 0:
            continue
        src[f"discount_lines[{len(lines)}].amount"] = path
        lines.append({"label": label, "amount": money_text(amount), "tax_rate": format(rate, "f")})
    return lines
