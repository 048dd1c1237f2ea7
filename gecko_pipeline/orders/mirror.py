"""Mirrors the order ledger (ops.sqlite) into the warehouse table `channel_order_sync`, so analysts see
in published.duckdb which channel order became which sales order, its state and its last error."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

import duckdb

from gecko_pipeline.orders import inbox, ledger

TABLE_SQL = """CREATE TABLE IF NOT EXISTS channel_order_sync (
  channel VARCHAR NOT NULL,
  channel_order_id VARCHAR NOT NULL,
  reference_number VARCHAR NOT NULL,
  state VARCHAR NOT NULL,
  order_id BIGINT,
  order_number VARCHAR,
  actions_done VARCHAR[],
  attempts INTEGER,
  failures INTEGER,
  last_error VARCHAR,
  waiting_since TIMESTAMPTZ,
  first_seen_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ,
  PRIMARY KEY (channel, channel_order_id)
)"""

COLUMNS = [
    "channel",
    "channel_order_id",
    "reference_number",
    "state",
    "order_id",
    "order_number",
    "actions_done",
    "attempts",
    "failures",
    "last_error",
    "waiting_since",
    "first_seen_at",
    "created_at",
    "updated_at",
]


def changed_since_mirror(ops: sqlite3.Connection, con: duckdb.DuckDBPyConnection) -> list[int]:
    """The sales orders whose ledger row changed since channel_order_sync was last written (created,
    acted on, amended): what the warehouse should re-read before the next mirror."""
    ledger.ensure_schema(ops)
    con.execute(TABLE_SQL)
    mirrored = {
        (channel, order_id): stamp
        for channel, order_id, stamp in con.execute(
            "SELECT channel, channel_order_id, updated_at FROM channel_order_sync"
        ).fetchall()
    }
    return sorted(
        {
            r.order_id
            for r in ledger.all_rows(ops)
            if r.order_id is not None
            and mirrored.get((r.channel, r.channel_order_id)) != datetime.fromisoformat(r.updated_at)
        }
    )


def mirror_ledger(ops: sqlite3.Connection, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Replaces channel_order_sync with the ledger's rows in one transaction; returns the counts the
    asset shows (created, followed up, waiting, quarantined, failed)."""
    inbox.ensure_schema(ops)
    ledger.ensure_schema(ops)
    rows = ledger.all_rows(ops)
    # Imported here: pandas costs ~1 s of start-up in every process that loads the code location.
    import pandas as pd  # noqa: PLC0415

    frame = pd.DataFrame(
        [
            (
                r.channel,
                r.channel_order_id,
                r.reference,
                r.state,
                r.order_id,
                r.order_number,
                list(json.loads(r.actions_done or "[]")),
                r.attempts,
                r.failures,
                r.last_error,
                r.waiting_since,
                r.first_seen_at,
                r.created_at,
                r.updated_at,
            )
            for r in rows
        ],
        columns=COLUMNS,
    ).astype({"order_id": "Int64", "order_number": "object", "last_error": "object"})
    con.execute(TABLE_SQL)
    con.register("ledger_frame", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM channel_order_sync")
        if len(frame):
            con.execute(
                """INSERT INTO channel_order_sync
                   SELECT channel, channel_order_id, reference_number, state, order_id, order_number,
                          CAST(actions_done AS VARCHAR[]), attempts, failures, last_error,
                          CAST(waiting_since AS TIMESTAMPTZ), CAST(first_seen_at AS TIMESTAMPTZ),
                          CAST(created_at AS TIMESTAMPTZ), CAST(updated_at AS TIMESTAMPTZ)
                   FROM ledger_frame"""
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("ledger_frame")
    states = ledger.state_counts(ops)
    return {
        "orders": len(rows),
        "created": sum(1 for r in rows if r.order_id is not None),
        "followed_up": sum(1 for r in rows if r.order_id is not None and r.actions_done not in (None, "[]")),
        "done": states.get("done", 0),
        "waiting": states.get("waiting", 0),
        "failed": states.get("failed", 0),
        "quarantined": inbox.count_open_quarantine(ops),
    }
