"""Configuration: the one place the environment is read (shared/design.md section 10).

`load_settings()` reads every variable once into a frozen `Settings`; everything else (the Dagster
resources, the gateway, the CLI, the demo) is built from a `Settings`, never from `os.environ`.
`build_resources(settings)` makes the Dagster resources from it: the data folder is one
`StorageResource` that the warehouse, ops store, channel and API resources take, and each secret is a
`dg.EnvVar` naming its variable, so no secret value reaches run config, the UI or logs.

Every file the pipeline writes lives under GECKO_DATA_DIR.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

# The embedded sandbox: what a fresh clone talks to when no real account is configured.
SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765
SANDBOX_URL = f"http://{SANDBOX_HOST}:{SANDBOX_PORT}"
SANDBOX_TOKEN = "sandbox-token"
SANDBOX_APP_SECRET = "sandbox-app-secret"
GATEWAY_PORT = 8766  # webhook receiver + order intake

# Secret settings and the variable each one is read from.
SECRET_VARIABLES = {
    "access_token": "GECKO_ACCESS_TOKEN",
    "client_secret": "GECKO_CLIENT_SECRET",
    "refresh_token": "GECKO_REFRESH_TOKEN",
}
SECRET_FIELDS = tuple(SECRET_VARIABLES)


def _clean(value: str | None) -> str | None:
    # The API ignores blank parameters; so do we for blank variables.
    return value if value not in (None, "") else None


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with its default. Secrets never show in `repr`."""

    api_url: str = SANDBOX_URL
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    data_dir: Path = Path("data")
    channels_file: Path | None = None
    # Schedules (cron, UTC).
    sync_cron: str = "*/15 * * * *"
    full_refresh_cron: str = "0 3 * * *"
    # Webhooks: the sensor's interval, the receiver's limits.
    webhook_sensor_interval_seconds: int = 5
    webhook_max_body_bytes: int = 65_536
    # Deliveries older than this are stale replays (the API retries for 3 days).
    webhook_tolerance_seconds: int = 4 * 86_400
    # Channel orders: how long an unknown SKU waits, the retry delay, when a crashed run's work is stale.
    orders_unknown_sku_wait_seconds: float = 3600.0
    orders_retry_delay_seconds: float = 60.0
    orders_stale_after_seconds: float = 300.0
    # published.duckdb is refreshed after order pushes and webhook refreshes at most this often.
    publish_min_interval_seconds: float = 60.0
    # Secrets read from variables that only the channel file names (order intake secrets, store tokens),
    # by name; `named_secrets_from_env`: they are the environment's (resources then name, never hold, them).
    named_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    named_secrets_from_env: bool = False
    # Which secret fields came from the environment (their variables back the resources' EnvVars).
    secrets_from_env: frozenset[str] = frozenset()
    # Dagster's instance folder (DAGSTER_HOME), by default under the data folder.
    dagster_home: Path | None = None

    @property
    def uses_sandbox(self) -> bool:
        return self.api_url.rstrip("/") == SANDBOX_URL

    @property
    def dagster_home_path(self) -> Path:
        return self.dagster_home or self.data_dir / "dagster_home"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        return self.data_dir / "published.duckdb"

    @property
    def ops_path(self) -> Path:
        return self.data_dir / "ops.sqlite"

    @property
    def feeds_dir(self) -> Path:
        return self.data_dir / "feeds"

    @property
    def token_store_path(self) -> Path:
        # Refreshing an OAuth token rotates the refresh token: the new one is kept here.
        return self.data_dir / "oauth_token.json"

    @property
    def webhook_secret(self) -> str | None:
        return self.client_secret

    def secret(self, variable: str | None) -> str | None:
        """The value of a secret variable a channel names (e.g. its order_secret_env), if set."""
        return self.named_secrets.get(variable) if variable else None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = _clean(env.get(name))
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or `env`): the only function that reads it."""
    env = os.environ if env is None else env
    api_url = (_clean(env.get("GECKO_API_URL")) or SANDBOX_URL).rstrip("/")
    secrets = {name: _clean(env.get(variable)) for name, variable in SECRET_VARIABLES.items()}
    from_env = frozenset(name for name, value in secrets.items() if value is not None)
    if api_url == SANDBOX_URL:
        # The embedded sandbox's well-known demo credentials; never used for a real account.
        secrets["access_token"] = secrets["access_token"] or SANDBOX_TOKEN
        secrets["client_secret"] = secrets["client_secret"] or SANDBOX_APP_SECRET
    channels = _clean(env.get("GECKO_CHANNELS_FILE"))
    defaults = Settings()
    return Settings(
        api_url=api_url,
        client_id=_clean(env.get("GECKO_CLIENT_ID")),
        data_dir=Path(_clean(env.get("GECKO_DATA_DIR")) or "data"),
        channels_file=Path(channels) if channels else None,
        sync_cron=_clean(env.get("GECKO_SYNC_CRON")) or defaults.sync_cron,
        full_refresh_cron=_clean(env.get("GECKO_FULL_REFRESH_CRON")) or defaults.full_refresh_cron,
        webhook_sensor_interval_seconds=int(
            _number(env, "GECKO_WEBHOOK_SENSOR_INTERVAL", defaults.webhook_sensor_interval_seconds)
        ),
        webhook_max_body_bytes=int(
            _number(env, "GECKO_WEBHOOK_MAX_BODY_BYTES", defaults.webhook_max_body_bytes)
        ),
        webhook_tolerance_seconds=int(
            _number(env, "GECKO_WEBHOOK_TOLERANCE_SECONDS", defaults.webhook_tolerance_seconds)
        ),
        orders_unknown_sku_wait_seconds=_number(
            env, "GECKO_ORDERS_UNKNOWN_SKU_WAIT_SECONDS", defaults.orders_unknown_sku_wait_seconds
        ),
        orders_retry_delay_seconds=_number(
            env, "GECKO_ORDERS_RETRY_DELAY_SECONDS", defaults.orders_retry_delay_seconds
        ),
        orders_stale_after_seconds=_number(
            env, "GECKO_ORDERS_STALE_AFTER_SECONDS", defaults.orders_stale_after_seconds
        ),
        publish_min_interval_seconds=_number(
            env, "GECKO_PUBLISH_MIN_INTERVAL_SECONDS", defaults.publish_min_interval_seconds
        ),
        # Any variable may hold a channel's secret (the channel file names it); keep them all, read-only.
        named_secrets=MappingProxyType({k: v for k, v in env.items() if v}),
        named_secrets_from_env=True,
        secrets_from_env=from_env,
        dagster_home=Path(home) if (home := _clean(env.get("DAGSTER_HOME"))) else None,
        **secrets,
    )


def export(extra: Mapping[str, str]) -> Settings:
    """Sets `extra` variables in this process's environment (a tool embedding a sandbox does, as a user
    would export them) and returns the settings that follow."""
    os.environ.update(extra)
    return load_settings()


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a child process of ours starts with: ours, plus `extra`."""
    return {**os.environ, **(extra or {})}
