"""The API's resources as sandbox tables: root keys, statuses hidden by default, index filters.

Filters follow the `filterable` flags of gecko-api.md section 6; unknown parameters are ignored, as
the API does.
"""

from __future__ import annotations

from gecko_sandbox.store import FilterSpec, Record, Store, Table

ARCHIVED = frozenset({"archived"})
DELETED = frozenset({"deleted"})


def _f(*names: str) -> dict[str, FilterSpec]:
    return {name: FilterSpec(name) for name in names}


def _order_status(store: Store, line: Record) -> object:
    order = store.table("orders").get(line["order_id"])
    return order["status"] if order else None


def build_tables(store: Store) -> None:
    tables = [
        Table("accounts", "account"),
        Table("currencies", "currency", ARCHIVED, _f("iso")),
        Table("locations", "location", ARCHIVED, _f("holds_stock")),
        Table("price_lists", "price_list", filters=_f("code", "currency_id"), fixed_order=True),
        Table("tax_types", "tax_type", ARCHIVED, _f("code")),
        Table("tax_components", "tax_component", filters=_f("tax_type_id")),
        Table(
            "products",
            "product",
            ARCHIVED,
            {**_f("product_type", "brand", "name"), "tags": FilterSpec("tags", "tags")},
            meta_total=True,
        ),
        Table(
            "variants", "variant", ARCHIVED, _f("product_id", "sku", "upc", "supplier_code"), meta_total=True
        ),
        Table(
            "companies",
            "company",
            ARCHIVED,
            {
                **_f(
                    "company_type",
                    "company_code",
                    "email",
                    "default_price_list_id",
                    "assignee_id",
                    "default_ledger_account_id",
                    "default_payment_method_id",
                    "default_payment_term_id",
                    "default_stock_location_id",
                    "default_tax_type_id",
                ),
                "tags": FilterSpec("tags", "tags"),
            },
            meta_total=True,
        ),
        Table("addresses", "address", ARCHIVED, _f("company_id", "label", "email")),
        Table(
            "orders",
            "order",
            DELETED,
            {
                **_f(
                    "company_id",
                    "billing_address_id",
                    "shipping_address_id",
                    "order_number",
                    "reference_number",
                    "source_id",
                    "stock_location_id",
                    "user_id",
                    "currency_id",
                    "assignee_id",
                    "payment_status",
                    "invoice_status",
                    "packed_status",
                    "fulfillment_status",
                    "return_status",
                    "returning_status",
                    "shippability_status",
                    "backordering_status",
                    "email",
                ),
                "tags": FilterSpec("tags", "tags"),
            },
            meta_total=True,
        ),
        Table(
            "order_line_items",
            "order_line_item",
            filters={
                **_f("order_id", "variant_id", "tax_type_id", "line_type"),
                "order_status": FilterSpec("order_status", derive=_order_status),
            },
        ),
        Table(
            "fulfillments",
            "fulfillment",
            DELETED,
            _f("order_id", "shipping_address_id", "billing_address_id", "stock_location_id", "company_id"),
            meta_total=True,
        ),
        Table(
            "fulfillment_line_items",
            "fulfillment_line_item",
            filters=_f("fulfillment_id", "order_line_item_id"),
        ),
        Table(
            "fulfillment_returns", "fulfillment_return", DELETED, _f("order_id", "location_id", "company_id")
        ),
        Table(
            "fulfillment_return_line_items",
            "fulfillment_return_line_item",
            filters=_f("fulfillment_return_id", "order_line_item_id", "ledger_account_id"),
        ),
        Table(
            "invoices", "invoice", ARCHIVED, _f("order_id", "invoice_number", "payment_status", "company_id")
        ),
        Table("invoice_line_items", "invoice_line_item", filters=_f("invoice_id", "order_line_item_id")),
        Table("payments", "payment", ARCHIVED, _f("invoice_id")),
        Table("webhooks", "webhook", filters=_f("event", "address")),
    ]
    for table in tables:
        store.register(table)


# Built-in sideloads of an index, and the child table/foreign key they come from.
BUILTIN_SIDELOADS: dict[str, tuple[str, str]] = {
    "fulfillments": ("fulfillment_line_items", "fulfillment_id"),
    "fulfillment_returns": ("fulfillment_return_line_items", "fulfillment_return_id"),
    "invoices": ("invoice_line_items", "invoice_id"),
    "tax_types": ("tax_components", "tax_type_id"),
}
# Child id lists kept on parents, used to find sideloaded children without a scan.
CHILD_IDS: dict[str, tuple[str, str]] = {
    "fulfillments": ("fulfillment_line_item_ids", "fulfillment_line_items"),
    "fulfillment_returns": ("fulfillment_return_line_item_ids", "fulfillment_return_line_items"),
    "invoices": ("invoice_line_item_ids", "invoice_line_items"),
    "tax_types": ("tax_component_ids", "tax_components"),
    "products": ("variant_ids", "variants"),
    "orders": ("order_line_item_ids", "order_line_items"),
}
