"""The Dagster resources, configured one way: from `gecko_pipeline.config.Settings`.

`StorageResource` is the data folder; the warehouse, the ops store, the channel file and the API client
take it, so the folder is set once. Secrets are `dg.EnvVar`s naming their variable (the UI shows the
name, never the value); the embedded sandbox's public demo credentials are plain values.
"""

# No `from __future__ import annotations`: Dagster reads the resource field annotations at run time.

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from gecko_pipeline import ops_db
from gecko_pipeline.api.client import DEFAULT_MAX_RATE_LIMIT_WAIT, MAX_PAGE_SIZE, GeckoClient
from gecko_pipeline.api.shared_pacing import STATE_FILE_NAME
from gecko_pipeline.channels.config import (
    ChannelConfig,
    channels_file_path,
    load_channels,
)
from gecko_pipeline.config import SECRET_VARIABLES, Settings, load_settings
from gecko_pipeline.defs.executor import recovering_in_process_executor
from gecko_pipeline.orders.policy import RetryPolicy
from gecko_pipeline.stores.shopify.shops import ShopifyShops
from gecko_pipeline.warehouse.catalog import ensure_schema
from gecko_pipeline.warehouse.db import SYNC_MEMORY_LIMIT, connect


class StorageResource(dg.ConfigurableResource):
    """The data folder (GECKO_DATA_DIR): every file the pipeline writes lives under it."""

    data_dir: str = Field(description="Folder of warehouse.duckdb, published.duckdb, ops.sqlite and feeds/.")

    @property
    def path(self) -> Path:
        return Path(self.data_dir)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse Dagster writes (one writer at a time: pool `duckdb_writer`) and the published
    copy analysts read."""

    storage: dg.ResourceDependency[StorageResource]
    memory_limit: str | None = Field(
        default="1GB",
        description="DuckDB memory_limit of the pipeline's connections: bounds a sync's memory (DuckDB evicts "
        "and spills beyond it). None: DuckDB's default, 80% of RAM.",
    )
    sync_memory_limit: str | None = Field(
        default=SYNC_MEMORY_LIMIT,
        description="DuckDB memory_limit of the extract's connection. A sync streams pages through a bounded "
        "buffer, so it needs about this whatever the account's size, plus the primary-key indexes of the rows "
        "written in the same sync (~20 bytes a row: ~40 MB for 100k variants at 10 locations); raise it for "
        "accounts of several hundred thousand variants. None: `memory_limit`.",
    )
    incremental_overlap_seconds: float = Field(
        default=60.0,
        description="An incremental sync asks for records updated since its cursor minus this much, so clock "
        "skew and records saved in the same instant as the cursor are not missed.",
    )
    publish_min_interval_seconds: float = Field(
        default=60.0,
        description="publish_sensor republishes published.duckdb after pushes and refreshes at most this "
        "often (GECKO_PUBLISH_MIN_INTERVAL_SECONDS).",
    )

    @property
    def warehouse_path(self) -> Path:
        return self.storage.path / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        return self.storage.path / "published.duckdb"

    @contextmanager
    def connect(
        self, read_only: bool = False, memory_limit: str | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to warehouse.duckdb with every table in place, closed when the block ends
        (`memory_limit`: this connection's, instead of the resource's)."""
        con = connect(
            self.warehouse_path, read_only=read_only, memory_limit=memory_limit or self.memory_limit
        )
        try:
            if not read_only:
                ensure_schema(con)
            yield con
        finally:
            con.close()


class OpsStoreResource(dg.ConfigurableResource):
    """ops.sqlite under the data folder: inboxes, order ledger, quarantine, webhook events."""

    storage: dg.ResourceDependency[StorageResource]

    @property
    def path(self) -> Path:
        return self.storage.path / "ops.sqlite"

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = ops_db.connect(self.path)
        try:
            yield con
        finally:
            con.close()


class OrderPolicyResource(dg.ConfigurableResource):
    """When channel orders wait, are retried or picked up again (shared by the push and its sensor)."""

    unknown_sku_wait_seconds: float = Field(
        default=3600.0,
        description="How long an order with an unknown SKU waits for a catalog sync before it is quarantined.",
    )
    retry_delay_seconds: float = Field(default=60.0, description="Delay before a failed push is tried again.")
    stale_after_seconds: float = Field(
        default=300.0, description="Work left untouched this long (a crashed run) is picked up again."
    )

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.unknown_sku_wait_seconds, self.retry_delay_seconds, self.stale_after_seconds)


class ChannelConfigResource(dg.ConfigurableResource):
    """The channels a merchant sells on: the YAML channel file (docs/channels.md); feeds under the data
    folder. `channels_file` None: the packaged two-channel demo file."""

    storage: dg.ResourceDependency[StorageResource]
    channels_file: str | None = None

    @property
    def path(self) -> Path:
        return channels_file_path(Path(self.channels_file) if self.channels_file else None)

    def load(self) -> list[ChannelConfig]:
        return load_channels(self.path)

    @property
    def feeds_path(self) -> Path:
        return self.storage.path / "feeds"


class GeckoApiResource(dg.ConfigurableResource):
    """The TradeGecko / QuickBooks Commerce API (or the bundled sandbox): a paced, retrying client.

    A privileged `access_token`, or OAuth (`refresh_token` with `client_id` and `client_secret`); rotated
    refresh tokens are kept under the data folder. Secrets are EnvVars (GECKO_ACCESS_TOKEN, ...)."""

    storage: dg.ResourceDependency[StorageResource]
    api_url: str = Field(description="The API's base URL (GECKO_API_URL).")
    access_token: str | None = Field(default=None, description="GECKO_ACCESS_TOKEN (an EnvVar).")
    client_id: str | None = Field(default=None, description="The OAuth application's id (GECKO_CLIENT_ID).")
    client_secret: str | None = Field(default=None, description="GECKO_CLIENT_SECRET (an EnvVar).")
    refresh_token: str | None = Field(default=None, description="GECKO_REFRESH_TOKEN (an EnvVar).")
    max_concurrency: int = Field(
        default=4, description="Pages fetched in parallel (they share one rate limit)."
    )
    timeout_seconds: float = Field(default=30.0, description="Read timeout of one request, in seconds.")
    max_retries: int = Field(
        default=6, description="Retries of a safe request after a 5xx, timeout or dropped connection."
    )
    page_size: int = Field(
        default=MAX_PAGE_SIZE, description="Records per page (the API allows at most 250)."
    )
    max_rate_limit_wait_seconds: float = Field(
        default=DEFAULT_MAX_RATE_LIMIT_WAIT,
        description="Longest a request waits for rate-limit budget before failing with RateLimitWaitTimeout "
        "(default: one 300 s window plus two request timeouts).",
    )

    def build_client(self, **overrides: Any) -> GeckoClient:
        """A new client; the caller closes it (prefer `get_client()`)."""
        kwargs: dict[str, Any] = {
            "token": self.access_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "token_store_path": self.storage.path / "oauth_token.json",
            # Every client shares one pacer per API and credential, seeded from the last process's view.
            "rate_limit_state_path": self.storage.path / STATE_FILE_NAME,
            "max_rate_limit_wait_seconds": self.max_rate_limit_wait_seconds,
            "max_concurrency": self.max_concurrency,
            "timeout": self.timeout_seconds,
            "max_retries": self.max_retries,
            "page_size": self.page_size,
            **overrides,
        }
        return GeckoClient(self.api_url, **kwargs)

    @contextmanager
    def get_client(self) -> Iterator[GeckoClient]:
        """A configured client for the duration of the block, closed afterwards."""
        client = self.build_client()
        try:
            yield client
        finally:
            client.close()


def _secret(settings: Settings, name: str) -> str | None:
    """An EnvVar naming the secret's variable when the environment set it, else its (demo) value."""
    if name in settings.secrets_from_env:
        return dg.EnvVar(SECRET_VARIABLES[name])
    return getattr(settings, name)


def build_resources(settings: Settings, **api_knobs: Any) -> dict[str, Any]:
    """Every resource of the code location, from one Settings (`api_knobs`: GeckoApiResource's
    non-secret fields, e.g. page_size)."""
    storage = StorageResource(data_dir=str(settings.data_dir))
    return {
        "storage": storage,
        "warehouse": WarehouseResource(
            storage=storage, publish_min_interval_seconds=settings.publish_min_interval_seconds
        ),
        "order_policy": OrderPolicyResource(
            unknown_sku_wait_seconds=settings.orders_unknown_sku_wait_seconds,
            retry_delay_seconds=settings.orders_retry_delay_seconds,
            stale_after_seconds=settings.orders_stale_after_seconds,
        ),
        "ops_store": OpsStoreResource(storage=storage),
        "channel_config": ChannelConfigResource(
            storage=storage,
            channels_file=str(settings.channels_file) if settings.channels_file else None,
        ),
        "gecko_api": GeckoApiResource(
            storage=storage,
            api_url=settings.api_url,
            access_token=_secret(settings, "access_token"),
            client_id=settings.client_id,
            client_secret=_secret(settings, "client_secret"),
            refresh_token=_secret(settings, "refresh_token"),
            **api_knobs,
        ),
        # The shops of `kind: shopify` channels; each token is read by the name the channel file gives.
        # The stores' clients; their tokens come from the variables the channel file names, read with
        # the settings (held by this object, never shown in run config or the UI).
        "shopify_shops": ShopifyShops.from_settings(settings),
    }


@dg.definitions
def resources() -> dg.Definitions:
    # The environment is read when the code location loads, never at import.
    return dg.Definitions(
        resources=build_resources(load_settings()),
        # A multiprocess step costs ~3 s of start-up on 2 cores, and DuckDB takes one writer per file:
        # Dagster's in-process executor, plus freeing the pool slots of runs whose worker died
        # (defs/runs.py) and a bounded, sleeping wait for a slot (defs/executor.py).
        executor=recovering_in_process_executor,
    )
