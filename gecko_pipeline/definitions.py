"""The one Definitions of gecko_pipeline: everything under gecko_pipeline/defs, loaded by Dagster's
defs-folder loader (the project is described by `[tool.dg]` in pyproject.toml)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

# Dagster 1.13 re-creates sensors with `owners=[]` when it binds their jobs and then warns that the
# (unused) parameter is beta; we set no sensor owners, so the warning says nothing about our code.
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition", category=dg.BetaWarning
)


def build_definitions() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def definitions_with(resources: Mapping[str, Any], template: dg.Definitions | None = None) -> dg.Definitions:
    """The same code location with other resources (a tool's own Settings, a test's sandbox)."""
    base = template or build_definitions()
    return dg.Definitions(
        assets=base.assets,
        asset_checks=base.asset_checks,
        jobs=base.jobs,
        schedules=base.schedules,
        sensors=base.sensors,
        executor=base.executor,
        resources=resources,
    )


defs = build_definitions()
