"""Products in and out of a Shopify store in Dagster: the import and publish assets of the stores group,
how the sync and webhook jobs select them, the import materialized from a job (dry run, then for real),
and the publish end to end: a new product in the inventory sandbox reaches the Shopify sandbox with its
stock through the gateway, webhook_event_sensor and one refresh run. Both sandboxes over HTTP; the code
location loaded from the environment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from harness import code_location
from shopify_products_world import store_products
from shopify_stock_world import MAIN, TOKEN_ENV, StockWorld, channel_file, stock_world
from test_shopify_stock_webhooks import environment, events, metadata

from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.config import load_settings
from gecko_pipeline.definitions import definitions_with
from gecko_pipeline.defs.resources import build_resources
from gecko_pipeline.defs.store_products import IMPORT_CHECK, OP_NAME, PUBLISH_CHECK
from gecko_pipeline.stores.shopify.product_publish import handle_for
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.daemon import launch, tick
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

IMPORT, PUBLISH, LINKS = (dg.AssetKey(f"shopify_shop_{part}") for part in ("import", "publish", "links"))


def channels_text(admin_url: str | None = None, publish: bool = True) -> str:
    extra = "    publish_new_products: true\n" if publish else ""
    if admin_url:
        extra += f"    admin_url: {admin_url}\n"
    return channel_file().replace("    price_list: retail\n", "    price_list: retail\n" + extra)


def test_the_product_assets_in_the_code_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    channels = tmp_path / "channels.yaml"
    channels.write_text(channels_text())
    monkeypatch.setenv("GECKO_CHANNELS_FILE", str(channels))
    monkeypatch.setenv("GECKO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(TOKEN_ENV, "shpat_secret_value")
    defs = code_location()
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for key in (IMPORT, PUBLISH):
        node = graph.get(key)
        assert node.group_name == "stores" and node.description and "'shop'" in node.description
        assert LINKS in node.parent_keys
    assert {k.to_user_string() for k in graph.get(PUBLISH).parent_keys} >= {
        "channel_listings",
        "channel_stock_levels",
    }
    checks = {(k.asset_key, k.name) for k in graph.asset_check_keys}
    assert {(IMPORT, IMPORT_CHECK), (PUBLISH, PUBLISH_CHECK)} <= checks
    # The sync jobs publish but never import (onboarding is on purpose); the webhook refresh publishes.
    for job in ("incremental_sync_job", "full_refresh_job"):
        selected = defs.resolve_job_def(job).asset_layer.selected_asset_keys
        assert PUBLISH in selected and IMPORT not in selected
    webhook = defs.resolve_job_def("webhook_refresh_job").asset_layer.selected_asset_keys
    assert PUBLISH in webhook and IMPORT not in webhook
    # Without publish_new_products there is no publish asset; the import is there for every store.
    channels.write_text(channels_text(publish=False))
    keys = code_location().resolve_asset_graph().get_all_asset_keys()
    assert IMPORT in keys and PUBLISH not in keys


def location_with(world: StockWorld) -> dg.Definitions:
    """The code location with the resources a deployment builds from this environment (the channel file
    points the store at the Shopify sandbox with `admin_url`)."""
    return definitions_with(build_resources(load_settings()), code_location())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[StockWorld]:
    inventory = {"webhook_retry_base_delay": 0.05, "webhook_max_attempts": 3}
    with stock_world(tmp_path, scale=120, shop_scale=60, inventory_config=inventory) as world:
        world.channels_path.write_text(channels_text(admin_url=world.shop.url))
        yield world


def test_the_import_from_a_job_then_a_new_product_published_by_the_webhook_path(
    world: StockWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment(monkeypatch, world)
    settings = load_settings()
    defs = location_with(world)
    instance = dg.DagsterInstance.ephemeral()
    sync = defs.resolve_job_def("incremental_sync_job")
    first = sync.execute_in_process(instance=instance)
    assert first.success and metadata(first, PUBLISH)["baseline set now"] is True
    assert metadata(first, PUBLISH)["variants published"] == 0

    # The import, materialized on purpose: a dry run lists, the run creates and links.
    # A dry run unless the run config says otherwise ("Materialize all" must not create products).
    dry = sync.execute_in_process(instance=instance, asset_selection=[IMPORT])
    planned = metadata(dry, IMPORT)
    assert (
        planned["dry run"] is True and planned["variants to create"] > 0 and planned["variants created"] == 0
    )
    done = sync.execute_in_process(
        instance=instance,
        asset_selection=[IMPORT],
        run_config={"ops": {OP_NAME: {"config": {"dry_run": False}}}},
    )
    imported = metadata(done, IMPORT)
    assert imported["variants created"] == planned["variants to create"]
    assert imported["links created"] == imported["variants created"]
    [check] = done.get_asset_check_evaluations()
    assert check.check_name == IMPORT_CHECK and check.passed
    # The links asset counts the links by how they were made.
    again = sync.execute_in_process(instance=instance)
    links = metadata(again, LINKS)
    assert links["linked by created"] == imported["variants created"] and links["linked by published"] == 0

    gateway = run_gateway(settings, with_intake=False)
    try:
        with GeckoClient(world.inventory.url, token=world.inventory.token) as client:
            ensure_subscriptions(client, gateway.webhook_url)
        started = time.monotonic()
        answer = world.inv_http.post("/activity/new_product", json={"variants": 2, "name": "Rain Hat"})
        product_id = int(answer.raise_for_status().json()["product_id"])
        deadline = time.monotonic() + 30
        while len(events(settings.ops_path)) < 3:  # product.create and two variant.create
            assert time.monotonic() < deadline, "no webhook events stored"
            time.sleep(0.05)
        result = tick(defs, instance, "webhook_event_sensor", None)
        assert isinstance(result, dg.SensorResult)
        [request] = result.run_requests or []
        assert PUBLISH in request.asset_selection
        run = launch(defs, instance, "webhook_refresh_job", request)
        assert run.success
        published = metadata(run, PUBLISH)
        assert (published["products published"], published["variants published"]) == (1, 2)
        assert published["stock levels sent"] == 4
        [product] = [p for p in store_products(world) if p["handle"] == handle_for("Rain Hat", product_id)]
        items = {f"gid://shopify/InventoryItem/{v['inventory_item_id']}" for v in product["variants"]}
        levels = world.levels()
        assert all(levels[(item, MAIN)] == 10 for item in items)
        assert time.monotonic() - started < 60
    finally:
        gateway.stop()
