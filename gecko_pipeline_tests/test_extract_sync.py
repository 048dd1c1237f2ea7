"""Syncs against the real sandbox over HTTP into real DuckDB files.

The warehouse must reproduce the sandbox's state exactly (`GET /_sandbox/dump/{resource}`): row counts,
every typed value (decimals compared as decimals, from the API's strings), every status, and `_raw`.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sandbox_control import control, dump

from gecko_pipeline.api import AuthenticationError, GeckoClient, PaymentRequiredError
from gecko_pipeline.warehouse.catalog import RESOURCES, TABLE_LIST, TABLES
from gecko_pipeline.warehouse.db import connect
from gecko_pipeline.warehouse.publish import publish
from gecko_pipeline.warehouse.schema import BOOL, DATE, DECIMAL_TYPES, ID, INT, JSON, TS
from gecko_pipeline.warehouse.sync import DEFAULT_OVERLAP, refresh_ids, sync_all, sync_stream

pytestmark = pytest.mark.slow(25)

PAGE = 10  # small pages, so that the sandbox's few records still span several pages

# --- helpers ---------------------------------------------------------------------------------------------


def client_for(sandbox: Any, **overrides: Any) -> GeckoClient:
    kwargs: dict[str, Any] = {
        "token": sandbox.token,
        "page_size": PAGE,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    }
    kwargs.update(overrides)
    return GeckoClient(sandbox.url, **kwargs)


def expected_tables(sandbox: Any) -> dict[str, list[dict[str, Any]]]:
    """Every warehouse table as the sandbox holds it: records, and child rows from nested lists."""
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in TABLE_LIST:
        if spec.parent:
            rows = []
            for parent in dump(sandbox, spec.parent):
                for child in parent.get(spec.parent_key) or []:
                    rows.append({**child, spec.parent_column: parent["id"]})
            out[spec.name] = rows
        else:
            out[spec.name] = dump(sandbox, "accounts" if spec.name == "account" else spec.name)
    return out


def typed(ctype: str, value: Any) -> Any:
    """The value the warehouse must hold for what the API sent."""
    if value is None:
        return None
    if ctype in DECIMAL_TYPES:
        return Decimal(str(value))
    if ctype == TS:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    if ctype == DATE:
        return date.fromisoformat(value[:10])
    if ctype in (ID, INT):
        return int(value)
    if ctype == BOOL:
        return value
    if ctype == JSON:
        return value
    return value if isinstance(value, str) else json.dumps(value)


def assert_matches_sandbox(
    con: duckdb.DuckDBPyConnection, sandbox: Any, only: set[str] | None = None
) -> None:
    for table, records in expected_tables(sandbox).items():
        if only is not None and table not in only:
            continue
        spec = TABLES[table]
        cols = spec.column_names
        rows = con.execute(
            f"SELECT {', '.join(cols)}, CAST(_raw AS VARCHAR) FROM {table} WHERE "
            + ("_vanished_at IS NULL" if spec.has_id else "true")
        ).fetchall()
        assert len(rows) == len(records), f"{table}: {len(rows)} rows, the sandbox has {len(records)}"
        stored = {tuple(row[cols.index(k)] for k in spec.primary_key): row for row in rows}
        for record in records:
            key = tuple(typed(spec.column(k).type, record[k]) for k in spec.primary_key)
            row = stored[key]
            for i, col in enumerate(spec.columns):
                want = typed(col.type, record.get(col.name))
                got = json.loads(row[i]) if col.type == JSON and row[i] is not None else row[i]
                assert got == want, f"{table} {key} {col.name}: stored {got!r}, the API says {want!r}"
            raw = json.loads(row[-1])
            if spec.parent:
                raw[spec.parent_column] = record[spec.parent_column]
            assert raw == record, f"{table} {key}: _raw differs from the API's record"


def requests_by_route(sandbox: Any) -> dict[str, int]:
    return control(sandbox, "GET", "stats")["by_route"]


def full_listing_requests(sandbox: Any, name: str) -> int:
    """The fewest requests a full read of a list takes: ceil(records / page size) per listing, where the
    soft-deleted statuses (hidden by the API's default) take a listing of their own, at least 1 each."""
    records = dump(sandbox, name)
    hidden = TABLES[name].hidden_statuses
    shown = sum(1 for r in records if r.get("status") not in hidden)
    pages = max(math.ceil(shown / PAGE), 1)
    if hidden:
        pages += max(math.ceil((len(records) - shown) / PAGE), 1)
    return pages


@pytest.fixture()
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def full_sync(sandbox: Any, con: duckdb.DuckDBPyConnection, **overrides: Any) -> dict[str, Any]:
    with client_for(sandbox, **overrides) as client:
        return sync_all(client, con, full=True)


# --- tests -----------------------------------------------------------------------------------------------


def test_full_sync_reproduces_the_sandbox_with_the_fewest_requests(sandbox: Any, warehouse: Any) -> None:
    control(sandbox, "POST", "stats/reset")
    results = full_sync(sandbox, warehouse)
    assert_matches_sandbox(warehouse, sandbox)
    assert warehouse.execute("SELECT count(*) FROM load_issues").fetchone() == (0,)
    # Each listing costs ceil(records / page size) requests; variants come side-loaded with their products.
    routes = requests_by_route(sandbox)
    for name in (
        "locations",
        "currencies",
        "products",
        "companies",
        "addresses",
        "orders",
        "order_line_items",
        "fulfillments",
        "fulfillment_returns",
    ):
        assert routes[f"GET /{name}"] == full_listing_requests(sandbox, name), name
    assert "GET /variants" not in routes
    assert results["products"].tables["variants"].inserted == len(dump(sandbox, "variants"))
    # The archived and deleted records are there, with their status.
    statuses = dict(warehouse.execute("SELECT status, count(*) FROM orders GROUP BY 1").fetchall())
    assert statuses == {s: sum(1 for o in dump(sandbox, "orders") if o["status"] == s) for s in statuses}
    assert len(statuses) >= 4, statuses


def test_incremental_sync_fetches_only_what_changed(sandbox: Any, warehouse: Any) -> None:
    full_sync(sandbox, warehouse)
    variant = next(v for v in dump(sandbox, "variants") if v["status"] == "active" and v["locations"])
    order = dump(sandbox, "orders")[0]
    control(
        sandbox,
        "POST",
        "activity/stock_move",
        {
            "variant_id": variant["id"],
            "location_id": variant["locations"][0]["location_id"],
            "quantity": "-3",
        },
    )
    control(
        sandbox,
        "POST",
        "activity/update",
        {"resource": "orders", "id": order["id"], "fields": {"notes": "call"}},
    )
    control(sandbox, "POST", "activity/new_product", {"variants": 2})
    control(sandbox, "POST", "stats/reset")
    cursors = dict(warehouse.execute('SELECT resource, "cursor" FROM sync_state').fetchall())

    with client_for(sandbox) as client:
        results = sync_all(client, warehouse)
    assert_matches_sandbox(warehouse, sandbox)
    # One request per listing (two where soft-deleted records have their own), each holding just the
    # changed records.
    routes = requests_by_route(sandbox)
    assert routes == {f"GET {s.path}": len(s.listings(full=False)) for s in RESOURCES.values()}, routes
    # Exactly the records updated since each cursor, minus the overlap (which re-reads the records saved
    # in the cursor's instant, on purpose).
    for name in ("variants", "products", "orders", "order_line_items", "companies"):
        since = (cursors[name] - DEFAULT_OVERLAP).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        expected = sum(1 for r in dump(sandbox, name) if r["updated_at"] >= since)
        assert results[name].tables[name].records == expected, name
    assert results["variants"].tables["variants"].inserted == 2
    assert results["products"].tables["products"].inserted == 1


def test_records_changed_during_a_sync_are_fetched_by_the_next_one(sandbox: Any, warehouse: Any) -> None:
    orders = sorted(dump(sandbox, "orders"), key=lambda o: o["id"])
    first, last = orders[0]["id"], orders[-1]["id"]

    def edit_while_syncing(message: str) -> None:
        if message.startswith("orders: page 1 "):
            # The first order's page is already stored; the last order's page is fetched later.
            for oid in (first, last):
                control(
                    sandbox,
                    "POST",
                    "activity/update",
                    {"resource": "orders", "id": oid, "fields": {"notes": "late"}},
                )

    with client_for(sandbox, page_size=2, max_concurrency=1, prefetch_pages=1) as client:
        sync_all(client, warehouse, full=True, streams=["orders"], batch_pages=1, progress=edit_while_syncing)
        notes = dict(
            warehouse.execute("SELECT id, notes FROM orders WHERE id IN (?, ?)", [first, last]).fetchall()
        )
        assert notes == {first: None, last: "late"}
        # The cursor stopped at the sync's start, not at the last order's new updated_at (no overlap here,
        # which would hide the difference)...
        sync_all(client, warehouse, streams=["orders"], overlap=timedelta(0))
    # ...so the next sync fetched the first order's change.
    assert warehouse.execute("SELECT notes FROM orders WHERE id = ?", [first]).fetchone() == ("late",)


def test_a_sync_under_faults_ends_with_the_same_tables(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory(scale=40, rate_limit_quota=100000, rate_limit_window=1)
    control(sandbox, "PUT", "faults", {"error_rate": 0.1, "burst_429_rate": 0.02, "drop_rate": 0.05})
    with connect(tmp_path / "faulty.duckdb") as con:
        with client_for(sandbox) as client:
            sync_all(client, con, full=True)
            assert client.stats.retries > 0
        control(sandbox, "PUT", "faults", {"error_rate": 0, "burst_429_rate": 0, "drop_rate": 0})
        faults = control(sandbox, "GET", "stats")["faults_injected"]
        assert sum(faults.values()) > 0
        assert_matches_sandbox(con, sandbox)


def test_a_sync_killed_midway_loses_and_duplicates_nothing(sandbox: Any, warehouse: Any) -> None:
    seen: list[str] = []

    def crash_after_two_batches(message: str) -> None:
        seen.append(message)
        if message.startswith("order_line_items: page 2"):
            raise KeyboardInterrupt("killed")

    with client_for(sandbox) as client, pytest.raises(KeyboardInterrupt):
        sync_all(
            client, warehouse, full=True, batch_pages=1, commit_seconds=0, progress=crash_after_two_batches
        )
    # The pages before the crash are stored; the stream's cursor did not move.
    partial = warehouse.execute("SELECT count(*) FROM order_line_items").fetchone()[0]
    assert 0 < partial < len(dump(sandbox, "order_line_items"))
    assert warehouse.execute(
        "SELECT count(*) FROM sync_state WHERE resource = 'order_line_items'"
    ).fetchone() == (0,)
    # The merchant keeps working; the rerun (a normal incremental run) picks everything up.
    variant = dump(sandbox, "variants")[0]
    control(
        sandbox,
        "POST",
        "activity/update",
        {"resource": "variants", "id": variant["id"], "fields": {"name": "X"}},
    )
    with client_for(sandbox) as client:
        sync_all(client, warehouse)
    assert_matches_sandbox(warehouse, sandbox)


KILLABLE_SYNC = """
import sys
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.warehouse.db import connect
from gecko_pipeline.warehouse.sync import sync_all
url, token, path = sys.argv[1:4]
with GeckoClient(url, token=token, page_size=5) as client, connect(path) as con:
    sync_all(client, con, full=True, batch_pages=1, commit_seconds=0, progress=lambda m: print(m, flush=True))
"""


def test_a_sync_process_killed_midway_is_recovered_by_the_rerun(sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    control(sandbox, "PUT", "faults", {"latency_ms": 30})  # slow enough to kill it in the middle
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_SYNC, sandbox.url, sandbox.token, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("order_line_items: page 3"):
            proc.send_signal(signal.SIGKILL)  # no cleanup, no rollback: DuckDB recovers from its WAL
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    control(sandbox, "PUT", "faults", {"latency_ms": 0})
    with connect(path) as con:
        assert 0 < con.execute("SELECT count(*) FROM order_line_items").fetchone()[0]
        with client_for(sandbox) as client:
            sync_all(client, con)
        assert_matches_sandbox(con, sandbox)


def test_full_refresh_marks_vanished_records_and_keeps_them(sandbox: Any, warehouse: Any) -> None:
    full_sync(sandbox, warehouse)
    gone = dump(sandbox, "companies")[-1]["id"]
    control(sandbox, "POST", "activity/purge", {"resource": "companies", "id": gone})
    with client_for(sandbox) as client:
        sync_all(client, warehouse)  # incremental: cannot see a deletion
        assert warehouse.execute("SELECT _vanished_at FROM companies WHERE id = ?", [gone]).fetchone() == (
            None,
        )
        control(sandbox, "POST", "stats/reset")
        result = sync_stream(client, warehouse, "companies", full=True)
    assert result.vanished == {"companies": 1}
    assert warehouse.execute("SELECT count(*) FROM companies WHERE _vanished_at IS NOT NULL").fetchone() == (
        1,
    )
    assert warehouse.execute(
        "SELECT _vanished_at IS NOT NULL FROM companies WHERE id = ?", [gone]
    ).fetchone() == (True,)
    # The one missing id was asked for by id, to be sure: among the known statuses, then among any.
    assert requests_by_route(sandbox)["GET /companies"] == full_listing_requests(sandbox, "companies") + 2
    assert_matches_sandbox(warehouse, sandbox)  # compares the rows not vanished


def test_refresh_ids_fetches_exactly_those_records(sandbox: Any, warehouse: Any) -> None:
    full_sync(sandbox, warehouse)
    variants = [v for v in dump(sandbox, "variants") if v["locations"]][:3]
    for v in variants:
        control(
            sandbox,
            "POST",
            "activity/stock_move",
            {"variant_id": v["id"], "location_id": v["locations"][0]["location_id"], "quantity": "5"},
        )
    order = dump(sandbox, "orders")[1]
    control(
        sandbox,
        "POST",
        "activity/update",
        {"resource": "orders", "id": order["id"], "fields": {"notes": "n"}},
    )
    control(sandbox, "POST", "stats/reset")
    with client_for(sandbox) as client:
        variant_result = refresh_ids(client, warehouse, "variants", [v["id"] for v in variants])
        order_result = refresh_ids(client, warehouse, "orders", [order["id"], 999999])
    assert variant_result.requests == 1
    assert variant_result.tables["variants"].updated == 3
    # The orders (the id not found asked again without a status filter), then their line items by order_id.
    assert order_result.requests == 3
    assert order_result.vanished["orders"] == 1  # 999999 does not exist (it was never stored either)
    assert order_result.tables["order_line_items"].records == len(order["order_line_item_ids"])
    # Those records are current again (their products' totals wait for the next sync of products).
    assert_matches_sandbox(
        warehouse, sandbox, {"variants", "variant_locations", "variant_prices", "orders", "order_line_items"}
    )


def test_bad_input_from_the_api_is_stored_raw_and_reported(sandbox: Any, warehouse: Any) -> None:
    full_sync(sandbox, warehouse)
    variant = dump(sandbox, "variants")[2]
    control(
        sandbox,
        "POST",
        "activity/update",
        {
            "resource": "variants",
            "id": variant["id"],
            "fields": {"retail_price": "call us", "hologram": True},
        },
    )
    with client_for(sandbox) as client:
        result = sync_all(client, warehouse)
    assert result["variants"].issues == 3
    vid = str(variant["id"])
    assert set(
        warehouse.execute("SELECT table_name, record_id, field, value, problem FROM load_issues").fetchall()
    ) == {
        ("variants", vid, "retail_price", "call us", "not a valid decimal"),
        ("variants", vid, "hologram", "true", "unknown field"),
        ("variant_prices", f"{vid}/retail", "value", "call us", "not a valid decimal"),  # the API mirrors it
    }
    assert warehouse.execute(
        "SELECT retail_price, _raw->>'retail_price' FROM variants WHERE id = ?", [variant["id"]]
    ).fetchone() == (None, "call us")


def test_authentication_and_payment_errors_say_what_to_fix(sandbox: Any, warehouse: Any) -> None:
    with client_for(sandbox, token="wrong") as client, pytest.raises(AuthenticationError) as error:
        sync_stream(client, warehouse, "locations")
    assert "GECKO_ACCESS_TOKEN" in str(error.value)
    control(sandbox, "PUT", "payment_required", {"enabled": True})
    with client_for(sandbox) as client, pytest.raises(PaymentRequiredError) as error:
        sync_stream(client, warehouse, "locations")
    assert "subscription" in str(error.value)


def test_readers_of_the_published_copy_keep_working_during_sync_and_publish(
    sandbox: Any, tmp_path: Path
) -> None:
    warehouse_path, published_path = tmp_path / "warehouse.duckdb", tmp_path / "published.duckdb"
    with connect(warehouse_path) as con:
        full_sync(sandbox, con)
    publish(warehouse_path, published_path)
    before = len(dump(sandbox, "variants"))
    held = duckdb.connect(str(published_path), read_only=True)  # an analyst's open session
    assert held.execute("SELECT count(*) FROM variants").fetchone() == (before,)

    errors: list[BaseException] = []
    counts: set[int] = set()
    stop = threading.Event()

    def read_loop() -> None:
        while not stop.is_set():
            try:
                with duckdb.connect(str(published_path), read_only=True) as reader:
                    counts.add(reader.execute("SELECT count(*) FROM variants").fetchone()[0])
            except BaseException as exc:  # noqa: BLE001 - any failure of a reader fails the test
                errors.append(exc)
                return

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        control(sandbox, "POST", "activity/new_product", {"variants": 3})
        with connect(warehouse_path) as con, client_for(sandbox) as client:
            sync_all(client, con)
        info = publish(warehouse_path, published_path)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert counts <= {before, before + 3} and before in counts
    # The open session still sees its snapshot; a new one sees the new copy.
    assert held.execute("SELECT count(*) FROM variants").fetchone() == (before,)
    held.close()
    with duckdb.connect(str(published_path), read_only=True) as fresh:
        assert fresh.execute("SELECT count(*) FROM variants").fetchone() == (before + 3,)
    assert info.storage_compatibility_version == "v1.1.0"
    assert (
        published_path.read_bytes()[8:13] == b"DUCK@"
    )  # storage format 64: readable by DuckDB 1.1 and later
