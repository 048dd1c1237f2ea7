"""Changing the lines of an existing sales order: `PUT /order_line_items/{id}` (quantity, price,
discount, tax_rate_override, label) and `DELETE /order_line_items/{id}`; new lines are appended with
`PUT /orders/{id}` (orders_api.py).

The API's exact rules are UNCONFIRMED (gecko-api.md 6.10); the sandbox's, documented in its README:
a line may change while its order is draft or active and unpaid, and the line is neither packed nor
shipped; a line may be deleted under the same conditions when it is not invoiced either. Otherwise 422
with a `base` message. A change moves the line's stock commitment, follows onto its (unpaid) invoice
lines and the invoice and order totals; everything is checked before anything is written.
"""

from __future__ import annotations

from typing import Any

from gecko_sandbox import domain, sales, stock
from gecko_sandbox.context import Ctx
from gecko_sandbox.core import Reply
from gecko_sandbox.errors import not_found
from gecko_sandbox.orders_api import check_total
from gecko_sandbox.store import Record
from gecko_sandbox.validate import Errors, as_text, root_object

EDITABLE_STATUSES = frozenset({"draft", "active"})


def _line_and_order(ctx: Ctx, raw_id: str) -> tuple[Record, Record]:
    line = ctx.store.table("order_line_items").lookup(raw_id)
    if line is None:
        raise not_found("order_line_item", raw_id)
    return line, ctx.store.table("orders").records[line["order_id"]]


def _check_editable(ctx: Ctx, order: Record, line: Record) -> None:
    if order["status"] not in EDITABLE_STATUSES:
        raise sales.invalid(f"Cannot change the lines of a {order['status']} order")
    if order["payment_status"] != "unpaid":
        raise sales.invalid("Cannot change the lines of a paid order")
    if sales.packed(ctx.store, line) > 0:
        raise sales.invalid("Cannot change a line that is packed or shipped")


def put_line(ctx: Ctx, raw_id: str) -> Reply:
    line, order = _line_and_order(ctx, raw_id)
    data = root_object(ctx.body, "order_line_item")
    _check_editable(ctx, order, line)
    errors = Errors()
    quantity = errors.decimal(data, "quantity", positive=True)
    if "quantity" in data and data["quantity"] is None:
        errors.add("quantity", "can't be blank")
    price = errors.decimal(data, "price")
    discount = errors.decimal(data, "discount")
    if discount is not None and "discount" not in errors.errors and abs(discount) > 100:
        errors.add("discount", "must be between -100 and 100 (a percentage)")
    errors.decimal(data, "tax_rate_override")
    fields: dict[str, Any] = {}
    if quantity is not None:
        fields["quantity"] = stock.fmt(quantity)
    if price is not None:
        fields["price"] = stock.fmt(price)
    for name in ("discount", "tax_rate_override", "label"):
        if name in data:
            fields[name] = as_text(data[name])
    lines = [
        {**other, **fields} if other["id"] == line["id"] else other
        for other in sales.lines_of(ctx.store, order)
    ]
    check_total(errors, lines, order["tax_treatment"])
    errors.check()
    committing = order["status"] in sales.COMMITTING
    if committing:
        sales.commit(ctx.store, order, -1, [line])
    line.update(fields)
    domain.touch(ctx.store, "order_line_items", line)
    if committing:
        sales.commit(ctx.store, order, +1, [line])
    _follow_invoices(ctx, order, line)
    _retotal(ctx, order)
    return Reply(204)


def delete_line(ctx: Ctx, raw_id: str) -> Reply:
    line, order = _line_and_order(ctx, raw_id)
    _check_editable(ctx, order, line)
    if line["invoice_line_item_ids"]:
        raise sales.invalid("Cannot delete an invoiced line; change its quantity instead")
    if order["status"] in sales.COMMITTING:
        sales.commit(ctx.store, order, -1, [line])
    order["order_line_item_ids"].remove(line["id"])
    ctx.store.purge(ctx.store.table("order_line_items"), line["id"])
    _retotal(ctx, order)
    return Reply(204)


def _follow_invoices(ctx: Ctx, order: Record, line: Record) -> None:
    """An unpaid invoice bills what the line now says."""
    items = ctx.store.table("invoice_line_items").records
    invoices = ctx.store.table("invoices").records
    for item_id in line["invoice_line_item_ids"]:
        item = items.get(item_id)
        if item is None:
            continue
        item["quantity"] = line["quantity"]
        domain.touch(ctx.store, "invoice_line_items", item)
        invoice = invoices.get(item["invoice_id"])
        if invoice is not None:
            billed = [
                ctx.store.table("order_line_items").records[items[i]["order_line_item_id"]]
                for i in invoice["invoice_line_item_ids"]
            ]
            invoice["total"] = invoice["cached_total"] = sales.order_total(billed, order["tax_treatment"])
            domain.touch(ctx.store, "invoices", invoice)


def _retotal(ctx: Ctx, order: Record) -> None:
    order["total"] = order["cached_total"] = sales.order_total(
        sales.lines_of(ctx.store, order), order["tax_treatment"]
    )
    domain.touch(ctx.store, "orders", order)
    sales.refresh(ctx.store, order)
