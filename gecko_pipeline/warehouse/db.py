"""Connections to the warehouse file: short-lived, one writing process at a time (design.md section 3)."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Files written by DuckDB 2.x cannot be opened by DuckDB 1.x unless they are written in an older storage
# format. The warehouse is created in the v1.1.0 format so that the published copy (a byte copy of it)
# opens in DuckDB >= 1.1 as well as in 2.x. It only applies when a file is created.
STORAGE_COMPATIBILITY_VERSION = "v1.1.0"


def connect(
    path: str | Path, read_only: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file at `path` (creating its folder); close it soon: the file allows one writer.

    `memory_limit` (e.g. "1GB") caps DuckDB's buffer pool; beyond it DuckDB evicts cached blocks and
    spills, so a sync's memory stays bounded however large the account grows. None: DuckDB's default
    (80% of RAM)."""
    path = Path(path)
    config: dict[str, str | bool | int | float | list[str]] = (
        {"memory_limit": memory_limit} if memory_limit else {}
    )
    if read_only:
        return duckdb.connect(str(path), read_only=True, config=config)
    path.parent.mkdir(parents=True, exist_ok=True)
    config["storage_compatibility_version"] = STORAGE_COMPATIBILITY_VERSION
    return duckdb.connect(str(path), config=config)
