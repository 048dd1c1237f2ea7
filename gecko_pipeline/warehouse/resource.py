"""WarehouseResource: where warehouse.duckdb and published.duckdb live, and short-lived connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from gecko_pipeline.settings import load_settings
from gecko_pipeline.warehouse.catalog import ensure_schema
from gecko_pipeline.warehouse.db import connect


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse that Dagster writes (one writer at a time: pool `duckdb_writer`), and the
    published copy analysts read."""

    data_dir: str | None = Field(
        default=None, description="Folder of warehouse.duckdb and published.duckdb; default GECKO_DATA_DIR."
    )
    memory_limit: str | None = Field(
        default="1GB",
        description="DuckDB memory_limit of the pipeline's connections: bounds a sync's memory (DuckDB evicts "
        "and spills beyond it). None: DuckDB's default, 80% of RAM.",
    )
    incremental_overlap_seconds: float = Field(
        default=60.0,
        description="An incremental sync asks for records updated since its cursor minus this much, so clock "
        "skew and records saved in the same instant as the cursor are not missed.",
    )

    @property
    def _dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else load_settings().data_dir

    @property
    def warehouse_path(self) -> Path:
        return self._dir / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        return self._dir / "published.duckdb"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to warehouse.duckdb with every table in place, closed when the block ends."""
        con = connect(self.warehouse_path, read_only=read_only, memory_limit=self.memory_limit)
        try:
            if not read_only:
                ensure_schema(con)
            yield con
        finally:
            con.close()
