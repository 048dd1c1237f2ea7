"""The catalogue of the API's resources: one declarative record per list the pipeline reads.

Each `ApiResource` says how to read the list (path, incremental by updated_at_min or not, side-loads,
the statuses it hides by default, whether the sync can do without it) and declares the tables it feeds
(columns, key, description, foreign keys) and its asset group. Everything else is derived from it: the
tables and their DDL, the order of a sync, the extract's Dagster asset specs, lineage and data-quality
checks, and the parent-before-child order of a targeted refresh. Add a resource or a column here and
the rest follows (an existing warehouse gains the column on start: `ensure_schema`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

import duckdb

from gecko_pipeline.warehouse.schema import (
    BOOL,
    DATE,
    DEC,
    ID,
    INT,
    JSON,
    RATE,
    STR,
    SYSTEM_TABLES,
    TS,
    Column,
    TableSpec,
    add_missing_columns,
    table_ddl,
)

GROUPS = ("inventory", "sales")


@dataclass(frozen=True)
class ApiResource:
    """One paged list of the API (also the key of its row in sync_state) and the tables it feeds."""

    name: str
    group: str  # the Dagster asset group of its tables
    tables: tuple[TableSpec, ...]  # its own table first, then the tables it side-loads or nests
    incremental: bool = True  # filterable by updated_at_min
    full_params: dict[str, str] = field(default_factory=dict)  # extra query for a full sync
    full_sideloads: tuple[str, ...] = ()  # other resources' tables that come only with full_params
    sideloads: tuple[str, ...] = ()  # other top-level keys of every answer, each loaded into its table
    single: bool = False  # one record (GET /accounts/current), not a list
    # A list the pipeline cannot do without. Any other list that the API answers 404 for (some accounts
    # or API versions lack e.g. /price_lists) is skipped with a warning and the sync goes on.
    core: bool = False
    # Other resources a refresh by id re-reads with this one (an order's lines, by order_id).
    refreshed_with: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        """The table of the list's root key."""
        return self.tables[0].name

    @property
    def path(self) -> str:
        return "/accounts/current" if self.single else f"/{self.table}"

    def listings(self, full: bool) -> list[dict[str, str]]:
        """The query of each listing the resource is read by, in order. Ascending id order: records added
        during a sync land after the pages already read, and an edit never moves a record, so offsets stay
        stable while the sync runs. Two listings where the API hides soft-deleted records by default:
        the default one (which also brings any status the API added that we do not know yet, so such a
        record is stored and reported rather than silently missed) and one for the hidden statuses."""
        params = {"order": "id asc", **(self.full_params if full else {})}
        hidden = self.tables[0].hidden_statuses
        if not hidden:
            return [params]
        return [params, {**params, "status": ",".join(hidden)}]

    def tables_loaded(self, full: bool) -> list[str]:
        """Tables one read of the list writes, main table first (child tables follow their parent)."""
        return [self.table, *self.sideloads, *(self.full_sideloads if full else ())]

    def owned_tables(self) -> list[str]:
        return [spec.name for spec in self.tables]

    def refreshed_tables(self) -> list[str]:
        """Tables a refresh of this resource's records by id writes."""
        return self.owned_tables() + [
            t for name in self.refreshed_with for t in RESOURCES[name].owned_tables()
        ]

    def depends_on(self) -> set[str]:
        """Other resources whose records this one's tables point at (its foreign keys)."""
        return {RESOURCE_OF_TABLE[target] for spec in self.tables for _, target in spec.references} - {
            self.name
        }


def _cols(spec: str, required: tuple[str, ...] = ("id",)) -> tuple[Column, ...]:
    """`"id:ID name:STR ..."` -> columns; types are the schema's short names."""
    types = {
        "ID": ID,
        "INT": INT,
        "DEC": DEC,
        "RATE": RATE,
        "TS": TS,
        "DATE": DATE,
        "BOOL": BOOL,
        "STR": STR,
        "JSON": JSON,
    }
    return tuple(
        Column(name, types[short], name in required) for name, short in (i.split(":") for i in spec.split())
    )


STAMPS = "created_at:TS updated_at:TS"


# gecko-api.md section 7. Without a `status` filter the API leaves out the soft-deleted statuses.
class Statuses(TypedDict):
    statuses: tuple[str, ...]
    hidden_statuses: tuple[str, ...]


ACTIVE_ARCHIVED = Statuses(statuses=("active", "archived"), hidden_statuses=("archived",))
ACTIVE_DISABLED_ARCHIVED = Statuses(
    statuses=("active", "disabled", "archived"), hidden_statuses=("archived",)
)


RESOURCE_LIST: list[ApiResource] = [
    ApiResource(
        "account",
        "inventory",
        (
            TableSpec(
                "account",
                _cols(
                    "id:ID name:STR country:STR contact_email:STR contact_phone:STR contact_mobile:STR industry:STR "
                    "website:STR tax_label:STR tax_number:STR tax_number_label:STR time_zone:STR "
                    "default_order_price_list_id:STR default_purchase_order_price_list_id:STR "
                    "default_sales_ledger_account_on:STR default_tax_treatment:STR stock_level_warn:BOOL "
                    "primary_location_id:ID primary_billing_location_id:ID default_currency_id:ID "
                    "default_payment_method_id:ID default_payment_term_id:ID billing_contact_id:ID "
                    "default_sales_order_tax_type_id:ID default_purchase_order_tax_type_id:ID default_tax_exempt_id:ID "
                    "default_tax_type_id:ID location_ids:JSON user_ids:JSON " + STAMPS
                ),
                extra_keys=frozenset(
                    {
                        "default_order_price_type_id",
                        "default_purchase_order_price_type_id",
                        "default_tax_type",
                        "default_tax_rate",
                        "logo_url",
                        "default_document_theme_id",
                        "subscription_name",
                        "expires_at",
                    }
                ),
                description="The merchant's account (GET /accounts/current): default price lists, primary location, base currency. Synced from the inventory API.",
            ),
        ),
        incremental=False,
        single=True,
        core=True,
    ),
    ApiResource(
        "locations",
        "inventory",
        (
            TableSpec(
                "locations",
                _cols(
                    "id:ID label:STR address1:STR address2:STR suburb:STR city:STR state:STR zip_code:STR country:STR "
                    "holds_stock:BOOL status:STR " + STAMPS,
                    ("id", "status"),
                ),
                **ACTIVE_ARCHIVED,
                description="Warehouses (stock locations), archived ones included. Synced from the inventory API.",
            ),
        ),
    ),
    ApiResource(
        "currencies",
        "inventory",
        (
            TableSpec(
                "currencies",
                _cols(
                    "id:ID iso:STR name:STR symbol:STR separator:STR delimiter:STR format:STR precision:INT rate:RATE "
                    "status:STR subunit:INT " + STAMPS,
                    ("id", "iso", "status"),
                ),
                **ACTIVE_ARCHIVED,
                description="Currencies and exchange rates, archived ones included. Synced from the inventory API.",
            ),
        ),
    ),
    ApiResource(
        "price_lists",
        "inventory",
        (
            TableSpec(
                "price_lists",
                _cols(
                    "id:STR code:STR name:STR currency_id:ID currency_symbol:STR currency_iso:STR is_cost:BOOL "
                    "is_default:BOOL position:INT status:STR " + STAMPS
                ),
                has_origin=True,
                description="Price lists: the built-in buy/wholesale/retail (string ids) and custom ones, listed by GET /price_lists or, where the API does not list them, added for every list the account uses (`_origin`).",
            ),
        ),
        incremental=False,
    ),
    ApiResource(
        "tax_types",
        "inventory",
        (
            TableSpec(
                "tax_types",
                _cols(
                    "id:ID code:STR name:STR status:STR imported_from:STR quickbooks_online_id:STR xero_online_id:STR "
                    "effective_rate:DEC tax_component_ids:JSON " + STAMPS
                ),
                **ACTIVE_ARCHIVED,
                description="Tax types with their effective rate. Synced from the inventory API.",
            ),
        ),
        incremental=False,
    ),
    ApiResource(
        "products",
        "inventory",
        (
            TableSpec(
                "products",
                _cols(
                    "id:ID name:STR description:STR product_type:STR brand:STR opt1:STR opt2:STR opt3:STR tags:STR "
                    "status:STR image_url:STR quantity:DEC variant_ids:JSON image_ids:JSON supplier_ids:JSON "
                    "supplier:STR vendor:STR " + STAMPS,
                    ("id", "name", "status"),
                ),
                extra_keys=frozenset({"search_cache"}),
                **ACTIVE_DISABLED_ARCHIVED,
                description="Products of every status (active, disabled, archived). Synced from the inventory API, with include=variants on a full sync.",
            ),
        ),
        full_params={"include": "variants"},
        full_sideloads=("variants",),
        core=True,
    ),
    ApiResource(
        "variants",
        "inventory",
        (
            TableSpec(
                "variants",
                _cols(
                    "id:ID product_id:ID name:STR description:STR sku:STR upc:STR supplier_code:STR opt1:STR opt2:STR "
                    "opt3:STR buy_price:DEC wholesale_price:DEC retail_price:DEC stock_on_hand:DEC committed_stock:DEC "
                    "incoming_stock:DEC available_stock:DEC manage_stock:BOOL keep_selling:BOOL max_online:DEC "
                    "online_ordering:BOOL sellable:BOOL purchasable:BOOL taxable:BOOL composite:BOOL position:INT "
                    "weight:STR weight_unit:STR hs_code:STR country_of_origin:STR default_ledger_account_id:ID "
                    "last_cost_price:DEC moving_average_cost:DEC product_name:STR product_status:STR product_type:STR "
                    "status:STR image_ids:JSON " + STAMPS,
                    ("id", "product_id", "status", "stock_on_hand"),
                ),
                extra_keys=frozenset(
                    {
                        "locations",
                        "variant_prices",
                        "prices",
                        "stock_levels",
                        "committed_stock_levels",
                        "incoming_stock_levels",
                        "is_online",
                        "online_id",
                        "reorder_point",
                        "weight_value",
                        "initial_stock_level",
                        "initial_cost_price",
                        "initial_stock_location_id",
                    }
                ),
                **ACTIVE_ARCHIVED,
                description="Variants of every status with stock totals, prices and flags; a full sync gets them side-loaded with their products, an incremental one by updated_at_min.",
                references=(("product_id", "products"),),
            ),
            TableSpec(
                "variant_locations",
                _cols(
                    "variant_id:ID location_id:ID stock_on_hand:DEC committed:DEC incoming:DEC available:DEC "
                    "bin_location:STR reorder_point:INT production_committed:DEC production_incoming:DEC",
                    ("location_id", "stock_on_hand"),
                ),
                primary_key=("variant_id", "location_id"),
                extra_keys=frozenset({"committed_stock"}),
                parent="variants",
                parent_column="variant_id",
                parent_key="locations",
                description="Stock per variant and location (on hand, committed, incoming, available), from each variant's locations[]; replaced whenever its variant is loaded.",
                references=(
                    ("variant_id", "variants"),
                    ("location_id", "locations"),
                ),
            ),
            TableSpec(
                "variant_prices",
                _cols("variant_id:ID price_list_id:STR value:DEC", ("price_list_id",)),
                primary_key=("variant_id", "price_list_id"),
                parent="variants",
                parent_column="variant_id",
                parent_key="variant_prices",
                description="A variant's price in each price list (price_list_id is a string), from its variant_prices[]; replaced whenever its variant is loaded.",
                references=(
                    ("variant_id", "variants"),
                    ("price_list_id", "price_lists"),
                ),
            ),
        ),
        core=True,
    ),
    ApiResource(
        "companies",
        "sales",
        (
            TableSpec(
                "companies",
                _cols(
                    "id:ID name:STR company_type:STR company_code:STR email:STR description:STR phone_number:STR fax:STR "
                    "website:STR tax_number:STR status:STR default_price_list_id:STR default_discount_rate:DEC "
                    "assignee_id:ID default_ledger_account_id:ID default_payment_method_id:ID default_payment_term_id:ID "
                    "default_stock_location_id:ID default_tax_type_id:ID tags:JSON address_ids:JSON contact_ids:JSON "
                    "note_ids:JSON " + STAMPS,
                    ("id", "name", "company_type", "status"),
                ),
                extra_keys=frozenset(
                    {"default_price_type_id", "default_tax_rate", "default_document_theme_id"}
                ),
                **ACTIVE_DISABLED_ARCHIVED,
                description="Customers and suppliers, every status. Synced from the inventory API.",
            ),
        ),
    ),
    ApiResource(
        "addresses",
        "sales",
        (
            TableSpec(
                "addresses",
                _cols(
                    "id:ID company_id:ID address1:STR address2:STR suburb:STR city:STR state:STR zip_code:STR country:STR "
                    "country_code:STR label:STR company_name:STR first_name:STR last_name:STR phone_number:STR email:STR "
                    "status:STR " + STAMPS,
                    ("id", "company_id", "status"),
                ),
                **ACTIVE_ARCHIVED,
                description="Company addresses, archived ones included. Synced from the inventory API.",
                references=(("company_id", "companies"),),
            ),
        ),
    ),
    ApiResource(
        "orders",
        "sales",
        (
            TableSpec(
                "orders",
                _cols(
                    "id:ID company_id:ID billing_address_id:ID shipping_address_id:ID issued_at:DATE ship_at:DATE "
                    "status:STR order_number:STR reference_number:STR source_url:STR source_id:STR tags:JSON notes:STR "
                    "email:STR phone_number:STR contact_id:ID assignee_id:ID stock_location_id:ID currency_id:ID "
                    "default_price_list_id:STR tax_treatment:STR user_id:ID payment_status:STR invoice_status:STR "
                    "packed_status:STR fulfillment_status:STR return_status:STR returning_status:STR "
                    "shippability_status:STR backordering_status:STR total:DEC tax_label:STR tax_override:STR "
                    "document_url:STR order_line_item_ids:JSON fulfillment_ids:JSON fulfillment_return_ids:JSON "
                    "invoice_ids:JSON payment_ids:JSON refund_ids:JSON " + STAMPS,
                    ("id", "company_id", "status"),
                ),
                extra_keys=frozenset(
                    {
                        "invoices",
                        "invoice_numbers",
                        "cached_total",
                        "default_price_type_id",
                        "tax_type",
                        "source",
                        "url",
                        "tracking_number",
                        "currency_iso",
                        "due_at",
                    }
                ),
                statuses=("draft", "active", "finalized", "fulfilled", "void", "deleted"),
                hidden_statuses=("deleted",),
                description="Sales orders of every status (draft to fulfilled, void, deleted). Synced from the inventory API.",
                references=(("company_id", "companies"),),
            ),
        ),
        core=True,
        refreshed_with=("order_line_items",),
    ),
    ApiResource(
        "order_line_items",
        "sales",
        (
            TableSpec(
                "order_line_items",
                _cols(
                    "id:ID order_id:ID variant_id:ID tax_type_id:ID quantity:DEC price:DEC discount:DEC discount_amount:DEC "
                    "tax_rate_override:DEC freeform:BOOL label:STR line_type:STR position:INT image_url:STR shippable:BOOL "
                    "fulfillment_line_item_ids:JSON fulfillment_return_line_item_ids:JSON invoice_line_item_ids:JSON "
                    + STAMPS,
                    ("id", "order_id", "quantity"),
                ),
                extra_keys=frozenset({"tax_rate"}),
                description="Order lines, freeform shipping lines included, fetched on their own endpoint by updated_at_min (not one request per order).",
                references=(
                    ("order_id", "orders"),
                    ("variant_id", "variants"),
                ),
            ),
        ),
        core=True,
    ),
    ApiResource(
        "fulfillments",
        "sales",
        (
            TableSpec(
                "fulfillments",
                _cols(
                    "id:ID order_id:ID status:STR shipping_address_id:ID billing_address_id:ID stock_location_id:ID "
                    "packed_at:DATE shipped_at:TS received_at:TS delivery_type:STR tracking_number:STR tracking_url:STR "
                    "tracking_company:STR service:STR notes:STR exchange_rate:RATE order_number:STR company_id:ID "
                    "fulfillment_line_item_ids:JSON " + STAMPS,
                    ("id", "order_id", "status"),
                ),
                extra_keys=frozenset({"receipt", "destination_url", "xero"}),
                statuses=("packed", "fulfilled", "void", "deleted"),
                hidden_statuses=("deleted",),
                description="Shipments (packed, fulfilled, void, deleted). Synced from the inventory API.",
                references=(("order_id", "orders"),),
            ),
            TableSpec(
                "fulfillment_line_items",
                _cols(
                    "id:ID fulfillment_id:ID order_line_item_id:ID quantity:DEC position:INT base_price:DEC variant_id:ID "
                    "variant_sku:STR " + STAMPS,
                    ("id", "fulfillment_id", "quantity"),
                ),
                description="Lines of each shipment, side-loaded with the fulfillments.",
                references=(
                    ("fulfillment_id", "fulfillments"),
                    ("order_line_item_id", "order_line_items"),
                ),
            ),
        ),
        sideloads=("fulfillment_line_items",),
    ),
    ApiResource(
        "fulfillment_returns",
        "sales",
        (
            TableSpec(
                "fulfillment_returns",
                _cols(
                    "id:ID order_id:ID location_id:ID status:STR received_at:TS credit_note_number:STR "
                    "tracking_number:STR tracking_url:STR tracking_company:STR delivery_type:STR notes:STR "
                    "exchange_rate:RATE order_number:STR company_id:ID fulfillment_return_line_item_ids:JSON "
                    + STAMPS,
                    ("id", "order_id", "status"),
                ),
                statuses=("returning", "received", "void", "deleted"),
                hidden_statuses=("deleted",),
                description="Customer returns (returning, received, void, deleted). Synced from the inventory API.",
                references=(("order_id", "orders"),),
            ),
            TableSpec(
                "fulfillment_return_line_items",
                _cols(
                    "id:ID fulfillment_return_id:ID order_line_item_id:ID quantity:DEC base_price:DEC position:INT "
                    "ledger_account_id:ID stock_trail_ids:JSON " + STAMPS,
                    ("id", "fulfillment_return_id", "quantity"),
                ),
                description="Lines of each return, side-loaded with the returns.",
                references=(
                    ("fulfillment_return_id", "fulfillment_returns"),
                    ("order_line_item_id", "order_line_items"),
                ),
            ),
        ),
        sideloads=("fulfillment_return_line_items",),
    ),
]

RESOURCES: dict[str, ApiResource] = {r.name: r for r in RESOURCE_LIST}
TABLE_LIST: list[TableSpec] = [spec for r in RESOURCE_LIST for spec in r.tables]
TABLES: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_LIST}
RESOURCE_OF_TABLE: dict[str, str] = {spec.name: r.name for r in RESOURCE_LIST for spec in r.tables}
GROUP_OF_TABLE: dict[str, str] = {spec.name: r.group for r in RESOURCE_LIST for spec in r.tables}


def _stream_of_table() -> dict[str, str]:
    """Which list refreshes a table's records by id: its own, else the list that side-loads it."""
    out = {r.table: r.name for r in RESOURCE_LIST if not r.single}
    for resource in RESOURCE_LIST:
        for table in resource.sideloads:
            out.setdefault(table, resource.name)
    return out


STREAM_OF_TABLE: dict[str, str] = _stream_of_table()


def child_tables(parent: str) -> list[TableSpec]:
    """Tables fed by a nested list of `parent`'s records (a variant's locations and prices)."""
    return [spec for spec in TABLE_LIST if spec.parent == parent]


def refresh_order(names: Iterable[str]) -> list[str]:
    """`names` ordered parents before children (a new variant's product, an order's company first), by
    the foreign keys; names outside the catalogue keep their order, last."""
    wanted = list(dict.fromkeys(names))
    ordered: list[str] = []

    def visit(name: str, trail: tuple[str, ...] = ()) -> None:
        if name in ordered or name in trail:
            return
        for parent in sorted(RESOURCES[name].depends_on()):
            if parent in wanted:
                visit(parent, (*trail, name))
        ordered.append(name)

    for name in wanted:
        if name in RESOURCES:
            visit(name)
    return ordered + [n for n in wanted if n not in RESOURCES]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create every table that is missing and add every column that is missing (idempotent; existing
    data is left alone). Returns the columns added, as `table.column`."""
    added: list[str] = []
    for spec in TABLE_LIST:
        con.execute(table_ddl(spec))
        wanted = [(c.name, c.type) for c in spec.columns] + spec.bookkeeping_columns
        added += add_missing_columns(con, spec.name, wanted)
    for table in SYSTEM_TABLES:
        con.execute(table.ddl())
        # A column added to an existing table cannot be NOT NULL: its old rows have no value.
        added += add_missing_columns(
            con, table.name, [(n, t.replace(" NOT NULL", "")) for n, t in table.columns]
        )
    return added
