"""The event log with open connections (gecko_pipeline/defs/event_log.py) is Dagster's SQLite event log
in all a user can see: the instance the repo's dagster.yaml makes uses it, another process's events reach
a watcher (the UI's live run logs) while they are written, and Dagster's own storage reads its files."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from gecko_pipeline.defs.event_log import PooledSqliteEventLogStorage

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 20.0


def _entry(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level=logging.INFO,
        user_message=message,
        run_id=run_id,
        timestamp=time.time(),
    )


# A writer in its own process, as a run worker is: stores one event per line it reads on stdin.
WRITER = """
import logging, sys, time
from dagster._core.events.log import EventLogEntry
from gecko_pipeline.defs.event_log import PooledSqliteEventLogStorage
storage = PooledSqliteEventLogStorage(sys.argv[1])
run_id = sys.argv[2]
for line in sys.stdin:
    storage.store_event(EventLogEntry(error_info=None, level=logging.INFO, user_message=line.strip(),
                                      run_id=run_id, timestamp=time.time()))
    print("stored", flush=True)
"""


def test_the_repos_instance_uses_it_where_dagster_keeps_run_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the instance's folder is enough
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        run_id = str(uuid.uuid4())
        storage.store_event(_entry(run_id, "hello ünïcode"))
        assert [r.user_message for r in instance.all_logs(run_id)] == ["hello ünïcode"]
    assert (home / "history" / "runs" / f"{run_id}.db").exists()  # Dagster's own place for it


def test_a_watcher_sees_each_event_another_process_writes(tmp_path: Path) -> None:
    """The UI follows a run by watching its database file: every event must show up, not only the first."""
    base = str(tmp_path / "runs")
    run_id = str(uuid.uuid4())
    watcher = PooledSqliteEventLogStorage(base)
    seen: list[str] = []
    arrived = threading.Condition()

    def on_event(entry: EventLogEntry, cursor: str) -> None:
        with arrived:
            seen.append(entry.user_message)
            arrived.notify_all()

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, base, run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert writer.stdin and writer.stdout
    try:
        watcher.watch(run_id, None, on_event)
        for n in range(1, 5):
            writer.stdin.write(f"event {n}\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "stored"
            with arrived:
                got = arrived.wait_for(lambda n=n: len(seen) >= n, timeout=WAIT_S)
            assert got, f"event {n} was stored but the watcher did not see it within {WAIT_S} s: {seen}"
        assert seen == ["event 1", "event 2", "event 3", "event 4"]
    finally:
        writer.stdin.close()
        writer.wait(timeout=WAIT_S)
        watcher.end_watch(run_id, on_event)
        watcher.dispose()


def test_dagsters_own_storage_reads_its_files_and_wipe_removes_them(tmp_path: Path) -> None:
    base = str(tmp_path / "runs")
    pooled = PooledSqliteEventLogStorage(base)
    run_ids = [str(uuid.uuid4()) for _ in range(12)]  # more runs than it keeps open
    for run_id in run_ids:
        for n in range(3):
            pooled.store_event(_entry(run_id, f"{run_id[:8]} {n}"))
    stock = SqliteEventLogStorage(base)
    for run_id in run_ids:
        assert [r.event_log_entry.user_message for r in stock.get_records_for_run(run_id).records] == [
            f"{run_id[:8]} {n}" for n in range(3)
        ]
    stock.store_event(_entry(run_ids[0], "from dagster's storage"))
    assert pooled.get_records_for_run(run_ids[0]).records[-1].event_log_entry.user_message == (
        "from dagster's storage"
    )
    pooled.wipe()
    assert not list(Path(base).glob("*-*-*.db*"))  # the run databases are gone, open connections too
    pooled.store_event(_entry(run_ids[1], "after the wipe"))
    assert [r.event_log_entry.user_message for r in stock.get_records_for_run(run_ids[1]).records] == [
        "after the wipe"
    ]
    pooled.dispose()
    stock.dispose()
