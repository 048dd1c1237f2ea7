"""What keeps a sync's memory bounded, and its run log short, against the real sandbox and DuckDB files.

The figures (peak RSS at 10k-100k variants, seconds) are bench/bench_extract.py's; these tests hold the
mechanisms: small row groups on every connection, no staging left behind, pages fetched ahead bounded
by bytes, a run log without a line per page.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dagster as dg
from harness import sandbox_resources
from sandbox_control import control

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.defs.extract import SYNC_MODE_TAG, extract
from gecko_pipeline.warehouse.db import ROW_GROUP_SIZE, connect
from gecko_pipeline.warehouse.sync import sync_all


def _row_group_sizes(con: Any, table: str) -> list[int]:
    rows = con.execute(
        "SELECT row_group_id, max(count) FROM pragma_storage_info(?) GROUP BY 1 ORDER BY 1", [table]
    ).fetchall()
    return [int(count) for _, count in rows]


def test_row_groups_stay_small_on_every_connection(tmp_path: Path) -> None:
    # A checkpoint rewrites a table's last row group whole: its size bounds a sync's memory. DuckDB does
    # not keep the size in the file, so a later connection must ask for it again or its checkpoint
    # merges the small row groups back into big ones.
    path = tmp_path / "warehouse.duckdb"
    total = 3 * ROW_GROUP_SIZE + 100
    with connect(path) as con:
        con.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, raw VARCHAR)")
        con.execute("INSERT INTO t SELECT i, repeat('x', 40) FROM range(?) r(i)", [total // 2])
    with connect(path) as con:
        con.execute("INSERT INTO t SELECT i, 'y' FROM range(?, ?) r(i)", [total // 2, total])
        con.execute("CHECKPOINT")
        sizes = _row_group_sizes(con, "t")
    assert sum(sizes) == total
    assert max(sizes) <= ROW_GROUP_SIZE and len(sizes) >= 4, sizes
    with connect(path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (total,)


def test_a_sync_leaves_no_staging_behind(sandbox: Any, tmp_path: Path) -> None:
    with (
        GeckoClient(sandbox.url, token=sandbox.token, page_size=10) as client,
        connect(tmp_path / "w.duckdb") as con,
    ):
        sync_all(client, con, full=True)
        left = {
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
        }
        assert con.execute("SELECT count(*) FROM variants").fetchone()[0] > 0
    # Only the ids a full sync must remember (to find what vanished) stay, not a batch's staged records.
    assert all(name.startswith("_seen_") for name in left), left


def test_pages_fetched_ahead_are_bounded_by_bytes(sandbox: Any) -> None:
    control(sandbox, "POST", "stats/reset")
    with GeckoClient(
        sandbox.url, token=sandbox.token, page_size=2, max_concurrency=4, prefetch_bytes=1
    ) as client:
        pages = client.iter_pages("/variants")
        first, second = next(pages), next(pages)
        time.sleep(0.5)  # the workers would fetch up to 2 x 4 pages ahead by count alone
        fetched = control(sandbox, "GET", "stats")["requests"]
        pages.close()
    assert first.total_pages > 10
    # Page 1, page 2, and one page ahead (always one, so the workers never all stop).
    assert fetched <= 3 + 1, fetched
    assert second.page == 2


def test_the_extract_logs_a_summary_not_a_line_per_page(sandbox: Any, data_dir: Path) -> None:
    resources = sandbox_resources(sandbox, data_dir, page_size=5)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [extract], resources=resources, tags={SYNC_MODE_TAG: "full"}, instance=instance
        )
        assert result.success
        messages = [e.user_message for e in instance.all_logs(result.run_id) if not e.is_dagster_event]
    pages = sum(m.count("page") for m in messages)
    summary = [m for m in messages if m.startswith("synced ")]
    # A dozen lists of several pages each: a line per batch would be dozens of events in the run log.
    assert len(summary) == 1 and "requests" in summary[0], messages
    assert pages <= 2, messages
