"""Typed loading of API pages into a real DuckDB file: exact decimals, upserts, child tables, bad input."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from gecko_pipeline.warehouse.catalog import TABLES, ensure_schema
from gecko_pipeline.warehouse.db import connect
from gecko_pipeline.warehouse.loader import BatchResult, loader_for, stage_bodies

NOW = datetime(2026, 1, 2, 3, 4, 5)


def variant(vid: int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": vid,
        "product_id": 7,
        "sku": f"SKU-{vid}",
        "name": f"Variant {vid}",
        "status": "active",
        "created_at": "2015-11-02T01:22:24.772Z",
        "updated_at": "2015-11-02T01:34:04.502Z",
        "buy_price": "4.5",
        "wholesale_price": "12.0",
        "retail_price": "22",
        "stock_on_hand": "-5.0",
        "committed_stock": None,
        "available_stock": "-5.0",
        "manage_stock": True,
        "keep_selling": False,
        "max_online": None,
        "position": 2,
        "image_ids": [],
        "variant_prices": [
            {"price_list_id": "retail", "value": "22.0"},
            {"price_list_id": "2", "value": None},
        ],
        "locations": [
            {
                "location_id": 1,
                "stock_on_hand": "-7",
                "committed": None,
                "incoming": None,
                "available": "-7",
                "bin_location": None,
                "reorder_point": None,
            },
            {
                "location_id": 2,
                "stock_on_hand": "2.0",
                "committed": "1",
                "incoming": "0",
                "available": "1",
                "bin_location": "A-1",
                "reorder_point": 3,
            },
        ],
        "prices": {"retail": "22.0"},
        "stock_levels": {"1": "-7.0"},
    }
    record.update(fields)
    return record


def body(key: str, records: list[Any]) -> bytes:
    return json.dumps({key: records, "meta": {"total": len(records)}}).encode()


@pytest.fixture()
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "wh" / "warehouse.duckdb")
    ensure_schema(con)
    yield con
    con.close()


def load(con: duckdb.DuckDBPyConnection, table: str, *bodies: bytes, single: bool = False) -> BatchResult:
    result = BatchResult()
    stage_bodies(con, list(bodies))
    loader = loader_for(TABLES[table])
    loader.stage_from_bodies(con, table, single=single)
    loader.load(con, NOW, result)
    return result


def issues(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str, str | None, str]]:
    return set(con.execute("SELECT table_name, record_id, field, value, problem FROM load_issues").fetchall())


def test_values_are_typed_exactly_from_the_api_strings(con: duckdb.DuckDBPyConnection) -> None:
    result = load(con, "variants", body("variants", [variant(1)]))
    assert result.tables["variants"].inserted == 1
    row = con.execute(
        "SELECT buy_price, retail_price, stock_on_hand, committed_stock, manage_stock, updated_at, position, "
        "image_ids, _raw->>'sku', _synced_at, _vanished_at FROM variants WHERE id = 1"
    ).fetchone()
    assert row[:5] == (Decimal("4.5"), Decimal("22"), Decimal("-5"), None, True)
    assert row[5] == datetime(2015, 11, 2, 1, 34, 4, 502000)
    assert row[6:] == (2, "[]", "SKU-1", NOW, None)
    # Nested lists become child tables keyed by their parent; price list ids stay strings.
    assert con.execute(
        "SELECT location_id, stock_on_hand, committed, available, bin_location, reorder_point "
        "FROM variant_locations WHERE variant_id = 1 ORDER BY 1"
    ).fetchall() == [
        (1, Decimal("-7"), None, Decimal("-7"), None, None),
        (2, Decimal("2"), Decimal("1"), Decimal("1"), "A-1", 3),
    ]
    assert con.execute("SELECT price_list_id, value FROM variant_prices ORDER BY 1").fetchall() == [
        ("2", None),
        ("retail", Decimal("22.0")),
    ]
    assert issues(con) == set()


def test_dates_and_rates_keep_their_values(con: duckdb.DuckDBPyConnection) -> None:
    fulfillment = {
        "id": 3,
        "order_id": 1,
        "status": "packed",
        "packed_at": "2015-11-02",
        "shipped_at": "2015-11-02T00:00:00.000Z",
        "exchange_rate": "2.54317",
    }
    load(con, "fulfillments", body("fulfillments", [fulfillment]))
    assert con.execute("SELECT packed_at, shipped_at, exchange_rate FROM fulfillments").fetchone() == (
        date(2015, 11, 2),
        datetime(2015, 11, 2),
        Decimal("2.54317"),
    )


def test_upsert_updates_in_place_and_replaces_children(con: duckdb.DuckDBPyConnection) -> None:
    load(con, "variants", body("variants", [variant(1), variant(2)]))
    changed = variant(
        1,
        stock_on_hand="3",
        updated_at="2016-01-01T00:00:00.000Z",
        locations=[{"location_id": 2, "stock_on_hand": "3", "committed": "0", "available": "3"}],
    )
    result = load(con, "variants", body("variants", [changed]))
    assert (result.tables["variants"].inserted, result.tables["variants"].updated) == (0, 1)
    assert result.tables["variant_locations"].removed == 1
    assert con.execute("SELECT count(*) FROM variants").fetchone() == (2,)
    assert con.execute(
        "SELECT location_id, stock_on_hand FROM variant_locations WHERE variant_id = 1"
    ).fetchall() == [(2, Decimal("3"))]
    # The other variant's children are untouched.
    assert con.execute("SELECT count(*) FROM variant_locations WHERE variant_id = 2").fetchone() == (2,)


def test_new_keys_insert_and_a_batch_mixing_old_and_new_keys_upserts(con: duckdb.DuckDBPyConnection) -> None:
    # Batches of keys above the table's largest take the plain INSERT; one key already stored (here the
    # lowest of the batch, below the table's largest) must still update in place, never fail or double.
    load(con, "variants", body("variants", [variant(1), variant(2)]))
    first = load(con, "variants", body("variants", [variant(3), variant(4)]))
    assert (first.tables["variants"].inserted, first.tables["variants"].updated) == (2, 0)
    mixed = load(con, "variants", body("variants", [variant(2, sku="EDITED"), variant(5)]))
    assert (mixed.tables["variants"].inserted, mixed.tables["variants"].updated) == (1, 1)
    # Variant 2's locations came again unchanged: read, not rewritten, not counted as updates.
    assert (mixed.tables["variant_locations"].inserted, mixed.tables["variant_locations"].updated) == (2, 0)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM variants").fetchone() == (5, 5)
    assert con.execute("SELECT sku FROM variants WHERE id = 2").fetchone() == ("EDITED",)
    assert con.execute("SELECT count(*) FROM variant_locations").fetchone() == (10,)


def test_a_batch_with_the_same_record_twice_keeps_the_newest(con: duckdb.DuckDBPyConnection) -> None:
    old = variant(1, sku="OLD", updated_at="2015-01-01T00:00:00.000Z")
    new = variant(1, sku="NEW", updated_at="2016-01-01T00:00:00.000Z")
    load(con, "variants", body("variants", [new]), body("variants", [old]))
    assert con.execute("SELECT sku FROM variants").fetchall() == [("NEW",)]


def test_bad_records_are_kept_reported_and_do_not_stop_the_batch(con: duckdb.DuckDBPyConnection) -> None:
    records = [
        variant(1, buy_price="twelve", brand_new_field={"x": 1}, **{'odd "key"': "v"}),
        variant(2, stock_on_hand=None),
        {k: v for k, v in variant(3).items() if k != "status"},
        {"sku": "NO-ID", "stock_on_hand": "1"},
        "not an object",
        variant(4, locations=[{"location_id": 1, "stock_on_hand": "lots"}]),
        variant(5),
    ]
    result = load(con, "variants", body("variants", records))
    stats = result.tables["variants"]
    assert (stats.inserted, stats.rejected) == (5, 2)
    assert con.execute("SELECT id FROM variants ORDER BY id").fetchall() == [(1,), (2,), (3,), (4,), (5,)]
    found = {(t, r, f, v, p) for t, r, f, v, p in issues(con) if not r.startswith("rejected:")}
    assert found == {
        ("variants", "1", "buy_price", "twelve", "not a valid decimal"),
        ("variants", "1", "brand_new_field", '{"x":1}', "unknown field"),
        ("variants", "1", 'odd "key"', "v", "unknown field"),
        ("variants", "2", "stock_on_hand", None, "null where a value was expected"),
        ("variants", "3", "status", None, "missing field"),
        ("variant_locations", "4/1", "stock_on_hand", "lots", "not a valid decimal"),
    }
    # Bad values are kept verbatim in _raw; records without a key are kept whole for replay.
    assert con.execute("SELECT buy_price, _raw->>'buy_price' FROM variants WHERE id = 1").fetchone() == (
        None,
        "twelve",
    )
    rejected = con.execute(
        "SELECT CAST(_raw AS VARCHAR), problem FROM rejected_records ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rejected] == ['"not an object"', '{"sku":"NO-ID","stock_on_hand":"1"}']
    assert {r[1] for r in rejected} == {"no usable id"}
    assert sum(1 for i in issues(con) if i[1].startswith("rejected:")) == 2


def test_bodies_without_a_list_under_the_key_add_nothing_and_stop_nothing(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Each body is read in one parse: a key holding an object, a string or null (or no key at all, or a
    # child list that is not a list) must yield no rows, not an error that loses the batch's good pages.
    odd = [json.dumps({"variants": value}).encode() for value in ({"id": 9}, "x", None)] + [b'{"meta": {}}']
    result = load(con, "variants", *odd, body("variants", [variant(1, locations={"location_id": 1})]))
    assert (result.tables["variants"].inserted, result.tables["variant_locations"].inserted) == (1, 0)
    assert con.execute("SELECT id FROM variants").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM variant_prices WHERE variant_id = 1").fetchone() == (2,)


def test_a_fixed_record_clears_its_issues(con: duckdb.DuckDBPyConnection) -> None:
    load(con, "variants", body("variants", [variant(1, buy_price="twelve")]))
    assert len(issues(con)) == 1
    load(con, "variants", body("variants", [variant(1)]))
    assert issues(con) == set()
    assert con.execute("SELECT buy_price FROM variants").fetchone() == (Decimal("4.5"),)


def test_a_single_record_answer_loads_like_a_list(con: duckdb.DuckDBPyConnection) -> None:
    account = {
        "id": 1,
        "name": "Bob's Burgers",
        "default_order_price_list_id": "wholesale",
        "primary_location_id": 1,
        "location_ids": [1, 2],
        "default_tax_rate": "15.0",
    }
    load(con, "account", json.dumps({"account": account}).encode(), single=True)
    assert con.execute("SELECT name, default_order_price_list_id, location_ids FROM account").fetchone() == (
        "Bob's Burgers",
        "wholesale",
        "[1,2]",
    )
    assert issues(con) == set()


def test_decimals_with_more_places_than_the_column_are_reported(con: duckdb.DuckDBPyConnection) -> None:
    load(con, "variants", body("variants", [variant(1, buy_price="4.56789")]))
    assert con.execute("SELECT buy_price FROM variants").fetchone() == (Decimal("4.5679"),)
    assert issues(con) == {("variants", "1", "buy_price", "4.56789", "rounded to decimal(18,4)")}
