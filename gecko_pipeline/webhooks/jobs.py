"""The targeted refresh: re-read exactly the records webhooks named, then recompute just their channel
rows and feed changes. One op (it writes warehouse.duckdb, so it runs in the `duckdb_writer` pool).

No `from __future__ import annotations` here: Dagster resolves the op's config annotation at runtime."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.api.resource import GeckoApiResource
from gecko_pipeline.channels.feeds import write_feeds
from gecko_pipeline.channels.resource import ChannelConfigResource
from gecko_pipeline.channels.stock import compute_channel_stock
from gecko_pipeline.ops_resource import OpsStoreResource
from gecko_pipeline.warehouse.counts import table_row_counts
from gecko_pipeline.warehouse.resource import WarehouseResource
from gecko_pipeline.warehouse.sync import refresh_ids
from gecko_pipeline.webhooks import store
from gecko_pipeline.webhooks.events import REFRESH_ORDER

POOL = "duckdb_writer"
IDS_SHOWN = 50  # ids listed in metadata; the count is always exact


class WebhookRefreshConfig(dg.Config):
    """Which records to refresh (ids per API resource) and which stored events this run covers."""

    ids: dict[str, list[int]] = Field(default_factory=dict, description="API resource -> record ids.")
    first_event_id: int = Field(default=0, description="First webhook_events row id of the batch.")
    last_event_id: int = Field(default=0, description="Last webhook_events row id of the batch.")


def ordered_resources(ids: Mapping[str, list[int]]) -> list[str]:
    """Parents before children; resources outside the known order keep theirs, last."""
    known = [r for r in REFRESH_ORDER if ids.get(r)]
    return known + [r for r in ids if r not in REFRESH_ORDER and ids[r]]


def channel_scope(ids: Mapping[str, list[int]]) -> tuple[bool, list[int] | None]:
    """(recompute?, variant ids or None for all). A location event can change every variant's channel
    stock (e.g. a location archived), which costs no request: recompute all then."""
    if ids.get("locations"):
        return True, None
    variants = sorted(set(ids.get("variants", [])))
    return bool(variants), variants


def _ids_text(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:IDS_SHOWN])
    return shown + (f" ... (+{len(ids) - IDS_SHOWN})" if len(ids) > IDS_SHOWN else "")


def _refresh(
    context: dg.OpExecutionContext,
    config: WebhookRefreshConfig,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
    channel_config: ChannelConfigResource,
) -> Iterator[dg.AssetMaterialization]:
    with gecko_api.get_client() as client, warehouse.connect() as con:
        for resource in ordered_resources(config.ids):
            ids = sorted(set(config.ids[resource]))
            result = refresh_ids(client, con, resource, ids)
            context.log.info(
                f"refreshed {resource}: {len(ids)} ids, {result.records} records, "
                f"{result.requests} requests, {result.issues} issues"
            )
            for table, stats in result.tables.items():
                yield dg.AssetMaterialization(
                    asset_key=table,
                    description=f"targeted refresh of {len(ids)} {resource} from webhook events",
                    metadata={
                        # The latest materialization fills the Catalog's row-count column: keep it filled.
                        "dagster/row_count": dg.MetadataValue.int(table_row_counts(con, [table])[table]),
                        "ids": dg.MetadataValue.text(_ids_text(ids)),
                        "id count": dg.MetadataValue.int(len(ids)),
                        "records": dg.MetadataValue.int(stats.records),
                        "requests": dg.MetadataValue.int(result.requests),
                        "vanished": dg.MetadataValue.int(result.vanished.get(table, 0)),
                    },
                )
        recompute, variant_ids = channel_scope(config.ids)
        if not recompute:
            return
        channels = channel_config.load()
        stock = compute_channel_stock(con, channels, variant_ids)
        feeds = write_feeds(con, channels, channel_config.feeds_path(warehouse.warehouse_path))
        totals = table_row_counts(con, ["channel_listings", "channel_stock_levels"])
    scope = "all variants" if variant_ids is None else _ids_text(variant_ids)
    for key, rows in (
        ("channel_listings", stock["listings_changed"]),
        ("channel_stock_levels", stock["stock_levels_changed"]),
    ):
        yield dg.AssetMaterialization(
            asset_key=key,
            description="recomputed for the variants webhooks named",
            metadata={
                "dagster/row_count": dg.MetadataValue.int(totals[key]),
                "variants": dg.MetadataValue.text(scope),
                "rows written": dg.MetadataValue.int(rows),
            },
        )
    changes = {name: counts["changes"] for name, counts in feeds["channels"].items()}
    yield dg.AssetMaterialization(
        asset_key="channel_feeds",
        description="feeds patched where rows moved; changes files list what moved",
        metadata={
            "changes": dg.MetadataValue.int(sum(changes.values())),
            **{f"{name} changes": dg.MetadataValue.int(n) for name, n in changes.items()},
        },
    )
    context.log.info(f"channels recomputed for {scope}; feed changes {changes}")


@dg.op(
    description=(
        "Re-reads exactly the records that webhooks named (ids batches), then recomputes channel stock, "
        "listings and feed changes for the affected variants only."
    ),
    pool=POOL,
    out={},  # its products are the asset materializations it logs
)
def refresh_from_webhooks(
    context: dg.OpExecutionContext,
    config: WebhookRefreshConfig,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
    channel_config: ChannelConfigResource,
    ops_store: OpsStoreResource,
) -> Iterator[dg.AssetMaterialization]:
    event_ids = range(config.first_event_id, config.last_event_id + 1) if config.last_event_id else range(0)
    try:
        yield from _refresh(context, config, gecko_api, warehouse, channel_config)
    except Exception as exc:
        # The events stay visible in ops.sqlite as failed; the periodic incremental sync catches the change.
        with ops_store.connect() as con:
            store.set_status(
                con,
                event_ids,
                store.FAILED,
                from_statuses=(store.PENDING,),
                run_id=context.run_id,
                problem=f"{type(exc).__name__}: {exc}"[:500],
            )
        raise
    with ops_store.connect() as con:
        done = store.set_status(
            con, event_ids, store.DONE, from_statuses=(store.PENDING,), run_id=context.run_id
        )
    context.log.info(f"webhook events #{config.first_event_id}-#{config.last_event_id}: {done} marked done")


@dg.job(
    description="Targeted refresh from webhook events (launched by webhook_event_sensor).",
    tags={"gecko_pipeline/trigger": "webhooks"},
)
def webhook_refresh_job() -> None:
    refresh_from_webhooks()


def run_config_for(ids: Mapping[str, list[int]], first_event_id: int, last_event_id: int) -> dict[str, Any]:
    return {
        "ops": {
            "refresh_from_webhooks": {
                "config": {
                    "ids": {resource: list(values) for resource, values in ids.items()},
                    "first_event_id": first_event_id,
                    "last_event_id": last_event_id,
                }
            }
        }
    }
