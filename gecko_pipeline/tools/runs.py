"""Run configuration for jobs launched from the command line (demo, benchmarks)."""

from __future__ import annotations

from typing import Any

# The assets' progress lines ("page k of n") on the console, without Dagster's per-step DEBUG events.
# The UI's event log keeps everything.
CONSOLE_INFO_RUN_CONFIG: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# Benchmarks print their own figures: only warnings from the runs they time.
CONSOLE_QUIET_RUN_CONFIG: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
