"""What a real account and a second day bring to the extract: bad nested lists, a status we do not know,
issues that must go once the API fixes the data, a `/price_lists` that answers 404 or lists only custom
lists, and figures that say what really happened (a first sync is full; an unchanged record is no update).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from harness import code_location, sandbox_environment
from sandbox_control import control, dump

from gecko_pipeline.api import GeckoClient, NotFoundError
from gecko_pipeline.channels.config import load_channels, resolve_channels
from gecko_pipeline.warehouse.db import connect
from gecko_pipeline.warehouse.sync import sync_all


@pytest.fixture()
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def sync(sandbox: Any, con: duckdb.DuckDBPyConnection, *, full: bool = False) -> dict[str, Any]:
    with GeckoClient(sandbox.url, token=sandbox.token, page_size=10) as client:
        return sync_all(client, con, full=full)


def edit(sandbox: Any, resource: str, record_id: int, **fields: Any) -> None:
    control(sandbox, "POST", "activity/update", {"resource": resource, "id": record_id, "fields": fields})


def issues(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str, str]]:
    return set(con.execute("SELECT table_name, record_id, field, problem FROM load_issues").fetchall())


def test_bad_nested_lists_and_unknown_statuses_are_reported_then_cleared(
    sandbox: Any, warehouse: Any
) -> None:
    sync(sandbox, warehouse, full=True)
    assert issues(warehouse) == set()
    v1, v2, v3 = [v["id"] for v in dump(sandbox, "variants") if v["status"] == "active" and v["locations"]][
        :3
    ]
    product = dump(sandbox, "products")[0]["id"]
    stock_before = dict(
        warehouse.execute(
            "SELECT variant_id, count(*) FROM variant_locations WHERE variant_id IN (?, ?) GROUP BY 1",
            [v1, v2],
        ).fetchall()
    )
    edit(sandbox, "variants", v1, locations="oops")
    edit(sandbox, "variants", v2, locations=None)
    edit(sandbox, "variants", v3, locations=[{"stock_on_hand": "4"}])
    edit(sandbox, "products", product, status="suspended")

    sync(sandbox, warehouse)
    assert issues(warehouse) >= {
        ("variants", str(v1), "locations", "not a list"),
        ("variants", str(v2), "locations", "null where a list was expected"),
        ("products", str(product), "status", "unknown value"),
    }
    # The location entry without location_id names its variant and the missing key.
    (child,) = [i for i in issues(warehouse) if i[0] == "variant_locations"]
    assert child[1].startswith(f"{v3}/rejected:") and child[2] == "location_id"
    # The product with a status we do not know is stored with it (the channels do not list it).
    assert warehouse.execute("SELECT status FROM products WHERE id = ?", [product]).fetchone() == (
        "suspended",
    )
    # Without a usable list, the stock rows stored before are kept, not wiped.
    assert (
        dict(
            warehouse.execute(
                "SELECT variant_id, count(*) FROM variant_locations WHERE variant_id IN (?, ?) GROUP BY 1",
                [v1, v2],
            ).fetchall()
        )
        == stock_before
    )

    # A full refresh keeps the new status and does not take the product for vanished.
    sync(sandbox, warehouse, full=True)
    assert warehouse.execute(
        "SELECT status, _vanished_at FROM products WHERE id = ?", [product]
    ).fetchone() == (
        "suspended",
        None,
    )

    # The API repairs everything: every issue goes with the next incremental sync.
    location = dump(sandbox, "locations")[0]["id"]
    edit(sandbox, "variants", v1, locations=[])
    edit(sandbox, "variants", v2, locations=[])
    edit(sandbox, "variants", v3, locations=[{"location_id": location, "stock_on_hand": "4"}])
    edit(sandbox, "products", product, status="active")
    sync(sandbox, warehouse)
    assert issues(warehouse) == set()
    assert warehouse.execute(
        "SELECT location_id, stock_on_hand FROM variant_locations WHERE variant_id = ?", [v3]
    ).fetchall() == [(location, 4)]


def test_a_first_sync_is_full_and_an_unchanged_record_is_no_update(sandbox: Any, warehouse: Any) -> None:
    first = sync(sandbox, warehouse)  # an incremental run on an empty warehouse
    assert {name: r.mode for name, r in first.items()} == dict.fromkeys(first, "full")
    assert "variants" not in first  # the full products sync brought them (include=variants)
    assert all(r.updated == 0 for r in first.values()), {n: r.updated for n, r in first.items()}
    again = sync(sandbox, warehouse)  # nothing changed; the overlap re-reads the cursor's records
    assert sum(r.records for r in again.values()) > 0
    assert {n: r.updated for n, r in again.items()} == dict.fromkeys(again, 0)
    assert {n: r.inserted for n, r in again.items()} == dict.fromkeys(again, 0)


def assert_price_lists_known(con: duckdb.DuckDBPyConnection, sandbox: Any, listed: set[str]) -> None:
    rows = {r[0]: r[1] for r in con.execute("SELECT id, _origin FROM price_lists").fetchall()}
    used = {p["price_list_id"] for v in dump(sandbox, "variants") for p in v["variant_prices"]}
    assert {"buy", "wholesale", "retail"} | used <= set(rows)
    for pid, origin in rows.items():
        if pid in listed:
            assert origin == "api", pid
        else:
            assert origin == ("built_in" if pid in ("buy", "wholesale", "retail") else "referenced"), pid
    # Built-in lists are in the account's base currency; the channels resolve against them.
    assert con.execute("SELECT currency_iso FROM price_lists WHERE id = 'retail'").fetchone() == ("NZD",)
    resolved = resolve_channels(con, load_channels())
    assert {c.config.name: c.price_list_id for c in resolved} == {
        "webstore": "retail",
        "marketplace": "wholesale",
    }


def test_price_lists_answering_404_is_skipped_and_every_list_used_is_known(
    sandbox_factory: Any, warehouse: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = sandbox_factory(scale=40, rate_limit_quota=100_000, unavailable_lists=("price_lists",))
    with caplog.at_level(logging.WARNING, logger="gecko_pipeline"):
        results = sync(sandbox, warehouse)
    warnings = [r for r in caplog.records if "404" in r.getMessage()]
    assert len(warnings) == 1 and "/price_lists" in warnings[0].getMessage()
    assert results["price_lists"].mode == "unavailable"
    state = warehouse.execute(
        "SELECT mode, last_problem FROM sync_state WHERE resource = 'price_lists'"
    ).fetchone()
    assert state[0] == "unavailable" and "404" in state[1]
    for table in ("products", "variants", "variant_prices", "orders", "order_line_items", "fulfillments"):
        assert warehouse.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table  # noqa: S608
    assert_price_lists_known(warehouse, sandbox, listed=set())
    # A full refresh does not take the lists we added for vanished.
    sync(sandbox, warehouse, full=True)
    assert warehouse.execute(
        "SELECT count(*) FROM price_lists WHERE _vanished_at IS NOT NULL"
    ).fetchone() == (0,)


def test_price_lists_listing_only_custom_lists(sandbox_factory: Any, warehouse: Any) -> None:
    sandbox = sandbox_factory(scale=40, rate_limit_quota=100_000, list_builtin_price_lists=False)
    sync(sandbox, warehouse, full=True)
    custom = {str(p["id"]) for p in dump(sandbox, "price_lists") if isinstance(p["id"], int)}
    assert custom and {"buy", "wholesale", "retail"}.isdisjoint(custom)
    assert_price_lists_known(warehouse, sandbox, listed=custom)


def test_a_core_list_answering_404_still_stops_the_sync(sandbox_factory: Any, warehouse: Any) -> None:
    sandbox = sandbox_factory(scale=40, rate_limit_quota=100_000, unavailable_lists=("products",))
    with pytest.raises(NotFoundError, match="/products"):
        sync(sandbox, warehouse)


def test_the_sync_job_and_the_channels_run_without_price_lists(
    sandbox_factory: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory(scale=40, rate_limit_quota=100_000, unavailable_lists=("price_lists",))
    sandbox_environment(monkeypatch, sandbox, data_dir)
    result = (
        code_location()
        .resolve_job_def("incremental_sync_job")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert result.success
    prices = next(
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("price_lists")
    )
    assert prices.materialization.metadata["sync_mode"].value == "unavailable"
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT channel) FROM channel_listings").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM channel_listings WHERE price IS NOT NULL").fetchone()[0] > 0
