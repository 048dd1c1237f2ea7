"""Changes shared by the API writes and the control plane's merchant activity: every change bumps
updated_at, keeps stock consistent and emits the matching webhook event."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from gecko_sandbox import stock
from gecko_sandbox.errors import validation
from gecko_sandbox.store import Record, Store

PRICE_FIELDS = {"buy_price": "buy", "wholesale_price": "wholesale", "retail_price": "retail"}
PRODUCT_COPIES = {"name": "product_name", "status": "product_status", "product_type": "product_type"}
UPDATE_EVENTS = {"companies": "company.update", "addresses": "address.update", "locations": "location.update"}
CREATE_EVENTS = {
    "products": "product.create",
    "variants": "variant.create",
    "orders": "order.create",
    "fulfillments": "fulfillment.create",
    "fulfillment_returns": "fulfillment_return.create",
    "companies": "company.create",
    "addresses": "address.create",
    "locations": "location.create",
}


def decimal_of(value: object, field: str, errors: dict[str, list[str]] | None = None) -> Decimal:
    """A decimal from a wire value (string or number); a 422 naming the field when it is not one."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        result = Decimal(str(value).strip())
        if not result.is_finite():
            raise InvalidOperation
        return result
    except (InvalidOperation, ValueError):
        message = "is not a number"
        if errors is not None:
            errors.setdefault(field, []).append(message)
            return Decimal(0)
        raise validation({field: [message]}) from None


def insert(store: Store, table_name: str, record: Record, *, event: bool = True) -> Record:
    stored = store.insert(store.table(table_name), record)
    if event and table_name in CREATE_EVENTS:
        store.emit(CREATE_EVENTS[table_name], table_name, stored)
    return stored


def touch(store: Store, table_name: str, record: Record) -> None:
    store.changed(store.table(table_name), record)


def move_stock(
    store: Store,
    variant: Record,
    location_id: int,
    on_hand: Decimal = stock.ZERO,
    committed: Decimal = stock.ZERO,
) -> None:
    """Change a variant's stock at one location; its product's quantity follows."""
    if not stock.adjust(variant, location_id, on_hand, committed):
        return
    touch(store, "variants", variant)
    if on_hand:
        product = store.table("products").get(variant["product_id"])
        if product is not None:
            refresh_product_quantity(store, product)
    store.emit("variant.stock_level_update", "variants", variant)


def refresh_product_quantity(store: Store, product: Record) -> None:
    variants = store.table("variants").records
    total = sum(
        (stock.dec(variants[v]["stock_on_hand"]) for v in product["variant_ids"] if v in variants), stock.ZERO
    )
    quantity = stock.fmt(total)
    if quantity != product["quantity"]:
        product["quantity"] = quantity
        touch(store, "products", product)


def set_variant_prices(variant: Record, fields: dict[str, Any]) -> None:
    """Apply price fields: buy/wholesale/retail_price are the only way to set the built-in lists;
    variant_prices sets custom lists (built-ins in it are ignored, as the API does)."""
    prices = {p["price_list_id"]: p for p in variant["variant_prices"]}
    for field, list_id in PRICE_FIELDS.items():
        if field in fields:
            value = None if fields[field] is None else str(fields[field])
            variant[field] = value
            if list_id in prices:
                prices[list_id]["value"] = value
            else:
                variant["variant_prices"].append({"price_list_id": list_id, "value": value})
    for entry in fields.get("variant_prices") or ():
        list_id = str(entry.get("price_list_id"))
        if list_id in PRICE_FIELDS.values():
            continue
        value = None if entry.get("value") is None else str(entry["value"])
        if list_id in prices:
            prices[list_id]["value"] = value
        else:
            variant["variant_prices"].append({"price_list_id": list_id, "value": value})
    variant["prices"] = {p["price_list_id"]: p["value"] for p in variant["variant_prices"]}


def apply_update(store: Store, table_name: str, record: Record, fields: dict[str, Any]) -> None:
    """Set fields as given (no validation: the control plane may plant bad data), bump updated_at,
    cascade product fields to its variants, emit the update event the API has for that resource."""
    for field, value in fields.items():
        if field in ("id", "created_at", "updated_at"):
            continue
        record[field] = value
    if table_name == "variants" and (set(fields) & (set(PRICE_FIELDS) | {"variant_prices"})):
        set_variant_prices(
            record, {k: v for k, v in fields.items() if k in PRICE_FIELDS or k == "variant_prices"}
        )
    touch(store, table_name, record)
    if table_name == "products":
        copies = {PRODUCT_COPIES[f]: record[f] for f in fields if f in PRODUCT_COPIES}
        if copies:
            variants = store.table("variants")
            for vid in record["variant_ids"]:
                variant = variants.get(vid)
                if variant is not None:
                    variant.update(copies)
                    touch(store, "variants", variant)
    if table_name in UPDATE_EVENTS:
        store.emit(UPDATE_EVENTS[table_name], table_name, record)
