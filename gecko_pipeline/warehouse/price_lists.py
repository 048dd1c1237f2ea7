"""Every price list the account uses is known, whether or not `/price_lists` lists it.

The API's final resource list marks `/price_lists` unavailable (gecko-api.md 6.4), and some accounts
answer 404 there or list only their custom lists. Yet the three built-in lists (`buy`, `wholesale`,
`retail`) always exist, and prices, the account and companies name lists by id. So after a load the
warehouse gains a row for each such list the API did not send, marked by `_origin`:
`built_in` (the three built-ins) or `referenced` (an id used in variant_prices or as a default).
A row the API sends later replaces it (`_origin = 'api'`).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

BUILT_IN = (
    ("buy", "BUY", "Buy", True),
    ("wholesale", "WHOLESALE", "Wholesale", False),
    ("retail", "RETAIL", "Retail", False),
)

# Where the account names price lists by id (tables of the warehouse, each with its column).
REFERENCES = (
    ("variant_prices", "price_list_id"),
    ("account", "default_order_price_list_id"),
    ("account", "default_purchase_order_price_list_id"),
    ("companies", "default_price_list_id"),
    ("orders", "default_price_list_id"),
)
REFERENCING_TABLES = frozenset(table for table, _ in REFERENCES) | {"price_lists"}


def ensure_known_price_lists(con: duckdb.DuckDBPyConnection, synced_at: datetime) -> int:
    """Add the built-in and referenced price lists missing from `price_lists`; returns how many."""
    referenced = " UNION ".join(
        f"SELECT CAST({column} AS VARCHAR) FROM {table} WHERE {column} IS NOT NULL"  # noqa: S608 - our schema
        for table, column in REFERENCES
    )
    (added,) = con.execute(
        f"""INSERT INTO price_lists (id, code, name, is_cost, _origin, _synced_at)
            WITH built_in(id, code, name, is_cost) AS (
                   SELECT * FROM (VALUES {", ".join("(?, ?, ?, ?)" for _ in BUILT_IN)})),
                 missing AS (
                   SELECT *, 'built_in' AS origin FROM built_in
                   UNION ALL
                   SELECT r.id, NULL, NULL, NULL, 'referenced' FROM ({referenced}) r(id)
                   WHERE r.id NOT IN (SELECT id FROM built_in))
            SELECT id, code, name, is_cost, origin, CAST(? AS TIMESTAMP) FROM missing
            WHERE id NOT IN (SELECT id FROM price_lists)""",  # noqa: S608 - our schema and placeholders
        [*(value for row in BUILT_IN for value in row), synced_at],
    ).fetchone() or (0,)
    # Built-in lists are in the account's base currency (known once the currencies are loaded: the
    # account comes first); a referenced custom list's currency stays unknown until the API lists it.
    con.execute(
        """UPDATE price_lists SET currency_id = c.id, currency_iso = c.iso, currency_symbol = c.symbol
           FROM (SELECT c.id, c.iso, c.symbol FROM account a JOIN currencies c ON c.id = a.default_currency_id
                 ORDER BY a.id LIMIT 1) c
           WHERE price_lists._origin = 'built_in' AND price_lists.currency_id IS NULL"""
    )
    return int(added)
