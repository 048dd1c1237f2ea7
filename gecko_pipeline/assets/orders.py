"""Dagster definitions of the orders group: the channel_order_sync asset and its check, the order push
job and the inbox sensor (gecko_pipeline/orders)."""

from __future__ import annotations

import dagster as dg

from gecko_pipeline.assets.catalog import catalog_labels
from gecko_pipeline.ops_resource import OpsStoreResource
from gecko_pipeline.orders.jobs import order_push_job
from gecko_pipeline.orders.mirror import mirror_ledger
from gecko_pipeline.orders.sensor import order_inbox_sensor
from gecko_pipeline.warehouse.resource import WarehouseResource


@dg.asset(
    name="channel_order_sync",
    kinds={"duckdb", "sqlite"},
    pool="duckdb_writer",
    description=(
        "Mirror of the order ledger (ops.sqlite) in the warehouse: one row per channel order with the sales "
        "order it became (id and number), its state (received, waiting, created, done, failed, quarantined), "
        "the follow-up actions done, attempts and the last error. order_push_job refreshes it after each push."
    ),
    **catalog_labels("orders"),
)
def channel_order_sync(warehouse: WarehouseResource, ops_store: OpsStoreResource) -> dg.MaterializeResult:
    with ops_store.connect() as ops, warehouse.connect() as con:
        counts = mirror_ledger(ops, con)
    return dg.MaterializeResult(metadata=counts)


@dg.asset_check(
    asset=channel_order_sync,
    description="Warns when channel orders are quarantined or failing: a person should look at "
    "`gecko-pipeline quarantine list`.",
    blocking=False,
)
def channel_orders_need_no_attention(ops_store: OpsStoreResource) -> dg.AssetCheckResult:
    from gecko_pipeline.orders import inbox, ledger

    with ops_store.connect() as ops:
        inbox.ensure_schema(ops)
        ledger.ensure_schema(ops)
        quarantined = inbox.count_open_quarantine(ops)
        failed = ledger.state_counts(ops).get("failed", 0)
    return dg.AssetCheckResult(
        passed=quarantined == 0 and failed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined": quarantined, "failed": failed},
        description=None
        if quarantined == failed == 0
        else f"{quarantined} quarantined and {failed} failing order(s): see `gecko-pipeline quarantine list`",
    )


ORDER_ASSETS = [channel_order_sync]
ORDER_CHECKS = [channel_orders_need_no_attention]
ORDER_JOBS = [order_push_job]
ORDER_SENSORS = [order_inbox_sensor]
