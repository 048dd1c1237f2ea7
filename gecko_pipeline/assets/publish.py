"""published_warehouse: the analysts' read-only copy, swapped in after each successful sync."""

from __future__ import annotations

import dagster as dg

from gecko_pipeline.assets.extract import EXTRACT_ASSETS, POOL
from gecko_pipeline.warehouse.publish import publish
from gecko_pipeline.warehouse.resource import WarehouseResource

# Derived tables written by the channel and order assets: the copy waits for them too.
DERIVED_KEYS = [dg.AssetKey("channel_stock_levels"), dg.AssetKey("channel_listings"), dg.AssetKey("channel_order_sync")]
EXTRACT_KEYS = [key for assets_def in EXTRACT_ASSETS for key in assets_def.keys]


@dg.asset(
    name="published_warehouse",
    group_name="publish",
    kinds={"duckdb"},
    pool=POOL,  # it checkpoints warehouse.duckdb, so it waits for the writer like any other step
    deps=[*EXTRACT_KEYS, *DERIVED_KEYS],
    description=(
        "published.duckdb: a consistent copy of the warehouse for analysts and lookups, replaced atomically "
        "(CHECKPOINT, copy, os.replace). Open it read-only; a session keeps its snapshot until it reconnects. "
        "Written in DuckDB storage format v1.1.0, so DuckDB 1.1+ and 2.x clients can open it."
    ),
)
def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect():
        pass  # creates the tables on a first run, so the copy always has the full schema
    info = publish(warehouse.warehouse_path, warehouse.published_path)
    return dg.MaterializeResult(metadata={**info, "path": dg.MetadataValue.path(str(info["published_path"]))})
