"""Configuration from the environment, in one place (shared/design.md section 10).

Every file the pipeline writes lives under GECKO_DATA_DIR. Secrets are read here and nowhere else,
and `Settings.__repr__` never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The embedded sandbox: what a fresh clone talks to when no real account is configured.
SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765
SANDBOX_URL = f"http://{SANDBOX_HOST}:{SANDBOX_PORT}"
SANDBOX_TOKEN = "sandbox-token"
SANDBOX_APP_SECRET = "sandbox-app-secret"
GATEWAY_PORT = 8766  # webhook receiver + order intake

SECRET_FIELDS = ("access_token", "client_secret", "refresh_token")


@dataclass(frozen=True)
class Settings:
    api_url: str = SANDBOX_URL
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    data_dir: Path = Path("data")
    channels_file: Path | None = None
    # published.duckdb is refreshed after order pushes and webhook refreshes at most this often.
    publish_min_interval_seconds: float = 60.0

    @property
    def uses_sandbox(self) -> bool:
        return self.api_url.rstrip("/") == SANDBOX_URL

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


def _clean(value: str | None) -> str | None:
    # The API ignores blank parameters; so do we for blank variables.
    return value if value not in (None, "") else None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    api_url = _clean(env.get("GECKO_API_URL")) or SANDBOX_URL
    access_token = _clean(env.get("GECKO_ACCESS_TOKEN"))
    client_secret = _clean(env.get("GECKO_CLIENT_SECRET"))
    if api_url.rstrip("/") == SANDBOX_URL:
        # The embedded sandbox's well-known demo credentials; never used for a real account.
        access_token = access_token or SANDBOX_TOKEN
        client_secret = client_secret or SANDBOX_APP_SECRET
    channels = _clean(env.get("GECKO_CHANNELS_FILE"))
    return Settings(
        api_url=api_url.rstrip("/"),
        access_token=access_token,
        client_id=_clean(env.get("GECKO_CLIENT_ID")),
        client_secret=client_secret,
        refresh_token=_clean(env.get("GECKO_REFRESH_TOKEN")),
        data_dir=Path(_clean(env.get("GECKO_DATA_DIR")) or "data"),
        channels_file=Path(channels) if channels else None,
        publish_min_interval_seconds=float(_clean(env.get("GECKO_PUBLISH_MIN_INTERVAL_SECONDS")) or 60.0),
    )
