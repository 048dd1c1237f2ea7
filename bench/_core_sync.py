"""The core sync, alone in a fresh process (no Dagster imported): one full `sync_all` into a new file.

`python -m bench._core_sync URL PATH` prints its figures as JSON: seconds, peak RSS (this process's own
VmHWM), rows, requests per list and the pages a full sync must request. bench_extract.py runs it.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import duckdb

from bench._sandbox import TOKEN
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.warehouse.catalog import RESOURCE_LIST, TABLE_LIST, TABLES
from gecko_pipeline.warehouse.counts import table_row_counts
from gecko_pipeline.warehouse.db import SYNC_MEMORY_LIMIT, connect
from gecko_pipeline.warehouse.schema import TableSpec
from gecko_pipeline.warehouse.sync import sync_all

PAGE = 250


def _status_kb(field: str) -> int:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])


def child(url: str, path: str) -> None:
    """Run in a fresh process (no Dagster imported): one full sync; its figures as JSON on the last line."""
    with (
        GeckoClient(url, token=TOKEN, max_concurrency=4) as client,
        connect(path, memory_limit=SYNC_MEMORY_LIMIT) as con,
    ):
        before_mb = _status_kb("VmRSS") / 1024
        started = time.perf_counter()
        results = sync_all(client, con, full=True)
        seconds = time.perf_counter() - started
        figures = {
            "seconds": seconds,
            "before_mb": before_mb,
            "memory_limit": SYNC_MEMORY_LIMIT,
            "rows": _rows(con),
            "requests": {name: r.requests for name, r in results.items()},
            "minimum": minimum_pages(con, full=True),
        }
    figures["peak_rss_mb"] = _status_kb("VmHWM") / 1024  # closing checkpoints the file: after that
    print(json.dumps(figures))


def _rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return table_row_counts(con, [spec.name for spec in TABLE_LIST])


def minimum_pages(con: duckdb.DuckDBPyConnection, full: bool) -> dict[str, int]:
    """Per API resource, the pages a sync must request: per listing, ceil(records it holds / 250), at
    least one (an empty listing still answers one page). A full sync reads variants with their products."""
    pages: dict[str, int] = {}
    for resource in RESOURCE_LIST:
        if resource.single:
            pages[resource.name] = 1
            continue
        if full and resource.name == "variants":
            pages[resource.name] = 0
            continue
        spec = TABLES[resource.table]
        counts = [
            _listed(con, resource.table, spec, "status" in listing) for listing in resource.listings(full)
        ]
        pages[resource.name] = sum(max(1, math.ceil(n / PAGE)) for n in counts)
    return pages


def _listed(con: duckdb.DuckDBPyConnection, table: str, spec: TableSpec, hidden_listing: bool) -> int:
    """Records of `table` one listing holds: the hidden statuses, or every other one (the default)."""
    where = []
    if spec.hidden_statuses:
        where.append(("" if hidden_listing else "NOT ") + "list_contains(?, status)")
    if spec.has_origin:
        where.append("_origin = 'api'")  # not the rows the pipeline adds itself (built-in price lists)
    sql = f"SELECT count(*) FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608 - catalogue names
    params = [list(spec.hidden_statuses)] if spec.hidden_statuses else []
    (count,) = con.execute(sql, params).fetchone() or (0,)
    return int(count)


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
