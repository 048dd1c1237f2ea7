"""The Shopify channels in Dagster: the stores group's assets, checks and metadata, how the sync and webhook
jobs select them, and the fast path end to end: a stock move in the inventory sandbox reaches the Shopify
sandbox's quantity through the gateway, webhook_event_sensor and one refresh run (tools/daemon.tick/launch,
as the webhook tests drive it). Both sandboxes over HTTP; the code location loaded from the environment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from harness import code_location, sandbox_resources
from shopify_stock_world import MAIN, RETAIL, TOKEN_ENV, StockWorld, channel_file, stock_world

from gecko_pipeline import ops_db
from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.config import load_settings
from gecko_pipeline.definitions import definitions_with
from gecko_pipeline.defs.labels import DOMAIN_TAG, OWNERS
from gecko_pipeline.defs.stores import (
    DRIFT_CHECK,
    LINKS_CHECK,
    STOCK_CHECK,
    STORE_OP,
)
from gecko_pipeline.stores.shopify.shops import ShopifyShops
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.daemon import launch, tick
from gecko_pipeline.webhooks import store
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

LINKS, DRIFT, STOCK = (dg.AssetKey(f"shopify_shop_{part}") for part in ("links", "drift", "stock"))


def environment(monkeypatch: pytest.MonkeyPatch, world: StockWorld, app_secret: str | None = None) -> None:
    monkeypatch.setenv("GECKO_API_URL", world.inventory.url)
    monkeypatch.setenv("GECKO_ACCESS_TOKEN", world.inventory.token)
    monkeypatch.setenv("GECKO_CLIENT_SECRET", app_secret or world.inventory.app_secret)
    monkeypatch.setenv("GECKO_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("GECKO_CHANNELS_FILE", str(world.channels_path))
    monkeypatch.setenv(TOKEN_ENV, world.shop.token)


def location_with(world: StockWorld) -> dg.Definitions:
    """The code location as a deployment loads it, with the stores' resources pointed at the sandbox."""
    resources = sandbox_resources(world.inventory, world.data_dir, world.channels_path)
    resources["shopify_shops"] = ShopifyShops.from_settings(
        load_settings(), base_urls={"shop": world.shop.url}
    )
    return definitions_with(resources, code_location())


def metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def test_definitions_without_shopify_channels_have_no_store_assets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GECKO_CHANNELS_FILE", raising=False)
    monkeypatch.setenv("GECKO_DATA_DIR", str(tmp_path))
    defs = code_location()
    # The orders backfill (defs/shopify_orders.py, group orders) is defined whatever the channel file says.
    backfill = "shopify_orders_backfilled"
    assert not [
        k
        for k in defs.resolve_asset_graph().get_all_asset_keys()
        if k.path[0].startswith("shopify_") and k.path[0] != backfill
    ]
    steps = {n.name for n in defs.resolve_job_def("incremental_sync_job").graph.node_defs} - {backfill}
    assert steps == {"extract", "channels", "channel_order_sync", "published_warehouse"}


def test_the_stores_group_in_the_code_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    channels = tmp_path / "channels.yaml"
    channels.write_text(channel_file())
    monkeypatch.setenv("GECKO_CHANNELS_FILE", str(channels))
    monkeypatch.setenv("GECKO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(TOKEN_ENV, "shpat_secret_value")
    defs = code_location()
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for key in (LINKS, DRIFT, STOCK):
        node = graph.get(key)
        assert node.group_name == "stores" and node.tags[DOMAIN_TAG] == "stores"
        assert set(node.kinds) == {"shopify", "duckdb"} and list(node.owners) == list(OWNERS)
        assert node.description and "'shop'" in node.description
    assert {k.to_user_string() for k in graph.get(STOCK).parent_keys} >= {
        "channel_listings",
        "channel_stock_levels",
        "shopify_shop_links",
        "shopify_shop_drift",
    }
    checks = {(k.asset_key, k.name) for k in graph.asset_check_keys}
    assert {(LINKS, LINKS_CHECK), (DRIFT, DRIFT_CHECK), (STOCK, STOCK_CHECK)} <= checks
    # The sync jobs run the store step after the channels; the webhook job has only the stock push.
    sync = defs.resolve_job_def("incremental_sync_job")
    store_steps = {STORE_OP, "shopify_fulfilments_pushed", "shopify_orders_backfilled"}
    assert {n.name for n in sync.graph.node_defs} >= {"extract", "channels", *store_steps}
    assert {LINKS, DRIFT, STOCK} <= set(sync.asset_layer.selected_asset_keys)
    webhook = defs.resolve_job_def("webhook_refresh_job").asset_layer.selected_asset_keys
    assert STOCK in webhook and LINKS not in webhook and DRIFT not in webhook
    # The stores' clients come from one resource that holds no configuration the UI shows, and whose
    # text never holds the token.
    resource = defs.resources["shopify_shops"] if defs.resources else None
    assert isinstance(resource, ShopifyShops)
    assert "shpat_secret_value" not in repr(resource)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[StockWorld]:
    inventory = {"webhook_retry_base_delay": 0.05, "webhook_max_attempts": 3}
    with stock_world(tmp_path, inventory_config=inventory) as world:
        yield world


def test_a_sync_materializes_the_store_assets_with_their_checks_and_metadata(
    world: StockWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment(monkeypatch, world)
    defs = location_with(world)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("incremental_sync_job").execute_in_process(instance=instance)
    assert result.success
    links, drift, stock = (metadata(result, key) for key in (LINKS, DRIFT, STOCK))
    assert (links["store variants"], links["linked by sku"], links["problem sku_unknown"]) == (60, 44, 16)
    assert drift["drifted levels"] == 0 and "catalogue read" in drift["read mode"]
    assert stock["sent"] > 60 and stock["stock mutations"] == stock["stock mutation floor"] == 1
    assert stock["prices sent"] == 44 and stock["prices skipped (missing)"] == 0
    assert stock["mutations"] == stock["stock mutations"] + stock["variant mutations"]
    for name in (
        "sent",
        "skipped unchanged",
        "stale compares retried",
        "activated",
        "prices sent",
        "cost points",
    ):
        assert isinstance(stock[name], (int, float)), name  # numeric: plotted in the UI
    checks = {(c.asset_key, c.check_name): c for c in result.get_asset_check_evaluations()}
    assert checks[(LINKS, LINKS_CHECK)].passed and checks[(STOCK, STOCK_CHECK)].passed
    assert checks[(DRIFT, DRIFT_CHECK)].passed
    assert world.stats()["throttled"] == 0

    # The merchant edits stock in the Shopify admin: the drift check warns, the push repairs it.
    _, item, _ = world.linked()[0]
    world.set_store(item, RETAIL, 123)
    job = defs.resolve_job_def("incremental_sync_job")
    drifted = job.execute_in_process(instance=instance, asset_selection=[DRIFT])
    assert metadata(drifted, DRIFT)["drifted levels"] == 1
    [check] = drifted.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    repaired = job.execute_in_process(instance=instance, asset_selection=[STOCK])
    assert metadata(repaired, STOCK)["sent"] == 1 and metadata(repaired, STOCK)["stale compares retried"] == 0
    assert world.levels()[(item, RETAIL)] == world.expected()[(item, RETAIL)]


def test_a_stock_move_reaches_the_shopify_quantity_through_receiver_sensor_and_one_run(
    world: StockWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment(monkeypatch, world)
    settings = load_settings()
    defs = location_with(world)
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("incremental_sync_job").execute_in_process(instance=instance).success
    gateway = run_gateway(settings, with_intake=False)
    try:
        with GeckoClient(world.inventory.url, token=world.inventory.token) as client:
            ensure_subscriptions(client, gateway.webhook_url)
        variant, item, _ = world.linked()[0]
        before = world.levels()
        world.reset_stats()
        started = time.monotonic()
        world.stock_move(variant, 1, "-4")
        deadline = time.monotonic() + 30
        while not events(settings.ops_path):
            assert time.monotonic() < deadline, "no webhook event stored"
            time.sleep(0.05)

        answer = tick(defs, instance, "webhook_event_sensor", None)
        assert isinstance(answer, dg.SensorResult)
        [request] = answer.run_requests or []
        assert STOCK in request.asset_selection
        assert request.run_config["ops"][STORE_OP]["config"]["variant_ids"] == [variant]
        run = launch(defs, instance, "webhook_refresh_job", request)
        assert run.success
        seconds = time.monotonic() - started
        pushed = metadata(run, STOCK)
        assert (pushed["sent"], pushed["stock mutations"], pushed["scope"]) == (1, 1, "1 variants")
        after = world.levels()
        assert after[(item, MAIN)] == before[(item, MAIN)] - 4 == world.expected()[(item, MAIN)]
        assert {k for k in after if after[k] != before.get(k)} == {(item, MAIN)}
        assert world.operation("mutation inventorySetQuantities") == 1
        assert seconds < 30
    finally:
        gateway.stop()


def events(ops_path: Path) -> list[Any]:
    con = ops_db.connect(ops_path)
    try:
        store.ensure_schema(con)
        return list(con.execute("SELECT id FROM webhook_events"))
    finally:
        con.close()
