"""The extract assets, their checks and the published copy, run by Dagster against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
from harness import sandbox_resources

from gecko_pipeline.defs.extract import SYNC_MODE_TAG, extract
from gecko_pipeline.defs.publish import published_warehouse
from gecko_pipeline.defs.resources import GeckoApiResource, WarehouseResource
from gecko_pipeline.warehouse import quality


@pytest.fixture()
def resources(sandbox: Any, data_dir: Path) -> dict[str, Any]:
    resources = sandbox_resources(sandbox, data_dir, page_size=10)
    resources["warehouse"] = WarehouseResource(storage=resources["storage"], incremental_overlap_seconds=2)
    return resources


def run(
    resources: dict[str, Any],
    *,
    full: bool = False,
    checks: bool = True,
    publish: bool = True,
    only: list[str] | None = None,
) -> dg.ExecuteInProcessResult:
    assets: list[Any] = [extract, *([published_warehouse] if publish else [])]
    keys = [dg.AssetKey(k) for k in only] if only else [k for a in assets for k in a.keys]
    selection = dg.AssetSelection.assets(*keys)
    return dg.materialize(
        assets,
        resources=resources,
        tags={SYNC_MODE_TAG: "full" if full else "incremental"},
        raise_on_error=False,
        selection=selection if checks else selection.without_checks(),
    )


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }


def materialization(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    node = "published_warehouse" if key == "published_warehouse" else "extract"
    event = next(e for e in result.asset_materializations_for_node(node) if e.asset_key == dg.AssetKey(key))
    return {k: v.value for k, v in event.metadata.items()}


def test_a_full_run_loads_checks_and_publishes(resources: dict[str, Any], data_dir: Path) -> None:
    result = run(resources, full=True)
    assert result.success
    variants = materialization(result, "variants")
    assert variants["sync_mode"] == "full"
    assert variants["rows_inserted"] > 0 and variants["load_issues"] == 0
    assert variants["requests"] >= 1 and variants["pages"] >= 1 and variants["cursor"]
    assert materialization(result, "products")["cursor"]  # each table its own list's cursor
    checks = check_results(result)
    assert len(checks) == len(quality.RULES) + 1 and all(checks.values()), checks
    published = materialization(result, "published_warehouse")
    assert published["storage_compatibility_version"] == "v1.1.0"
    with duckdb.connect(str(data_dir / "published.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM variants").fetchone()[0] == variants["records"]
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] > 0


def test_checks_fail_on_broken_data(resources: dict[str, Any], data_dir: Path, sandbox: Any) -> None:
    assert run(resources, full=True, checks=False, publish=False).success
    variant = httpx.get(f"{sandbox.url}/_sandbox/dump/variants").json()["variants"][0]
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        # Break rows the next incremental sync will not fetch again (the oldest ones).
        product = con.execute("SELECT product_id FROM variants ORDER BY updated_at LIMIT 1").fetchone()[0]
        con.execute("DELETE FROM products WHERE id = ?", [product])
        con.execute(
            "UPDATE variant_locations SET stock_on_hand = stock_on_hand + 1 WHERE variant_id = "
            "(SELECT v.id FROM variants v JOIN variant_locations l ON l.variant_id = v.id WHERE v.id <> ? "
            "ORDER BY v.updated_at LIMIT 1)",
            [variant["id"]],
        )
    httpx.post(
        f"{sandbox.url}/_sandbox/activity/update",
        json={"resource": "variants", "id": variant["id"], "fields": {"buy_price": "free"}},
    ).raise_for_status()
    # Incremental, so the deleted product (unchanged upstream) is not fetched again.
    result = run(
        resources, publish=False, only=["products", "variants", "variant_locations", "variant_prices"]
    )
    checks = check_results(result)
    failed = {name for name, passed in checks.items() if not passed}
    assert failed == {
        "variants:product_id_resolves",
        "variant_locations:available_is_on_hand_minus_committed",
        "variants:no_load_issues",
        "variant_prices:no_load_issues",
        "variants:stock_on_hand_is_sum_of_locations",
    }, failed
    issues = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "no_load_issues" and e.asset_key == dg.AssetKey("variants")
    )
    assert issues.metadata["load_issues"].value == 1
    assert materialization(result, "variants")["load_issues"] == 1


def test_a_bad_token_fails_the_run_with_what_to_fix(sandbox: Any, data_dir: Path) -> None:
    resources = sandbox_resources(sandbox, data_dir)
    resources["gecko_api"] = GeckoApiResource(
        storage=resources["storage"], api_url=sandbox.url, access_token="expired-token"
    )
    result = dg.materialize([extract], resources=resources, raise_on_error=False, selection=["locations"])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.step_failure_data.error) + str(failure.step_failure_data.user_failure_data)
    assert "GECKO_ACCESS_TOKEN" in message
    assert "expired-token" not in message


def test_an_unknown_sync_mode_is_refused(resources: dict[str, Any]) -> None:
    result = dg.materialize(
        [extract],
        resources=resources,
        raise_on_error=False,
        tags={SYNC_MODE_TAG: "everything"},
        selection=["locations"],
    )
    assert not result.success
