"""published_warehouse: the analysts' read-only copy, its check, and when it is made.

The sync jobs publish at their end. Between syncs, order pushes and webhook refreshes change the
warehouse too; `publish_sensor` republishes after them, coalesced: at most once per
GECKO_PUBLISH_MIN_INTERVAL_SECONDS (default 60), so a burst of webhooks costs one copy, not one each.

No `from __future__ import annotations`: Dagster inspects the check's context annotation at runtime.
"""

import time

import dagster as dg

from gecko_pipeline.assets.catalog import catalog_labels
from gecko_pipeline.assets.extract import EXTRACT_ASSETS, POOL
from gecko_pipeline.settings import load_settings
from gecko_pipeline.warehouse.catalog import TABLE_LIST
from gecko_pipeline.warehouse.publish import publish, verify_published
from gecko_pipeline.warehouse.resource import WarehouseResource

# Derived tables written by the channel and order assets: the copy waits for them too.
DERIVED_KEYS = [
    dg.AssetKey("channel_stock_levels"),
    dg.AssetKey("channel_listings"),
    dg.AssetKey("channel_order_sync"),
]
EXTRACT_KEYS = [key for assets_def in EXTRACT_ASSETS for key in assets_def.keys]
ROW_COUNTS = "row counts"  # metadata entry: every table's rows as copied, which the check compares against
SAMPLE = 10


@dg.asset(
    name="published_warehouse",
    kinds={"duckdb"},
    pool=POOL,  # it checkpoints warehouse.duckdb, so it waits for the writer like any other step
    deps=[*EXTRACT_KEYS, *DERIVED_KEYS],
    description=(
        "published.duckdb: a consistent copy of the warehouse for analysts and lookups, replaced atomically "
        "(CHECKPOINT, copy, os.replace). Open it read-only; a session keeps its snapshot until it reconnects. "
        "Written in DuckDB storage format v1.1.0, so DuckDB 1.1+ and 2.x clients can open it."
    ),
    **catalog_labels("publish"),
)
def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect():
        pass  # creates the tables on a first run, so the copy always has the full schema
    info = publish(warehouse.warehouse_path, warehouse.published_path)
    return dg.MaterializeResult(
        metadata={
            "published_path": dg.MetadataValue.path(str(info["published_path"])),
            "dagster/row_count": dg.MetadataValue.int(int(info["rows"])),  # every table's rows together
            "tables": dg.MetadataValue.int(int(info["tables"])),
            "bytes": dg.MetadataValue.int(int(info["bytes"])),
            "seconds": dg.MetadataValue.float(float(info["seconds"])),
            "storage_compatibility_version": dg.MetadataValue.text(
                str(info["storage_compatibility_version"])
            ),
            ROW_COUNTS: dg.MetadataValue.json(info["row_counts"]),
        }
    )


@dg.asset_check(
    asset=published_warehouse,
    name="published_copy_is_whole",
    blocking=False,
    description=(
        "published.duckdb opens read-only, holds every warehouse table, and each table has the rows the "
        "warehouse had when it was copied (the 'row counts' of the latest materialization)."
    ),
)
def published_copy_is_whole(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    # Reads only the published file (never warehouse.duckdb), so it needs no place in the writer pool.
    event = context.instance.get_latest_materialization_event(published_warehouse.key)
    materialization = event.asset_materialization if event else None
    entry = materialization.metadata.get(ROW_COUNTS) if materialization else None
    expected = (
        entry.value if isinstance(entry, dg.JsonMetadataValue) and isinstance(entry.value, dict) else {}
    )
    problems = verify_published(
        warehouse.published_path, expected, required=[spec.name for spec in TABLE_LIST]
    )
    if not expected:
        problems.insert(
            0, {"table": None, "problem": "no row counts recorded: materialize published_warehouse"}
        )
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if not problems
        else "; ".join(f"{p['table'] or 'published.duckdb'}: {p['problem']}" for p in problems[:3])
        + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""),
        metadata={
            "published_path": dg.MetadataValue.path(str(warehouse.published_path)),
            "tables_compared": dg.MetadataValue.int(len(expected)),
            "problems": dg.MetadataValue.int(len(problems)),
            "sample": dg.MetadataValue.json(problems[:SAMPLE]),
        },
    )


PUBLISH_CHECKS = [published_copy_is_whole]


publish_job = dg.define_asset_job(
    name="publish_job",
    selection=dg.AssetSelection.assets(published_warehouse),
    description="Republishes published.duckdb (launched by publish_sensor after order pushes and webhook "
    "refreshes; the sync jobs publish on their own).",
    tags={"gecko_pipeline/area": "publish"},
)

PUBLISH_SENSOR_SECONDS = 15


def publish_due(instance: dg.DagsterInstance, now: float, min_interval: float) -> tuple[float, str] | None:
    """(the latest change, why) when the warehouse changed after the last publish and that publish is
    at least `min_interval` old; None when the copy is current or was made too recently."""
    events = instance.get_latest_materialization_events(
        [*EXTRACT_KEYS, *DERIVED_KEYS, published_warehouse.key]
    )
    stamps = {key: event.timestamp for key, event in events.items() if event is not None}
    published = stamps.pop(published_warehouse.key, 0.0)
    if not stamps:
        return None
    changed_key, changed = max(stamps.items(), key=lambda item: item[1])
    if changed <= published or now - published < min_interval:
        return None
    return changed, f"{changed_key.to_user_string()} changed after the last publish"


@dg.sensor(
    name="publish_sensor",
    job=publish_job,
    minimum_interval_seconds=PUBLISH_SENSOR_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Every {PUBLISH_SENSOR_SECONDS} s: when a table was materialized after the last publish (an order "
        "push, a webhook refresh) and that publish is at least GECKO_PUBLISH_MIN_INTERVAL_SECONDS old "
        "(default 60), launches publish_job; the run key is the change's time, so one change is published once."
    ),
)
def publish_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    interval = load_settings().publish_min_interval_seconds
    due = publish_due(context.instance, time.time(), interval)
    if due is None:
        return dg.SkipReason(f"published.duckdb is current, or was published less than {interval:g} s ago")
    changed, why = due
    return dg.RunRequest(run_key=f"publish:{changed:.6f}", tags={"gecko_pipeline/publish_reason": why})


PUBLISH_JOBS = [publish_job]
PUBLISH_SENSORS = [publish_sensor]
