"""The stores group: shipments of store orders flow back to the store (gecko_pipeline/stores/shopify/
fulfilments.py does the work; docs/shopify.md, "Fulfilments out").

`shopify_fulfilments_pushed` exists when the channel file has Shopify channels. It runs after the extract: in the sync jobs (it is in the `stores` group,
which the sync selection takes) and in the webhook refresh when `fulfillments` were re-read
(defs/webhooks.py). Each materialization is one pass: the shipped inventory fulfillments of
Shopify orders the store does not have yet are sent once, with their counts as metadata. It reads
warehouse.duckdb, so it runs in the writer pool, which also keeps two passes from running at once.
"""

# No `from __future__ import annotations`: Dagster reads the parameter annotations at run time.

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.defs.labels import POOL, catalog_labels
from gecko_pipeline.defs.resources import ChannelConfigResource, OpsStoreResource, WarehouseResource
from gecko_pipeline.defs.stores import PUSH_TAG, with_stores
from gecko_pipeline.stores.shopify import fulfilment_ledger
from gecko_pipeline.stores.shopify.fulfilments import FulfilmentPusher, FulfilmentPushResult, read_inventory
from gecko_pipeline.stores.shopify.shops import ShopifyShops

FULFILMENTS_KEY = dg.AssetKey("shopify_fulfilments_pushed")
ATTENTION_CHECK = "shopify_fulfilments_need_no_attention"
LABELS = catalog_labels("stores")


class FulfilmentPushConfig(dg.Config):
    notify_customer: bool = Field(
        default=True,
        description="Shopify e-mails the customer the shipping confirmation with the tracking link (the "
        "store is the customer's side; the inventory system e-mails nobody). Off for a catch-up run of "
        "old shipments.",
    )


def build_fulfilments_asset() -> dg.AssetsDefinition:
    """`shopify_fulfilments_pushed` (made only for a channel file with Shopify channels)."""

    @dg.asset(
        key=FULFILMENTS_KEY,
        deps=["fulfillments", "fulfillment_line_items", "orders", "channel_order_sync"],
        kinds={"shopify", "duckdb", "sqlite"},
        pool=POOL,
        description=(
            "Shipments of Shopify orders sent back to their store, exactly once: each shipped inventory "
            "fulfillment of a sales order that came from a `kind: shopify` channel becomes one Shopify "
            "fulfilment with its tracking number, URL and company (ledger intent before fulfillmentCreate, the "
            "store order read instead of sending again after a crash or a lost answer). Fulfilments the store "
            "reported itself are never echoed back; packed ones wait until they ship; a sales order voided "
            "in the inventory system while its store order is open is flagged for a person."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                ATTENTION_CHECK,
                asset=FULFILMENTS_KEY,
                description="Warns when a fulfilment failed in the last pass, one needs a person (refused, failing "
                "or waiting too long), or a voided sales order's store order is flagged: see "
                "`gecko-pipeline shopify-fulfilments list` and `gecko-pipeline shopify-voids list`.",
                blocking=False,
            )
        ],
        group_name=LABELS["group_name"],
        owners=LABELS["owners"],
        tags={**LABELS["tags"], PUSH_TAG: "fulfilments"},
    )
    def shopify_fulfilments_pushed(
        context: dg.AssetExecutionContext,
        config: FulfilmentPushConfig,
        warehouse: WarehouseResource,
        ops_store: OpsStoreResource,
        channel_config: ChannelConfigResource,
        shopify_shops: dg.ResourceParam[ShopifyShops],
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        channels = [c for c in channel_config.load() if c.kind == "shopify"]
        result = FulfilmentPushResult()
        attention: list[str] = []
        if channels:
            with ops_store.connect() as ops:
                pusher = FulfilmentPusher(
                    shopify_shops, ops, channels, notify_customer=config.notify_customer, logger=context.log
                )
                links = pusher.links()
                with warehouse.connect() as con:
                    snapshot = read_inventory(con, links)
                result = pusher.run(snapshot, links)
                attention = _attention(ops)
        figures: dict[str, Any] = {**result.counts(), "shopify_channels": len(channels)}
        context.log.info(f"fulfilments to the stores: {figures}")
        yield dg.MaterializeResult(metadata={**figures, "errors": "\n".join(result.errors[:20]) or "none"})
        problems = {
            "failed": result.failed,
            "attention": result.attention,
            "voids_flagged": result.voids_flagged,
        }
        yield dg.AssetCheckResult(
            passed=not any(problems.values()),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={**problems, "details": "\n".join(attention[:20]) or "none"},
            description=None
            if not any(problems.values())
            else ", ".join(f"{n} {k}" for k, n in problems.items() if n)
            + ": see `gecko-pipeline shopify-fulfilments list` / `shopify-voids list`",
        )

    return shopify_fulfilments_pushed


@dg.definitions
def fulfilment_definitions() -> dg.Definitions:
    return with_stores(lambda _channels: [build_fulfilments_asset()])


def _attention(ops: Any) -> list[str]:
    rows = [
        f"fulfilment {r.fulfillment_id} of {r.channel}:{r.channel_order_id}: {r.state}: "
        f"{r.reason or r.last_error or ''}"
        for r in fulfilment_ledger.all_rows(ops, ("attention", "failed"))
    ]
    rows += [
        f"store order {v.channel}:{v.channel_order_id}: {v.state}: {v.reason or ''}"
        for v in fulfilment_ledger.voids(ops, ("flagged", "cancelling"))
    ]
    return rows
