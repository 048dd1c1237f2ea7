"""The publish group: published.duckdb, the analysts' read-only copy; its check; when it is made.

The sync jobs publish at their end. Between syncs, order pushes and webhook refreshes change the
warehouse too; `publish_sensor` republishes after them, coalesced: at most once per
GECKO_PUBLISH_MIN_INTERVAL_SECONDS (default 60), so a burst of webhooks costs one copy, not one each.
"""

import time
from collections.abc import Iterator

import dagster as dg

from gecko_pipeline.defs.channels import CHANNEL_KEYS
from gecko_pipeline.defs.extract import EXTRACT_KEYS
from gecko_pipeline.defs.labels import POOL, catalog_labels
from gecko_pipeline.defs.resources import WarehouseResource
from gecko_pipeline.warehouse.catalog import TABLE_LIST
from gecko_pipeline.warehouse.publish import publish, verify_published

# Everything the copy holds: it waits for all of it.
UPSTREAM_KEYS = [*EXTRACT_KEYS, *CHANNEL_KEYS[:2], dg.AssetKey("channel_order_sync")]
PUBLISHED = dg.AssetKey("published_warehouse")
CHECK = "published_copy_is_whole"
ROW_COUNTS = "row counts"  # metadata entry: every table's rows as copied, which the check compares against
SAMPLE = 10
PUBLISH_SENSOR_SECONDS = 15


@dg.multi_asset(
    name="published_warehouse",
    specs=[
        dg.AssetSpec(
            "published_warehouse",
            kinds={"duckdb"},
            deps=UPSTREAM_KEYS,
            description=(
                "published.duckdb: a consistent copy of the warehouse for analysts and lookups, replaced "
                "atomically (CHECKPOINT, copy, os.replace). Open it read-only; a session keeps its snapshot "
                "until it reconnects. Written in DuckDB storage format v1.1.0, so DuckDB 1.1+ and 2.x clients "
                "can open it."
            ),
            **catalog_labels("publish"),
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK,
            asset="published_warehouse",
            description="published.duckdb opens read-only, holds every warehouse table, and each table has the "
            "rows the warehouse had when it was copied (the 'row counts' of the latest materialization).",
            blocking=False,
        )
    ],
    pool=POOL,  # it checkpoints warehouse.duckdb, so it waits for the writer like any other step
    can_subset=True,  # the check alone re-examines the file analysts have now
)
def published_warehouse(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    if context.selected_asset_keys:
        with warehouse.connect():
            pass  # creates the tables on a first run, so the copy always has the full schema
        info = publish(warehouse.warehouse_path, warehouse.published_path)
        counts = info.row_counts
        yield dg.MaterializeResult(
            asset_key=PUBLISHED,
            metadata={
                "published_path": dg.MetadataValue.path(str(info.published_path)),
                "dagster/row_count": dg.MetadataValue.int(info.rows),  # every table's rows together
                "tables": dg.MetadataValue.int(info.tables),
                "bytes": dg.MetadataValue.int(info.bytes),
                "seconds": dg.MetadataValue.float(info.seconds),
                "storage_compatibility_version": dg.MetadataValue.text(info.storage_compatibility_version),
                ROW_COUNTS: dg.MetadataValue.json(counts),
            },
        )
    else:
        counts = _recorded_counts(context.instance)
    if context.selected_asset_check_keys:
        yield _copy_check(warehouse, counts)


def _recorded_counts(instance: dg.DagsterInstance) -> dict[str, int]:
    """The row counts of the latest publish, as its materialization recorded them."""
    event = instance.get_latest_materialization_event(PUBLISHED)
    materialization = event.asset_materialization if event else None
    entry = materialization.metadata.get(ROW_COUNTS) if materialization else None
    return entry.value if isinstance(entry, dg.JsonMetadataValue) and isinstance(entry.value, dict) else {}


def _copy_check(warehouse: WarehouseResource, expected: dict[str, int]) -> dg.AssetCheckResult:
    # Reads only the published file, as an analyst would.
    problems = verify_published(
        warehouse.published_path, expected, required=[spec.name for spec in TABLE_LIST]
    )
    if not expected:
        problems.insert(
            0, {"table": None, "problem": "no row counts recorded: materialize published_warehouse"}
        )
    return dg.AssetCheckResult(
        asset_key=PUBLISHED,
        check_name=CHECK,
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


publish_job = dg.define_asset_job(
    name="publish_job",
    selection=dg.AssetSelection.assets(published_warehouse),
    description="Republishes published.duckdb (launched by publish_sensor after order pushes and webhook "
    "refreshes; the sync jobs publish on their own).",
    tags={"gecko_pipeline/area": "publish"},
)


def publish_due(instance: dg.DagsterInstance, now: float, min_interval: float) -> tuple[float, str] | None:
    """(the latest change, why) when the warehouse changed after the last publish and that publish is
    at least `min_interval` old; None when the copy is current or was made too recently."""
    events = instance.get_latest_materialization_events([*UPSTREAM_KEYS, PUBLISHED])
    stamps = {key: event.timestamp for key, event in events.items() if event is not None}
    published = stamps.pop(PUBLISHED, 0.0)
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
def publish_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.RunRequest | dg.SkipReason:
    interval = warehouse.publish_min_interval_seconds
    due = publish_due(context.instance, time.time(), interval)
    if due is None:
        return dg.SkipReason(f"published.duckdb is current, or was published less than {interval:g} s ago")
    changed, why = due
    return dg.RunRequest(run_key=f"publish:{changed:.6f}", tags={"gecko_pipeline/publish_reason": why})
