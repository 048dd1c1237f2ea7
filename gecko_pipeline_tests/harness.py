"""How tests configure the pipeline: the same `Settings` -> resources path as a deployment, pointed at a
test sandbox and a test data folder (no environment variables needed), and the whole code location
with the environment a deployment would have."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from gecko_pipeline.config import Settings
from gecko_pipeline.defs.resources import build_resources


def sandbox_settings(
    handle: Any, data_dir: Path, channels_file: Path | None = None, **fields: Any
) -> Settings:
    """Settings for a test sandbox (its URL, token and app secret) and data folder."""
    return Settings(
        api_url=handle.url,
        access_token=handle.token,
        client_secret=handle.app_secret,
        data_dir=data_dir,
        channels_file=channels_file,
        **fields,
    )


def sandbox_resources(
    handle: Any, data_dir: Path, channels_file: Path | None = None, **api_knobs: Any
) -> dict[str, Any]:
    """Every resource of the code location, for a test sandbox and data folder."""
    return build_resources(sandbox_settings(handle, data_dir, channels_file), **api_knobs)


def sandbox_environment(
    monkeypatch: pytest.MonkeyPatch, handle: Any, data_dir: Path, channels_file: Path | None = None
) -> None:
    """The environment a deployment against this sandbox has (for tests of the whole code location)."""
    monkeypatch.setenv("GECKO_API_URL", handle.url)
    monkeypatch.setenv("GECKO_ACCESS_TOKEN", handle.token)
    monkeypatch.setenv("GECKO_CLIENT_SECRET", handle.app_secret)
    monkeypatch.setenv("GECKO_DATA_DIR", str(data_dir))
    if channels_file is not None:
        monkeypatch.setenv("GECKO_CHANNELS_FILE", str(channels_file))


def code_location() -> dg.Definitions:
    """The whole Definitions, loaded as the deployment loads it (from the current environment)."""
    from gecko_pipeline.definitions import build_definitions  # noqa: PLC0415 - reads the environment

    return build_definitions()


@functools.cache
def _template() -> dg.Definitions:
    return code_location()


def pipeline(resources: dict[str, Any]) -> dg.Definitions:
    """The whole code location (every asset, check, job, sensor, schedule) with these resources."""
    from gecko_pipeline.definitions import definitions_with  # noqa: PLC0415

    return definitions_with(resources, _template())
