"""Shopify orders pulled: the safety net behind the order webhooks, and how a store is onboarded.

`shopify_orders_backfilled` reads every `kind: shopify` channel's orders updated since its watermark
(kept in ops.sqlite, advanced page by page) into the order inbox, where `order_inbox_sensor` picks them
up like any channel order: an order whose webhooks were lost still arrives, and one that came both ways
still makes one sales order. It is part of the sync jobs (every 15 minutes by default). With `since` in
its run config (or `gecko-pipeline shopify-import-orders --since DATE`) it imports a store's history.
"""

from datetime import datetime, timedelta, timezone
from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.defs.labels import catalog_labels
from gecko_pipeline.defs.resources import ChannelConfigResource, OpsStoreResource
from gecko_pipeline.stores.shopify.backfill import backfill_orders, read_watermark
from gecko_pipeline.stores.shopify.connect import shopify_channels, shopify_client

# A channel's first automatic backfill (no watermark, no `since`) looks back this far: enough to catch
# what arrived while the pipeline was being set up; an explicit `since` imports older history.
FIRST_LOOKBACK = timedelta(days=7)


class ShopifyBackfillConfig(dg.Config):
    since: str | None = Field(
        default=None,
        description="Import the orders updated since this ISO date or time (onboarding a store); "
        "empty: from each channel's watermark.",
    )


def first_since(now: datetime) -> str:
    return (now - FIRST_LOOKBACK).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dg.asset(
    key="shopify_orders_backfilled",
    kinds={"shopify", "sqlite"},
    description=(
        "Orders of each Shopify channel read by updated_at since its watermark into the order inbox "
        "(ops.sqlite), so an order whose webhooks were lost still becomes a sales order; order_inbox_sensor "
        "pushes them. `since` in the run config imports a store's history."
    ),
    **catalog_labels("orders"),
)
def shopify_orders_backfilled(
    context: dg.AssetExecutionContext,
    config: ShopifyBackfillConfig,
    ops_store: OpsStoreResource,
    channel_config: ChannelConfigResource,
) -> dg.MaterializeResult:
    channels = shopify_channels(channel_config.load())
    settings = channel_config.settings()
    metadata: dict[str, Any] = {"channels": len(channels), "orders stored": 0, "requests": 0}
    with ops_store.connect() as con:
        for channel in channels:
            since = config.since
            if since is None and read_watermark(con, channel.name).updated_at is None:
                since = first_since(datetime.now(timezone.utc))
            with shopify_client(channel, settings) as client:
                result = backfill_orders(client, con, channel, since=since)
            context.log.info(
                f"{channel.name}: {result.stored} orders stored from {result.orders_read} read, "
                f"{result.requests} requests, watermark {result.watermark.updated_at}"
            )
            metadata["orders stored"] += result.stored
            metadata["requests"] += result.requests
            metadata[f"{channel.name} orders stored"] = result.stored
            metadata[f"{channel.name} cost points"] = float(result.cost_actual)
            metadata[f"{channel.name} throttled"] = result.throttled
            metadata[f"{channel.name} watermark"] = result.watermark.updated_at
    return dg.MaterializeResult(metadata=metadata)
