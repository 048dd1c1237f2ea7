"""Channel stock and feeds at 100,000 variants x 10 locations x 5 channels (the issue's benchmark).

The warehouse tables are synthesised directly in DuckDB with SQL (an extract at that scale is measured by
bench_extract.py). Every figure is printed next to a baseline measured in the same run, on the same
data, as a ratio (the machine is shared, so absolute seconds move with its load; the ratios move less):

  recompute   baseline: the previous algorithm (kept below: the same rule, every row rewritten, stock
              levels for every channel); floor: a plain CREATE TABLE AS copy of the rows written now
  first feed  floor: a plain DuckDB COPY of the same rows to CSV and JSON (no rendering, no order)
  next feed   baselines: a full rewrite of the same feed (full=True), and copying the listing files of
              the channels that moved (the floor for replacing them atomically)

    .venv/bin/python -m bench channels
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from gecko_pipeline.channels import stock
from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.channels.feeds import FILES, write_feeds
from gecko_pipeline.channels.file_swap import wait_for_retired_files
from gecko_pipeline.channels.stock import compute_channel_stock

VARIANTS = int(os.environ.get("BENCH_CHANNELS_VARIANTS", "100000"))
LOCATIONS = 10
MOVED = VARIANTS // 100  # 1,000 at 100k: the "feed after 1,000 moved variants"
TARGETED = 100
RECOMPUTE_TARGET, FEED_TARGET = 1.0, 0.5  # seconds (the goals)

CHANNELS = [
    ChannelConfig(name="webstore", price_list="retail", safety_buffer=Decimal("2")),
    ChannelConfig(name="marketplace", price_list="wholesale", per_location=True, locations=(1, 2, 3)),
    ChannelConfig(name="outlet", price_list="101", locations=(4, 5, 6, 7), safety_buffer=Decimal("1")),
    ChannelConfig(name="b2b", locations=tuple(range(1, LOCATIONS + 1))),
    ChannelConfig(name="eu-store", price_list="102", per_location=True, locations=(8, 9, 10)),
]

# The previous algorithm (gecko_pipeline/channels/stock.py before this change), kept as the same-run
# baseline: the rule's SQL, inserted straight into the tables after deleting the scope, with stock
# levels for every channel. Writes to bench tables so the real ones are left alone.
PREVIOUS_LISTINGS_SQL = """
INSERT INTO _previous_listings
WITH channel_slots AS (
    SELECT channel, list(slot) AS slots FROM _channel_location_slots GROUP BY channel
), base AS (
    SELECT s.channel, v.id AS variant_id, v.product_id, v.sku, v.name AS variant_name,
           (v.status = 'active' AND coalesce(p.status, v.product_status) = 'active'
            AND coalesce(v.sellable, true)) AS listed,
           coalesce(v.manage_stock, true) AS tracked,
           coalesce(v.keep_selling, false) AS keep_selling,
           TRY_CAST(v.max_online AS DECIMAL(18,4)) AS max_online,
           CAST(coalesce(list_sum(list_select(vs.available, cs.slots)), 0) AS DECIMAL(18,4)) AS available,
           s.safety_buffer, s.price_list_id, s.currency,
           CAST(vp.value AS DECIMAL(18,4)) AS price
    FROM variants v
    CROSS JOIN channel_settings s
    LEFT JOIN channel_slots cs ON cs.channel = s.channel
    LEFT JOIN products p ON p.id = v.product_id
    LEFT JOIN _channel_variant_stock vs ON vs.variant_id = v.id
    LEFT JOIN variant_prices vp ON vp.variant_id = v.id AND vp.price_list_id = s.price_list_id
    WHERE {scope_v}
), ruled AS (
    SELECT *, greatest(available - safety_buffer, 0) AS after_buffer,
           max_online IS NOT NULL AND greatest(available - safety_buffer, 0) > max_online AS capped
    FROM base
)
SELECT channel, variant_id, product_id, sku, variant_name, listed,
       CAST(CASE WHEN NOT listed THEN 0 WHEN NOT tracked THEN NULL WHEN capped THEN max_online
                 ELSE after_buffer END AS DECIMAL(18,4)) AS quantity,
       CASE WHEN listed AND (NOT tracked OR keep_selling) THEN 'continue' ELSE 'deny' END AS inventory_policy,
       price, currency, price_list_id, listed AND price IS NULL AS price_missing,
       CASE WHEN NOT listed THEN 'not_sellable' WHEN NOT tracked THEN 'untracked' WHEN capped THEN 'capped'
            WHEN after_buffer > 0 AND safety_buffer > 0 THEN 'buffer' WHEN after_buffer > 0 THEN 'in_stock'
            WHEN keep_selling THEN 'backorder' WHEN available > 0 THEN 'buffer'
            ELSE 'out_of_stock' END AS reason,
       available, max_online, safety_buffer
FROM ruled
"""
PREVIOUS_LEVELS_SQL = """
INSERT INTO _previous_levels
WITH levels AS (
    SELECT l.channel, l.variant_id, cl.location_id, cl.priority,
           vs.rows[cl.slot] AS found,
           coalesce(vs.available[cl.slot], 0) AS available,
           coalesce(list_sum(list_select(vs.offered, cl.earlier)), 0) AS handed_out,
           l.quantity AS channel_quantity
    FROM _previous_listings l
    JOIN _channel_location_slots cl ON cl.channel = l.channel
    LEFT JOIN _channel_variant_stock vs ON vs.variant_id = l.variant_id
    WHERE {scope_l}
)
SELECT channel, variant_id, location_id, priority, found IS NOT NULL AS stocked, found.on_hand, found.committed,
       CAST(available AS DECIMAL(18,4)) AS available,
       CAST(CASE WHEN channel_quantity IS NULL THEN NULL
                 ELSE least(greatest(available, 0), greatest(channel_quantity - handed_out, 0)) END
            AS DECIMAL(18,4)) AS quantity
FROM levels
"""


def synthesise(con: duckdb.DuckDBPyConnection, variants: int, locations: int) -> None:
    """The warehouse tables the rule reads, with the awkward cases mixed in at realistic shares."""
    from gecko_pipeline.warehouse.catalog import ensure_schema

    ensure_schema(con)
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


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def line(label: str, seconds: float, baseline: float | None = None, name: str = "", note: str = "") -> None:
    ratio = f"  = {seconds / baseline:5.2f}x {name}" if baseline else ""
    print(f"  {label:58s} {seconds:7.3f} s{ratio}{('  ' + note) if note else ''}", flush=True)


def previous_recompute(con: duckdb.DuckDBPyConnection, variant_ids: list[int] | None = None) -> None:
    """The previous algorithm on the same warehouse: the channels resolved and their settings written,
    as compute_channel_stock did, then the rule's rows deleted and inserted in full."""
    resolved = stock.as_resolved(con, CHANNELS)
    if variant_ids is None:
        scope_v = scope_l = scope_del = scope_vl = "true"
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _channel_scope AS SELECT DISTINCT unnest($1::BIGINT[]) AS id",
            [variant_ids],
        )
        scope_v, scope_vl = (
            "v.id IN (SELECT id FROM _channel_scope)",
            "vl.variant_id IN (SELECT id FROM _channel_scope)",
        )
        scope_l, scope_del = (
            "l.variant_id IN (SELECT id FROM _channel_scope)",
            "variant_id IN (SELECT id FROM _channel_scope)",
        )
    con.execute("BEGIN TRANSACTION")
    stock.write_channel_settings(con, resolved)
    for table in ("_previous_listings", "_previous_levels"):
        con.execute(f"DELETE FROM {table} WHERE {scope_del}")  # noqa: S608 (bench's own fragments)
    con.execute(stock.LOCATION_SLOTS_SQL)
    con.execute(stock.VARIANT_STOCK_SQL.format(scope_vl=scope_vl))
    con.execute(PREVIOUS_LISTINGS_SQL.format(scope_v=scope_v))
    con.execute(PREVIOUS_LEVELS_SQL.format(scope_l=scope_l))
    con.execute("COMMIT")


def plain_copy(con: duckdb.DuckDBPyConnection) -> float:
    """Seconds to write the rows the recompute keeps, with no logic at all (the floor for writing them)."""
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TABLE _copy_listings AS SELECT * FROM channel_listings")
    con.execute("CREATE TABLE _copy_levels AS SELECT * FROM channel_stock_levels")
    con.execute("COMMIT")
    seconds = time.perf_counter() - started
    con.execute("DROP TABLE _copy_listings")
    con.execute("DROP TABLE _copy_levels")
    return seconds


def move_stock(con: duckdb.DuckDBPyConnection, first: int) -> list[int]:
    """MOVED variants, spread over the catalogue, gain 3 units at location 1 (three channels sell from it)."""
    moved = list(range(first, VARIANTS + 1, max(VARIANTS // MOVED, 1)))[:MOVED]
    con.execute(
        """UPDATE variant_locations SET stock_on_hand = stock_on_hand + 3
           WHERE location_id = 1 AND variant_id IN (SELECT unnest($1::BIGINT[]))""",
        [moved],
    )
    return moved


def bench_recompute(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    print("recompute (channel_listings + channel_stock_levels)")
    compute_channel_stock(con, CHANNELS)  # creates the tables and channel_settings
    con.execute("CREATE TABLE _previous_listings AS SELECT * FROM channel_listings LIMIT 0")
    con.execute("CREATE TABLE _previous_levels AS SELECT * FROM channel_stock_levels LIMIT 0")
    previous_recompute(con)  # warm-up
    previous, _ = timed(lambda: previous_recompute(con))
    (old_rows,) = con.execute(
        "SELECT (SELECT count(*) FROM _previous_listings) + (SELECT count(*) FROM _previous_levels)"
    ).fetchone() or (0,)
    line(f"baseline: previous algorithm, every row rewritten ({old_rows:,} rows)", previous)
    # From scratch: no fingerprints, empty tables (a first run, or a changed channel setup).
    con.execute(
        "DELETE FROM channel_variant_inputs; DELETE FROM channel_listings; DELETE FROM channel_stock_levels"
    )
    scratch, result = timed(lambda: compute_channel_stock(con, CHANNELS))
    rows = result["listings_rows"] + result["stock_level_rows"]
    floor = plain_copy(con)
    line(f"floor: plain copy of the rows kept now ({rows:,} rows)", floor)
    line("full recompute from scratch (every row computed and written)", scratch, previous, "previous",
         f"{scratch / floor:.2f}x the plain copy")  # fmt: skip
    unchanged, result = timed(lambda: compute_channel_stock(con, CHANNELS))
    line("full recompute, nothing moved", unchanged, previous, "previous")
    move_stock(con, 1)
    moved_s, result = timed(lambda: compute_channel_stock(con, CHANNELS))
    line(
        f"full recompute after {MOVED:,} variants moved",
        moved_s,
        previous,
        "previous",
        f"({result['variants_recomputed']} variants recomputed, {result['listings_changed']} listings "
        f"and {result['stock_levels_changed']} stock levels rewritten)",
    )
    ids = list(range(1, VARIANTS + 1, max(VARIANTS // TARGETED, 1)))[:TARGETED]
    previous_recompute(con, ids)  # warm-up
    previous_targeted, _ = timed(lambda: previous_recompute(con, ids))
    line(f"baseline: previous algorithm, {len(ids)} variants", previous_targeted)
    targeted, _ = timed(lambda: compute_channel_stock(con, CHANNELS, variant_ids=ids))
    line(
        f"targeted recompute ({len(ids)} variants, the webhook path)", targeted, previous_targeted, "previous"
    )
    con.execute("DROP TABLE _previous_listings; DROP TABLE _previous_levels")
    return {"moved": moved_s, "unchanged": unchanged, "scratch": scratch}


def plain_feed_copy(con: duckdb.DuckDBPyConnection, folder: Path) -> float:
    """Seconds for DuckDB to COPY each channel's feed rows to CSV and JSON as they are: the floor for
    writing that many rows (no decimal rendering, no order, no fed state, no changes file)."""
    folder.mkdir()
    started = time.perf_counter()
    for channel in CHANNELS:
        rows = f"""SELECT l.*, s.location_id, s.quantity AS share FROM channel_listings l
                   LEFT JOIN channel_stock_levels s ON s.channel = l.channel AND s.variant_id = l.variant_id
                   WHERE l.channel = '{channel.name}'"""  # noqa: S608 (the bench's own names)
        con.execute(f"COPY ({rows}) TO '{folder / channel.name}.csv' (FORMAT csv, HEADER)")
        con.execute(f"COPY ({rows}) TO '{folder / channel.name}.json' (FORMAT json, ARRAY true)")
    seconds = time.perf_counter() - started
    shutil.rmtree(folder)
    return seconds


def copy_files(paths: list[Path]) -> float:
    """Seconds to replace each file with a copy of itself (temp file + os.replace): the floor for any
    atomic update of them."""
    started = time.perf_counter()
    for path in paths:
        temp = path.with_name(path.name + ".copy")
        shutil.copyfile(path, temp)
        os.replace(temp, path)
    return time.perf_counter() - started


def digests(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]


def bench_feeds(con: duckdb.DuckDBPyConnection, root: Path) -> dict[str, float]:
    print("feeds (listings.csv + listings.json + changes files per channel)")
    feeds = root / "feeds"
    floor = plain_feed_copy(con, root / "plain")
    first_s, first = timed(lambda: write_feeds(con, CHANNELS, feeds))
    wait_for_retired_files()
    rows = sum(c["rows"] for c in first["channels"].values())
    line(f"floor: plain COPY of the same rows to CSV and JSON ({rows:,} rows)", floor)
    line("first feed (every row rendered, sorted and written)", first_s, floor, "the plain COPY")

    wait_for_retired_files()
    move_stock(con, 2)
    compute_channel_stock(con, CHANNELS)
    patch_s, patched = timed(lambda: write_feeds(con, CHANNELS, feeds))
    retired_s, _ = timed(wait_for_retired_files)  # the replaced versions, deleted in the background
    moved = [name for name, c in patched["channels"].items() if c["mode"] != "unchanged"]
    paths = [feeds / name / f.name for name in moved for f in FILES]
    patched_digests = digests(paths)
    # Baselines on the same files and rows: rewriting them in full, and merely copying them.
    full_s, _ = timed(lambda: write_feeds(con, CHANNELS, feeds, full=True))
    wait_for_retired_files()
    same = digests(paths) == patched_digests
    copy_s = copy_files(paths)
    changes = sum(c["changes"] for c in patched["channels"].values())
    size = sum(path.stat().st_size for path in paths) / 2**20
    line("baseline: full rewrite of the same feed (full=True)", full_s)
    line(f"floor: copying the {len(paths)} listing files of the channels that moved ({size:,.0f} MB)", copy_s)
    line(
        f"feed after {MOVED:,} variants moved ({changes:,} changes)",
        patch_s,
        full_s,
        "the full rewrite",
        f"{patch_s / copy_s:.2f}x the file copy; modes: "
        + ", ".join(f"{n} {c['mode']}" for n, c in patched["channels"].items()),
    )
    print(f"    the replaced versions were deleted in the background {retired_s:.3f} s after it returned")
    print(f"    patched files identical to a full rewrite: {'yes' if same else 'NO'}")
    if not same:
        raise AssertionError("a patched feed file differs from the full rewrite")
    return {"patch": patch_s}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_channels_") as tmp:
        con = duckdb.connect(str(Path(tmp) / "warehouse.duckdb"))
        con.execute("SET enable_progress_bar = false")
        built, _ = timed(lambda: synthesise(con, VARIANTS, LOCATIONS))
        con.execute("CHECKPOINT")
        print(
            f"channels: synthetic warehouse {VARIANTS:,} variants x {LOCATIONS} locations x "
            f"{len(CHANNELS)} channels built in {built:.2f} s"
        )
        recompute = bench_recompute(con)
        feeds = bench_feeds(con, Path(tmp))
        con.close()
    print("goals")
    for label, seconds, goal in (
        (f"full recompute after {MOVED:,} variants moved", recompute["moved"], RECOMPUTE_TARGET),
        ("full recompute, nothing moved", recompute["unchanged"], RECOMPUTE_TARGET),
        (f"feed after {MOVED:,} variants moved", feeds["patch"], FEED_TARGET),
    ):
        print(f"  {label:58s} {seconds:7.3f} s  (goal < {goal} s: {'met' if seconds < goal else 'NOT met'})")


if __name__ == "__main__":
    main()
