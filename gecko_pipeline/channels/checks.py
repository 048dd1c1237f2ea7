"""What must hold of the channel tables and feed files after every recompute; each check returns what it found.

Used by the Dagster asset checks (gecko_pipeline/defs/channels.py) and directly by tests and tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from gecko_pipeline.channels.feeds import feed_row_counts
from gecko_pipeline.channels.stock import ensure_channel_tables

SAMPLE = 10

DESCRIPTIONS = {
    "no_negative_quantity": "No published quantity (channel total or location share) is negative.",
    "within_max_online": "No published quantity is above the variant's max_online.",
    "prices_present": "Every listed variant has a price in its channel's price list (a missing one is flagged, never invented).",
    "shares_add_up": "For each channel with per_location: true, every listing has a stock level per channel location "
    "and the shares add up to the channel total (null together for untracked variants); other channels "
    "have no stock-level rows.",
    "keys_unique": "One listing per channel and variant, one stock level per channel, variant and location.",
    "skus_usable": "Every listed variant has a SKU, and no two listed variants of a channel share one "
    "(a store importer matches listings by SKU).",
    "feeds_match_listings": "Each channel's listings.csv and listings.json are there and hold exactly the rows "
    "its listings publish (one per variant; per variant and location for a "
    "per_location channel).",
}


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    failures: int
    description: str
    sample: list[dict[str, Any]] = field(default_factory=list)


def _run(con: duckdb.DuckDBPyConnection, sql: str, description: str) -> CheckOutcome:
    """`sql` selects the offending rows; the check passes when there are none."""
    (count,) = con.execute(f"SELECT count(*) FROM ({sql})").fetchone() or (0,)  # noqa: S608 (fixed SQL)
    cursor = con.execute(f"SELECT * FROM ({sql}) LIMIT {SAMPLE}")  # noqa: S608
    names = [d[0] for d in cursor.description or []]
    sample = [
        {n: (None if v is None else str(v)) for n, v in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]
    return CheckOutcome(passed=count == 0, failures=int(count), description=description, sample=sample)


def no_negative_quantity(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    return _run(
        con,
        """
        SELECT channel, variant_id, NULL::BIGINT AS location_id, quantity FROM channel_listings WHERE quantity < 0
        UNION ALL
        SELECT channel, variant_id, location_id, quantity FROM channel_stock_levels WHERE quantity < 0""",
        DESCRIPTIONS["no_negative_quantity"],
    )


def within_max_online(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    return _run(
        con,
        """
        SELECT channel, variant_id, sku, quantity, max_online FROM channel_listings
        WHERE max_online IS NOT NULL AND quantity > max_online""",
        DESCRIPTIONS["within_max_online"],
    )


def prices_present(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    return _run(
        con,
        """
        SELECT channel, variant_id, sku, price_list_id FROM channel_listings WHERE listed AND price IS NULL""",
        DESCRIPTIONS["prices_present"],
    )


def shares_add_up(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    return _run(
        con,
        """
        WITH shares AS (
            SELECT channel, variant_id, sum(quantity) AS shares, count(*) AS rows, count(quantity) AS tracked_rows
            FROM channel_stock_levels GROUP BY channel, variant_id
        ), slots AS (
            SELECT channel, count(*) AS locations FROM channel_locations GROUP BY channel
        )
        SELECT coalesce(l.channel, s.channel) AS channel, coalesce(l.variant_id, s.variant_id) AS variant_id,
               l.quantity, s.shares, s.rows, cs.per_location
        FROM channel_listings l
        JOIN channel_settings cs ON cs.channel = l.channel
        LEFT JOIN slots ON slots.channel = l.channel
        FULL OUTER JOIN shares s ON s.channel = l.channel AND s.variant_id = l.variant_id
        WHERE l.channel IS NULL
           OR (NOT cs.per_location AND s.rows IS NOT NULL)
           OR (cs.per_location AND (s.rows IS DISTINCT FROM slots.locations
                                    OR (l.quantity IS NULL AND s.tracked_rows > 0)
                                    OR (l.quantity IS NOT NULL AND s.shares IS DISTINCT FROM l.quantity)))""",
        DESCRIPTIONS["shares_add_up"],
    )


def keys_unique(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    return _run(
        con,
        """
        SELECT 'channel_listings' AS table_name, channel, variant_id, NULL::BIGINT AS location_id, count(*) AS n
        FROM channel_listings GROUP BY channel, variant_id HAVING count(*) > 1
        UNION ALL
        SELECT 'channel_stock_levels', channel, variant_id, location_id, count(*)
        FROM channel_stock_levels GROUP BY channel, variant_id, location_id HAVING count(*) > 1""",
        DESCRIPTIONS["keys_unique"],
    )


def skus_usable(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    return _run(
        con,
        """
        SELECT channel, sku, list(variant_id ORDER BY variant_id) AS variant_ids,
               CASE WHEN sku IS NULL OR trim(sku) = '' THEN 'no sku' ELSE 'sku shared' END AS problem
        FROM channel_listings WHERE listed
        GROUP BY channel, sku
        HAVING sku IS NULL OR trim(sku) = '' OR count(*) > 1""",
        DESCRIPTIONS["skus_usable"],
    )


# DuckDB's readers count a feed's rows (multi-threaded, no Python objects per row): several times faster
# than csv/json in Python on a 500,000-row per-location feed, which this check reads after every refresh.
def _csv_rows(con: duckdb.DuckDBPyConnection, path: Path) -> int | str | None:
    """Data rows of a CSV with a header (quoted newlines count once); None when the file is missing,
    the reader's complaint when it cannot be read."""
    if not path.is_file():
        return None
    try:
        row = con.execute(
            "SELECT count(*) FROM read_csv(?, header = true, all_varchar = true, quote = '\"', escape = '\"')",
            [str(path)],
        ).fetchone()
    except duckdb.Error as exc:
        return f"unreadable: {str(exc).splitlines()[0][:200]}"
    return int(row[0]) if row else 0


def _json_rows(con: duckdb.DuckDBPyConnection, path: Path) -> int | str | None:
    """Records of a JSON array; None when the file is missing, the complaint when it is not an array."""
    if not path.is_file():
        return None
    try:
        row = con.execute(
            "SELECT count(*) FROM read_json(?, format = 'array', columns = {sku: 'VARCHAR'})", [str(path)]
        ).fetchone()
    except duckdb.Error as exc:
        return f"unreadable: {str(exc).splitlines()[0][:200]}"
    return int(row[0]) if row else 0


def feeds_match_listings(con: duckdb.DuckDBPyConnection, feeds_dir: Path) -> CheckOutcome:
    """Counts each channel's feed file rows against the rows its listings publish now (the feed's own query)."""
    ensure_channel_tables(con)
    names = [
        row[0] for row in con.execute("SELECT channel FROM channel_settings ORDER BY channel").fetchall()
    ]
    expected = feed_row_counts(con, names)
    problems: list[dict[str, Any]] = []
    for name in names:
        want = int(expected.get(name, 0))
        found = {
            file: count(con, Path(feeds_dir) / name / file)
            for file, count in (("listings.csv", _csv_rows), ("listings.json", _json_rows))
        }
        if any(rows != want for rows in found.values()):
            problems.append(
                {
                    "channel": name,
                    "listings rows": str(want),
                    **{file: "missing" if rows is None else str(rows) for file, rows in found.items()},
                }
            )
    return CheckOutcome(
        passed=not problems,
        failures=len(problems),
        description=DESCRIPTIONS["feeds_match_listings"],
        sample=problems[:SAMPLE],
    )
