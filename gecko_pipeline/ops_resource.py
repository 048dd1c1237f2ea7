"""The Dagster resource for ops.sqlite (inboxes, order ledger, quarantine, webhook events)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from gecko_pipeline import ops_db
from gecko_pipeline.settings import load_settings


class OpsStoreResource(dg.ConfigurableResource):
    """Where the operational SQLite store lives: `<data_dir>/ops.sqlite`."""

    data_dir: str | None = None

    @property
    def path(self) -> Path:
        base = Path(self.data_dir) if self.data_dir else load_settings().data_dir
        return base / "ops.sqlite"

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        con = ops_db.connect(self.path)
        try:
            yield con
        finally:
            con.close()
