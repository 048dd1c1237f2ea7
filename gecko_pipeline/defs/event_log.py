"""Dagster's SQLite event log, with its database connections kept open.

Dagster's `SqliteEventLogStorage` makes a new SQLAlchemy engine and a new SQLite connection for every
read and write of the event log, and closes it straight after: each of a run's events (268 in a sync
run) pays for the engine, a cold statement cache, the connect, and on close a WAL checkpoint with its
fsync, five or six times over. Measured here, that was ~10-20 ms an event and most of what a sync run
costs beyond its work (`python -m bench extract`).

`PooledSqliteEventLogStorage` is the same storage (same files, same schema, same behaviour: a folder
written by one opens with the other) that keeps one engine and one open connection per database, for
the index and the most recently used run databases. What it keeps of the default:
  - durability: SQLite's settings are Dagster's (WAL journal, synchronous FULL);
  - the UI's live run logs: the webserver follows a run by watching its `<run_id>.db` file change, so
    after each use of a run's database the connection checkpoints its WAL into that file (a passive
    checkpoint, as closing the connection did);
  - several processes (webserver, daemon, run workers) on one folder: SQLite's locking, as before.
Configured in dagster.yaml (`event_log_storage`); a deployment on Postgres does not use it. Built on
the parent's private `_connect`, checked against dagster 1.13.27 (the version pyproject pins);
test_event_log.py runs it through an instance, a watcher in another process and Dagster's own storage.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._config import Field, StringSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.instance import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

INDEX_SHARD = "index"  # Dagster's cross-run database (INDEX_SHARD_NAME)
# Run databases kept open besides the index: a run writes to one; the webserver reads a few at a time.
OPEN_RUN_DATABASES = 8


def _forget_all_engines() -> None:
    for storage in list(_LIVE):
        storage._forget_engines()


# A forked child must not share its parent's SQLite connections: it drops them and opens its own.
_LIVE: weakref.WeakSet[PooledSqliteEventLogStorage] = weakref.WeakSet()
os.register_at_fork(after_in_child=_forget_all_engines)


def runs_directory(instance_root: str) -> str:
    """Where Dagster's default instance keeps run event logs: <instance folder>/history/runs/."""
    return os.path.join(os.path.abspath(instance_root), "history", "runs", "")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one open connection per database (see the module's doc). Without a
    `base_dir`, it opens once the instance it belongs to says where it lives (`register_instance`)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None) -> None:
        # Set before the parent's __init__, which may already connect (to build the index).
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._pending_inst_data = inst_data
        if base_dir is not None:
            super().__init__(base_dir, inst_data)
        _LIVE.add(self)

    def register_instance(self, instance: DagsterInstance) -> None:
        if not hasattr(self, "_base_dir"):  # no base_dir configured: the instance's own place for it
            SqliteEventLogStorage.__init__(
                self, runs_directory(instance.root_directory), self._pending_inst_data
            )
        super().register_instance(instance)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=2,
                # Used by one thread at a time: the storage's own lock is held around every use.
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            self._engines[shard] = engine
            runs = [s for s in self._engines if s != INDEX_SHARD]
            for old in runs[: max(len(runs) - OPEN_RUN_DATABASES, 0)]:
                self._engines.pop(old).dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                sqlite = conn.connection.dbapi_connection
                changes = sqlite.total_changes if sqlite is not None else None
                with conn.begin():
                    yield conn
                wrote = sqlite is None or sqlite.total_changes != changes
                if wrote and shard != INDEX_SHARD:  # the run's .db file changes: the UI's watcher sees it
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _forget_engines(self) -> None:
        self._engines_lock = threading.Lock()
        for engine in self._engines.values():
            engine.dispose(close=False)
        self._engines = OrderedDict()

    def close_connections(self) -> None:
        """Closes every open connection (they reopen on the next use)."""
        with self._engines_lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.dispose()

    def wipe(self) -> None:
        self.close_connections()  # the run databases are deleted: no connection may outlive them
        super().wipe()

    def dispose(self) -> None:
        self.close_connections()
        if hasattr(self, "_base_dir"):  # opened (see register_instance)
            super().dispose()
