"""The channel recompute and feeds when only part of the warehouse moved.

A full recompute redoes only the variants whose inputs changed and a feed patches only the rows that
moved; both must give exactly what doing everything again gives. Each test builds a small warehouse in
a real DuckDB file (the real schema, rows inserted with SQL, awkward values included), changes it, and
compares the incremental result with one computed or written from scratch.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from gecko_pipeline.channels import checks, feeds, file_swap
from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.channels.feeds import read_changes, write_feeds
from gecko_pipeline.channels.stock import compute_channel_stock
from gecko_pipeline.warehouse.catalog import ensure_schema

VARIANTS = 60
# Location 4 holds no stock (so no channel sells from it); market takes stock per location.
CHANNELS = [
    ChannelConfig(name="web", price_list="retail", safety_buffer=Decimal("2")),
    ChannelConfig(name="market", price_list="wholesale", per_location=True, locations=(2, 1)),
    ChannelConfig(name="north", locations=(3,), safety_buffer=Decimal("0.5")),
]


def build(con: duckdb.DuckDBPyConnection) -> None:
    """A small account: every branch of the rule, names that need quoting, SKUs missing or shared."""
    ensure_schema(con)
    con.execute(
        "INSERT INTO account (id, default_order_price_list_id, primary_location_id) VALUES (1, 'wholesale', 1)"
    )
    con.execute("INSERT INTO currencies (id, iso) VALUES (1, 'NZD')")
    con.execute(
        """INSERT INTO locations (id, label, status, holds_stock) VALUES
           (1, 'Primary Location', 'active', true), (2, 'Warehouse 2', 'active', true),
           (3, 'North, "upper"', 'active', true), (4, 'Showroom', 'active', false)"""
    )
    con.execute(
        """INSERT INTO price_lists (id, code, name, currency_id, currency_iso) VALUES
           ('buy', 'BUY', 'Buy', 1, 'NZD'), ('wholesale', 'WHOLE', 'Wholesale', 1, 'NZD'),
           ('retail', 'RETAIL', 'Retail', 1, 'NZD')"""
    )
    con.execute(
        "INSERT INTO products (id, status) SELECT i, 'active' FROM range(1, $1 // 3 + 2) t(i)", [VARIANTS]
    )
    con.execute(
        """INSERT INTO variants (id, product_id, sku, name, status, product_status, sellable, manage_stock,
                                 keep_selling, max_online)
           SELECT i, i // 3 + 1,
                  CASE WHEN i % 17 = 0 THEN NULL ELSE 'SKU-' || lpad(CAST(i AS VARCHAR), 3, '0') END,
                  CASE i % 4 WHEN 0 THEN 'Plain ' || i WHEN 1 THEN 'Comma, ' || i
                             WHEN 2 THEN 'Quote "' || i || '"' ELSE 'Line' || chr(10) || 'break ' || i END,
                  CASE WHEN i % 23 = 0 THEN 'archived' ELSE 'active' END, 'active',
                  i % 19 <> 0, i % 13 <> 0, i % 11 = 0, CASE WHEN i % 7 = 0 THEN 4 END
           FROM range(1, $1 + 1) t(i)""",
        [VARIANTS],
    )
    con.execute(
        """INSERT INTO variant_locations (variant_id, location_id, stock_on_hand, committed)
           SELECT v, l, CAST(CAST((v * 7 + l * 5) % 13 - 2 AS VARCHAR) || '.5' AS DECIMAL(18,4)),
                  CASE WHEN (v + l) % 5 = 0 THEN NULL ELSE CAST((v + l) % 3 AS DECIMAL(18,4)) END
           FROM range(1, $1 + 1) a(v), range(1, 5) b(l) WHERE (v + l) % 6 <> 0""",
        [VARIANTS],
    )
    con.execute(
        """INSERT INTO variant_prices (variant_id, price_list_id, value)
           SELECT v, p, CAST(CAST(v AS VARCHAR) || '.25' AS DECIMAL(18,4))
           FROM range(1, $1 + 1) a(v), (VALUES ('buy'), ('wholesale'), ('retail')) b(p) WHERE (v + length(p)) % 9 <> 0""",
        [VARIANTS],
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build(con)
    yield con
    con.close()


def stored(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """The two channel tables, every column, in a fixed order (decimals as exact Decimals)."""
    return {
        table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        for table in ("channel_listings", "channel_stock_levels")
    }


def from_scratch(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, channels: list[ChannelConfig] = CHANNELS
) -> dict[str, list[tuple]]:
    """The channel tables computed from nothing, on a copy of the warehouse as it is now."""
    con.execute("CHECKPOINT")
    copy = tmp_path / "scratch.duckdb"
    shutil.copyfile(tmp_path / "warehouse.duckdb", copy)
    with duckdb.connect(str(copy)) as fresh:
        fresh.execute(
            "DROP TABLE channel_listings; DROP TABLE channel_stock_levels; DROP TABLE channel_variant_inputs"
        )
        compute_channel_stock(fresh, channels)
        return stored(fresh)


def queued(con: duckdb.DuckDBPyConnection) -> set[tuple[str, int]]:
    return {
        tuple(row)
        for row in con.execute("SELECT DISTINCT channel, variant_id FROM channel_feed_pending").fetchall()
    }


# (what changes, the SQL, the variants whose rows must be recomputed)
CHANGES: list[tuple[str, str, set[int]]] = [
    ("stock at a channel location", "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 7 WHERE variant_id = 7 AND location_id = 1", {7}),
    ("committed becomes null", "UPDATE variant_locations SET committed = NULL WHERE variant_id = 9 AND location_id = 2", {9}),
    ("stock where no channel sells", "UPDATE variant_locations SET stock_on_hand = 99 WHERE location_id = 4", set()),
    ("a stock record added", "INSERT INTO variant_locations (variant_id, location_id, stock_on_hand) VALUES (15, 3, 6)", {15}),
    ("a stock record removed", "DELETE FROM variant_locations WHERE variant_id = 14 AND location_id = 2", {14}),
    ("a retail price", "UPDATE variant_prices SET value = value + 1 WHERE variant_id = 16 AND price_list_id = 'retail'", {16}),
    ("a wholesale price removed", "DELETE FROM variant_prices WHERE variant_id = 20 AND price_list_id = 'wholesale'", {20}),
    ("a price no channel sells at", "UPDATE variant_prices SET value = 1 WHERE price_list_id = 'buy'", set()),
    ("archived", "UPDATE variants SET status = 'archived' WHERE id = 22", {22}),
    ("not sellable", "UPDATE variants SET sellable = false WHERE id = 25", {25}),
    ("untracked", "UPDATE variants SET manage_stock = false WHERE id = 24", {24}),
    ("keeps selling", "UPDATE variants SET keep_selling = true WHERE id = 27", {27}),
    ("max online", "UPDATE variants SET max_online = 1 WHERE id = 28", {28}),
    ("sku", "UPDATE variants SET sku = 'AAA-first' WHERE id = 29", {29}),
    ("name", "UPDATE variants SET name = 'Renamed, \"again\"' WHERE id = 30", {30}),
    ("product archived", "UPDATE products SET status = 'archived' WHERE id = 11", {30, 31, 32}),
    ("vanished", "UPDATE variants SET _vanished_at = now() WHERE id = 33", {33}),
    ("new variant", "INSERT INTO variants (id, product_id, sku, name, status, sellable) VALUES (500, 1, 'SKU-new', 'New', 'active', true)", {500}),
    ("variant gone", "DELETE FROM variants WHERE id = 35", {35}),
]  # fmt: skip


def test_a_full_recompute_redoes_only_changed_variants_and_equals_one_from_scratch(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first = compute_channel_stock(warehouse, CHANNELS)
    assert first["variants_recomputed"] == "all" and first["listings_rows"] == 3 * VARIANTS
    assert compute_channel_stock(warehouse, CHANNELS)["variants_recomputed"] == 0
    warehouse.execute("DELETE FROM channel_feed_pending")  # as if fed
    for name, sql, variants in CHANGES:
        before = stored(warehouse)
        warehouse.execute(sql)
        result = compute_channel_stock(warehouse, CHANNELS)
        assert result["variants_recomputed"] == len(variants), name
        after = stored(warehouse)
        assert after == from_scratch(warehouse, tmp_path), name
        # Rows of other variants are left exactly as they were.
        untouched = [r for r in before["channel_listings"] if r[1] not in variants]
        assert [r for r in after["channel_listings"] if r[1] not in variants] == untouched, name
        # What a feed must look at: the listings of those variants whose fed fields moved, nothing else.
        assert {v for _, v in queued(warehouse)} <= variants, name
        warehouse.execute("DELETE FROM channel_feed_pending")
    moved = {(c, v) for c, v, *_ in stored(warehouse)["channel_listings"] if v == 8}
    warehouse.execute(
        "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 7 WHERE variant_id = 8 AND location_id = 1"
    )
    compute_channel_stock(warehouse, CHANNELS)
    assert queued(warehouse) == {key for key in moved if key[0] in ("web", "market")}  # north: not location 1


def test_the_webhook_path_recomputes_the_given_variants_and_the_next_full_run_checks_them_again(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    compute_channel_stock(warehouse, CHANNELS)
    warehouse.execute(
        "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 5 WHERE variant_id IN (8, 10) AND location_id = 1"
    )
    before = {r[1]: r for r in stored(warehouse)["channel_listings"] if r[0] == "web"}
    targeted = compute_channel_stock(warehouse, CHANNELS, variant_ids=[8])
    assert targeted["variants_recomputed"] == 1 and targeted["listings_rows"] == len(CHANNELS)
    after = {r[1]: r for r in stored(warehouse)["channel_listings"] if r[0] == "web"}
    assert after[8] != before[8] and after[10] == before[10]  # only the given variant moved
    # The webhook path keeps no fingerprint: the next full run checks that variant again, and the other.
    assert compute_channel_stock(warehouse, CHANNELS)["variants_recomputed"] == 2
    assert stored(warehouse) == from_scratch(warehouse, tmp_path)


def test_a_changed_channel_setup_recomputes_every_variant(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    compute_channel_stock(warehouse, CHANNELS)
    changed = [ChannelConfig(name="web", price_list="retail", safety_buffer=Decimal("1")), *CHANNELS[1:]]
    result = compute_channel_stock(warehouse, changed)
    assert result["variants_recomputed"] == "all"
    assert result["listings_changed"] > 0
    assert stored(warehouse) == from_scratch(warehouse, tmp_path, changed)


def test_stock_levels_exist_only_for_channels_that_take_stock_per_location(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    compute_channel_stock(warehouse, CHANNELS)
    assert warehouse.execute("SELECT DISTINCT channel FROM channel_stock_levels").fetchall() == [("market",)]
    assert warehouse.execute("SELECT count(*) FROM channel_stock_levels").fetchone() == (2 * VARIANTS,)
    assert checks.shares_add_up(warehouse).passed
    # web takes stock per location from now on: it gets a row per variant and location, and back again.
    per_location = [
        ChannelConfig(name="web", price_list="retail", safety_buffer=Decimal("2"), per_location=True),
        *CHANNELS[1:],
    ]
    compute_channel_stock(warehouse, per_location)
    assert warehouse.execute(
        "SELECT count(*) FROM channel_stock_levels WHERE channel = 'web'"
    ).fetchone() == (3 * VARIANTS,)
    assert checks.shares_add_up(warehouse).passed
    compute_channel_stock(warehouse, CHANNELS)
    assert warehouse.execute("SELECT DISTINCT channel FROM channel_stock_levels").fetchall() == [("market",)]
    # A row for a channel without per-location stock breaks the contract, and the check says so.
    warehouse.execute(
        "INSERT INTO channel_stock_levels SELECT 'web', variant_id, location_id, priority, stocked, stock_on_hand, "
        "committed, available, quantity FROM channel_stock_levels WHERE channel = 'market' LIMIT 1"
    )
    outcome = checks.shares_add_up(warehouse)
    assert not outcome.passed and outcome.sample[0]["channel"] == "web"


def test_a_table_emptied_by_hand_is_filled_again(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    compute_channel_stock(warehouse, CHANNELS)
    expected = stored(warehouse)
    warehouse.execute("DELETE FROM channel_stock_levels")
    assert compute_channel_stock(warehouse, CHANNELS)["variants_recomputed"] == "all"
    assert stored(warehouse) == expected


# ---- feeds ---------------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        f"{c.name}/{f.name}": (folder / c.name / f.name).read_bytes() for c in CHANNELS for f in feeds.FILES
    }


def feed(con: duckdb.DuckDBPyConnection, folder: Path, **kwargs: Any) -> dict[str, dict[str, Any]]:
    return write_feeds(con, CHANNELS, folder, **kwargs)["channels"]


def test_patched_feed_files_are_byte_for_byte_a_full_rewrite(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds, "PATCH_LIMIT", 1.0)  # a small account: patch even when much of it moved
    folder = tmp_path / "feeds"
    compute_channel_stock(warehouse, CHANNELS)
    assert {c["mode"] for c in feed(warehouse, folder).values()} == {"full"}
    steps = [
        ("a stock move", "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 4 WHERE location_id = 1 AND variant_id % 5 = 0"),
        ("the first and last rows", "UPDATE variants SET name = name || '!' WHERE id IN (1, 17, 34, 51)"),
        ("a SKU that moves its rows", "UPDATE variants SET sku = 'ZZZ-' || id WHERE id IN (2, 3); UPDATE variants SET sku = NULL WHERE id = 4"),
        ("new variants, first and last", "INSERT INTO variants (id, product_id, sku, name, status, sellable) VALUES (501, 1, 'A-new', 'New, first', 'active', true), (502, 1, NULL, 'New \"last\"', 'active', true)"),
        ("new stock", "INSERT INTO variant_locations (variant_id, location_id, stock_on_hand) VALUES (501, 2, 9), (502, 1, 3)"),
        ("variants gone", "DELETE FROM variants WHERE id IN (6, 17, 502)"),
        ("a price", "UPDATE variant_prices SET value = 1234.5 WHERE variant_id = 9"),
    ]  # fmt: skip
    for name, sql in steps:
        warehouse.execute(sql)
        compute_channel_stock(warehouse, CHANNELS)
        patched = feed(warehouse, folder)
        assert "full" not in {c["mode"] for c in patched.values()}, name
        assert "patch" in {c["mode"] for c in patched.values()}, name
        files = snapshot(folder)
        rewritten = feed(warehouse, folder, full=True)
        assert snapshot(folder) == files, name
        # The full rewrite finds nothing new to report: the patch saved exactly what it fed.
        assert {c["changes"] for c in rewritten.values()} == {0}, name
        assert {c["mode"] for c in rewritten.values()} == {"full"}, name
    for channel in CHANNELS:  # the files parse and hold every listing
        rows = list(csv.DictReader((folder / channel.name / "listings.csv").open(newline="")))
        assert rows == [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in rows]
        assert len(json.loads((folder / channel.name / "listings.json").read_text())) == len(rows)
    assert checks.feeds_match_listings(warehouse, folder).passed
    file_swap.wait_for_retired_files()  # old versions are deleted in the background
    assert not list(folder.rglob(".*"))  # no temp file or old version left behind


def test_a_feed_touches_only_the_channels_that_moved(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    folder = tmp_path / "feeds"
    compute_channel_stock(warehouse, CHANNELS)
    feed(warehouse, folder)
    before = {c.name: (folder / c.name / "listings.csv").stat().st_mtime_ns for c in CHANNELS}
    assert {c["mode"] for c in feed(warehouse, folder).values()} == {"unchanged"}
    warehouse.execute(
        "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 5 WHERE variant_id = 10 AND location_id = 3"
    )
    compute_channel_stock(warehouse, CHANNELS)
    report = feed(warehouse, folder)
    assert {n: c["mode"] for n, c in report.items()} == {
        "web": "patch",
        "market": "unchanged",
        "north": "patch",
    }
    assert report["web"]["files"][:2] == ["listings.csv", "listings.json"]
    assert (folder / "market" / "listings.csv").stat().st_mtime_ns == before["market"]
    (change,) = read_changes(folder, "north")["changes"]
    assert (
        change["variant_id"] == 10 and Decimal(change["quantity"]) - Decimal(change["previous_quantity"]) == 5
    )
    assert read_changes(folder, "market")["changes"] == []
    # When much of a channel moved, one full write is cheaper than splicing: it says so.
    warehouse.execute("UPDATE variant_locations SET stock_on_hand = stock_on_hand + 1 WHERE location_id = 3")
    compute_channel_stock(warehouse, CHANNELS)
    report = feed(warehouse, folder)
    assert (report["north"]["mode"], report["north"]["why"]) == ("full", "much of it moved")


def test_a_feed_file_changed_outside_the_pipeline_is_rewritten_in_full(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    folder = tmp_path / "feeds"
    compute_channel_stock(warehouse, CHANNELS)
    feed(warehouse, folder)
    expected = snapshot(folder)
    web = folder / "web" / "listings.json"
    web.write_bytes(web.read_bytes().replace(b"SKU-", b"XYZ-"))  # same size, other bytes
    (folder / "north" / "listings.csv").unlink()
    report = feed(warehouse, folder)
    assert {n: c["mode"] for n, c in report.items()} == {
        "web": "full",
        "market": "unchanged",
        "north": "full",
    }
    assert report["web"]["why"] == "the files are not the ones last written"
    assert snapshot(folder) == expected
    assert {c["changes"] for c in report.values()} == {0}


def test_a_channel_whose_fed_state_does_not_match_its_files_is_rewritten_and_the_others_patched(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    folder = tmp_path / "feeds"
    compute_channel_stock(warehouse, CHANNELS)
    feed(warehouse, folder)
    warehouse.execute(
        "UPDATE channel_feed_state SET csv_bytes = csv_bytes + 1 WHERE channel = 'north' AND variant_id = 3"
    )
    warehouse.execute(
        "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 5 WHERE variant_id = 10 AND location_id = 3"
    )
    compute_channel_stock(warehouse, CHANNELS)
    report = feed(warehouse, folder)
    assert report["web"]["mode"] == "patch"  # web comes first: its patch survives north's fallback
    assert report["north"]["mode"] == "full" and "did not match" in report["north"]["why"]
    assert report["north"]["changes"] == report["web"]["changes"] == 1
    files = snapshot(folder)
    assert {c["changes"] for c in feed(warehouse, folder, full=True).values()} == {0}
    assert snapshot(folder) == files


def test_a_feed_that_dies_before_saving_lists_its_changes_again(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fed state is saved with the emptied queue, after the changes files are out and before the new
    listing files take their names: dying before it repeats the changes (never skips them); dying after
    it leaves files the state does not vouch for, which the next feed rewrites in full."""
    folder = tmp_path / "feeds"
    compute_channel_stock(warehouse, CHANNELS)
    feed(warehouse, folder)
    old = snapshot(folder)
    warehouse.execute(
        "UPDATE variant_locations SET stock_on_hand = stock_on_hand - 3 WHERE variant_id = 12 AND location_id = 3"
    )
    compute_channel_stock(warehouse, CHANNELS)

    def die(*args: Any) -> None:
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(feeds, "_save", die)
        with pytest.raises(RuntimeError, match="killed"):
            feed(warehouse, folder)
    first = read_changes(folder, "north")
    assert [c["variant_id"] for c in first["changes"]] == [12]
    file_swap.wait_for_retired_files()
    assert snapshot(folder) == old and not list(folder.rglob(".*"))  # old files, no temp left
    again = feed(warehouse, folder)
    assert read_changes(folder, "north")["changes"] == first["changes"]
    assert again["north"]["mode"] == "patch"
    patched = snapshot(folder)

    # Dying between the saved state and the renames: the next feed notices and rewrites in full.
    warehouse.execute(
        "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 2 WHERE variant_id = 12 AND location_id = 3"
    )
    compute_channel_stock(warehouse, CHANNELS)
    with monkeypatch.context() as patch:
        patch.setattr(feeds, "move_into_place", die)
        with pytest.raises(RuntimeError, match="killed"):
            feed(warehouse, folder)
    assert snapshot(folder) == patched  # not moved into place
    # An old version a dead process had set aside for deletion goes with the next feed of its channel.
    leftover = folder / "north" / f".listings.csv.1.2{file_swap.RETIRED}"
    leftover.write_bytes(b"old")
    recovered = feed(warehouse, folder)
    assert not leftover.exists()
    assert recovered["north"]["mode"] == "full" and recovered["north"]["changes"] == 0
    assert recovered["web"]["mode"] == "full"
    settled = snapshot(folder)
    feed(warehouse, folder, full=True)
    assert snapshot(folder) == settled


def test_a_short_and_a_long_changes_list_are_written_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to CHANGES_IN_ONE_QUERY changes are rendered by one query, more are streamed by COPY: the
    same bytes either way (the first feed of two equal warehouses, one each way)."""
    arrays = []
    for limit in (feeds.CHANGES_IN_ONE_QUERY, 0):
        monkeypatch.setattr(feeds, "CHANGES_IN_ONE_QUERY", limit)
        folder = tmp_path / f"limit-{limit}"
        folder.mkdir()
        with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
            build(con)
            compute_channel_stock(con, CHANNELS)
            write_feeds(con, CHANNELS, folder / "feeds")
        arrays.append(
            [
                (folder / "feeds" / c.name / "changes-latest.json").read_bytes().split(b'"changes": ')[1]
                for c in CHANNELS
            ]
        )
    assert arrays[0] == arrays[1]
    first = json.loads((tmp_path / "limit-0" / "feeds" / "web" / "changes-latest.json").read_text())
    assert len(first["changes"]) == VARIANTS and {c["change"] for c in first["changes"]} == {"added"}


def test_listing_files_are_what_duckdbs_own_csv_and_json_writers_produce(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The feed renders rows itself (so a patch can splice them), yet its files are byte for byte what
    DuckDB's COPY writes for the same rows, as the feed did before: quoting, nulls, exact decimals."""
    folder = tmp_path / "feeds"
    compute_channel_stock(warehouse, CHANNELS)
    feed(warehouse, folder)
    warehouse.execute(feeds.MACROS[0])
    whole = "sku, variant_id, product_id, variant_name, listed, _dec_text(quantity) AS quantity, inventory_policy, _dec_text(price) AS price, currency, reason"
    by_location = "sku, variant_id, product_id, variant_name, location_id, location, listed, _dec_text(quantity) AS quantity, _dec_text(channel_quantity) AS channel_quantity, inventory_policy, _dec_text(price) AS price, currency, reason"
    for channel in CHANNELS:
        rows = f"""SELECT {by_location if channel.per_location else whole} FROM (
                       SELECT l.sku, l.variant_id, l.product_id, l.variant_name, l.listed, l.inventory_policy,
                              l.price, l.currency, l.reason,
                              coalesce(s.location_id, 0) AS location_id, coalesce(s.priority, 0) AS priority,
                              loc.label AS location, l.quantity AS channel_quantity,
                              CASE WHEN s.channel IS NULL THEN l.quantity ELSE s.quantity END AS quantity
                       FROM channel_listings l
                       LEFT JOIN channel_stock_levels s ON s.channel = l.channel AND s.variant_id = l.variant_id
                       LEFT JOIN locations loc ON loc.id = s.location_id
                       WHERE l.channel = '{channel.name}')
                   ORDER BY sku, variant_id, priority"""
        for name, options in (
            ("listings.csv", "FORMAT csv, HEADER"),
            ("listings.json", "FORMAT json, ARRAY true"),
        ):
            expected = tmp_path / f"{channel.name}-{name}"
            warehouse.execute(f"COPY ({rows}) TO '{expected}' ({options})")
            assert (folder / channel.name / name).read_bytes() == expected.read_bytes(), (channel.name, name)
