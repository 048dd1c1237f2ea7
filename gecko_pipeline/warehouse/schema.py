"""What a warehouse table is: typed columns named after the API's fields, a key, bookkeeping columns;
the pipeline's own bookkeeping tables; DDL and schema evolution. The tables themselves are declared
with their API resources in catalog.py.

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
    description: str = ""
    # Foreign keys: (column, table whose `id` it holds). Lineage in the UI and a check each.
    references: tuple[tuple[str, str], ...] = ()

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


def table_ddl(spec: TableSpec) -> str:
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


def add_missing_columns(
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
