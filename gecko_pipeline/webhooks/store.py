"""ops.sqlite `webhook_events`: every accepted delivery, stored before the receiver answers 2xx.

The row id (AUTOINCREMENT, never reused) is the sensor's cursor. `delivery_id` is UNIQUE, so a delivery
the API retries is stored once whatever the timing. Status moves pending -> done (the run the sensor
launched refreshed the record) or failed (that run failed; the error is kept in `problem`). `ignored`
marks events the pipeline does not act on, `invalid` signed deliveries whose payload it cannot use
(kept with the problem, for a person to read). `replay_failed` copies failed events into new pending
rows (past the sensor's cursor) and marks the originals `replayed`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from gecko_pipeline.ops_db import transaction

DDL = """
CREATE TABLE IF NOT EXISTS webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    event TEXT,                 -- normalised (singular) name; NULL when the payload has none we know
    raw_event TEXT,             -- the name as delivered
    resource TEXT,              -- API resource / warehouse table to refresh; NULL: nothing to do
    object_id INTEGER,
    event_timestamp INTEGER,    -- the payload's epoch seconds
    received_at TEXT NOT NULL,
    body TEXT NOT NULL,         -- the raw body, for a person to read and replay
    status TEXT NOT NULL,       -- pending | done | failed | ignored | invalid | replayed
    problem TEXT,
    run_id TEXT,
    processed_at TEXT
);
CREATE INDEX IF NOT EXISTS webhook_events_status ON webhook_events (status, id);
"""

PENDING = "pending"
DONE = "done"
FAILED = "failed"
IGNORED = "ignored"
INVALID = "invalid"
REPLAYED = "replayed"


@dataclass(frozen=True)
class NewEvent:
    """A verified delivery, ready to store."""

    delivery_id: str
    body: str
    event: str | None
    raw_event: str | None
    resource: str | None
    object_id: int | None
    event_timestamp: int | None
    status: str
    problem: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    id: int
    delivery_id: str
    event: str | None
    resource: str | None
    object_id: int | None
    status: str


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ensure_schema(con: sqlite3.Connection) -> None:
    con.executescript(DDL)


def insert_event(con: sqlite3.Connection, event: NewEvent) -> bool:
    """Stores a delivery unless its delivery id is already there; True when it was new."""
    cursor = con.execute(
        """INSERT INTO webhook_events (delivery_id, event, raw_event, resource, object_id, event_timestamp,
                                       received_at, body, status, problem)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING""",
        (
            event.delivery_id,
            event.event,
            event.raw_event,
            event.resource,
            event.object_id,
            event.event_timestamp,
            now_iso(),
            event.body,
            event.status,
            event.problem,
        ),
    )
    return cursor.rowcount == 1


def _stored(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        row["id"], row["delivery_id"], row["event"], row["resource"], row["object_id"], row["status"]
    )


def events_after(con: sqlite3.Connection, after_id: int, limit: int) -> list[StoredEvent]:
    """Events stored after row `after_id` (the sensor's cursor), oldest first."""
    rows = con.execute(
        "SELECT id, delivery_id, event, resource, object_id, status FROM webhook_events WHERE id > ? "
        "ORDER BY id LIMIT ?",
        (after_id, limit),
    ).fetchall()
    return [_stored(row) for row in rows]


def set_status(
    con: sqlite3.Connection,
    ids: Iterable[int],
    status: str,
    *,
    from_statuses: Iterable[str],
    run_id: str | None = None,
    problem: str | None = None,
) -> int:
    """Moves the given events from one of `from_statuses` to `status`; returns how many moved."""
    id_list, sources = list(ids), list(from_statuses)
    if not id_list:
        return 0
    processed = now_iso() if status in (DONE, FAILED, IGNORED) else None
    moved = 0
    with transaction(con):
        for start in range(0, len(id_list), 500):  # SQLite caps bound parameters per statement
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            states = ",".join("?" * len(sources))
            moved += con.execute(
                f"UPDATE webhook_events SET status = ?, run_id = coalesce(?, run_id), "  # noqa: S608 (placeholders only)
                f"problem = coalesce(?, problem), processed_at = coalesce(?, processed_at) "
                f"WHERE id IN ({marks}) AND status IN ({states})",
                (status, run_id, problem, processed, *chunk, *sources),
            ).rowcount
    return moved


def status_counts(con: sqlite3.Connection) -> dict[str, int]:
    return {
        row[0]: int(row[1])
        for row in con.execute("SELECT status, count(*) FROM webhook_events GROUP BY status")
    }


def count_events(con: sqlite3.Connection) -> int:
    (count,) = con.execute("SELECT count(*) FROM webhook_events").fetchone()
    return int(count)


def replay_failed(con: sqlite3.Connection, ids: Iterable[int] | None = None) -> list[int]:
    """Sends failed events (all, or the given row ids) through the sensor again: each becomes a new
    pending row, since the sensor's cursor is past the original. Returns the new row ids."""
    wanted = None if ids is None else set(ids)
    created: list[int] = []
    with transaction(con):
        rows = con.execute("SELECT * FROM webhook_events WHERE status = ? ORDER BY id", (FAILED,)).fetchall()
        for row in rows:
            if wanted is not None and row["id"] not in wanted:
                continue
            cursor = con.execute(
                """INSERT INTO webhook_events (delivery_id, event, raw_event, resource, object_id, event_timestamp,
                                               received_at, body, status, problem)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    f"{row['delivery_id']}#replay-{row['id']}",
                    row["event"],
                    row["raw_event"],
                    row["resource"],
                    row["object_id"],
                    row["event_timestamp"],
                    now_iso(),
                    row["body"],
                    PENDING,
                    f"replay of event #{row['id']}",
                ),
            )
            created.append(int(cursor.lastrowid or 0))
            con.execute("UPDATE webhook_events SET status = ? WHERE id = ?", (REPLAYED, row["id"]))
    return created
