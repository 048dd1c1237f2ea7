"""The one Definitions: every asset, check, job, schedule, sensor and resource of gecko_pipeline.

Resources are configured with non-secret knobs only; tokens and the app secret are read from the
environment when a client is built (gecko_pipeline.settings), so nothing secret shows in the UI.
"""

from __future__ import annotations

import warnings

import dagster as dg

from gecko_pipeline.api.resource import GeckoApiResource
from gecko_pipeline.assets.channels import CHANNEL_ASSETS, CHANNEL_CHECKS
from gecko_pipeline.assets.extract import EXTRACT_ASSETS
from gecko_pipeline.assets.extract_checks import EXTRACT_CHECKS
from gecko_pipeline.assets.orders import ORDER_ASSETS, ORDER_CHECKS, ORDER_JOBS, ORDER_SENSORS
from gecko_pipeline.assets.publish import PUBLISH_CHECKS, PUBLISH_JOBS, PUBLISH_SENSORS, published_warehouse
from gecko_pipeline.channels.resource import ChannelConfigResource
from gecko_pipeline.jobs import SYNC_JOBS, SYNC_SCHEDULES
from gecko_pipeline.ops_resource import OpsStoreResource
from gecko_pipeline.warehouse.resource import WarehouseResource
from gecko_pipeline.webhooks.definitions import WEBHOOK_JOBS, WEBHOOK_SENSORS

# Dagster 1.13 re-creates sensors with `owners=[]` when it binds their jobs and then warns that the
# (unused) parameter is beta; we set no sensor owners, so the warning says nothing about our code.
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition", category=dg.BetaWarning
)


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[*EXTRACT_ASSETS, *CHANNEL_ASSETS, *ORDER_ASSETS, published_warehouse],
        asset_checks=[*EXTRACT_CHECKS, *CHANNEL_CHECKS, *ORDER_CHECKS, *PUBLISH_CHECKS],
        jobs=[*SYNC_JOBS, *ORDER_JOBS, *WEBHOOK_JOBS, *PUBLISH_JOBS],
        schedules=SYNC_SCHEDULES,
        sensors=[*ORDER_SENSORS, *WEBHOOK_SENSORS, *PUBLISH_SENSORS],
        resources={
            "gecko_api": GeckoApiResource(),
            "warehouse": WarehouseResource(),
            "ops_store": OpsStoreResource(),
            "channel_config": ChannelConfigResource(),
        },
        # A multiprocess step costs ~3 s of start-up on 2 cores, and DuckDB takes one writer per file.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
