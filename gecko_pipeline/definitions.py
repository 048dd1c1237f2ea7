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
from gecko_pipeline.assets.publish import PUBLISH_CHECKS, published_warehouse
from gecko_pipeline.channels.resource import ChannelConfigResource
from gecko_pipeline.executor import recovering_in_process_executor
from gecko_pipeline.jobs import SYNC_JOBS, SYNC_SCHEDULES
from gecko_pipeline.ops_resource import OpsStoreResource
from gecko_pipeline.run_recovery import dead_run_sensor
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
        jobs=[*SYNC_JOBS, *ORDER_JOBS, *WEBHOOK_JOBS],
        schedules=SYNC_SCHEDULES,
        sensors=[*ORDER_SENSORS, *WEBHOOK_SENSORS, dead_run_sensor],
        resources={
            "gecko_api": GeckoApiResource(),
            "warehouse": WarehouseResource(),
            "ops_store": OpsStoreResource(),
            "channel_config": ChannelConfigResource(),
        },
        # A multiprocess step costs ~3 s of start-up on 2 cores, and DuckDB takes one writer per file.
        # Dagster's in-process executor, plus freeing the pool slots of runs whose worker died
        # (run_recovery.py) and a bounded, sleeping wait for a slot (executor.py).
        executor=recovering_in_process_executor,
    )


defs = build_definitions()
