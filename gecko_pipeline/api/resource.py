"""GeckoApiResource: the API client as a Dagster resource.

Only non-secret knobs are fields, so nothing secret shows in run config or the UI; the tokens and the
app secret are read from the environment (gecko_pipeline.settings) when a client is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.api.client import DEFAULT_MAX_RATE_LIMIT_WAIT, MAX_PAGE_SIZE, GeckoClient
from gecko_pipeline.settings import load_settings


class GeckoApiResource(dg.ConfigurableResource):
    """The TradeGecko / QuickBooks Commerce API (or the bundled sandbox): a paced, retrying client.

    Every client it builds shares one rate-limit pacer per API and credential (api/shared_pacing.py), so
    a step starts where the previous step left the window, and a new process where the last one did.

    Credentials come from GECKO_ACCESS_TOKEN, or GECKO_REFRESH_TOKEN with GECKO_CLIENT_ID and
    GECKO_CLIENT_SECRET (OAuth); rotated refresh tokens are kept under GECKO_DATA_DIR.
    """

    api_url: str | None = Field(default=None, description="API base URL; overrides GECKO_API_URL when set.")
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

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_concurrency": self.max_concurrency,
            "timeout": self.timeout_seconds,
            "max_retries": self.max_retries,
            "page_size": self.page_size,
            "max_rate_limit_wait_seconds": self.max_rate_limit_wait_seconds,
        }
        if self.api_url:
            kwargs["base_url"] = self.api_url
        return kwargs

    def build_client(self) -> GeckoClient:
        """A new client; the caller closes it (prefer `get_client()`)."""
        return GeckoClient.from_settings(load_settings(), **self.client_kwargs())

    @contextmanager
    def get_client(self) -> Iterator[GeckoClient]:
        """A configured client for the duration of the block, closed afterwards."""
        client = self.build_client()
        try:
            yield client
        finally:
            client.close()
