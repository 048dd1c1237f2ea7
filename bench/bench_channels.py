"""Channel stock recompute at 100,000 variants x 10 locations x 5 channels (the issue's benchmark).

The warehouse tables are synthesised directly in DuckDB with SQL (an extract at that scale is measured by
bench_extract.py; put the two side by side). Prints seconds and rows per second for the full recompute,
a targeted recompute of 100 variants (the webhook path), and the feed writing (first feed, then a feed
after 1% of the stock moved).

    .venv/bin/python -c "import bench.bench_channels as b; b.main()"
"""

from __future__ import annotations

import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import duckdb

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.channels.feeds import write_feeds
from gecko_pipeline.channels.stock import compute_channel_stock

VARIANTS = int(os.environ.get("BENCH_CHANNELS_VARIANTS", "100000"))
LOCATIONS = 10

CHANNELS = [
    ChannelConfig(name="webstore", price_list="retail", safety_buffer=Decimal("2")),
    ChannelConfig(name="marketplace", price_list="wholesale", per_location=True, locations=(1, 2, 3)),
    ChannelConfig(name="outlet", price_list="101", locations=(4, 5, 6, 7), safety_buffer=Decimal("1")),
    ChannelConfig(name="b2b", locations=tuple(range(1, LOCATIONS + 1))),
    ChannelConfig(name="eu-store", price_list="102", per_location=True, locations=(8, 9, 10)),
]


def synthesise(con: duckdb.DuckDBPyConnection, variants: int, locations: int) -> None:
    """The warehouse tables the rule reads, with the awkward cases mixed in at realistic shares."""
    try:
        from gecko_pipeline.warehouse.catalog import ensure_schema
    except ImportError:  # the warehouse package not there yet: the columns the rule reads
        ensure_schema = None
    if ensure_schema is not None:
        ensure_schema(con)
    else:
        con.execute("""CREATE TABLE account (id BIGINT, default_order_price_list_id VARCHAR,
                        primary_location_id BIGINT)""")
        con.execute("CREATE TABLE locations (id BIGINT, label VARCHAR, status VARCHAR, holds_stock BOOLEAN)")
        con.execute("CREATE TABLE currencies (id BIGINT, iso VARCHAR)")
        con.execute("""CREATE TABLE price_lists (id VARCHAR, code VARCHAR, name VARCHAR, currency_id BIGINT,
                        currency_iso VARCHAR)""")
        con.execute("CREATE TABLE products (id BIGINT, status VARCHAR)")
        con.execute("""CREATE TABLE variants (id BIGINT, product_id BIGINT, sku VARCHAR, name VARCHAR,
                        status VARCHAR, product_status VARCHAR, sellable BOOLEAN, manage_stock BOOLEAN,
                        keep_selling BOOLEAN, max_online DECIMAL(18,4))""")
        con.execute("""CREATE TABLE variant_locations (variant_id BIGINT, location_id BIGINT,
                        stock_on_hand DECIMAL(18,4), committed DECIMAL(18,4))""")
        con.execute("""CREATE TABLE variant_prices (variant_id BIGINT, price_list_id VARCHAR,
                        value DECIMAL(18,4))""")
    con.execute(
        "INSERT INTO account (id, default_order_price_list_id, primary_location_id) VALUES (1, 'wholesale', 1)"
    )
    con.execute("INSERT INTO currencies (id, iso) VALUES (1, 'USD'), (2, 'EUR')")
    con.execute(
        """INSERT INTO locations (id, label, status, holds_stock)
                   SELECT i, 'Warehouse ' || i, 'active', true FROM range(1, $1 + 1) t(i)""",
        [locations],
    )
    con.execute("""INSERT INTO price_lists (id, code, name, currency_id, currency_iso) VALUES
                   ('buy', 'BUY', 'Buy', 1, 'USD'), ('wholesale', 'WHOLE', 'Wholesale', 1, 'USD'),
                   ('retail', 'RETAIL', 'Retail', 1, 'USD'), ('101', 'OUTLET', 'Outlet', 1, 'USD'),
                   ('102', 'EU', 'Europe', 2, 'EUR')""")
    con.execute(
        """INSERT INTO products (id, status)
                   SELECT i, CASE WHEN i % 97 = 0 THEN 'archived' WHEN i % 89 = 0 THEN 'disabled' ELSE 'active' END
                   FROM range(1, $1 // 4 + 2) t(i)""",
        [variants],
    )
    con.execute(
        """INSERT INTO variants (id, product_id, sku, name, status, product_status, sellable, manage_stock,
                                         keep_selling, max_online)
                   SELECT i, i // 4 + 1, 'SKU-' || i, 'Variant ' || i,
                          CASE WHEN i % 53 = 0 THEN 'archived' ELSE 'active' END, 'active',
                          i % 61 <> 0, i % 41 <> 0, i % 13 = 0,
                          CASE WHEN i % 17 = 0 THEN CAST(5 AS DECIMAL(18,4)) END
                   FROM range(1, $1 + 1) t(i)""",
        [variants],
    )
    # Every variant at every location but one in 29 (a variant missing from a location), some negative
    # stock and some null committed, decimals built from strings as the API sends them.
    con.execute(
        """INSERT INTO variant_locations (variant_id, location_id, stock_on_hand, committed)
                   SELECT v, l, CAST(CAST((v * 7 + l * 13) % 40 - 5 AS VARCHAR) AS DECIMAL(18,4)),
                          CASE WHEN (v + l) % 11 = 0 THEN NULL
                               ELSE CAST(CAST((v + l) % 4 AS VARCHAR) AS DECIMAL(18,4)) END
                   FROM range(1, $1 + 1) a(v), range(1, $2 + 1) b(l)
                   WHERE (v + l) % 29 <> 0""",
        [variants, locations],
    )
    con.execute(
        """INSERT INTO variant_prices (variant_id, price_list_id, value)
                   SELECT v, p, CAST(CAST(10 + v % 50 AS VARCHAR) || '.95' AS DECIMAL(18,4))
                   FROM range(1, $1 + 1) a(v), (VALUES ('buy'), ('wholesale'), ('retail'), ('101'), ('102')) b(p)
                   WHERE (v + length(p)) % 37 <> 0""",
        [variants],
    )


def _timed(label: str, rows: int, seconds: float) -> None:
    print(f"  {label:44s} {seconds:8.3f} s  {rows:>10,} rows  {rows / seconds:>12,.0f} rows/s")


def _copy_floor(con: duckdb.DuckDBPyConnection) -> float:
    """Seconds to write the same rows with no logic at all: the floor the recompute is measured against."""
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TABLE _bench_listings AS SELECT * FROM channel_listings")
    con.execute("CREATE TABLE _bench_levels AS SELECT * FROM channel_stock_levels")
    con.execute("COMMIT")
    seconds = time.perf_counter() - started
    con.execute("DROP TABLE _bench_listings")
    con.execute("DROP TABLE _bench_levels")
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_channels_") as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        con = duckdb.connect(str(path))
        con.execute("SET enable_progress_bar = false")
        started = time.perf_counter()
        synthesise(con, VARIANTS, LOCATIONS)
        con.execute("CHECKPOINT")
        print(
            f"channels: synthetic warehouse {VARIANTS:,} variants x {LOCATIONS} locations x "
            f"{len(CHANNELS)} channels built in {time.perf_counter() - started:.2f} s"
        )

        first = compute_channel_stock(con, CHANNELS)  # warm-up: creates the tables
        result = compute_channel_stock(con, CHANNELS)
        rows = result["listings_rows"] + result["stock_level_rows"]
        floor = _copy_floor(con)
        _timed("baseline: plain copy of the same rows", rows, floor)
        _timed("full recompute (listings + stock levels)", rows, result["seconds"])
        print(
            f"    = {result['seconds'] / floor:.2f}x the plain copy (the rule's own cost over writing its output)"
        )
        _timed("  of which channel_listings", result["listings_rows"], result["listings_seconds"])
        _timed("  of which channel_stock_levels", result["stock_level_rows"], result["stock_levels_seconds"])
        print(f"    first run (creates the tables) {first['seconds']:.3f} s")

        ids = list(range(1, VARIANTS + 1, max(VARIANTS // 100, 1)))
        targeted = compute_channel_stock(con, CHANNELS, variant_ids=ids)
        _timed(
            f"targeted recompute ({len(ids)} variants)",
            targeted["listings_rows"] + targeted["stock_level_rows"],
            targeted["seconds"],
        )

        feeds_dir = Path(tmp) / "feeds"
        started = time.perf_counter()
        fed = write_feeds(con, CHANNELS, feeds_dir)
        feed_rows = sum(c["rows"] for c in fed["channels"].values())
        _timed("first feed (CSV + JSON + changes)", feed_rows, time.perf_counter() - started)

        # 1% of the variants move at one location; recompute them and feed only what moved.
        moved = list(range(1, VARIANTS + 1, 100))
        con.execute(
            """UPDATE variant_locations SET stock_on_hand = stock_on_hand + 3
                       WHERE location_id = 1 AND variant_id IN (SELECT unnest($1::BIGINT[]))""",
            [moved],
        )
        compute_channel_stock(con, CHANNELS, variant_ids=moved)
        started = time.perf_counter()
        fed = write_feeds(con, CHANNELS, feeds_dir)
        changes = sum(c["changes"] for c in fed["channels"].values())
        _timed(f"next feed after {len(moved):,} variants moved", feed_rows, time.perf_counter() - started)
        print(f"    changes listed: {changes:,}")
        con.close()


if __name__ == "__main__":
    main()
