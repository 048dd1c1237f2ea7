"""Product and variant records: the one place that knows their full wire shape (the seed and the
API's creates both build records here)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gecko_sandbox import domain, stock
from gecko_sandbox.store import Record, Store


def product_record(pid: int, name: str, **fields: Any) -> Record:
    record: Record = {
        "id": pid,
        "created_at": None,
        "updated_at": None,
        "brand": None,
        "description": None,
        "image_url": None,
        "name": name,
        "opt1": None,
        "opt2": None,
        "opt3": None,
        "product_type": None,
        "quantity": "0",
        "status": "active",
        "supplier": None,
        "supplier_ids": [],
        "image_ids": [],
        "tags": None,
        "variant_ids": [],
        "vendor": None,
    }
    record.update(fields)
    return record


def variant_record(vid: int, product: Record, **fields: Any) -> Record:
    """A variant of `product` with every wire field; `fields` override the defaults. Its stock fields
    are derived from `locations` by stock.recompute, which the caller runs once stock is known."""
    record: Record = {
        "id": vid,
        "created_at": None,
        "updated_at": None,
        "product_id": product["id"],
        "default_ledger_account_id": None,
        "buy_price": None,
        "committed_stock": "0",
        "available_stock": "0",
        "incoming_stock": "0",
        "hs_code": None,
        "country_of_origin": None,
        "composite": None,
        "description": None,
        "keep_selling": False,
        "last_cost_price": None,
        "manage_stock": True,
        "max_online": None,
        "moving_average_cost": None,
        "name": product["name"],
        "online_ordering": True,
        "opt1": None,
        "opt2": None,
        "opt3": None,
        "position": 1,
        "product_name": product["name"],
        "product_status": product["status"],
        "product_type": product["product_type"],
        "retail_price": None,
        "sellable": True,
        "purchasable": True,
        "sku": None,
        "status": "active",
        "stock_on_hand": "0",
        "supplier_code": None,
        "taxable": True,
        "upc": None,
        "weight": None,
        "weight_unit": None,
        "weight_value": None,
        "wholesale_price": None,
        "image_ids": [],
        "variant_prices": [],
        "locations": [],
        "prices": {},
        "stock_levels": {},
        "committed_stock_levels": {},
        "incoming_stock_levels": {},
        "is_online": False,
        "online_id": None,
        "reorder_point": None,
    }
    record.update(fields)
    if "variant_prices" not in fields:
        record["variant_prices"] = [
            {"price_list_id": list_id, "value": record[field]}
            for field, list_id in domain.PRICE_FIELDS.items()
        ]
    record["prices"] = {p["price_list_id"]: p["value"] for p in record["variant_prices"]}
    return record


def add_variant(store: Store, product: Record, fields: dict[str, Any]) -> Record:
    """Create a variant through the API's rules: initial stock at initial_stock_location_id (default the
    primary location), prices from buy/wholesale/retail_price."""
    account = store.table("accounts").records[1]
    location_id = int(fields.pop("initial_stock_location_id", None) or account["primary_location_id"])
    initial = fields.pop("initial_stock_level", None)
    cost = fields.pop("initial_cost_price", None)
    for readonly in (
        "stock_on_hand",
        "committed_stock",
        "available_stock",
        "incoming_stock",
        "locations",
        "product_id",
    ):
        fields.pop(readonly, None)
    custom = fields.pop("variant_prices", None)
    on_hand = (
        stock.fmt(domain.decimal_of(initial, "initial_stock_level")) if initial not in (None, "") else "0"
    )
    table = store.table("variants")
    position = len(product["variant_ids"]) + 1
    record = variant_record(
        table.next_id,
        product,
        position=position,
        locations=[stock.location_entry(location_id, on_hand)],
        last_cost_price=None if cost is None else str(cost),
        moving_average_cost=None if cost is None else str(cost),
        **{k: (str(v) if k in domain.PRICE_FIELDS and v is not None else v) for k, v in fields.items()},
    )
    if custom:
        domain.set_variant_prices(record, {"variant_prices": custom})
    stock.recompute(record)
    variant = domain.insert(store, "variants", record)
    product["variant_ids"].append(variant["id"])
    domain.refresh_product_quantity(store, product)
    domain.touch(store, "products", product)
    return variant


def add_product(store: Store, fields: dict[str, Any]) -> Record:
    table = store.table("products")
    fields = {
        k: v
        for k, v in fields.items()
        if k not in ("id", "variant_ids", "quantity", "created_at", "updated_at")
    }
    name = fields.pop("name")
    return domain.insert(store, "products", product_record(table.next_id, name, **fields))


def new_product(store: Store, count: int, name: str | None = None) -> tuple[Record, list[Record]]:
    """Merchant activity: a product with `count` variants, 10 units each at the primary location."""
    table = store.table("products")
    product = add_product(store, {"name": name or f"New Product {table.next_id}", "product_type": "New"})
    if count > 1:
        product["opt1"] = "Size"
    variants = []
    for i in range(1, count + 1):
        price = Decimal(10 + i)
        variants.append(
            add_variant(
                store,
                product,
                {
                    "name": f"{product['name']} #{i}",
                    "sku": f"NEW-{product['id']:05d}-{i:02d}",
                    "opt1": str(i),
                    "buy_price": stock.fmt(price / 2),
                    "wholesale_price": stock.fmt(price),
                    "retail_price": stock.fmt(price * 2),
                    "initial_stock_level": "10",
                },
            )
        )
    return product, variants
