"""Orders: placing them with Shopify's arithmetic (discount allocation, taxes included or added, shipping
taxes, a presentment currency), payments, cancellation, refunds and fulfilment. Shared by the GraphQL
mutations and the control plane; each change fires the webhooks Shopify fires.

Arithmetic (README: "Order arithmetic"): amounts are Decimals rounded half-up to cents. Each currency is
computed on its own from converted unit prices, so the shop and presentment figures are each consistent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from shopify_sandbox import domain, rest
from shopify_sandbox.domain import DomainError
from shopify_sandbox.records import (
    NIL,
    Address,
    Company,
    Customer,
    DiscountApplication,
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLine,
    LineItem,
    Order,
    Pair,
    Refund,
    RefundLine,
    ShippingLine,
    TaxLine,
    Transaction,
    total,
)
from shopify_sandbox.store import Store
from shopify_sandbox.wire import CENT, ZERO, cents, ident, to_decimal

ONE = Decimal(1)


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `amount` over `weights` in cents: proportional shares rounded down, the cents left over go
    to the largest remainders (earlier lines first). 10.00 over three equal lines: 3.34, 3.33, 3.33."""
    whole = sum(weights, ZERO)
    if whole <= 0 or amount <= 0:
        return [ZERO for _ in weights]
    raw = [amount * w / whole for w in weights]
    shares = [r.quantize(CENT, rounding=ROUND_DOWN) for r in raw]
    left = int((amount - sum(shares, ZERO)) / CENT)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += CENT
    return shares


def _address(spec: dict[str, Any] | None) -> Address | None:
    if not spec:
        return None
    known = set(Address.__slots__)  # type: ignore[attr-defined]
    return Address(**{k: v for k, v in spec.items() if k in known})


def _tax_specs(specs: list[dict[str, Any]] | None, field: str) -> list[tuple[str, Decimal]]:
    out = []
    for i, spec in enumerate(specs or []):
        rate = to_decimal(spec.get("rate"), f"{field}[{i}].rate")
        out.append((str(spec.get("title") or "Tax"), rate))
    return out


def _taxes(base: Pair, rates: list[tuple[str, Decimal]], included: bool) -> list[TaxLine]:
    """Tax per rate on `base`: rate x base when added; base x rate / (1 + all rates) when included."""
    divisor = ONE + sum((r for _, r in rates), ZERO) if included else ONE
    return [
        TaxLine(title, rate, Pair(cents(base.shop * rate / divisor), cents(base.pres * rate / divisor)))
        for title, rate in rates
    ]


# --- placing -------------------------------------------------------------------------------------------
def place_order(store: Store, spec: dict[str, Any]) -> Order:
    """A shopper checks out (control plane `POST /_sandbox/orders`); README documents the body."""
    lines_spec = spec.get("line_items") or []
    if not lines_spec:
        raise DomainError("an order needs at least one line item", ["line_items"])
    currency = store.shop.currency
    presentment = (spec.get("presentment_currency") or currency).upper()
    rate = to_decimal(spec.get("exchange_rate", "1"), "exchange_rate") if presentment != currency else ONE

    def convert(amount: Decimal) -> Pair:
        return Pair(amount, cents(amount * rate))

    included = bool(spec.get("taxes_included", False))
    order_taxes = _tax_specs(spec.get("tax_lines"), "tax_lines")
    location_id = ident(spec.get("location_id"), "Location") or store.primary_location().id
    if location_id not in store.locations:
        raise DomainError(f"unknown location {spec.get('location_id')!r}", ["location_id"])
    order_id = store.next_id("Order")
    lines: list[LineItem] = []
    rates_per_line: list[list[tuple[str, Decimal]]] = []
    for i, ls in enumerate(lines_spec):
        quantity = int(ls.get("quantity", 1))
        if quantity < 1:
            raise DomainError("quantity must be at least 1", ["line_items", str(i), "quantity"])
        variant = None
        vid = ident(ls.get("variant_id"), "ProductVariant")
        if vid is not None:
            variant = store.variants.get(vid)
            if variant is None:
                raise DomainError(
                    f"unknown variant {ls.get('variant_id')!r}", ["line_items", str(i), "variant_id"]
                )
        elif ls.get("sku"):
            variant = next((v for v in store.variants.values() if v.sku == ls["sku"]), None)
            if variant is None:
                raise DomainError(f"no variant has SKU {ls['sku']!r}", ["line_items", str(i), "sku"])
        if variant is None and ls.get("price") is None:
            raise DomainError("a custom line item needs a price", ["line_items", str(i), "price"])
        product = store.products[variant.product_id] if variant else None
        unit = to_decimal(ls["price"], "price") if ls.get("price") is not None else variant.price  # type: ignore[union-attr]
        taxable = bool(ls.get("taxable", variant.taxable if variant else True))
        line = LineItem(
            id=store.next_id("LineItem"),
            order_id=order_id,
            variant_id=variant.id if variant else None,
            product_id=product.id if product else None,
            sku=variant.sku if variant else ls.get("sku"),
            title=product.title if product else str(ls.get("title") or "Custom item"),
            variant_title=(variant.title if variant and variant.options else None),
            vendor=product.vendor if product else None,
            quantity=quantity,
            price=convert(cents(unit)),
            taxable=taxable,
            requires_shipping=bool(
                ls.get("requires_shipping", variant.requires_shipping if variant else True)
            ),
            grams=int((variant.weight * 1000) if variant and variant.weight_unit == "KILOGRAMS" else 0),
            tax_lines=[],
            discount_allocations=[],
            properties=list(ls.get("properties") or []),
        )
        lines.append(line)
        own = ls.get("tax_lines")
        rates_per_line.append(
            _tax_specs(own, f"line_items[{i}].tax_lines") if own is not None else order_taxes
        )

    discounts = _discounts(spec.get("discounts") or [], lines, convert)
    for line, rates in zip(lines, rates_per_line, strict=True):
        base = Pair(line.price.shop * line.quantity, line.price.pres * line.quantity) - line.discount
        line.tax_lines = _taxes(base, rates, included) if line.taxable else []

    shipping = []
    for i, ss in enumerate(spec.get("shipping_lines") or []):
        price = convert(cents(to_decimal(ss.get("price", "0"), f"shipping_lines[{i}].price")))
        rates = _tax_specs(ss.get("tax_lines"), f"shipping_lines[{i}].tax_lines")
        shipping.append(
            ShippingLine(
                id=store.next_id("ShippingLine"),
                title=str(ss.get("title") or "Shipping"),
                code=ss.get("code"),
                source=str(ss.get("source") or "shopify"),
                price=price,
                tax_lines=_taxes(price, rates, included),
            )
        )

    stamp = store.touch()
    customer = _customer(store, spec.get("customer"), stamp, currency)
    company = _company(store, spec.get("company"), stamp)
    processed = stamp
    order = Order(
        id=order_id,
        number=next(store.order_numbers),
        created_at=stamp,
        updated_at=stamp,
        processed_at=processed,
        currency=currency,
        presentment_currency=presentment,
        exchange_rate=rate,
        taxes_included=included,
        email=(customer.email if customer else spec.get("email")),
        phone=spec.get("phone"),
        customer_id=customer.id if customer else None,
        company_id=company.id if company else None,
        shipping_address=_address(spec.get("shipping_address")),
        billing_address=_address(spec.get("billing_address") or spec.get("shipping_address")),
        line_items=lines,
        shipping_lines=shipping,
        discounts=discounts,
        location_id=location_id,
        token=secrets.token_hex(16),
        confirmation_number=secrets.token_hex(5).upper()[:9],
        note=spec.get("note"),
        tags=list(spec.get("tags") or []),
        source_name=str(spec.get("source_name") or "web"),
        test=bool(spec.get("test", False)),
    )
    store.orders[order.id] = order
    for line in lines:
        store.line_items[line.id] = line
    _open_fulfillment_order(store, order)
    _commit_stock(store, order)
    store.emit("orders/create", lambda: rest.order(store, order))
    status = spec.get("financial_status") or "pending"
    if status != "pending":
        record_payment(store, order, status, spec.get("paid_amount"), fire_updated=False)
    return order


def _discounts(specs: list[dict[str, Any]], lines: list[LineItem], convert: Any) -> list[DiscountApplication]:
    apps = []
    for index, ds in enumerate(specs):
        value_type = ds.get("value_type") or (
            "percentage" if ds.get("percentage") is not None else "fixed_amount"
        )
        if value_type not in ("fixed_amount", "percentage"):
            raise DomainError(
                "value_type must be fixed_amount or percentage", ["discounts", str(index), "value_type"]
            )
        value = to_decimal(ds.get("value", ds.get("percentage", "0")), f"discounts[{index}].value")
        targets = ds.get("line_items")
        chosen = [lines[i] for i in targets] if targets is not None else lines
        kind = "discount_code" if ds.get("code") else "automatic" if ds.get("automatic") else "manual"
        pres_value = value if value_type == "percentage" else convert(cents(value)).pres
        app = DiscountApplication(
            index=index,
            kind=kind,
            value_type=value_type,
            value=value,
            pres_value=pres_value,
            code=ds.get("code"),
            title=ds.get("title") or ds.get("code") or "Discount",
            description=ds.get("description"),
            target_selection="explicit" if targets is not None else "all",
        )
        apps.append(app)
        per_currency = []
        for side in (0, 1):
            totals = [line.price[side] * line.quantity - line.discount[side] for line in chosen]
            base = sum(totals, ZERO)
            if value_type == "percentage":
                amount = cents(base * value / 100)
            else:
                amount = min(cents(value if side == 0 else pres_value), base)
            per_currency.append(allocate(amount, totals))
        for line, shop, pres in zip(chosen, per_currency[0], per_currency[1], strict=True):
            line.discount_allocations.append((index, Pair(shop, pres)))
    return apps


def _customer(store: Store, spec: dict[str, Any] | None, stamp: int, currency: str) -> Customer | None:
    if not spec:
        return None
    email = spec.get("email")
    if email and email in store.customers_by_email:
        return store.customers_by_email[email]
    customer = Customer(
        id=store.next_id("Customer"),
        email=email,
        first_name=spec.get("first_name"),
        last_name=spec.get("last_name"),
        phone=spec.get("phone"),
        tags=list(spec.get("tags") or []),
        currency=currency,
        created_at=stamp,
        updated_at=stamp,
        default_address=_address(spec.get("default_address")),
        address_id=store.next_id("MailingAddress"),
    )
    store.customers[customer.id] = customer
    if email:
        store.customers_by_email[email] = customer
    return customer


def _company(store: Store, spec: dict[str, Any] | None, stamp: int) -> Company | None:
    if not spec:
        return None
    for company in store.companies.values():
        if company.name == spec.get("name"):
            return company
    company = Company(
        id=store.next_id("Company"),
        name=str(spec.get("name") or "Company"),
        external_id=spec.get("external_id"),
        location_id=store.next_id("CompanyLocation"),
        location_name=str(spec.get("location") or spec.get("name") or "Main"),
        created_at=stamp,
        updated_at=stamp,
    )
    store.companies[company.id] = company
    return company


def _open_fulfillment_order(store: Store, order: Order) -> None:
    lines = [
        FulfillmentOrderLine(store.next_id("FulfillmentOrderLineItem"), li.id, li.quantity, li.quantity)
        for li in order.line_items
        if li.requires_shipping
    ]
    if not lines:
        return
    fo = FulfillmentOrder(
        store.next_id("FulfillmentOrder"),
        order.id,
        order.location_id,
        "OPEN",
        lines,
        order.created_at,
        order.created_at,
    )
    store.fulfillment_orders[fo.id] = fo
    order.fulfillment_order_ids.append(fo.id)


def _commit_stock(store: Store, order: Order) -> None:
    """Placing an order moves the ordered units from available to committed at its location."""
    for line in order.line_items:
        variant = store.variants.get(line.variant_id) if line.variant_id else None
        if variant is None or not variant.tracked or not line.requires_shipping:
            continue
        domain.change_quantity(store, variant, order.location_id, "available", -line.quantity)
        domain.change_quantity(store, variant, order.location_id, "committed", line.quantity)
        domain.stock_touched(store, variant, {order.location_id}, {order.location_id})


# --- figures -------------------------------------------------------------------------------------------
@dataclass
class Figures:
    line_items: Pair
    discounts: Pair
    subtotal: Pair
    tax: Pair
    shipping: Pair
    total: Pair
    received: Pair
    refunded: Pair
    refunded_shipping: Pair
    current_subtotal: Pair
    current_discounts: Pair
    current_tax: Pair
    current_total: Pair
    outstanding: Pair
    capturable: Pair


def figures(store: Store, order: Order) -> Figures:
    lines = order.line_items
    line_total = total(Pair(li.price.shop * li.quantity, li.price.pres * li.quantity) for li in lines)
    discounts = total(li.discount for li in lines)
    subtotal = line_total - discounts
    tax = total(li.tax for li in lines) + total(t.price for s in order.shipping_lines for t in s.tax_lines)
    shipping = total(s.price for s in order.shipping_lines)
    grand = subtotal + shipping + (NIL if order.taxes_included else tax)
    received = total(t.amount for t in order.transactions if t.kind in ("sale", "capture"))
    authorized = total(t.amount for t in order.transactions if t.kind == "authorization")
    captured = total(t.amount for t in order.transactions if t.kind == "capture")
    refunds = [store.refunds[r] for r in order.refund_ids]
    refunded = total(t.amount for r in refunds for t in r.transactions)
    refunded_subtotal = total(rl.subtotal for r in refunds for rl in r.lines)
    refunded_tax = total(rl.total_tax for r in refunds for rl in r.lines) + total(
        r.shipping_tax for r in refunds
    )
    refunded_shipping = total(r.shipping for r in refunds)
    refunded_discounts = total(
        _share(
            store.line_items[rl.line_item_id].discount,
            rl.quantity,
            store.line_items[rl.line_item_id].quantity,
        )
        for r in refunds
        for rl in r.lines
    )
    removed = refunded_subtotal + refunded_shipping + (NIL if order.taxes_included else refunded_tax)
    current_total = grand - removed
    net_paid = received - refunded
    outstanding = Pair(
        max(ZERO, current_total.shop - net_paid.shop), max(ZERO, current_total.pres - net_paid.pres)
    )
    if order.cancelled_at is not None:
        outstanding = NIL
    capturable = NIL if order.voided else authorized - captured
    return Figures(
        line_items=line_total,
        discounts=discounts,
        subtotal=subtotal,
        tax=tax,
        shipping=shipping,
        total=grand,
        received=received,
        refunded=refunded,
        refunded_shipping=refunded_shipping,
        current_subtotal=subtotal - refunded_subtotal,
        current_discounts=discounts - refunded_discounts,
        current_tax=tax - refunded_tax,
        current_total=current_total,
        outstanding=outstanding,
        capturable=Pair(max(ZERO, capturable.shop), max(ZERO, capturable.pres)),
    )


def _share(amount: Pair, part: int, whole: int) -> Pair:
    if whole <= 0 or part >= whole:
        return amount
    return Pair(cents(amount.shop * part / whole), cents(amount.pres * part / whole))


def financial_status(store: Store, order: Order) -> str:
    """REST financial_status (the GraphQL enum is its upper case)."""
    f = figures(store, order)
    if order.voided:
        return "voided"
    if f.refunded.shop > 0:
        return "refunded" if f.refunded.shop >= f.received.shop else "partially_refunded"
    if f.received.shop > 0:
        return "paid" if f.received.shop >= f.total.shop else "partially_paid"
    if any(t.kind == "authorization" for t in order.transactions):
        return "authorized"
    return "pending"


def fulfillment_status(order: Order) -> str | None:
    """REST fulfillment_status: null (nothing shipped), partial, fulfilled."""
    shipped = sum(li.fulfilled for li in order.line_items)
    if shipped == 0:
        return None
    return "partial" if any(li.fulfillable > 0 for li in order.line_items) else "fulfilled"


def display_fulfillment_status(store: Store, order: Order) -> str:
    if not any(li.requires_shipping for li in order.line_items) and store.config.at_least("2026-01"):
        return "FULFILLMENT_NOT_REQUIRED"
    status = fulfillment_status(order)
    if status == "fulfilled":
        return "FULFILLED"
    if status == "partial":
        return "PARTIALLY_FULFILLED"
    if order.cancelled_at is not None and any(li.restocked_unfulfilled for li in order.line_items):
        return "RESTOCKED"
    return "UNFULFILLED"


# --- payments ------------------------------------------------------------------------------------------
def record_payment(
    store: Store, order: Order, status: str, amount: Any = None, *, fire_updated: bool = True
) -> None:
    """The customer pays: `paid` (the rest), `partially_paid` (`amount`), or `authorized` (a hold)."""
    if order.cancelled_at is not None:
        raise DomainError("the order is cancelled", ["order_id"])
    f = figures(store, order)
    due = f.total - f.received
    stamp = store.now()
    if status == "authorized":
        order.transactions.append(
            Transaction(store.next_id("OrderTransaction"), "authorization", "success", due, "bogus", stamp)
        )
    elif status in ("paid", "partially_paid"):
        if status == "paid":
            pay = due
        else:
            shop_amount = cents(to_decimal(amount if amount is not None else due.shop / 2, "paid_amount"))
            if shop_amount <= 0 or shop_amount >= due.shop:
                raise DomainError(
                    "paid_amount must be more than 0 and less than what is due", ["paid_amount"]
                )
            pay = Pair(shop_amount, cents(shop_amount * order.exchange_rate))
        if pay.shop <= 0:
            raise DomainError("nothing is due on this order", ["financial_status"])
        auth = next((t for t in order.transactions if t.kind == "authorization"), None)
        kind = "capture" if auth is not None else "sale"
        order.transactions.append(
            Transaction(
                store.next_id("OrderTransaction"),
                kind,
                "success",
                pay,
                "bogus",
                stamp,
                auth.id if auth else None,
            )
        )
    else:
        raise DomainError("financial_status must be paid, partially_paid or authorized", ["financial_status"])
    order.updated_at = store.touch()
    if fire_updated:
        store.emit("orders/updated", lambda: rest.order(store, order))
    if financial_status(store, order) == "paid":
        store.emit("orders/paid", lambda: rest.order(store, order))


# --- fulfilment ----------------------------------------------------------------------------------------
FulfilRequest = tuple[FulfillmentOrder, list[tuple[FulfillmentOrderLine, int]] | None]


def fulfil(
    store: Store,
    requests: list[FulfilRequest],
    tracking: dict[str, Any] | None,
) -> Fulfillment:
    """Ship from fulfilment orders (an empty list for one fulfils everything left on it)."""
    if not requests:
        raise DomainError(
            "lineItemsByFulfillmentOrder must not be empty", ["fulfillment", "lineItemsByFulfillmentOrder"]
        )
    orders_ = {fo.order_id for fo, _ in requests}
    locations = {fo.location_id for fo, _ in requests}
    if len(orders_) > 1 or len(locations) > 1:
        raise DomainError(
            "All fulfillment orders must belong to the same order and location.", ["fulfillment"]
        )
    order = store.orders[orders_.pop()]
    location_id = locations.pop()
    chosen: list[tuple[FulfillmentOrder, FulfillmentOrderLine, int]] = []
    for fo, lines in requests:
        if fo.status in ("CLOSED", "CANCELLED"):
            raise DomainError(
                f"Fulfillment order {fo.id} has an unfulfillable status= {fo.status.lower()}.",
                ["fulfillment"],
            )
        picked = (
            lines
            if lines
            else [(line, line.remaining_quantity) for line in fo.lines if line.remaining_quantity > 0]
        )
        for line, quantity in picked:
            if quantity <= 0 or quantity > line.remaining_quantity:
                raise DomainError(
                    f"Invalid fulfillment order line item quantity requested: {quantity} (remaining {line.remaining_quantity}).",
                    ["fulfillment", "lineItemsByFulfillmentOrder"],
                )
            chosen.append((fo, line, quantity))
    if not chosen:
        raise DomainError("Nothing left to fulfil on these fulfillment orders.", ["fulfillment"])
    stamp = store.touch()
    touched: dict[int, Any] = {}
    for fo, line, quantity in chosen:
        line.remaining_quantity -= quantity
        item = store.line_items[line.line_item_id]
        item.fulfilled += quantity
        variant = store.variants.get(item.variant_id) if item.variant_id else None
        if variant is not None and variant.tracked:
            domain.change_quantity(store, variant, location_id, "committed", -quantity)
            touched[variant.id] = variant
        fo.status = "CLOSED" if all(x.remaining_quantity == 0 for x in fo.lines) else "IN_PROGRESS"
        fo.updated_at = stamp
    for variant in touched.values():
        domain.stock_touched(store, variant, {location_id}, set())
    info = tracking or {}
    numbers = list(info.get("numbers") or ([info["number"]] if info.get("number") else []))
    urls = list(info.get("urls") or ([info["url"]] if info.get("url") else []))
    tracks = [
        {"number": n, "url": urls[i] if i < len(urls) else None, "company": info.get("company")}
        for i, n in enumerate(numbers)
    ] or (
        [{"number": None, "url": urls[0] if urls else None, "company": info.get("company")}]
        if info.get("company") or urls
        else []
    )
    fulfillment = Fulfillment(
        id=store.next_id("Fulfillment"),
        order_id=order.id,
        location_id=location_id,
        name=f"{order.name}.{len(order.fulfillment_ids) + 1}",
        status="SUCCESS",
        tracking=tracks,
        lines=[(store.next_id("FulfillmentLineItem"), line.line_item_id, q) for _, line, q in chosen],
        created_at=stamp,
        updated_at=stamp,
    )
    store.fulfillments[fulfillment.id] = fulfillment
    order.fulfillment_ids.append(fulfillment.id)
    order.updated_at = stamp
    if (
        fulfillment_status(order) == "fulfilled"
        and order.closed_at is None
        and financial_status(store, order) == "paid"
    ):
        order.closed_at = stamp
    store.emit("fulfillments/create", lambda: rest.fulfillment(store, fulfillment))
    store.emit("orders/updated", lambda: rest.order(store, order))
    topic = "orders/fulfilled" if fulfillment_status(order) == "fulfilled" else "orders/partially_fulfilled"
    store.emit(topic, lambda: rest.order(store, order))
    return fulfillment


def fulfil_order(store: Store, order: Order, spec: dict[str, Any]) -> Fulfillment:
    """Store-side fulfilment (control plane): everything left, or `line_items: [{line_item_id, quantity}]`."""
    wanted = {
        (ident(x.get("line_item_id"), "LineItem")): int(x.get("quantity", 0))
        for x in spec.get("line_items") or []
    }
    requests: list[FulfilRequest] = []
    for fo_id in order.fulfillment_order_ids:
        fo = store.fulfillment_orders[fo_id]
        if fo.status in ("CLOSED", "CANCELLED"):
            continue
        if not wanted:
            requests.append((fo, None))
            continue
        lines = [(line, wanted[line.line_item_id]) for line in fo.lines if line.line_item_id in wanted]
        if lines:
            requests.append((fo, lines))
    if not requests:
        raise DomainError("nothing left to fulfil on this order", ["order_id"])
    return fulfil(store, requests, spec.get("tracking"))


# --- refunds and cancellation --------------------------------------------------------------------------
def refund(store: Store, order: Order, spec: dict[str, Any], *, fire: bool = True) -> Refund:
    """Refund line quantities (each with or without restock) and/or shipping. A refunded unit is taken from
    what is not shipped yet first (restock type `cancel`), then from what shipped (`return`); without
    restock it is `no_restock` and nothing goes back to available."""
    location_id = order.location_id
    refund_lines: list[RefundLine] = []
    stock: dict[int, Any] = {}
    plan = []
    for i, rs in enumerate(spec.get("line_items") or []):
        lid = ident(rs.get("line_item_id"), "LineItem")
        line = store.line_items.get(lid) if lid is not None else None
        if line is None or line.order_id != order.id:
            raise DomainError(
                f"unknown line item {rs.get('line_item_id')!r}", ["line_items", str(i), "line_item_id"]
            )
        quantity = int(rs.get("quantity", 1))
        if quantity < 1 or quantity > line.current_quantity:
            raise DomainError(
                f"quantity {quantity} is more than the {line.current_quantity} refundable",
                ["line_items", str(i), "quantity"],
            )
        plan.append(
            (
                line,
                quantity,
                bool(rs.get("restock", False)),
                ident(rs.get("location_id"), "Location") or location_id,
            )
        )
    shipping = NIL
    shipping_tax = NIL
    ship = spec.get("shipping") or {}
    if ship.get("full_refund") or ship.get("amount") is not None:
        open_lines = [s for s in order.shipping_lines if not s.refunded]
        full = total(s.price for s in open_lines)
        if ship.get("full_refund"):
            shipping = full
            shipping_tax = total(t.price for s in open_lines for t in s.tax_lines)
            for s in open_lines:
                s.refunded = True
        else:
            amount = cents(to_decimal(ship["amount"], "shipping.amount"))
            if amount > full.shop:
                raise DomainError("shipping refund is more than the shipping left", ["shipping", "amount"])
            shipping = Pair(amount, cents(amount * order.exchange_rate))
    if not plan and shipping.shop == 0:
        raise DomainError("nothing to refund", ["line_items"])
    for line, quantity, restock, at in plan:
        unshipped = min(quantity, max(0, line.quantity - line.refunded - line.fulfilled))
        shipped = quantity - unshipped
        base = Pair(line.price.shop * line.quantity, line.price.pres * line.quantity) - line.discount
        subtotal = _share(base, quantity, line.quantity)
        tax = _share(line.tax, quantity, line.quantity)
        restock_type = ("cancel" if shipped == 0 else "return") if restock else "no_restock"
        refund_lines.append(
            RefundLine(
                store.next_id("RefundLineItem"),
                line.id,
                quantity,
                restock_type,
                at if restock else None,
                subtotal,
                tax,
            )
        )
        line.refunded += quantity
        if unshipped:
            _release_unshipped(store, order, line, unshipped)
        variant = store.variants.get(line.variant_id) if line.variant_id else None
        if variant is None or not variant.tracked:
            continue
        if unshipped:
            domain.change_quantity(store, variant, order.location_id, "committed", -unshipped)
            if restock:
                domain.change_quantity(store, variant, order.location_id, "available", unshipped)
                line.restocked_unfulfilled += unshipped
            stock.setdefault(variant.id, (variant, set(), set()))[1].add(order.location_id)
            if restock:
                stock[variant.id][2].add(order.location_id)
        if shipped and restock:
            domain.change_quantity(store, variant, at, "available", shipped)
            entry = stock.setdefault(variant.id, (variant, set(), set()))
            entry[1].add(at)
            entry[2].add(at)
    goods = total(rl.subtotal for rl in refund_lines) + (
        NIL if order.taxes_included else total(rl.total_tax for rl in refund_lines)
    )
    owed = goods + shipping + (NIL if order.taxes_included else shipping_tax)
    f = figures(store, order)
    paid = f.received - f.refunded
    money_back = Pair(min(owed.shop, paid.shop), min(owed.pres, paid.pres))
    stamp = store.touch()
    transactions = []
    if money_back.shop > 0:
        parent = next((t.id for t in order.transactions if t.kind in ("sale", "capture")), None)
        transactions.append(
            Transaction(
                store.next_id("OrderTransaction"), "refund", "success", money_back, "bogus", stamp, parent
            )
        )
    record = Refund(
        id=store.next_id("Refund"),
        order_id=order.id,
        created_at=stamp,
        note=spec.get("note"),
        restock=any(restock for _, _, restock, _ in plan),
        lines=refund_lines,
        shipping=shipping,
        shipping_tax=shipping_tax,
        transactions=transactions,
    )
    store.refunds[record.id] = record
    order.refund_ids.append(record.id)
    order.updated_at = stamp
    for variant, touched, available in stock.values():
        domain.stock_touched(store, variant, touched, available)
    if fire:
        store.emit("refunds/create", lambda: rest.refund(store, record))
        store.emit("orders/updated", lambda: rest.order(store, order))
    return record


def _release_unshipped(store: Store, order: Order, line: LineItem, quantity: int) -> None:
    for fo_id in order.fulfillment_order_ids:
        fo = store.fulfillment_orders[fo_id]
        for fol in fo.lines:
            if fol.line_item_id == line.id and quantity:
                take = min(quantity, fol.remaining_quantity)
                fol.remaining_quantity -= take
                fol.total_quantity -= take
                quantity -= take
        if fo.status in ("OPEN", "IN_PROGRESS") and all(x.remaining_quantity == 0 for x in fo.lines):
            fo.status = "CLOSED" if any(x.total_quantity for x in fo.lines) else "CANCELLED"
        fo.updated_at = store.now()


def cancel(
    store: Store, order: Order, reason: str, *, restock: bool, refund_money: bool, note: str | None = None
) -> None:
    """Cancel: unshipped units leave the order (back to available with `restock`), money is refunded with
    `refund_money`, an authorization is voided. Refused when the order is cancelled or anything shipped."""
    if order.cancelled_at is not None:
        raise DomainError("Order has already been cancelled.", ["orderId"], "INVALID")
    if any(li.fulfilled for li in order.line_items):
        raise DomainError("Cannot cancel an order with fulfilled line items.", ["orderId"], "INVALID")
    lines = [
        {"line_item_id": li.id, "quantity": li.current_quantity, "restock": restock}
        for li in order.line_items
        if li.current_quantity
    ]
    f = figures(store, order)
    paid = f.received - f.refunded
    refund_record = None
    if lines:
        # The lines leave the order whatever happens to the money: a refund record carries them, with a
        # refund transaction only when `refund_money` (sales are hidden from the refund otherwise).
        saved = list(order.transactions)
        if not refund_money:
            order.transactions = [t for t in order.transactions if t.kind not in ("sale", "capture")]
        refund_record = refund(
            store,
            order,
            {"line_items": lines, "shipping": {"full_refund": refund_money}, "note": note},
            fire=False,
        )
        if not refund_money:
            order.transactions = saved
    if any(t.kind == "authorization" for t in order.transactions) and paid.shop <= 0:
        order.voided = True
        order.transactions.append(
            Transaction(store.next_id("OrderTransaction"), "void", "success", NIL, "bogus", store.now())
        )
    stamp = store.touch()
    order.cancelled_at = stamp
    order.cancel_reason = reason.upper()
    order.closed_at = stamp
    order.updated_at = stamp
    if note:
        order.note = note
    if refund_record is not None and refund_record.transactions:
        store.emit("refunds/create", lambda: rest.refund(store, refund_record))
    store.emit("orders/cancelled", lambda: rest.order(store, order))
    store.emit("orders/updated", lambda: rest.order(store, order))
