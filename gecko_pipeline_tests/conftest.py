"""Shared fixtures: a real sandbox over HTTP on 127.0.0.1 (ephemeral ports), data folders, settings."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gecko_sandbox.config import FaultConfig, SandboxConfig
from gecko_sandbox.server import SandboxHandle, run_sandbox

from gecko_pipeline.config import Settings

pytest_plugins = ["gecko_pipeline_tests.shopify_fixtures"]

SandboxFactory = Callable[..., SandboxHandle]


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """`sandbox_factory(**SandboxConfig fields)` starts a sandbox (faults may be a dict); all stop at teardown."""
    handles: list[SandboxHandle] = []

    def start(**fields: Any) -> SandboxHandle:
        # Each sandbox signs its webhooks with its own app secret, as each real app has its own. With the
        # shared default, a delivery that another sandbox on this machine (another test, another engineer's
        # run) still retries to a gateway port that one of ours now holds is validly signed and gets stored
        # among our events; with a secret of its own it is refused with 401.
        fields.setdefault("app_secret", secrets.token_urlsafe(16))
        faults = fields.pop("faults", None)
        if isinstance(faults, dict):
            faults = FaultConfig(**faults)
        config = SandboxConfig(**fields) if faults is None else SandboxConfig(faults=faults, **fields)
        handle = run_sandbox(config)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> SandboxHandle:
    """A small sandbox (40 variants) with the rate limit effectively off."""
    return sandbox_factory(
        scale=40, rate_limit_quota=100_000, webhook_retry_base_delay=0.05, webhook_max_attempts=3
    )


@pytest.fixture
def api(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    """An HTTP client of the `sandbox` fixture's API (whichever `sandbox` the test module provides), with its token."""
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.token}"}) as client:
        yield client


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def settings_for() -> Callable[[SandboxHandle, Path], Settings]:
    """`settings_for(handle, data_dir)`: Settings pointing at that sandbox (token, app secret) and folder."""

    def build(handle: SandboxHandle, data_dir: Path) -> Settings:
        return Settings(
            api_url=handle.url,
            access_token=handle.token,
            client_id=handle.config.oauth_client_id,
            client_secret=handle.app_secret,
            refresh_token=handle.config.oauth_refresh_token,
            data_dir=data_dir,
        )

    return build


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules marked `slow(seconds)` first, longest first (collection order otherwise): `make test` hands
    whole modules to its workers in this order, so the long ones (a browser, real SIGKILLs, store-sized
    imports) start at once instead of running alone at the end. The seconds are a rough hint, measured
    on one core, not a limit."""

    def hint(item: pytest.Item) -> float:
        slow = item.get_closest_marker("slow")
        return -float(slow.args[0]) if slow and slow.args else 0.0

    items.sort(key=hint)
