"""State changes to the catalogue and stock, shared by the GraphQL mutations and the control plane. Every
change bumps `updated_at` of what changed and fires the webhooks Shopify fires for it."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from shopify_sandbox import rest
from shopify_sandbox.records import QUANTITY_NAMES, OptionValue, Product, ProductOption, Variant
from shopify_sandbox.store import Store

MAX_QUANTITY = 1_000_000_000


class DomainError(Exception):
    """A business rule refused the change; `field` names the input, `code` is the userError code."""

    def __init__(self, message: str, field: list[str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    def user_error(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "code": self.code}


# --- stock ---------------------------------------------------------------------------------------------
def activate(store: Store, variant: Variant, location_id: int, available: int = 0) -> bool:
    """Stock the item at a location (quantities 0 but `available`); False when it already was."""
    if location_id in variant.levels:
        return False
    quantities = [0] * len(QUANTITY_NAMES)
    quantities[0] = available
    variant.levels[location_id] = quantities
    stamp = store.touch()
    variant.level_updated[location_id] = stamp
    variant.item_updated_at = stamp
    return True


def change_quantity(store: Store, variant: Variant, location_id: int, name: str, delta: int) -> int:
    """Add `delta` to one named quantity (on_hand changes move `available`); returns the quantity after."""
    if location_id not in variant.levels:
        activate(store, variant, location_id)
    quantities = variant.levels[location_id]
    slot = 0 if name == "on_hand" else QUANTITY_NAMES.index(name)
    quantities[slot] += delta
    return variant.quantity(location_id, name)


def stock_touched(
    store: Store, variant: Variant, location_ids: set[int], available_changed: set[int]
) -> None:
    """Bump the level, item and variant; fire inventory_levels/update where `available` moved."""
    if not location_ids:
        return
    stamp = store.touch()
    for location_id in location_ids:
        variant.level_updated[location_id] = stamp
    variant.item_updated_at = stamp
    variant.updated_at = stamp
    for location_id in sorted(available_changed):
        store.emit(
            "inventory_levels/update",
            lambda loc=location_id: rest.inventory_level(store, variant, loc),  # type: ignore[misc]
        )


def set_available(store: Store, variant: Variant, location_id: int, quantity: int) -> int:
    """The merchant sets `available` in the admin: returns the delta."""
    before = variant.levels.get(location_id, [0])[0]
    change_quantity(store, variant, location_id, "available", quantity - before)
    stock_touched(store, variant, {location_id}, {location_id} if quantity != before else set())
    return quantity - before


# --- catalogue -----------------------------------------------------------------------------------------
def handleize(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "product"


def unique_handle(store: Store, wanted: str, product_id: int | None = None) -> str:
    taken = {p.handle for p in store.products.values() if p.id != product_id}
    handle, n = wanted, 1
    while handle in taken:
        handle = f"{wanted}-{n}"
        n += 1
    return handle


def new_product(store: Store, fields: dict[str, Any]) -> Product:
    stamp = store.touch()
    title = fields.get("title") or "Untitled product"
    product = Product(
        id=store.next_id("Product"),
        title=title,
        handle=unique_handle(store, fields.get("handle") or handleize(title)),
        status=fields.get("status") or "ACTIVE",
        vendor=fields.get("vendor") or store.shop.name,
        product_type=fields.get("productType") or "",
        tags=list(fields.get("tags") or []),
        description_html=fields.get("descriptionHtml") or "",
        options=[],
        variant_ids=[],
        created_at=stamp,
        updated_at=stamp,
        published_at=stamp,
    )
    store.products[product.id] = product
    return product


def set_options(store: Store, product: Product, options: list[dict[str, Any]]) -> None:
    """Replace the product's options (names and value lists); keeps ids of names and values that stay."""
    old = {o.name: o for o in product.options}
    result = []
    for position, spec in enumerate(options, start=1):
        name = spec.get("name") or f"Option{position}"
        previous = old.get(name)
        known = {v.name: v for v in previous.values} if previous else {}
        values = [
            known.get(v.get("name") or "")
            or OptionValue(store.next_id("ProductOptionValue"), v.get("name") or "")
            for v in spec.get("values") or []
        ]
        result.append(
            ProductOption(previous.id if previous else store.next_id("ProductOption"), name, position, values)
        )
    product.options = result


def ensure_option_value(store: Store, product: Product, option_name: str, value: str) -> None:
    option = next((o for o in product.options if o.name == option_name), None)
    if option is None:
        option = ProductOption(store.next_id("ProductOption"), option_name, len(product.options) + 1, [])
        product.options.append(option)
    if all(v.name != value for v in option.values):
        option.values.append(OptionValue(store.next_id("ProductOptionValue"), value))


def new_variant(store: Store, product: Product, options: tuple[str, ...], fields: dict[str, Any]) -> Variant:
    stamp = store.touch()
    item = fields.get("inventoryItem") or {}
    weight = (item.get("measurement") or {}).get("weight") or {}
    variant = Variant(
        id=store.next_id("ProductVariant"),
        product_id=product.id,
        item_id=store.next_id("InventoryItem"),
        sku=item.get("sku", fields.get("sku")),
        barcode=fields.get("barcode"),
        price=Decimal(str(fields.get("price") or "0.00")),
        compare_at_price=Decimal(str(fields["compareAtPrice"])) if fields.get("compareAtPrice") else None,
        position=len(product.variant_ids) + 1,
        options=options,
        inventory_policy=fields.get("inventoryPolicy") or "DENY",
        taxable=fields.get("taxable", True) is not False,
        tracked=item.get("tracked", True) is not False,
        requires_shipping=item.get("requiresShipping", True) is not False,
        weight=Decimal(str(weight.get("value", 0))),
        weight_unit=weight.get("unit") or "KILOGRAMS",
        cost=Decimal(str(item["cost"])) if item.get("cost") is not None else None,
        created_at=stamp,
        updated_at=stamp,
        item_updated_at=stamp,
        levels={},
    )
    store.variants[variant.id] = variant
    store.items[variant.item_id] = variant.id
    product.variant_ids.append(variant.id)
    return variant


def update_variant(variant: Variant, fields: dict[str, Any], stamp: int) -> None:
    """Apply a ProductVariantsBulkInput / ProductVariantSetInput (already validated) to a variant."""
    if "price" in fields and fields["price"] is not None:
        variant.price = Decimal(str(fields["price"]))
    if "compareAtPrice" in fields:
        value = fields["compareAtPrice"]
        variant.compare_at_price = Decimal(str(value)) if value not in (None, "") else None
    if "barcode" in fields:
        variant.barcode = fields["barcode"]
    if fields.get("inventoryPolicy"):
        variant.inventory_policy = fields["inventoryPolicy"]
    if fields.get("taxable") is not None:
        variant.taxable = bool(fields["taxable"])
    if "sku" in fields:
        variant.sku = fields["sku"]
    item = fields.get("inventoryItem") or {}
    if "sku" in item:
        variant.sku = item["sku"]
    if item.get("tracked") is not None:
        variant.tracked = bool(item["tracked"])
    if item.get("requiresShipping") is not None:
        variant.requires_shipping = bool(item["requiresShipping"])
    if item.get("cost") is not None:
        variant.cost = Decimal(str(item["cost"]))
    weight = (item.get("measurement") or {}).get("weight")
    if weight:
        variant.weight = Decimal(str(weight.get("value", 0)))
        variant.weight_unit = weight.get("unit") or variant.weight_unit
    variant.updated_at = stamp
    if item:
        variant.item_updated_at = stamp


def product_changed(store: Store, product: Product, *, created: bool = False) -> None:
    """Bump the product and fire products/create or products/update."""
    product.updated_at = store.touch()
    topic = "products/create" if created else "products/update"
    store.emit(topic, lambda: rest.product(store, product))


def update_product_fields(store: Store, product: Product, fields: dict[str, Any]) -> None:
    for key, attr in (
        ("title", "title"),
        ("status", "status"),
        ("vendor", "vendor"),
        ("productType", "product_type"),
        ("descriptionHtml", "description_html"),
    ):
        if fields.get(key) is not None:
            setattr(product, attr, fields[key])
    if fields.get("tags") is not None:
        tags = fields["tags"]
        product.tags = [t.strip() for t in tags.split(",")] if isinstance(tags, str) else list(tags)
    if fields.get("handle"):
        product.handle = unique_handle(store, fields["handle"], product.id)


def delete_variant(store: Store, product: Product, variant_id: int) -> None:
    variant = store.variants.pop(variant_id)
    store.items.pop(variant.item_id, None)
    product.variant_ids.remove(variant_id)
