"""Jobs and schedules over the asset graph: the periodic incremental sync and the nightly full refresh.

One selection serves both: extract, then channel stock and feeds, the order mirror, then the published
copy for analysts. The sync mode travels as a run tag that every extract asset reads, so the two jobs
differ only in that tag and their schedule.
"""

from __future__ import annotations

import os

import dagster as dg

from gecko_pipeline.assets.catalog import DOMAINS
from gecko_pipeline.assets.extract import SYNC_MODE_TAG

# For runs launched from the command line: the assets' progress lines ("page k of n") on the console,
# without Dagster's per-step DEBUG events. The UI's event log keeps everything.
CONSOLE_INFO_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# Benchmarks print their own figures: only warnings from the runs they time.
CONSOLE_QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

SYNC_SELECTION = dg.AssetSelection.groups(*DOMAINS)

# Cron strings are evaluated in UTC; each environment variable overrides its default.
INCREMENTAL_CRON_ENV, INCREMENTAL_CRON_DEFAULT = "GECKO_SYNC_CRON", "*/15 * * * *"
FULL_REFRESH_CRON_ENV, FULL_REFRESH_CRON_DEFAULT = "GECKO_FULL_REFRESH_CRON", "0 3 * * *"
TIMEZONE = "UTC"


def cron_from_env(env: str, default: str) -> str:
    return os.environ.get(env) or default


def when(env: str, default: str, default_words: str) -> str:
    """How often a schedule runs, in words that stay true when the environment overrides the cron."""
    cron = cron_from_env(env, default)
    if cron == default:
        return f"{default_words} (cron `{cron}`; {env} overrides it)"
    return f"on cron `{cron}` in {TIMEZONE} (from {env}; default {default_words})"


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
    cron_schedule=cron_from_env(INCREMENTAL_CRON_ENV, INCREMENTAL_CRON_DEFAULT),
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"Launches incremental_sync_job {when(INCREMENTAL_CRON_ENV, INCREMENTAL_CRON_DEFAULT, 'every 15 minutes')}: "
        "fetches what changed, refreshes channel feeds and the order mirror, republishes published.duckdb."
    ),
)

full_refresh_schedule = dg.ScheduleDefinition(
    name="nightly_full_refresh_schedule",
    job=full_refresh_job,
    cron_schedule=cron_from_env(FULL_REFRESH_CRON_ENV, FULL_REFRESH_CRON_DEFAULT),
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"Launches full_refresh_job {when(FULL_REFRESH_CRON_ENV, FULL_REFRESH_CRON_DEFAULT, 'every night at 03:00 UTC')}: "
        "re-reads the whole account and marks records that vanished from the API."
    ),
)

SYNC_JOBS = [incremental_sync_job, full_refresh_job]
SYNC_SCHEDULES = [incremental_sync_schedule, full_refresh_schedule]
