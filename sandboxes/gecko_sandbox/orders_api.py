"""Orders over the API: create, update, delete, and the order actions.

Everything is validated before anything is written, so a 422 leaves no half-made company or order.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gecko_sandbox import domain, parties, records, sales, stock
from gecko_sandbox.clock import parse_to_date
from gecko_sandbox.context import Ctx
from gecko_sandbox.core import Reply
from gecko_sandbox.errors import ApiError, not_found
from gecko_sandbox.shipments_api import SHIPMENT_FIELDS
from gecko_sandbox.store import Record, dumps
from gecko_sandbox.validate import (
    DECIMAL_LIMIT,
    Errors,
    as_text,
    optional_object,
    permitted,
    root_object,
)

CREATE_STATUSES = ("draft", "active", "finalized")
PUT_STATUSES = ("draft", "active", "finalized", "void")
TAX_TREATMENTS = ("exclusive", "inclusive")
ORDER_TEXT_FIELDS = frozenset(
    {
        "order_number",
        "reference_number",
        "source_url",
        "email",
        "phone_number",
        "notes",
        "tags",
        "assignee_id",
        "contact_id",
    }
)


def _order(ctx: Ctx, raw_id: str) -> Record:
    order = ctx.store.table("orders").lookup(raw_id)
    if order is None:
        raise not_found("order", raw_id)
    return order


def _date(errors: Errors, data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value in (None, ""):
        return None
    try:
        return parse_to_date(str(value))
    except ValueError:
        errors.add(field, "is not a date")
        return None


# --- line items --------------------------------------------------------------------------------------


def _check_lines(
    ctx: Ctx, errors: Errors, items: object, price_list: str | None, start: int = 0
) -> list[dict[str, Any]]:
    """Validated line fields (not yet stored). Prices missing on a variant line come from the order's
    price list; when that has no value the line is refused."""
    if items is None:
        return []
    if not isinstance(items, list):
        errors.add("order_line_items", "must be a list")
        return []
    variants = ctx.store.table("variants")
    tax_types = ctx.store.table("tax_types")
    out = []
    for offset, item in enumerate(items):
        name = f"order_line_items[{start + offset}]"
        if not isinstance(item, dict):
            errors.add(name, "must be an object")
            continue
        freeform = bool(item.get("freeform")) or (
            item.get("variant_id") is None and item.get("label") is not None
        )
        quantity = errors.decimal(item, "quantity", f"{name}.quantity", positive=True)
        if item.get("quantity") is None:
            errors.add(f"{name}.quantity", "can't be blank")
        discount = errors.decimal(item, "discount", f"{name}.discount")
        if discount is not None and f"{name}.discount" not in errors.errors and abs(discount) > 100:
            errors.add(f"{name}.discount", "must be between -100 and 100 (a percentage)")
        errors.decimal(item, "tax_rate_override", f"{name}.tax_rate_override")
        price = errors.decimal(item, "price", f"{name}.price")
        tax_type = errors.reference(item, "tax_type_id", tax_types, f"{name}.tax_type_id")
        variant = None
        if freeform:
            if item.get("price") is None:
                errors.add(f"{name}.price", "can't be blank")
        else:
            variant = errors.reference(item, "variant_id", variants, f"{name}.variant_id")
            if item.get("variant_id") is None:
                errors.add(f"{name}.variant_id", "can't be blank")
            elif variant is not None and variant["status"] == "archived":
                errors.add(f"{name}.variant_id", "is archived")
            elif variant is not None and not variant["sellable"]:
                errors.add(f"{name}.variant_id", "is not sellable")
            if variant is not None and price is None:
                listed = next(
                    (p["value"] for p in variant["variant_prices"] if p["price_list_id"] == price_list), None
                )
                if listed is None:
                    errors.add(f"{name}.price", f"can't be blank (variant has no price in list {price_list})")
                else:
                    price = Decimal(listed)
        out.append(
            {
                "variant_id": variant["id"] if variant else None,
                "freeform": freeform,
                "quantity": stock.fmt(quantity) if quantity is not None else None,
                "price": stock.fmt(price) if price is not None else None,
                "discount": as_text(item.get("discount")),
                "tax_rate_override": as_text(item.get("tax_rate_override")),
                "tax_type_id": tax_type["id"] if tax_type else 1,
                "label": item.get("label"),
                "line_type": item.get("line_type") or (None if freeform else "product"),
                "image_url": item.get("image_url"),
                "shippable": not freeform,
            }
        )
    return out


def check_total(errors: Errors, lines: list[Mapping[str, Any]], tax_treatment: str) -> None:
    """The order total of these lines must be computable (in range) BEFORE anything is written: an
    answer of 500 after a half-done write is what makes a client post the order again."""
    if errors.errors:
        return  # some line is not valid yet; its own error says why
    try:
        total = Decimal(sales.order_total(lines, tax_treatment))
    except ArithmeticError:  # decimal.InvalidOperation / Overflow: beyond what a total can hold
        total = DECIMAL_LIMIT
    if abs(total) >= DECIMAL_LIMIT:
        errors.add(
            "order_line_items", "make the order total out of range (at most 12 digits before the point)"
        )


def _add_lines(ctx: Ctx, order: Record, lines: list[dict[str, Any]]) -> list[Record]:
    table = ctx.store.table("order_line_items")
    stored = []
    for fields in lines:
        position = len(order["order_line_item_ids"])
        line = domain.insert(
            ctx.store,
            "order_line_items",
            records.line_record(table.next_id, order["id"], position=position, **fields),
        )
        order["order_line_item_ids"].append(line["id"])
        stored.append(line)
    order["total"] = order["cached_total"] = sales.order_total(
        sales.lines_of(ctx.store, order), order["tax_treatment"]
    )
    return stored


# --- orders ------------------------------------------------------------------------------------------


def post_order(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "order")
    store = ctx.store
    errors = Errors()
    account = store.table("accounts").records[1]
    companies, addresses = store.table("companies"), store.table("addresses")
    company = errors.reference(data, "company_id", companies)
    new_company = data.get("company") if data.get("company_id") in (None, "") else None
    if company is None and "company_id" not in errors.errors:
        if isinstance(new_company, dict):
            parties.company_errors(store, errors, new_company, "company.", creating=True)
        else:
            errors.add("company_id", "can't be blank")
    addresses_in: dict[str, Record | dict[str, Any] | None] = {}
    for kind in ("shipping_address", "billing_address"):
        existing = errors.reference(data, f"{kind}_id", addresses)
        if existing is not None and company is not None and existing["company_id"] != company["id"]:
            errors.add(f"{kind}_id", "does not belong to the company")
        embedded = data.get(kind) if data.get(f"{kind}_id") in (None, "") else None
        if isinstance(embedded, dict):
            parties.address_errors(errors, embedded, f"{kind}.")
        addresses_in[kind] = existing or (embedded if isinstance(embedded, dict) else None)
    if addresses_in["shipping_address"] is None and "shipping_address_id" not in errors.errors:
        errors.add("shipping_address_id", "can't be blank")
    issued_at = _date(errors, data, "issued_at")
    if data.get("issued_at") in (None, ""):
        errors.add("issued_at", "can't be blank")
    ship_at = _date(errors, data, "ship_at")
    errors.one_of(data, "status", CREATE_STATUSES)
    errors.one_of(data, "tax_treatment", TAX_TREATMENTS)
    currency = _currency(ctx, errors, data)
    location = errors.reference(data, "stock_location_id", store.table("locations"))
    if location is not None and (location["status"] != "active" or not location["holds_stock"]):
        errors.add("stock_location_id", "is not an active location that holds stock")
    parties.check_price_list(store, errors, data, "default_price_list_id")
    price_list = (
        as_text(data.get("default_price_list_id"))
        or (company or {}).get("default_price_list_id")
        or account["default_order_price_list_id"]
    )
    lines = _check_lines(ctx, errors, data.get("order_line_items"), price_list)
    tax_treatment = data.get("tax_treatment") or account["default_tax_treatment"]
    check_total(errors, lines, tax_treatment)
    errors.check()
    # Valid: write the embedded company and addresses first, then the order.
    if company is None:
        assert isinstance(new_company, dict)
        company = parties.create_company(store, new_company)
    ids: dict[str, int] = {}
    for kind in ("shipping_address", "billing_address"):
        given = addresses_in[kind]
        if given is not None:
            ids[kind] = (
                given["id"]
                if "id" in given and given.get("company_id")
                else parties.create_address(store, company, given)["id"]
            )
    ids.setdefault("billing_address", ids["shipping_address"])
    table = store.table("orders")
    oid = table.next_id
    order = records.order_record(
        oid,
        company_id=company["id"],
        shipping_address_id=ids["shipping_address"],
        billing_address_id=ids["billing_address"],
        stock_location_id=location["id"] if location else account["primary_location_id"],
        currency_id=currency["id"],
        default_price_list_id=price_list,
        issued_at=issued_at,
        ship_at=ship_at,
        status="draft",
        tax_treatment=tax_treatment,
        email=data.get("email") or company.get("email"),
        **{k: v for k, v in permitted(data, ORDER_TEXT_FIELDS).items() if v is not None},
    )
    if not order["order_number"]:
        order["order_number"] = f"SO{oid:05d}"
    stored = domain.insert(store, "orders", order, event=False)
    _add_lines(ctx, stored, lines)
    store.emit("order.create", "orders", stored)
    sales.set_status(store, stored, data.get("status") or "draft")
    return ctx.created("orders", stored)


def _currency(ctx: Ctx, errors: Errors, data: dict[str, Any]) -> Record:
    currencies = ctx.store.table("currencies")
    default = currencies.records[ctx.store.table("accounts").records[1]["default_currency_id"]]
    iso = data.get("currency_iso")
    if iso not in (None, ""):
        match = next(
            (
                c
                for c in currencies.records.values()
                if c["iso"] == str(iso).upper() and c["status"] == "active"
            ),
            None,
        )
        if match is None:
            errors.add("currency_iso", f"{iso} is not a currency of this account; create it first")
            return default
        return match
    return errors.reference(data, "currency_id", currencies) or default


def put_order(ctx: Ctx, raw_id: str) -> Reply:
    order = _order(ctx, raw_id)
    data = root_object(ctx.body, "order")
    store = ctx.store
    errors = Errors()
    if order["status"] in sales.CLOSED:
        raise sales.invalid(f"Cannot update a {order['status']} order")
    status = data.get("status")
    errors.one_of(data, "status", PUT_STATUSES)
    errors.one_of(data, "tax_treatment", TAX_TREATMENTS)
    if status and status != order["status"] and order["status"] == "fulfilled":
        errors.add("status", "cannot change once the order is fulfilled")
    for kind in ("shipping_address_id", "billing_address_id"):
        address = errors.reference(data, kind, store.table("addresses"))
        if address is not None and address["company_id"] != order["company_id"]:
            errors.add(kind, "does not belong to the company")
    location = errors.reference(data, "stock_location_id", store.table("locations"))
    if location is not None and (location["status"] != "active" or not location["holds_stock"]):
        errors.add("stock_location_id", "is not an active location that holds stock")
    parties.check_price_list(store, errors, data, "default_price_list_id")
    issued_at = _date(errors, data, "issued_at")
    ship_at = _date(errors, data, "ship_at")
    new_lines = data.get("order_line_items")
    if new_lines and order["status"] == "fulfilled":
        errors.add("order_line_items", "cannot be added to a fulfilled order")
    price_list = as_text(data.get("default_price_list_id")) or order["default_price_list_id"]
    lines = _check_lines(ctx, errors, new_lines, price_list, start=len(order["order_line_item_ids"]))
    check_total(
        errors, [*sales.lines_of(store, order), *lines], data.get("tax_treatment") or order["tax_treatment"]
    )
    errors.check()
    fields: dict[str, Any] = permitted(
        data, ORDER_TEXT_FIELDS | {"shipping_address_id", "billing_address_id", "tax_treatment"}
    )
    if issued_at:
        fields["issued_at"] = issued_at
    if "ship_at" in data:
        fields["ship_at"] = ship_at
    if data.get("default_price_list_id"):
        fields["default_price_list_id"] = fields["default_price_type_id"] = price_list
    if "tax_treatment" in fields:
        fields["tax_type"] = fields["tax_treatment"]
    order.update(fields)
    domain.touch(store, "orders", order)
    if location is not None and location["id"] != order["stock_location_id"]:
        committing = order["status"] in sales.COMMITTING
        if committing:
            sales.commit(store, order, -1)
        order["stock_location_id"] = location["id"]
        if committing:
            sales.commit(store, order, +1)
    if lines:
        added = _add_lines(ctx, order, lines)
        if order["status"] in sales.COMMITTING:
            sales.commit(store, order, +1, added)
    if status == "void":
        _void(ctx, order)
    elif status:
        sales.set_status(store, order, status)
    sales.refresh(store, order)
    return Reply(204)


# --- actions -----------------------------------------------------------------------------------------


def order_action(ctx: Ctx, raw_id: str, action: str) -> Reply:
    order = _order(ctx, raw_id)
    handler = ACTIONS.get(action)
    if handler is None:
        raise ApiError(404, f"Unknown order action {action!r}; use one of {', '.join(ACTIONS)}")
    if order["status"] in ("draft", *sales.CLOSED) and action != "void":
        raise sales.invalid(f"Cannot {action} a {order['status']} order")
    handler(ctx, order)
    sales.refresh(ctx.store, order)
    return Reply(200, dumps({"order": order}))


def _invoice(ctx: Ctx, order: Record) -> None:
    pending = [line for line in sales.lines_of(ctx.store, order) if not line["invoice_line_item_ids"]]
    if not pending:
        raise sales.invalid("The order is already fully invoiced")
    body = optional_object(ctx.body, "invoice")
    sales.add_invoice(
        ctx.store, order, pending, permitted(body, frozenset({"due_at", "invoiced_at", "notes"})), ctx.now
    )


def _pay(ctx: Ctx, order: Record) -> None:
    if order["payment_status"] == "paid":
        raise sales.invalid("The order is already paid")
    body = optional_object(ctx.body, "payment")
    invoices = ctx.store.table("invoices").records
    unpaid = [
        invoices[i] for i in order["invoice_ids"] if i in invoices and invoices[i]["payment_status"] != "paid"
    ]
    pending = [line for line in sales.lines_of(ctx.store, order) if not line["invoice_line_item_ids"]]
    if pending:
        unpaid.append(sales.add_invoice(ctx.store, order, pending, {}, ctx.now))
    for invoice in unpaid:
        sales.pay_invoice(ctx.store, order, invoice, body, ctx.now)


def _unpacked(ctx: Ctx, order: Record) -> list[tuple[Record, Decimal]]:
    out = []
    for line in sales.lines_of(ctx.store, order):
        if line["freeform"] or line["variant_id"] is None:
            continue
        rest = stock.dec(line["quantity"]) - sales.packed(ctx.store, line)
        if rest > 0:
            out.append((line, rest))
    return out


def _pack(ctx: Ctx, order: Record) -> None:
    rest = _unpacked(ctx, order)
    if not rest:
        raise sales.invalid("Nothing left to pack: every item is packed or shipped")
    fields = permitted(optional_object(ctx.body, "fulfillment"), SHIPMENT_FIELDS)
    sales.add_fulfillment(ctx.store, order, rest, "packed", fields, ctx.now)


def _fulfil(ctx: Ctx, order: Record) -> None:
    fulfillments = ctx.store.table("fulfillments").records
    packed = [
        fulfillments[i] for i in order["fulfillment_ids"] if fulfillments.get(i, {}).get("status") == "packed"
    ]
    rest = _unpacked(ctx, order)
    if not packed and not rest:
        raise sales.invalid("Nothing left to fulfil: every item is shipped")
    fields = permitted(optional_object(ctx.body, "fulfillment"), SHIPMENT_FIELDS)
    for fulfillment in packed:
        fulfillment.update(fields)
        sales.ship(ctx.store, fulfillment, ctx.now)
    if rest:
        sales.add_fulfillment(ctx.store, order, rest, "fulfilled", fields, ctx.now)


def _void(ctx: Ctx, order: Record) -> None:
    if order["status"] in sales.CLOSED:
        raise sales.invalid(f"Cannot void a {order['status']} order")
    lines = sales.lines_of(ctx.store, order)
    if order["status"] == "fulfilled" or any(sales.shipped(ctx.store, line) > 0 for line in lines):
        raise sales.invalid("Cannot void an order with shipped items; return them instead")
    fulfillments = ctx.store.table("fulfillments").records
    for fid in order["fulfillment_ids"]:
        fulfillment = fulfillments.get(fid)
        if fulfillment is not None and fulfillment["status"] == "packed":
            fulfillment["status"] = "void"
            domain.touch(ctx.store, "fulfillments", fulfillment)
    sales.set_status(ctx.store, order, "void")


ACTIONS = {"invoice": _invoice, "pay": _pay, "pack": _pack, "fulfil": _fulfil, "void": _void}


def delete_order(ctx: Ctx, raw_id: str) -> Reply:
    """DELETE /orders/{id} marks it `deleted`, releasing its commitments (422 once something shipped)."""
    order = _order(ctx, raw_id)
    if any(sales.shipped(ctx.store, line) > 0 for line in sales.lines_of(ctx.store, order)):
        raise sales.invalid("Cannot delete an order with shipped items")
    sales.set_status(ctx.store, order, "deleted")
    return Reply(204)
