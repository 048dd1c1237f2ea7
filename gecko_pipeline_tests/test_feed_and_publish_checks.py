"""The asset checks on channel_feeds and published_warehouse, and the row counts the Catalog shows.

Each test materializes real assets against a small sandbox into real DuckDB files, runs the check (it
passes), then damages the real output files and runs the check alone again (it fails, naming what).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
from harness import code_location, sandbox_environment, sandbox_resources

from gecko_pipeline.defs.channels import channels
from gecko_pipeline.defs.extract import SYNC_MODE_TAG, extract
from gecko_pipeline.defs.publish import ROW_COUNTS, published_warehouse
from gecko_pipeline.defs.resources import WarehouseResource
from gecko_pipeline.warehouse.counts import table_row_counts

# Two shapes of feed: one row per variant (web), one per variant and location (market).
CHANNEL_FILE = """
channels:
  - name: web
    price_list: retail
  - name: market
    price_list: retail
    locations: [Primary Location, Warehouse 2]
    per_location: true
"""

ASSETS: list[Any] = [extract, channels, published_warehouse]
FEEDS_CHECK = dg.AssetCheckKey(dg.AssetKey("channel_feeds"), "feeds_match_listings")
COPY_CHECK = dg.AssetCheckKey(dg.AssetKey("published_warehouse"), "published_copy_is_whole")


@pytest.fixture
def world(sandbox: Any, data_dir: Path, tmp_path: Path) -> dict[str, Any]:
    channel_file = tmp_path / "channels.yaml"
    channel_file.write_text(CHANNEL_FILE)
    resources = sandbox_resources(sandbox, data_dir, channel_file)
    resources["warehouse"] = WarehouseResource(storage=resources["storage"], incremental_overlap_seconds=1)
    return {
        "sandbox": sandbox,
        "data_dir": data_dir,
        "instance": dg.DagsterInstance.ephemeral(),
        "resources": resources,
    }


def run(world: dict[str, Any], selection: dg.AssetSelection, full: bool = False) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        selection=selection,
        resources=world["resources"],
        instance=world["instance"],
        tags={SYNC_MODE_TAG: "full" if full else "incremental"},
        raise_on_error=False,
    )


def evaluation(result: dg.ExecuteInProcessResult, check_name: str) -> dg.AssetCheckEvaluation:
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check_name]
    return found


def sample(found: dg.AssetCheckEvaluation) -> list[dict[str, Any]]:
    return found.metadata["sample"].value  # type: ignore[return-value]


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def count_rows(path: Path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - test's own names


def test_feeds_check_passes_then_fails_on_a_short_or_missing_feed_file(world: dict[str, Any]) -> None:
    result = run(world, dg.AssetSelection.groups("inventory", "channels"), full=True)
    assert result.success
    passed = evaluation(result, "feeds_match_listings")
    assert passed.passed and passed.metadata["failures"].value == 0

    feeds = world["data_dir"] / "feeds"
    web_csv = feeds / "web" / "listings.csv"
    lines = web_csv.read_text().splitlines(keepends=True)
    assert len(lines) > 2
    web_csv.write_text("".join(lines[:-1]))  # a feed cut short: one listing lost
    (feeds / "market" / "listings.json").unlink()

    only_check = dg.AssetSelection.checks(FEEDS_CHECK)
    failed = evaluation(run(world, only_check), "feeds_match_listings")
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    problems = {p["channel"]: p for p in sample(failed)}
    assert set(problems) == {"web", "market"}
    web_rows = count_rows(world["data_dir"] / "warehouse.duckdb", "channel_listings WHERE channel = 'web'")
    assert problems["web"] == {
        "channel": "web",
        "listings rows": str(web_rows),
        "listings.csv": str(web_rows - 1),
        "listings.json": str(web_rows),
    }
    # The per-location feed has a row per variant and location, so more rows than the channel's listings.
    market_levels = count_rows(
        world["data_dir"] / "warehouse.duckdb", "channel_stock_levels WHERE channel = 'market'"
    )
    assert problems["market"]["listings rows"] == str(market_levels)
    assert problems["market"]["listings.json"] == "missing"
    assert problems["market"]["listings.csv"] == str(market_levels)

    # Writing the feeds again repairs both files.
    again = run(world, dg.AssetSelection.assets("channel_feeds"))
    assert evaluation(again, "feeds_match_listings").passed
    assert len(json.loads((feeds / "market" / "listings.json").read_text())) == market_levels

    # A JSON feed cut mid-record (a disk filled up) is not a feed: the check says it cannot be read.
    web_json = feeds / "web" / "listings.json"
    web_json.write_text(web_json.read_text()[:-40])
    broken = evaluation(run(world, only_check), "feeds_match_listings")
    (problem,) = sample(broken)
    assert not broken.passed and problem["channel"] == "web"
    assert problem["listings.json"].startswith("unreadable:") and problem["listings.csv"] == str(web_rows)


def test_published_copy_check_passes_then_fails_on_a_changed_missing_or_broken_copy(
    world: dict[str, Any],
) -> None:
    only_check = dg.AssetSelection.checks(COPY_CHECK)
    # Nothing published yet: the check fails and says what to do.
    never = evaluation(run(world, only_check), "published_copy_is_whole")
    assert not never.passed
    assert sample(never)[0]["problem"] == "no row counts recorded: materialize published_warehouse"

    result = run(world, dg.AssetSelection.groups("inventory", "sales", "channels", "publish"), full=True)
    assert result.success
    assert evaluation(result, "published_copy_is_whole").passed
    published = world["data_dir"] / "published.duckdb"
    info = metadata(result, "published_warehouse")
    assert info["published_path"] == str(published) and "path" not in info
    counts = info[ROW_COUNTS]
    assert counts["variants"] == count_rows(published, "variants") > 0
    assert {"channel_listings", "sync_state", "fulfillment_return_line_items"} <= set(counts)
    assert info["dagster/row_count"] == sum(counts.values())

    with duckdb.connect(str(published)) as con:  # someone writes into the analysts' copy
        con.execute("DELETE FROM variants WHERE id = (SELECT min(id) FROM variants)")
        con.execute("DROP TABLE tax_types")
    failed = evaluation(run(world, only_check), "published_copy_is_whole")
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert sample(failed) == [
        {"table": "tax_types", "problem": "missing", "expected_rows": counts["tax_types"]},
        {
            "table": "variants",
            "problem": "row count differs",
            "expected_rows": counts["variants"],
            "rows": counts["variants"] - 1,
        },
    ]
    assert "tax_types: missing" in (failed.description or "")

    published.write_bytes(b"not a duckdb file")
    broken = evaluation(run(world, only_check), "published_copy_is_whole")
    assert not broken.passed and "does not open read-only" in sample(broken)[0]["problem"]

    # Publishing again makes the copy whole.
    assert evaluation(
        run(world, dg.AssetSelection.assets("published_warehouse")), "published_copy_is_whole"
    ).passed


def test_extract_assets_report_the_rows_each_table_holds_after_the_sync(
    world: dict[str, Any], data_dir: Path
) -> None:
    inventory = dg.AssetSelection.groups("inventory")
    first = run(world, inventory, full=True)
    assert first.success
    warehouse = data_dir / "warehouse.duckdb"
    for table in ("variants", "variant_locations", "products", "locations"):
        assert metadata(first, table)["dagster/row_count"] == count_rows(warehouse, table) > 0, table
    before = metadata(first, "variants")["dagster/row_count"]

    httpx.post(
        f"{world['sandbox'].url}/_sandbox/activity/new_product", json={"variants": 3}
    ).raise_for_status()
    second = run(world, inventory)
    variants = metadata(second, "variants")
    # The total after the sync, not what this sync wrote; the sync's own numbers stay alongside.
    assert variants["dagster/row_count"] == before + 3 == count_rows(warehouse, "variants")
    assert variants["rows_inserted"] == 3 and variants["sync_mode"] == "incremental"
    assert {"rows_updated", "requests", "pages", "duration_s", "cursor"} <= set(variants)


def test_only_tables_of_the_database_are_counted() -> None:
    with duckdb.connect() as con:
        con.execute('CREATE TABLE "odd ""name" (x INTEGER)')
        con.execute('INSERT INTO "odd ""name" VALUES (1), (2)')
        con.execute("CREATE SCHEMA side")
        con.execute("CREATE TABLE side.t (x INTEGER)")
        assert table_row_counts(con) == {'odd "name': 2, "side.t": 0}
        with pytest.raises(ValueError, match="no table 'variants; DROP TABLE x' in the database"):
            table_row_counts(con, ["variants; DROP TABLE x"])


def test_a_full_refresh_of_a_healthy_account_passes_every_blocking_check(
    sandbox: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's own Definitions and job, with the packaged channel file: the new checks hold on real runs."""
    sandbox_environment(monkeypatch, sandbox, data_dir)
    result = (
        code_location()
        .resolve_job_def("full_refresh_job")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral())
    )
    assert result.success
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()
    }
    assert evaluations[("channel_feeds", "feeds_match_listings")].passed
    assert evaluations[("published_warehouse", "published_copy_is_whole")].passed
    failed = [
        key for key, e in evaluations.items() if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []
