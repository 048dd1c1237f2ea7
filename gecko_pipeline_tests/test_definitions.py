"""The whole Definitions loads, and the asset graph reads like the system."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from harness import code_location_for

from gecko_pipeline.defs.labels import DOMAIN_TAG, DOMAINS, OWNERS, POOL, catalog_labels
from gecko_pipeline.warehouse.catalog import TABLES

# Every asset a deployment can have: a channel file with a Shopify store (store assets exist only then).
WITH_A_STORE = Path(__file__).parent / "fixtures" / "channels_with_a_store.yaml"
defs = code_location_for(str(WITH_A_STORE))

# design.md section 10: the table names people and tools rely on.
WAREHOUSE_TABLES = {
    "account",
    "locations",
    "currencies",
    "price_lists",
    "tax_types",
    "products",
    "variants",
    "variant_locations",
    "variant_prices",
    "companies",
    "addresses",
    "orders",
    "order_line_items",
    "fulfillments",
    "fulfillment_line_items",
    "fulfillment_returns",
    "fulfillment_return_line_items",
}


def test_the_catalogue_declares_exactly_the_documented_tables() -> None:
    assert set(TABLES) == WAREHOUSE_TABLES


def _asset_specs() -> dict[str, dg.AssetSpec]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}


def test_definitions_validate() -> None:
    dg.Definitions.validate_loadable(defs)


def test_every_table_and_derived_asset_is_in_the_graph() -> None:
    keys = set(_asset_specs())
    expected = WAREHOUSE_TABLES | {
        "channel_stock_levels",
        "channel_listings",
        "channel_feeds",
        "channel_order_sync",
        "published_warehouse",
    }
    assert expected <= keys, f"missing assets: {sorted(expected - keys)}"


def test_every_asset_has_a_description_a_group_and_kinds() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description, f"{name} has no description"
        assert node.group_name in DOMAINS, (
            name,
            node.group_name,
        )
        assert node.kinds, f"{name} has no kinds"


def test_published_copy_comes_after_channels_and_extract() -> None:
    graph = defs.resolve_asset_graph()
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey("published_warehouse")).parent_keys}
    assert {"variants", "orders", "channel_listings", "channel_order_sync"} <= upstream


def test_jobs_schedules_and_sensors_are_defined_and_on() -> None:
    for name in ("incremental_sync_job", "full_refresh_job", "order_push_job", "webhook_refresh_job"):
        assert defs.resolve_job_def(name).name == name
    schedules = {s.name: s for s in defs.schedules or []}
    assert schedules["incremental_sync_schedule"].cron_schedule == "*/15 * * * *"
    assert schedules["nightly_full_refresh_schedule"].default_status == dg.DefaultScheduleStatus.RUNNING
    sensors = {s.name for s in defs.sensors or []}
    assert {"order_inbox_sensor", "webhook_event_sensor"} <= sensors
    for schedule in defs.schedules or []:
        assert schedule.description
    for sensor in defs.sensors or []:
        assert sensor.description, f"sensor {sensor.name} has no description"


def test_every_warehouse_writer_is_in_the_duckdb_writer_pool() -> None:
    graph = defs.resolve_asset_graph()
    # Only these stay out: they talk to an API and ops.sqlite, never to warehouse.duckdb.
    outside = {"channel_orders_pushed", "shopify_orders_backfilled"}
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        pools = {op.pool for op in node.assets_def.node_def.iterate_op_defs()}
        expected = {None} if key.to_user_string() in outside else {POOL}
        assert pools == expected, f"{key.to_user_string()} runs in pools {pools}"


PUSH = dg.AssetKey("channel_orders_pushed")


def test_a_sync_is_a_few_steps_and_checks_run_inside_them() -> None:
    # Each step costs a start-up; the extract is one subsettable step and checks evaluate in bulk in it.
    core = {"extract", "channels", "channel_order_sync", "published_warehouse"}
    feeds_only = code_location_for(None).resolve_job_def("incremental_sync_job")
    assert {node.name for node in feeds_only.graph.node_defs} == core
    # A store adds the steps that cross to it: orders in, stock, prices and fulfilments out.
    job = defs.resolve_job_def("incremental_sync_job")
    steps = {node.name for node in job.graph.node_defs}
    assert steps - core == {"shopify_stores", "shopify_fulfilments_pushed", "shopify_orders_backfilled"}
    # The job holds every check of its assets, yet no step of their own: they run inside these four.
    # (All but the push's and the store import's: those assets are materialized on their own.)
    on_their_own = {PUSH, dg.AssetKey("shopify_shop_import")}
    checks = {key for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key not in on_their_own}
    assert len(checks) > 60 and checks <= set(job.asset_layer.asset_graph.asset_check_keys)


def test_every_asset_has_its_domain_tag_and_owners() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        name = key.to_user_string()
        assert node.tags.get(DOMAIN_TAG) == node.group_name, (name, node.tags)
        assert list(node.owners) == list(OWNERS), (name, node.owners)
    with pytest.raises(ValueError, match="unknown asset domain 'catalogue'"):
        catalog_labels("catalogue")


def test_sensor_and_schedule_descriptions_say_how_often() -> None:
    for sensor in defs.sensors or []:
        assert f"Every {sensor.minimum_interval_seconds} s" in (sensor.description or ""), sensor.name
    webhook = next(s for s in defs.sensors or [] if s.name == "webhook_event_sensor")
    assert "GECKO_WEBHOOK_SENSOR_INTERVAL" in (webhook.description or "")
    for schedule in defs.schedules or []:
        assert f"cron `{schedule.cron_schedule}`" in (schedule.description or ""), schedule.name
        assert schedule.execution_timezone == "UTC"


def test_new_checks_are_on_the_feeds_and_the_published_copy() -> None:
    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert ("channel_feeds", "feeds_match_listings") in checks
    assert ("published_warehouse", "published_copy_is_whole") in checks


def test_a_schedule_description_stays_true_when_the_cron_is_overridden() -> None:
    from gecko_pipeline.config import load_settings
    from gecko_pipeline.defs.schedules import build_schedules

    (default, _) = build_schedules(load_settings({}))
    assert default.description and "every 15 minutes (cron `*/15 * * * *`" in default.description
    (hourly, _) = build_schedules(load_settings({"GECKO_SYNC_CRON": "0 * * * *"}))
    assert hourly.cron_schedule == "0 * * * *"
    assert "on cron `0 * * * *` in UTC (from GECKO_SYNC_CRON; default every 15 minutes)" in (
        hourly.description or ""
    )


def test_dagster_validates_the_workspace_as_a_deployment_loads_it(tmp_path: Path) -> None:
    """`dagster definitions validate` on workspace.yaml; the dg project names the same code location."""
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "dagster.yaml").write_text((root / "dagster.yaml").read_text())
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "GECKO_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "All code locations passed validation" in output
    assert "does not match the name" not in output, output
