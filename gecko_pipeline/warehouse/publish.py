"""The analysts' copy: published.duckdb, swapped in atomically after each successful sync.

DuckDB lets no other process open a file while it is open for writing, so analysts never read
warehouse.duckdb. After a CHECKPOINT (everything in the main file, nothing left in the WAL) the file is
copied next to the published one and moved over it with `os.replace`: a reader that has the old file
open keeps reading its snapshot; a new connection sees the new copy. The warehouse is written in the
storage format of `db.STORAGE_COMPATIBILITY_VERSION`, so the copy opens in DuckDB 1.1+ as well as 2.x.
Each publish returns the exact row count of every table as copied; `verify_published` compares a published
file with such counts (the published_warehouse asset check).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from gecko_pipeline.warehouse.counts import table_row_counts
from gecko_pipeline.warehouse.db import STORAGE_COMPATIBILITY_VERSION, connect


@dataclass(frozen=True)
class Published:
    """What one publish made: the file, its size, every table's exact rows as copied, how long it took."""

    published_path: Path
    bytes: int
    row_counts: dict[str, int]
    seconds: float
    storage_compatibility_version: str = STORAGE_COMPATIBILITY_VERSION

    @property
    def tables(self) -> int:
        return len(self.row_counts)

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())


def publish(warehouse_path: str | Path, published_path: str | Path) -> Published:
    """Checkpoint the warehouse and atomically replace `published_path` with a copy of it."""
    warehouse_path, published_path = Path(warehouse_path), Path(published_path)
    started = time.perf_counter()
    con = connect(warehouse_path)
    try:
        con.execute("CHECKPOINT")
        row_counts = table_row_counts(con)
        # Copy while our connection still holds the file: no other process can write it meanwhile.
        published_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".published-", suffix=".duckdb.tmp", dir=published_path.parent)
        os.close(fd)
        try:
            shutil.copyfile(warehouse_path, tmp_name)
            # mkstemp makes the file 0600; analysts (often another user) read it like the warehouse.
            os.chmod(tmp_name, stat.S_IMODE(warehouse_path.stat().st_mode))
            os.replace(tmp_name, published_path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    finally:
        con.close()
    return Published(
        published_path=published_path,
        bytes=published_path.stat().st_size,
        row_counts=row_counts,
        seconds=round(time.perf_counter() - started, 3),
    )


def verify_published(
    published_path: str | Path, expected: Mapping[str, int], required: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """What is wrong with the published file: it does not open read-only, a table is missing or extra, or a
    table's rows differ from `expected` (the counts at publish time); `required` tables must be there too.
    An empty list: the copy is whole."""
    try:
        con = connect(published_path, read_only=True)
    except duckdb.Error as error:
        return [{"table": None, "problem": f"{published_path} does not open read-only: {error}"}]
    try:
        found = table_row_counts(con)
    finally:
        con.close()
    problems: list[dict[str, Any]] = []
    for table in sorted(set(expected) | set(found) | set(required)):
        want, have = expected.get(table), found.get(table)
        if have is None:
            problems.append({"table": table, "problem": "missing", "expected_rows": want})
        elif want is None and table not in required:
            problems.append({"table": table, "problem": "not in the warehouse at publish time", "rows": have})
        elif want is not None and want != have:
            problems.append(
                {"table": table, "problem": "row count differs", "expected_rows": want, "rows": have}
            )
    return problems
