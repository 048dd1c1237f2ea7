"""The warehouse's tables: one per API resource, typed columns named after the API's fields.

Every table keeps `_raw` (the record's JSON exactly as sent, so nothing the API says is lost) and
`_synced_at`. Tables of records with their own id also have `_vanished_at`: set when a full refresh no
longer finds the record, cleared when it comes back. Money, quantities and stock are DECIMAL(18,4) cast
from the API's strings; exchange rates keep 8 places because the API sends rates like "2.54317".
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

# Short type names used by the table definitions below.
ID = "BIGINT"
INT = "INTEGER"
DEC = "DECIMAL(18,4)"  # money, quantities, stock, percentages
RATE = "DECIMAL(18,8)"  # exchange rates
TS = "TIMESTAMP"  # *_at datetimes, UTC
DATE = "DATE"  # date-only fields (issued_at, ship_at, packed_at)
BOOL = "BOOLEAN"
STR = "VARCHAR"
JSON = "JSON"  # arrays and hashes kept as sent (id lists, tags)

DECIMAL_TYPES = (DEC, RATE)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False  # null or missing is a load issue


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ("id",)
    # Keys the API sends that are deliberately not columns (nested lists loaded as child tables,
    # deprecated fields): kept in _raw, and not reported as unknown.
    extra_keys: frozenset[str] = frozenset()
    # Child tables keyed by parent: the parent column in this table and the JSON key in the parent record.
    parent: str | None = None
    parent_column: str | None = None
    parent_key: str | None = None
    # Every `status` value the API documents for the resource (a value outside it is a load issue), and
    # those the API leaves out of a listing unless the `status` filter names them (soft-deleted ones).
    statuses: tuple[str, ...] = ()
    hidden_statuses: tuple[str, ...] = ()
    # Rows may also be made by the pipeline (e.g. built-in price lists the API does not list): an
    # `_origin` column says which (`api` for every row the API sent).
    has_origin: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def known_keys(self) -> frozenset[str]:
        return frozenset(self.column_names) | self.extra_keys

    @property
    def has_id(self) -> bool:
        return self.primary_key == ("id",)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def bookkeeping_columns(self) -> list[tuple[str, str]]:
        """The pipeline's own columns after the API's, (name, DuckDB type)."""
        cols = [("_raw", JSON), ("_synced_at", TS)]
        if self.has_id:
            cols.append(("_vanished_at", TS))
        if self.has_origin:
            cols.append(("_origin", STR))
        return cols


def _cols(spec: str, required: tuple[str, ...] = ("id",)) -> tuple[Column, ...]:
    """`"id:ID name:STR ..."` -> columns; types are the names above."""
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
    out = []
    for item in spec.split():
        name, short = item.split(":")
        out.append(Column(name, types[short], name in required))
    return tuple(out)


STAMPS = "created_at:TS updated_at:TS"

# gecko-api.md section 7. Without a `status` filter the API leaves out the soft-deleted statuses.
ACTIVE_ARCHIVED = {"statuses": ("active", "archived"), "hidden_statuses": ("archived",)}
ACTIVE_DISABLED_ARCHIVED = {"statuses": ("active", "disabled", "archived"), "hidden_statuses": ("archived",)}

TABLE_LIST: list[TableSpec] = [
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
    ),
    TableSpec(
        "currencies",
        _cols(
            "id:ID iso:STR name:STR symbol:STR separator:STR delimiter:STR format:STR precision:INT rate:RATE "
            "status:STR subunit:INT " + STAMPS,
            ("id", "iso", "status"),
        ),
        **ACTIVE_ARCHIVED,
    ),
    TableSpec(
        "locations",
        _cols(
            "id:ID label:STR address1:STR address2:STR suburb:STR city:STR state:STR zip_code:STR country:STR "
            "holds_stock:BOOL status:STR " + STAMPS,
            ("id", "status"),
        ),
        **ACTIVE_ARCHIVED,
    ),
    TableSpec(
        "price_lists",
        _cols(
            "id:STR code:STR name:STR currency_id:ID currency_symbol:STR currency_iso:STR is_cost:BOOL "
            "is_default:BOOL position:INT status:STR " + STAMPS
        ),
        has_origin=True,
    ),
    TableSpec(
        "tax_types",
        _cols(
            "id:ID code:STR name:STR status:STR imported_from:STR quickbooks_online_id:STR xero_online_id:STR "
            "effective_rate:DEC tax_component_ids:JSON " + STAMPS
        ),
        **ACTIVE_ARCHIVED,
    ),
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
    ),
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
    ),
    TableSpec(
        "variant_prices",
        _cols("variant_id:ID price_list_id:STR value:DEC", ("price_list_id",)),
        primary_key=("variant_id", "price_list_id"),
        parent="variants",
        parent_column="variant_id",
        parent_key="variant_prices",
    ),
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
        extra_keys=frozenset({"default_price_type_id", "default_tax_rate", "default_document_theme_id"}),
        **ACTIVE_DISABLED_ARCHIVED,
    ),
    TableSpec(
        "addresses",
        _cols(
            "id:ID company_id:ID address1:STR address2:STR suburb:STR city:STR state:STR zip_code:STR country:STR "
            "country_code:STR label:STR company_name:STR first_name:STR last_name:STR phone_number:STR email:STR "
            "status:STR " + STAMPS,
            ("id", "company_id", "status"),
        ),
        **ACTIVE_ARCHIVED,
    ),
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
    ),
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
    ),
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
    ),
    TableSpec(
        "fulfillment_line_items",
        _cols(
            "id:ID fulfillment_id:ID order_line_item_id:ID quantity:DEC position:INT base_price:DEC variant_id:ID "
            "variant_sku:STR " + STAMPS,
            ("id", "fulfillment_id", "quantity"),
        ),
    ),
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
    ),
    TableSpec(
        "fulfillment_return_line_items",
        _cols(
            "id:ID fulfillment_return_id:ID order_line_item_id:ID quantity:DEC base_price:DEC position:INT "
            "ledger_account_id:ID stock_trail_ids:JSON " + STAMPS,
            ("id", "fulfillment_return_id", "quantity"),
        ),
    ),
]

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_LIST}


def child_tables(parent: str) -> list[TableSpec]:
    return [spec for spec in TABLE_LIST if spec.parent == parent]


def _table_ddl(spec: TableSpec) -> str:
    cols = [
        f'"{c.name}" {c.type}' + (" NOT NULL" if c.name in spec.primary_key else "") for c in spec.columns
    ]
    cols += [f"{name} {ctype}" for name, ctype in spec.bookkeeping_columns]
    cols.append("PRIMARY KEY (" + ", ".join(spec.primary_key) + ")")
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n  " + ",\n  ".join(cols) + "\n)"


@dataclass(frozen=True)
class SystemTable:
    """A table of the pipeline's own bookkeeping: (column, DuckDB type) pairs and its key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...] = ()

    def ddl(self) -> str:
        cols = [f'"{n}" {t}' + (" NOT NULL" if n in self.primary_key else "") for n, t in self.columns]
        if self.primary_key:
            cols.append("PRIMARY KEY (" + ", ".join(self.primary_key) + ")")
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n  " + ",\n  ".join(cols) + "\n)"


SYSTEM_TABLES: list[SystemTable] = [
    # One row per API stream (e.g. "variants"): the updated_at watermark and the last run's figures;
    # last_problem says why a stream was skipped (an optional list the API answers 404 for).
    SystemTable(
        "sync_state",
        (
            ("resource", STR),
            ("cursor", TS),
            ("mode", STR),
            ("last_started_at", TS),
            ("last_finished_at", TS),
            ("last_requests", "BIGINT"),
            ("last_pages", "BIGINT"),
            ("last_inserted", "BIGINT"),
            ("last_updated", "BIGINT"),
            ("last_issues", "BIGINT"),
            ("last_duration_s", "DOUBLE"),
            ("last_problem", STR),
        ),
        ("resource",),
    ),
    # The current problems of the stored records: replaced whenever a record is loaded again.
    SystemTable(
        "load_issues",
        (
            ("table_name", STR + " NOT NULL"),
            ("record_id", STR + " NOT NULL"),
            ("field", STR + " NOT NULL"),
            ("value", STR),
            ("problem", STR + " NOT NULL"),
            ("seen_at", TS + " NOT NULL"),
        ),
    ),
    # Records that cannot be stored in their table at all (no usable key): kept whole for replay.
    SystemTable(
        "rejected_records",
        (
            ("table_name", STR),
            ("raw_hash", STR),
            ("problem", STR + " NOT NULL"),
            ("_raw", JSON),
            ("seen_at", TS + " NOT NULL"),
        ),
        ("table_name", "raw_hash"),
    ),
]


def _add_missing_columns(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]
) -> list[str]:
    """Schema evolution: a column the code defines but an existing warehouse lacks is added (null in
    the rows already there; the next load of a record fills it from the API, whose JSON `_raw` keeps)."""
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main'",
            [table],
        ).fetchall()
    }
    added = []
    for name, ctype in columns:
        if name not in present:
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {ctype}')
            added.append(f"{table}.{name}")
    return added


def ensure_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create every table that is missing and add every column that is missing (idempotent; existing
    data is left alone). Returns the columns added, as `table.column`."""
    added: list[str] = []
    for spec in TABLE_LIST:
        con.execute(_table_ddl(spec))
        wanted = [(c.name, c.type) for c in spec.columns] + spec.bookkeeping_columns
        added += _add_missing_columns(con, spec.name, wanted)
    for table in SYSTEM_TABLES:
        con.execute(table.ddl())
        # A column added to an existing table cannot be NOT NULL: its old rows have no value.
        added += _add_missing_columns(
            con, table.name, [(n, t.replace(" NOT NULL", "")) for n, t in table.columns]
        )
    return added


__all__ = ["TABLES", "TABLE_LIST", "TableSpec", "Column", "ensure_schema", "child_tables"]
