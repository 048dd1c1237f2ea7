"""The sync jobs and their schedules: the periodic incremental sync and the nightly full refresh.

One selection serves both: the extract, then channel stock and feeds, the order mirror, then the
published copy for analysts (not the order push: channel orders are pushed as they arrive). The sync
mode travels as a run tag the extract reads, so the two jobs differ only in that tag and their schedule.
The crons come from the settings (GECKO_SYNC_CRON, GECKO_FULL_REFRESH_CRON), read at load time.
The `stores` group is in the selection too: new shipments of store orders go back to their store
(defs/fulfilments.py).
"""

import dagster as dg

from gecko_pipeline.config import Settings, load_settings
from gecko_pipeline.defs.extract import SYNC_MODE_TAG
from gecko_pipeline.defs.labels import DOMAINS
from gecko_pipeline.defs.orders import PUSH_KEY
from gecko_pipeline.defs.store_products import TAG as STORE_PRODUCTS_TAG

TIMEZONE = "UTC"
# Not the order push (orders are pushed as they arrive), nor a Shopify store's catalogue import
# (onboarding, materialized on purpose); the publish of new products is in.
SYNC_SELECTION = (
    dg.AssetSelection.groups(*DOMAINS)
    - dg.AssetSelection.assets(PUSH_KEY)
    - dg.AssetSelection.tag(STORE_PRODUCTS_TAG, "import")
)

incremental_sync_job = dg.define_asset_job(
    name="incremental_sync_job",
    selection=SYNC_SELECTION,
    description=(
        "Fetches what changed since the last sync (updated_at_min with a small overlap), recomputes "
        "channel stock, listings and feeds, mirrors the order ledger, sends new shipments of store orders to "
        "their store, and publishes published.duckdb."
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


def when(cron: str, default: str, default_words: str, variable: str) -> str:
    """How often a schedule runs, in words that stay true when the environment overrides the cron."""
    if cron == default:
        return f"{default_words} (cron `{cron}`; {variable} overrides it)"
    return f"on cron `{cron}` in {TIMEZONE} (from {variable}; default {default_words})"


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    defaults = Settings()
    incremental = when(settings.sync_cron, defaults.sync_cron, "every 15 minutes", "GECKO_SYNC_CRON")
    nightly = when(
        settings.full_refresh_cron,
        defaults.full_refresh_cron,
        "every night at 03:00 UTC",
        "GECKO_FULL_REFRESH_CRON",
    )
    return [
        dg.ScheduleDefinition(
            name="incremental_sync_schedule",
            job=incremental_sync_job,
            cron_schedule=settings.sync_cron,
            execution_timezone=TIMEZONE,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Launches incremental_sync_job {incremental}: fetches what changed, refreshes channel "
            "feeds and the order mirror, republishes published.duckdb.",
        ),
        dg.ScheduleDefinition(
            name="nightly_full_refresh_schedule",
            job=full_refresh_job,
            cron_schedule=settings.full_refresh_cron,
            execution_timezone=TIMEZONE,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Launches full_refresh_job {nightly}: re-reads the whole account and marks records that "
            "vanished from the API.",
        ),
    ]


@dg.definitions
def sync_schedules() -> dg.Definitions:
    return dg.Definitions(schedules=build_schedules(load_settings()))
