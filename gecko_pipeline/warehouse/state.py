"""sync_state: each stream's updated_at cursor and its last run's figures.

The cursor is written by the caller inside the transaction that stores the rows it covers, so rows and
cursor are committed together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb


@dataclass(frozen=True)
class StreamState:
    resource: str
    cursor: datetime | None
    mode: str | None


def read_state(con: duckdb.DuckDBPyConnection, resource: str) -> StreamState:
    row = con.execute('SELECT "cursor", mode FROM sync_state WHERE resource = ?', [resource]).fetchone()
    return StreamState(resource, row[0], row[1]) if row else StreamState(resource, None, None)


def write_state(
    con: duckdb.DuckDBPyConnection,
    resource: str,
    *,
    cursor: datetime | None,
    mode: str,
    started_at: datetime,
    finished_at: datetime,
    requests: int,
    pages: int,
    inserted: int,
    updated: int,
    issues: int,
    problem: str | None = None,
) -> None:
    con.execute(
        """INSERT INTO sync_state (resource, "cursor", mode, last_started_at, last_finished_at, last_requests,
                                   last_pages, last_inserted, last_updated, last_issues, last_duration_s,
                                   last_problem)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (resource) DO UPDATE SET
             "cursor" = COALESCE(EXCLUDED."cursor", sync_state."cursor"), mode = EXCLUDED.mode,
             last_started_at = EXCLUDED.last_started_at, last_finished_at = EXCLUDED.last_finished_at,
             last_requests = EXCLUDED.last_requests, last_pages = EXCLUDED.last_pages,
             last_inserted = EXCLUDED.last_inserted, last_updated = EXCLUDED.last_updated,
             last_issues = EXCLUDED.last_issues, last_duration_s = EXCLUDED.last_duration_s,
             last_problem = EXCLUDED.last_problem""",
        [
            resource,
            cursor,
            mode,
            started_at,
            finished_at,
            requests,
            pages,
            inserted,
            updated,
            issues,
            (finished_at - started_at).total_seconds(),
            problem,
        ],
    )
