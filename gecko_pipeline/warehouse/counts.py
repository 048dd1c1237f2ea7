"""Exact row counts of warehouse tables: the Catalog's row counts, and what the published copy must hold."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_row_counts(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None) -> dict[str, int]:
    """Exact rows of `tables` (default: every table of the database `con` is on; `schema.table` outside
    `main`). A name that is not a table there is an error, so only catalog names ever reach the SQL."""
    catalog = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary ORDER BY schema_name, table_name"
    ).fetchall()
    known = {
        (table if schema == "main" else f"{schema}.{table}"): (schema, table) for schema, table in catalog
    }
    counts: dict[str, int] = {}
    for name in known if tables is None else tables:
        if name not in known:
            raise ValueError(f"no table {name!r} in the database")
        schema, table = known[name]
        row = con.execute(f"SELECT count(*) FROM {_quoted(schema)}.{_quoted(table)}").fetchone()  # noqa: S608
        counts[name] = int(row[0]) if row else 0
    return counts
