"""The order push job: push a batch of channel orders, then mirror the ledger into the warehouse.

Two ops: `push_channel_orders` talks to the API and ops.sqlite only (it reads the catalogue from the
published copy, never the warehouse file Dagster writes), and `mirror_order_ledger`, in the
`duckdb_writer` pool, re-reads the sales orders this push created or changed into the warehouse (one
request per 250) and rewrites `channel_order_sync`, recording a materialization of that asset so the UI
shows each push's effect at once and publish_sensor republishes published.duckdb for analysts.
"""

# No `from __future__ import annotations`: Dagster reads the op signatures at run time.

from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.api.resource import GeckoApiResource
from gecko_pipeline.channels.resource import ChannelConfigResource
from gecko_pipeline.ops_resource import OpsStoreResource
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.mirror import mirror_ledger
from gecko_pipeline.orders.policy import RetryPolicy
from gecko_pipeline.orders.runner import run_push
from gecko_pipeline.warehouse.resource import WarehouseResource
from gecko_pipeline.warehouse.sync import refresh_ids

ORDER_SYNC_KEY = dg.AssetKey("channel_order_sync")


class OrderPushConfig(dg.Config):
    """Which orders to push: an inbox id range (what the sensor saw) and/or the ledger's due retries."""

    first_inbox_id: int = Field(default=0, description="First inbox row of the batch (0: none).")
    last_inbox_id: int = Field(default=0, description="Last inbox row of the batch.")
    retry_pending: bool = Field(
        default=False,
        description="Also push ledger orders due for a retry (failed, waiting, left by a crash).",
    )
    unknown_sku_wait_seconds: float | None = Field(
        default=None,
        description="How long an order with an unknown SKU waits for a catalog sync before it "
        "is quarantined (default GECKO_ORDERS_UNKNOWN_SKU_WAIT_SECONDS or 3600).",
    )

    def policy(self) -> RetryPolicy:
        policy = RetryPolicy.from_env()
        if self.unknown_sku_wait_seconds is None:
            return policy
        return RetryPolicy(
            self.unknown_sku_wait_seconds, policy.retry_delay_seconds, policy.stale_after_seconds
        )


@dg.op(
    description="Validates, maps and creates each channel order exactly once as a sales order, then sends the "
    "follow-up actions its channel state calls for. Bad orders are quarantined; the rest of the batch goes on.",
)
def push_channel_orders(
    context: dg.OpExecutionContext,
    config: OrderPushConfig,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
    ops_store: OpsStoreResource,
    channel_config: ChannelConfigResource,
) -> dict[str, Any]:
    channels = channel_config.load()
    started = inbox.now_iso()  # the ledger's own clock format, so the strings compare
    with gecko_api.get_client() as client, ops_store.connect() as con:
        stats = run_push(
            client,
            con,
            warehouse.published_path,
            channels,
            first_inbox_id=config.first_inbox_id,
            last_inbox_id=config.last_inbox_id,
            retry_pending=config.retry_pending,
            policy=config.policy(),
            logger=context.log,
        )
        requests = client.stats.snapshot().get("requests", 0)
        # The sales orders this pass created or acted on, for the warehouse to re-read.
        touched = sorted({r.order_id for r in ledger.all_rows(con) if r.order_id and r.updated_at >= started})
    figures = {**stats.as_dict(), "api_requests": int(requests)}
    context.add_output_metadata({**figures, "errors": "\n".join(stats.errors) or "none"})
    context.log.info(f"order push: {figures}")
    return {**figures, "order_ids": touched}


@dg.op(
    description="Re-reads the sales orders the push created or changed (with their lines) into the "
    "warehouse, then mirrors the order ledger into channel_order_sync.",
    pool="duckdb_writer",
    ins={"pushed": dg.In(dict)},
)
def mirror_order_ledger(
    context: dg.OpExecutionContext,
    pushed: dict,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
    ops_store: OpsStoreResource,
) -> None:
    order_ids = [int(i) for i in pushed.get("order_ids", [])]
    with ops_store.connect() as ops, warehouse.connect() as con:
        if order_ids:
            with gecko_api.get_client() as client:
                refreshed = refresh_ids(client, con, "orders", order_ids)
            context.log.info(f"re-read {len(order_ids)} sales orders: {refreshed.requests} requests")
        counts = mirror_ledger(ops, con)
    # The same metadata as the channel_order_sync asset's own materialization, so its page stays whole.
    context.log_event(dg.AssetMaterialization(asset_key=ORDER_SYNC_KEY, metadata=counts))


@dg.job(
    name="order_push_job",
    description="Pushes a batch of channel orders from the ops.sqlite inbox into the inventory system "
    "(launched by order_inbox_sensor, one run per batch), then refreshes channel_order_sync.",
    tags={"gecko_pipeline/area": "orders"},
)
def order_push_job() -> None:
    mirror_order_ledger(push_channel_orders())
