"""A data folder written by an earlier release keeps working: the pipeline opens it, adds what its tables
lack and carries on, losing nothing.

The fixture `fixtures/main_97476ac/` is what `make run` of main at 97476ac (the release before the
layout change) left behind, at 40 variants: the warehouse as DuckDB's EXPORT DATABASE (schema and CSV,
so it does not depend on DuckDB's file format), ops.sqlite as SQL, and the feed files. Made with:
`git worktree add /tmp/old 97476ac && PYTHONPATH=/tmp/old GECKO_DATA_DIR=/tmp/d python -m
gecko_pipeline.cli demo --scale 40`, then EXPORT DATABASE and sqlite3's iterdump.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from harness import pipeline, sandbox_resources

from gecko_pipeline.orders import ledger

FIXTURE = Path(__file__).parent / "fixtures" / "main_97476ac"
COLUMNS = (
    "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main'"
)


def old_data_folder(target: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data folder as the old release left it."""
    target.mkdir()
    shutil.copytree(FIXTURE / "feeds", target / "feeds")
    with sqlite3.connect(target / "ops.sqlite") as ops:
        ops.executescript((FIXTURE / "ops.sql").read_text())
    ops.close()
    # EXPORT DATABASE names its files relative to where it ran ('export/...').
    shutil.copytree(FIXTURE / "warehouse", target.parent / "export")
    monkeypatch.chdir(target.parent)
    with duckdb.connect(str(target / "warehouse.duckdb")) as con:
        con.execute("IMPORT DATABASE 'export'")
    return target


def columns(path: Path) -> set[tuple[str, str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return set(con.execute(COLUMNS).fetchall())


def count(path: Path, sql: str) -> Any:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def run(defs: dg.Definitions, job: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def test_a_data_folder_of_the_previous_release_is_upgraded_in_place(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = old_data_folder(tmp_path / "old", monkeypatch)
    before = columns(old / "warehouse.duckdb")
    old_ledger = count(old / "warehouse.duckdb", "SELECT count(*) FROM channel_order_sync")
    with sqlite3.connect(old / "ops.sqlite") as ops:
        old_states = dict(ops.execute("SELECT channel_order_id, state FROM order_ledger").fetchall())
    ops.close()
    assert old_ledger == len(old_states) > 10

    upgraded = run(pipeline(sandbox_resources(sandbox, old)), "incremental_sync_job")
    fresh_dir = tmp_path / "fresh"
    fresh = run(pipeline(sandbox_resources(sandbox, fresh_dir)), "incremental_sync_job")
    assert upgraded.success and fresh.success
    # Every check the sync evaluates passes on the upgraded folder as on a new one (feeds included).
    failed = [e.check_name for e in upgraded.get_asset_check_evaluations() if not e.passed]
    assert failed == [e.check_name for e in fresh.get_asset_check_evaluations() if not e.passed]

    # The old warehouse now has every column a new one has, with the same types; nothing it had is gone.
    after = columns(old / "warehouse.duckdb")
    assert columns(fresh_dir / "warehouse.duckdb") <= after
    assert {(t, c) for t, c, _ in before} <= {(t, c) for t, c, _ in after}
    # The columns added for this release are filled in by the sync.
    assert count(old / "warehouse.duckdb", "SELECT count(*) FROM price_lists WHERE _origin IS NULL") == 0
    assert count(old / "warehouse.duckdb", "SELECT count(*) FROM sync_state WHERE mode IS NULL") == 0

    # The order ledger of the old release is read by this one: every order still there, in its state.
    push = run(pipeline(sandbox_resources(sandbox, old)), "order_push_job")
    assert push.success
    ops = sqlite3.connect(old / "ops.sqlite")
    try:
        rows = {row.channel_order_id: row for row in ledger.all_rows(ops)}
    finally:
        ops.close()
    assert set(rows) == set(old_states)
    done = {key for key, state in old_states.items() if state == "done"}
    assert done and all(rows[key].state == "done" and rows[key].order_id for key in done)
    assert count(old / "warehouse.duckdb", "SELECT count(*) FROM channel_order_sync") == old_ledger
