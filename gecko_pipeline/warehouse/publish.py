"""The analysts' copy: published.duckdb, swapped in atomically after each successful sync.

DuckDB lets no other process open a file while it is open for writing, so analysts never read
warehouse.duckdb. After a CHECKPOINT (everything in the main file, nothing left in the WAL) the file is
copied next to the published one and moved over it with `os.replace`: a reader that has the old file
open keeps reading its snapshot; a new connection sees the new copy. The warehouse is written in the
storage format of `db.STORAGE_COMPATIBILITY_VERSION`, so the copy opens in DuckDB 1.1+ as well as 2.x.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from gecko_pipeline.warehouse.db import STORAGE_COMPATIBILITY_VERSION, connect


def publish(warehouse_path: str | Path, published_path: str | Path) -> dict[str, object]:
    """Checkpoint the warehouse and atomically replace `published_path` with a copy of it."""
    warehouse_path, published_path = Path(warehouse_path), Path(published_path)
    started = time.perf_counter()
    con = connect(warehouse_path)
    try:
        con.execute("CHECKPOINT")
        tables = {
            name: count
            for name, count in con.execute(
                "SELECT table_name, estimated_size FROM duckdb_tables() WHERE database_name = current_database() "
                "ORDER BY table_name"
            ).fetchall()
        }
        # Copy while our connection still holds the file: no other process can write it meanwhile.
        published_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".published-", suffix=".duckdb.tmp", dir=published_path.parent)
        os.close(fd)
        try:
            shutil.copyfile(warehouse_path, tmp_name)
            os.replace(tmp_name, published_path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    finally:
        con.close()
    return {
        "published_path": str(published_path),
        "bytes": published_path.stat().st_size,
        "tables": len(tables),
        "rows_estimate": sum(int(n or 0) for n in tables.values()),
        "storage_compatibility_version": STORAGE_COMPATIBILITY_VERSION,
        "seconds": round(time.perf_counter() - started, 3),
    }
