"""Fulfillments and fulfillment returns over the API: create with embedded line items, ship or
receive by PUT, delete a packed fulfillment."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from gecko_sandbox import domain, records, sales, stock
from gecko_sandbox.context import Ctx
from gecko_sandbox.core import Reply
from gecko_sandbox.errors import not_found
from gecko_sandbox.store import Record, Store
from gecko_sandbox.validate import Errors, permitted, root_object

SHIPMENT_FIELDS = frozenset(
    {
        "tracking_number",
        "tracking_url",
        "tracking_company",
        "service",
        "notes",
        "delivery_type",
        "exchange_rate",
        "packed_at",
        "shipped_at",
        "received_at",
        "shipping_address_id",
        "billing_address_id",
    }
)
RETURN_FIELDS = frozenset(
    {
        "tracking_number",
        "tracking_url",
        "tracking_company",
        "delivery_type",
        "notes",
        "exchange_rate",
        "credit_note_number",
        "received_at",
    }
)


def _item_quantities(
    ctx: Ctx, errors: Errors, order: Record, items: object, root: str, limit: Callable[[Record], Decimal]
) -> list[tuple[Record, Decimal]]:
    """(order line, quantity) pairs of a fulfillment's or return's embedded line items."""
    if not isinstance(items, list) or not items:
        noun = "Fulfillment" if root == "fulfillment_line_items" else "Fulfillment Return"
        errors.add("base", f"Cannot create or update a {noun} without line items")
        return []
    lines = ctx.store.table("order_line_items")
    out: list[tuple[Record, Decimal]] = []
    asked: dict[int, Decimal] = {}
    for index, item in enumerate(items):
        name = f"{root}[{index}]"
        if not isinstance(item, dict):
            errors.add(name, "must be an object")
            continue
        line = errors.reference(item, "order_line_item_id", lines, f"{name}.order_line_item_id")
        if item.get("order_line_item_id") is None:
            errors.add(f"{name}.order_line_item_id", "can't be blank")
        quantity = errors.decimal(item, "quantity", f"{name}.quantity", positive=True)
        if item.get("quantity") is None:
            errors.add(f"{name}.quantity", "can't be blank")
        if line is None or quantity is None:
            continue
        if line["order_id"] != order["id"]:
            errors.add(f"{name}.order_line_item_id", "does not belong to the order")
            continue
        if line["freeform"]:
            errors.add(f"{name}.order_line_item_id", "is a freeform line (nothing to ship)")
            continue
        asked[line["id"]] = asked.get(line["id"], Decimal(0)) + quantity
        if asked[line["id"]] > limit(line):
            errors.add(
                f"{name}.quantity", f"exceeds what is left on line {line['id']} ({stock.fmt(limit(line))})"
            )
        out.append((line, quantity))
    return out


def _order_and_location(
    store: Store, errors: Errors, data: Record, statuses: tuple[str, ...], location_field: str
) -> tuple[Record, Record | None]:
    """What a fulfillment and a return both check first: their order, status, and stock location."""
    order = errors.reference(data, "order_id", store.table("orders"))
    if data.get("order_id") is None:
        errors.add("order_id", "can't be blank")
    errors.one_of(data, "status", statuses)
    location = errors.reference(data, location_field, store.table("locations"))
    if location is not None and not location["holds_stock"]:
        errors.add(location_field, "does not hold stock")
    errors.check()
    assert order is not None
    return order, location


def post_fulfillment(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "fulfillment")
    store = ctx.store
    errors = Errors()
    order, location = _order_and_location(store, errors, data, ("packed", "fulfilled"), "stock_location_id")
    if order["status"] in ("draft", *sales.CLOSED):
        raise sales.invalid(f"Cannot create a fulfillment for a {order['status']} order")
    quantities = _item_quantities(
        ctx,
        errors,
        order,
        data.get("fulfillment_line_items"),
        "fulfillment_line_items",
        lambda line: stock.dec(line["quantity"]) - sales.packed(store, line),
    )
    errors.check()
    fields = permitted(data, SHIPMENT_FIELDS)
    if location is not None:
        fields["stock_location_id"] = location["id"]
    fulfillment = sales.add_fulfillment(
        store, order, quantities, data.get("status") or "packed", fields, ctx.now
    )
    sales.refresh(store, order)
    return ctx.created("fulfillments", fulfillment)


def put_fulfillment(ctx: Ctx, raw_id: str) -> Reply:
    table = ctx.store.table("fulfillments")
    fulfillment = table.lookup(raw_id)
    if fulfillment is None:
        raise not_found("fulfillment", raw_id)
    data = root_object(ctx.body, "fulfillment")
    errors = Errors()
    errors.one_of(data, "status", ("packed", "fulfilled", "void"))
    status = data.get("status")
    if status and status != fulfillment["status"]:
        if fulfillment["status"] != "packed":
            errors.add("status", f"cannot change a {fulfillment['status']} fulfillment to {status}")
    errors.check()
    fulfillment.update(permitted(data, SHIPMENT_FIELDS))
    domain.touch(ctx.store, "fulfillments", fulfillment)
    if status == "fulfilled" and fulfillment["status"] == "packed":
        sales.ship(ctx.store, fulfillment, ctx.now)
    elif status == "void" and fulfillment["status"] == "packed":
        fulfillment["status"] = "void"
    order = ctx.store.table("orders").records[fulfillment["order_id"]]
    sales.refresh(ctx.store, order)
    return Reply(204)


def _returnable(ctx: Ctx, line: Record) -> Decimal:
    returns = ctx.store.table("fulfillment_returns").records
    items = ctx.store.table("fulfillment_return_line_items").records
    taken = Decimal(0)
    for item_id in line["fulfillment_return_line_item_ids"]:
        item = items.get(item_id)
        if item and returns.get(item["fulfillment_return_id"], {}).get("status") in ("returning", "received"):
            taken += stock.dec(item["quantity"])
    return sales.shipped(ctx.store, line) - taken


def post_return(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "fulfillment_return")
    store = ctx.store
    errors = Errors()
    order, location = _order_and_location(store, errors, data, ("returning", "received"), "location_id")
    quantities = _item_quantities(
        ctx,
        errors,
        order,
        data.get("fulfillment_return_line_items"),
        "fulfillment_return_line_items",
        lambda line: _returnable(ctx, line),
    )
    errors.check()
    table = store.table("fulfillment_returns")
    rid = table.next_id
    fulfillment_return = records.return_record(rid, order, **permitted(data, RETURN_FIELDS))
    if location is not None:
        fulfillment_return["location_id"] = location["id"]
    sales.add_line_items(
        store,
        "fulfillment_return_line_items",
        fulfillment_return,
        quantities,
        lambda item_id, line, position, quantity: records.return_line_record(
            item_id, rid, line, position=position, quantity=quantity
        ),
    )
    domain.insert(store, "fulfillment_returns", fulfillment_return)
    order["fulfillment_return_ids"].append(rid)
    domain.touch(store, "orders", order)
    if data.get("status") == "received":
        sales.receive_return(store, fulfillment_return, ctx.now)
    sales.refresh(store, order)
    return ctx.created("fulfillment_returns", fulfillment_return)


def put_return(ctx: Ctx, raw_id: str) -> Reply:
    fulfillment_return = ctx.store.table("fulfillment_returns").lookup(raw_id)
    if fulfillment_return is None:
        raise not_found("fulfillment_return", raw_id)
    data = root_object(ctx.body, "fulfillment_return")
    errors = Errors()
    errors.one_of(data, "status", ("returning", "received"))
    status = data.get("status")
    if status == "returning" and fulfillment_return["status"] == "received":
        errors.add("status", "cannot go back from received to returning")
    location = errors.reference(data, "location_id", ctx.store.table("locations"))
    if (
        location is not None
        and fulfillment_return["status"] == "received"
        and location["id"] != fulfillment_return["location_id"]
    ):
        errors.add("location_id", "cannot change after the return is received")
    errors.check()
    fulfillment_return.update(permitted(data, RETURN_FIELDS))
    if location is not None:
        fulfillment_return["location_id"] = location["id"]
    domain.touch(ctx.store, "fulfillment_returns", fulfillment_return)
    if status == "received" and fulfillment_return["status"] == "returning":
        sales.receive_return(ctx.store, fulfillment_return, ctx.now)
    sales.refresh(ctx.store, ctx.store.table("orders").records[fulfillment_return["order_id"]])
    return Reply(204)


def delete_fulfillment(ctx: Ctx, raw_id: str) -> Reply:
    """A `packed` fulfillment becomes `deleted`; a shipped one cannot be deleted."""
    fulfillment = ctx.store.table("fulfillments").lookup(raw_id)
    if fulfillment is None:
        raise not_found("fulfillment", raw_id)
    if fulfillment["status"] != "packed":
        raise sales.invalid(f"Cannot delete a {fulfillment['status']} fulfillment")
    fulfillment["status"] = "deleted"
    domain.touch(ctx.store, "fulfillments", fulfillment)
    sales.refresh(ctx.store, ctx.store.table("orders").records[fulfillment["order_id"]])
    return Reply(204)
