"""Order rules: commitments, shipping, returns, invoices, and the derived order statuses.

Stock invariant: at a location, committed = sum of the unshipped quantities of the active/finalized
orders shipping from it. So: an order entering active/finalized commits its unshipped lines, leaving
them (void, deleted, back to draft) releases them, shipping a line lowers on hand and committed
together, a received return adds to on hand at its location.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from gecko_sandbox import domain, records, stock
from gecko_sandbox.errors import ApiError
from gecko_sandbox.store import Record, Store

COMMITTING = frozenset({"active", "finalized"})
CLOSED = frozenset({"void", "deleted"})
ZERO = Decimal(0)


def invalid(message: str) -> ApiError:
    """A business-rule 422, in the Rails shape under `base`."""
    return ApiError(422, body={"errors": {"base": [message]}})


def lines_of(store: Store, order: Record) -> list[Record]:
    table = store.table("order_line_items")
    return [table.records[i] for i in order["order_line_item_ids"] if i in table.records]


def _quantities(store: Store, line: Record, wanted: frozenset[str]) -> Decimal:
    """Sum of this line's quantities on fulfillments whose status is in `wanted`."""
    fulfillments = store.table("fulfillments").records
    items = store.table("fulfillment_line_items").records
    total = ZERO
    for item_id in line["fulfillment_line_item_ids"]:
        item = items.get(item_id)
        if item and fulfillments.get(item["fulfillment_id"], {}).get("status") in wanted:
            total += stock.dec(item["quantity"])
    return total


def shipped(store: Store, line: Record) -> Decimal:
    return _quantities(store, line, frozenset({"fulfilled"}))


def packed(store: Store, line: Record) -> Decimal:
    """Packed or shipped: what no new fulfillment may include again."""
    return _quantities(store, line, frozenset({"packed", "fulfilled"}))


def commit(store: Store, order: Record, sign: int, lines: list[Record] | None = None) -> None:
    """Commit (+1) or release (-1) the unshipped quantities of `lines` (default all) at the order's location."""
    variants = store.table("variants")
    for line in lines if lines is not None else lines_of(store, order):
        if line["freeform"] or line["variant_id"] is None:
            continue
        unshipped = stock.dec(line["quantity"]) - shipped(store, line)
        variant = variants.get(line["variant_id"])
        if unshipped and variant is not None:
            domain.move_stock(store, variant, order["stock_location_id"], committed=unshipped * sign)


def set_status(store: Store, order: Record, new: str) -> None:
    """Change an order's status, moving commitments and emitting order.finalized / order.fulfilled."""
    old = order["status"]
    if old == new:
        return
    if old in COMMITTING and new not in COMMITTING:
        commit(store, order, -1)
    elif old not in COMMITTING and new in COMMITTING:
        commit(store, order, +1)
    order["status"] = new
    domain.touch(store, "orders", order)
    if new == "finalized":
        store.emit("order.finalized", "orders", order)
    if new == "fulfilled":
        store.emit("order.fulfilled", "orders", order)


def ship(store: Store, fulfillment: Record, now: str) -> None:
    """A fulfillment becomes `fulfilled`: stock leaves its location (on hand and committed drop)."""
    order = store.table("orders").records[fulfillment["order_id"]]
    items = store.table("fulfillment_line_items").records
    lines = store.table("order_line_items").records
    variants = store.table("variants")
    committing = order["status"] in COMMITTING
    for item_id in fulfillment["fulfillment_line_item_ids"]:
        item = items[item_id]
        line = lines.get(item["order_line_item_id"])
        variant = variants.get(item["variant_id"]) if item["variant_id"] is not None else None
        if line is None or variant is None:
            continue
        quantity = stock.dec(item["quantity"])
        # Only what is still committed can be released (an over-shipment ships from nowhere committed).
        release = (
            min(quantity, max(stock.dec(line["quantity"]) - shipped(store, line), ZERO))
            if committing
            else ZERO
        )
        domain.move_stock(
            store, variant, fulfillment["stock_location_id"], on_hand=-quantity, committed=-release
        )
    fulfillment["status"] = "fulfilled"
    fulfillment["shipped_at"] = fulfillment["shipped_at"] or now
    domain.touch(store, "fulfillments", fulfillment)
    store.emit("fulfillment.fulfilled", "fulfillments", fulfillment)


def receive_return(store: Store, fulfillment_return: Record, now: str) -> None:
    """A return becomes `received`: the goods are back on hand at its location."""
    items = store.table("fulfillment_return_line_items").records
    lines = store.table("order_line_items").records
    variants = store.table("variants")
    for item_id in fulfillment_return["fulfillment_return_line_item_ids"]:
        item = items[item_id]
        line = lines.get(item["order_line_item_id"])
        if line is None or line["variant_id"] is None or line["variant_id"] not in variants.records:
            continue
        variant = variants.records[line["variant_id"]]
        domain.move_stock(
            store, variant, fulfillment_return["location_id"], on_hand=stock.dec(item["quantity"])
        )
    fulfillment_return["status"] = "received"
    fulfillment_return["received_at"] = fulfillment_return["received_at"] or now
    domain.touch(store, "fulfillment_returns", fulfillment_return)
    store.emit("fulfillment_return.received", "fulfillment_returns", fulfillment_return)


def _level(done: Decimal, total: Decimal, names: tuple[str, str, str]) -> str:
    none, partial, full = names
    if total <= 0 or done <= 0:
        return none
    return full if done >= total else partial


def refresh(store: Store, order: Record) -> None:
    """Recompute the derived statuses; an order fully shipped becomes `fulfilled`."""
    lines = [line for line in lines_of(store, order) if not line["freeform"]]
    total = sum((stock.dec(line["quantity"]) for line in lines), ZERO)
    shipped_total = sum((min(shipped(store, line), stock.dec(line["quantity"])) for line in lines), ZERO)
    packed_total = sum((min(packed(store, line), stock.dec(line["quantity"])) for line in lines), ZERO)
    returns = store.table("fulfillment_returns").records
    return_items = store.table("fulfillment_return_line_items").records
    received = returning = ZERO
    for rid in order["fulfillment_return_ids"]:
        fulfillment_return = returns.get(rid)
        if fulfillment_return is None or fulfillment_return["status"] not in ("returning", "received"):
            continue
        quantity = sum(
            (
                stock.dec(return_items[i]["quantity"])
                for i in fulfillment_return["fulfillment_return_line_item_ids"]
            ),
            ZERO,
        )
        if fulfillment_return["status"] == "received":
            received += quantity
        else:
            returning += quantity
    invoices = store.table("invoices").records
    live_invoices = [invoices[i] for i in order["invoice_ids"] if i in invoices]
    all_lines = lines_of(store, order)
    invoiced_lines = sum(1 for line in all_lines if line["invoice_line_item_ids"])
    derived = {
        "packed_status": _level(packed_total, total, ("unpacked", "partial", "packed")),
        "fulfillment_status": _level(shipped_total, total, ("unshipped", "partial", "shipped")),
        "return_status": _level(received, shipped_total, ("unreturned", "partial", "returned")),
        "returning_status": _level(returning, shipped_total, ("unreturning", "partial", "returning")),
        "invoice_status": _level(
            Decimal(invoiced_lines), Decimal(len(all_lines)), ("uninvoiced", "partial", "invoiced")
        ),
        "payment_status": (
            "paid"
            if live_invoices
            and all(i["payment_status"] == "paid" for i in live_invoices)
            and invoiced_lines == len(all_lines)
            else "partial"
            if any(i["payment_status"] == "paid" for i in live_invoices)
            else "unpaid"
        ),
    }
    changed = {k: v for k, v in derived.items() if order[k] != v}
    if changed:
        order.update(changed)
        domain.touch(store, "orders", order)
    if total > 0 and shipped_total >= total and order["status"] in COMMITTING:
        set_status(store, order, "fulfilled")


def order_total(lines: Sequence[Mapping[str, Any]], tax_treatment: str) -> str:
    subtotal = ZERO
    for line in lines:
        price = stock.dec(line["price"])
        discount = stock.dec(line["discount"])
        subtotal += stock.dec(line["quantity"]) * price * (1 - discount / 100)
    if tax_treatment == "exclusive":
        subtotal *= Decimal("1.15")
    return stock.fmt(subtotal.quantize(Decimal("0.01")))


def add_line_items(
    store: Store,
    table: str,
    parent: Record,
    quantities: list[tuple[Record, Decimal]],
    make_record: Callable[[int, Record, int, str], Record],
) -> None:
    """One child line per (order line, quantity) of a fulfillment or a return, linked from both its
    parent and the order line (`<table singular>_ids`, e.g. fulfillment_line_item_ids)."""
    items = store.table(table)
    ids_key = f"{table[:-1]}_ids"
    for position, (line, quantity) in enumerate(quantities):
        item = domain.insert(store, table, make_record(items.next_id, line, position, stock.fmt(quantity)))
        parent[ids_key].append(item["id"])
        line[ids_key].append(item["id"])
        domain.touch(store, "order_line_items", line)


def add_fulfillment(
    store: Store,
    order: Record,
    quantities: list[tuple[Record, Decimal]],
    status: str,
    fields: dict[str, object],
    now: str,
) -> Record:
    """A fulfillment of the given (line, quantity) pairs, `packed` or shipped at once (`fulfilled`)."""
    table = store.table("fulfillments")
    fid = table.next_id
    fulfillment = records.fulfillment_record(fid, order, packed_at=now[:10], **fields)
    fulfillment["status"] = "packed"
    variants = store.table("variants").records

    def line_record(item_id: int, line: Record, position: int, quantity: str) -> Record:
        sku = variants[line["variant_id"]]["sku"] if line["variant_id"] in variants else None
        return records.fulfillment_line_record(item_id, fid, line, sku, position=position, quantity=quantity)

    add_line_items(store, "fulfillment_line_items", fulfillment, quantities, line_record)
    domain.insert(store, "fulfillments", fulfillment)
    order["fulfillment_ids"].append(fid)
    domain.touch(store, "orders", order)
    if status == "fulfilled":
        ship(store, fulfillment, now)
    return fulfillment


def add_invoice(
    store: Store, order: Record, lines: list[Record], fields: dict[str, object], now: str
) -> Record:
    table = store.table("invoices")
    iid = table.next_id
    invoice = records.invoice_record(
        iid, order, invoiced_at=now[:10], total=order_total(lines, order["tax_treatment"]), **fields
    )
    invoice["cached_total"] = invoice["total"]
    item_table = store.table("invoice_line_items")
    for position, line in enumerate(lines):
        item = domain.insert(
            store,
            "invoice_line_items",
            records.invoice_line_record(item_table.next_id, iid, line, position=position),
        )
        invoice["invoice_line_item_ids"].append(item["id"])
        line["invoice_line_item_ids"].append(item["id"])
        domain.touch(store, "order_line_items", line)
    domain.insert(store, "invoices", invoice)
    order["invoice_ids"].append(iid)
    order["invoices"].append(iid)
    order["invoice_numbers"][str(iid)] = invoice["invoice_number"]
    domain.touch(store, "orders", order)
    return invoice


def pay_invoice(store: Store, order: Record, invoice: Record, fields: dict[str, object], now: str) -> None:
    table = store.table("payments")
    payment = domain.insert(
        store,
        "payments",
        records.payment_record(
            table.next_id,
            invoice["id"],
            invoice["total"],
            paid_at=fields.get("paid_at") or now,
            payment_method_name=fields.get("payment_method_name") or "Cash",
        ),
    )
    invoice["payment_ids"].append(payment["id"])
    invoice["payment_status"] = "paid"
    domain.touch(store, "invoices", invoice)
    order["payment_ids"].append(payment["id"])
    domain.touch(store, "orders", order)
