"""Jobs and schedules over the asset graph: the periodic incremental sync and the nightly full refresh.

One selection serves both: extract, then channel stock and feeds, the order mirror, then the published
copy for analysts. The sync mode travels as a run tag that every extract asset reads, so the two jobs
differ only in that tag and their schedule.
"""

from __future__ import annotations

import os

import dagster as dg

SYNC_MODE_TAG = "gecko_pipeline/sync_mode"

# For runs launched from the command line: the assets' progress lines ("page k of n") on the console,
# without Dagster's per-step DEBUG events. The UI's event log keeps everything.
CONSOLE_INFO_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}

SYNC_SELECTION = dg.AssetSelection.groups("inventory", "sales", "channels", "orders", "publish")

incremental_sync_job = dg.define_asset_job(
    name="incremental_sync_job",
    selection=SYNC_SELECTION,
    description=(
        "Fetches what changed since the last sync (updated_at_min with a small overlap), recomputes "
        "channel stock, listings and feeds, mirrors the order ledger, and publishes published.duckdb."
    ),
    tags={SYNC_MODE_TAG: "incremental"},
)

full_refresh_job = dg.define_asset_job(
    name="full_refresh_job",
    selection=SYNC_SELECTION,
    description=(
        "Re-reads the whole account, marks records that vanished from the API, then recomputes channels "
        "and publishes. The safety net behind incremental syncs and webhooks."
    ),
    tags={SYNC_MODE_TAG: "full"},
)

incremental_sync_schedule = dg.ScheduleDefinition(
    name="incremental_sync_schedule",
    job=incremental_sync_job,
    cron_schedule=os.environ.get("GECKO_SYNC_CRON", "*/15 * * * *"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Incremental sync every 15 minutes (cron from GECKO_SYNC_CRON).",
)

full_refresh_schedule = dg.ScheduleDefinition(
    name="nightly_full_refresh_schedule",
    job=full_refresh_job,
    cron_schedule=os.environ.get("GECKO_FULL_REFRESH_CRON", "0 3 * * *"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Full refresh every night at 03:00 (cron from GECKO_FULL_REFRESH_CRON).",
)

SYNC_JOBS = [incremental_sync_job, full_refresh_job]
SYNC_SCHEDULES = [incremental_sync_schedule, full_refresh_schedule]
