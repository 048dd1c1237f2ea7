"""Asset checks on the extracted tables: keys, foreign keys, stock arithmetic and load issues.

Each check is one SQL query returning the keys of the rows that break it; the check passes when there
are none and shows how many failed and a few of them. Checks open warehouse.duckdb, so they queue in the
`duckdb_writer` pool like the steps that write it (DuckDB lets no other process open a file being written).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from gecko_pipeline.assets.extract import POOL
from gecko_pipeline.warehouse.catalog import TABLE_LIST, TABLES
from gecko_pipeline.warehouse.resource import WarehouseResource

SAMPLE = 5


def failing_rows(con: object, failing_sql: str, params: Sequence[object] = ()) -> tuple[int, list[str]]:
    """Count the keys `failing_sql` returns, and a few of them, in one pass."""
    row = con.execute(  # type: ignore[attr-defined]
        f"SELECT count(*), list(CAST(k AS VARCHAR) ORDER BY k)[1:{SAMPLE}] FROM ({failing_sql}) AS f(k)",  # noqa: S608
        list(params),
    ).fetchone()
    return int(row[0]), list(row[1] or [])


def sql_check(
    asset: str,
    name: str,
    description: str,
    failing_sql: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(asset), name=name, description=description, blocking=False, pool=POOL)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            count, sample = failing_rows(con, failing_sql)
        return dg.AssetCheckResult(
            passed=count == 0,
            severity=severity,
            metadata={"failing_rows": count, "sample": ", ".join(sample)},
        )

    return _check


def load_issues_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(table),
        name="no_load_issues",
        blocking=False,
        pool=POOL,
        description=f"No stored {table} record has a load issue (missing field, null where a value was "
        "expected, a value that does not cast, an unknown field, a rejected record). Details and raw JSON: "
        "tables load_issues and rejected_records.",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            rows = con.execute(
                "SELECT problem, field, count(*), min(record_id) FROM load_issues WHERE table_name = ? "
                "GROUP BY ALL ORDER BY 3 DESC",
                [table],
            ).fetchall()
        total = sum(r[2] for r in rows)
        # Unknown fields are schema drift: the data is kept in _raw, so they only warn.
        only_drift = all(r[0] == "unknown field" for r in rows)
        return dg.AssetCheckResult(
            passed=total == 0,
            severity=dg.AssetCheckSeverity.WARN if only_drift else dg.AssetCheckSeverity.ERROR,
            metadata={
                "load_issues": total,
                "by_problem": {f"{p} ({f})": n for p, f, n, _ in rows[:20]},
                "example_record_ids": ", ".join(str(r[3]) for r in rows[:SAMPLE]),
            },
        )

    return _check


def _unique(table: str) -> dg.AssetChecksDefinition:
    keys = TABLES[table].primary_key
    joined = " || '/' || ".join(f"CAST({k} AS VARCHAR)" for k in keys)
    return sql_check(
        table,
        "unique_keys",
        f"Every row of {table} has a distinct key ({', '.join(keys)}).",
        f"SELECT {joined} FROM {table} GROUP BY {', '.join(keys)} HAVING count(*) > 1",  # noqa: S608 - our schema
    )


def _fk(table: str, column: str, parent: str, parent_column: str = "id") -> dg.AssetChecksDefinition:
    keys = " || '/' || ".join(f"CAST(t.{k} AS VARCHAR)" for k in TABLES[table].primary_key)
    return sql_check(
        table,
        f"{column}_resolves",
        f"Every {table}.{column} is a {parent}.{parent_column} in the warehouse.",
        f"SELECT {keys} FROM {table} t WHERE t.{column} IS NOT NULL "  # noqa: S608 - identifiers of our schema
        f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_column} = t.{column})",
    )


EXTRACT_CHECKS: list[dg.AssetChecksDefinition] = [
    *(_unique(spec.name) for spec in TABLE_LIST),
    *(load_issues_check(spec.name) for spec in TABLE_LIST),
    _fk("variants", "product_id", "products"),
    _fk("variant_locations", "variant_id", "variants"),
    _fk("variant_locations", "location_id", "locations"),
    _fk("variant_prices", "price_list_id", "price_lists"),
    _fk("addresses", "company_id", "companies"),
    _fk("orders", "company_id", "companies"),
    _fk("order_line_items", "order_id", "orders"),
    _fk("order_line_items", "variant_id", "variants"),
    _fk("fulfillment_line_items", "fulfillment_id", "fulfillments"),
    _fk("fulfillment_line_items", "order_line_item_id", "order_line_items"),
    _fk("fulfillment_return_line_items", "fulfillment_return_id", "fulfillment_returns"),
    _fk("fulfillment_return_line_items", "order_line_item_id", "order_line_items"),
    sql_check(
        "variants",
        "stock_on_hand_is_sum_of_locations",
        "A variant's stock_on_hand equals the sum of stock_on_hand over its locations (0 with none).",
        "SELECT v.id FROM variants v LEFT JOIN (SELECT variant_id, sum(stock_on_hand) AS s FROM variant_locations "
        "GROUP BY variant_id) l ON l.variant_id = v.id WHERE v.stock_on_hand IS DISTINCT FROM COALESCE(l.s, 0)",
    ),
    sql_check(
        "variants",
        "available_is_on_hand_minus_committed",
        "Where the API sends available_stock, it equals stock_on_hand - committed_stock (null counts 0).",
        "SELECT id FROM variants WHERE available_stock IS NOT NULL "
        "AND available_stock <> stock_on_hand - COALESCE(committed_stock, 0)",
    ),
    sql_check(
        "variant_locations",
        "available_is_on_hand_minus_committed",
        "Where the API sends a location's available, it equals stock_on_hand - committed (null counts 0).",
        "SELECT variant_id || '/' || location_id FROM variant_locations WHERE available IS NOT NULL "
        "AND available <> stock_on_hand - COALESCE(committed, 0)",
    ),
]
