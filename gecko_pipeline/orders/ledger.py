"""The order ledger in ops.sqlite: what the pipeline knows and has done for each channel order.

One row per (channel, channel_order_id): the latest accepted state of the order, the create intent
(`create_key` and `intent_at`, written and committed BEFORE the POST), the outcome (`order_id`), the
follow-up actions done, attempts and the last error. The rule that makes creation exactly-once: an
intent without an outcome means "a POST may have happened", so the next attempt looks the order up by
reference_number before posting again; a row with an outcome never posts again.

Each row is in one `OrderState` (states.py) and changes state only through `transition()`, which
refuses any move the transitions table does not list; other columns are written with `note()`.

`order_learned` remembers ids the API gave us (companies, addresses, currencies created with an
order), so the next order of a returning customer reuses them before the next catalog sync.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import states
from gecko_pipeline.orders.inbox import add_missing_columns, now_iso
from gecko_pipeline.orders.states import IllegalTransition, OrderAction, OrderState, after, allowed

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_ledger (
    channel TEXT NOT NULL,
    channel_order_id TEXT NOT NULL,
    reference TEXT NOT NULL UNIQUE,   -- reference_number in the inventory system
    payload TEXT NOT NULL,            -- the latest accepted channel state
    channel_updated_at TEXT,          -- the channel's updated_at of that state, when it sent one
    inbox_id INTEGER NOT NULL,        -- the inbox row the state came from
    state TEXT NOT NULL,              -- an OrderState (states.py); changed only by transition()
    create_key TEXT,                  -- Idempotency-Key of the create
    intent_at TEXT,                   -- set before POST /orders, cleared by the outcome
    order_id INTEGER,
    order_number TEXT,
    line_items TEXT,                  -- JSON {sku: [order_line_item_id, ...]} once known
    actions_done TEXT NOT NULL DEFAULT '[]',
    action_intent TEXT,               -- the follow-up being sent (its key)
    attempts INTEGER NOT NULL DEFAULT 0,  -- API writes tried (create and follow-ups)
    failures INTEGER NOT NULL DEFAULT 0,  -- failed pushes in a row (reset by success)
    last_error TEXT,
    waiting_since TEXT,
    next_attempt_at TEXT,
    first_seen_at TEXT NOT NULL,
    created_at TEXT,
    updated_at TEXT NOT NULL,
    lines_sent TEXT,                  -- JSON: the channel lines the sales order was last brought in step with
    PRIMARY KEY (channel, channel_order_id)
);
CREATE INDEX IF NOT EXISTS order_ledger_state ON order_ledger (state);
CREATE TABLE IF NOT EXISTS order_learned (
    kind TEXT NOT NULL,               -- company | address | currency
    key TEXT NOT NULL,
    value INTEGER NOT NULL,
    learned_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
"""

# States that still need work from the push job.
OPEN_STATES = tuple(sorted(state.value for state in states.OPEN_STATES))

COLUMNS = (
    "channel, channel_order_id, reference, payload, channel_updated_at, inbox_id, state, create_key, "
    "intent_at, order_id, order_number, line_items, actions_done, action_intent, attempts, failures, last_error, "
    "waiting_since, next_attempt_at, first_seen_at, created_at, updated_at, lines_sent"
)


def ensure_schema(con: sqlite3.Connection) -> None:
    con.executescript(SCHEMA)
    add_missing_columns(con, "order_ledger", {"failures": "INTEGER NOT NULL DEFAULT 0", "lines_sent": "TEXT"})


@dataclass
class LedgerRow:
    channel: str
    channel_order_id: str
    reference: str
    payload: str
    channel_updated_at: str | None
    inbox_id: int
    state: str
    create_key: str | None
    intent_at: str | None
    order_id: int | None
    order_number: str | None
    line_items: str | None
    actions_done: str
    action_intent: str | None
    attempts: int
    failures: int
    last_error: str | None
    waiting_since: str | None
    next_attempt_at: str | None
    first_seen_at: str
    created_at: str | None
    updated_at: str
    lines_sent: str | None = None

    @property
    def done(self) -> list[str]:
        return list(json.loads(self.actions_done or "[]"))

    @property
    def line_item_map(self) -> dict[str, list[int]] | None:
        return json.loads(self.line_items) if self.line_items else None


def get(con: sqlite3.Connection, channel: str, channel_order_id: str) -> LedgerRow | None:
    row = con.execute(
        f"SELECT {COLUMNS} FROM order_ledger WHERE channel = ? AND channel_order_id = ?",  # noqa: S608
        (channel, channel_order_id),
    ).fetchone()
    return LedgerRow(*tuple(row)) if row else None


def accept(
    con: sqlite3.Connection,
    *,
    channel: str,
    channel_order_id: str,
    reference: str,
    payload: str,
    channel_updated_at: datetime | None,
    inbox_id: int,
    replayed: bool = False,
) -> bool:
    """Records a channel state as the order's latest unless the ledger already holds a newer one
    (by the channel's updated_at when both have it, else by arrival). Returns whether it was taken.
    A state taken reopens the order (RECEIVE, or REOPEN when it has a sales order): its follow-ups
    are computed afresh from it. `replayed`: a person sent it back from the quarantine; for an order
    held for changed lines that means the lines are accepted as they now are."""
    now = now_iso()
    updated = channel_updated_at.astimezone(timezone.utc).isoformat() if channel_updated_at else None
    with transaction(con):
        current = get(con, channel, channel_order_id)
        if current is None:
            con.execute(
                "INSERT INTO order_ledger (channel, channel_order_id, reference, payload, channel_updated_at, "
                "inbox_id, state, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    channel,
                    channel_order_id,
                    reference,
                    payload,
                    updated,
                    inbox_id,
                    OrderState.RECEIVED,
                    now,
                    now,
                ),
            )
            return True
        if inbox_id <= current.inbox_id:
            return False  # a replay of a state already taken (or an older one)
        if updated and current.channel_updated_at and updated < current.channel_updated_at:
            return False
        changes: dict[str, Any] = {
            "payload": payload,
            "channel_updated_at": updated or current.channel_updated_at,
            "inbox_id": inbox_id,
            "next_attempt_at": None,
        }
        if replayed and current.state == OrderState.HELD:
            changes["lines_sent"] = None  # the next push takes the channel's lines as sent
        action = OrderAction.RECEIVE if current.order_id is None else OrderAction.REOPEN
        transition(con, current, after(current.state, action), **changes)
        return True


def transition(con: sqlite3.Connection, row: LedgerRow, to_state: OrderState, **changes: Any) -> None:
    """Moves one order to `to_state`, writing `changes` with it; IllegalTransition when the table in
    states.py has no such move. Commits at once, or inside the caller's open transaction."""
    if not allowed(row.state, to_state):
        raise IllegalTransition(
            f"order {row.reference}: cannot move from {row.state} to {to_state} (states.TRANSITIONS)"
        )
    _write(con, row, {**changes, "state": OrderState(to_state).value})


def note(con: sqlite3.Connection, row: LedgerRow, **changes: Any) -> None:
    """Writes bookkeeping columns of one order (intent, actions done, lines sent, ...), never its
    state: a state changes only through `transition`. Commits at once, or inside the caller's
    open transaction."""
    if "state" in changes:
        raise IllegalTransition(f"order {row.reference}: the state changes only through transition()")
    _write(con, row, changes)


def _write(con: sqlite3.Connection, row: LedgerRow, changes: dict[str, Any]) -> None:
    if not con.in_transaction:
        with transaction(con):
            _write(con, row, changes)
        return
    changes["updated_at"] = now_iso()
    names = list(changes)
    assignments = ", ".join(f"{name} = ?" for name in names)  # names are our own column names
    con.execute(
        f"UPDATE order_ledger SET {assignments} WHERE channel = ? AND channel_order_id = ?",  # noqa: S608
        [*(changes[n] for n in names), row.channel, row.channel_order_id],
    )
    for name in names:
        setattr(row, name, changes[name])


def rows_to_push(con: sqlite3.Connection) -> list[LedgerRow]:
    """Orders with work left: new, waiting for the catalog, created with follow-ups to send, failed."""
    marks = ",".join("?" for _ in OPEN_STATES)
    sql = f"SELECT {COLUMNS} FROM order_ledger WHERE state IN ({marks}) ORDER BY inbox_id"  # noqa: S608
    return [LedgerRow(*tuple(r)) for r in con.execute(sql, OPEN_STATES).fetchall()]


def all_rows(con: sqlite3.Connection) -> list[LedgerRow]:
    sql = f"SELECT {COLUMNS} FROM order_ledger ORDER BY first_seen_at"  # noqa: S608
    return [LedgerRow(*tuple(r)) for r in con.execute(sql)]


def state_counts(con: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in con.execute("SELECT state, count(*) FROM order_ledger GROUP BY state")}


def learned(con: sqlite3.Connection, kind: str, key: str) -> int | None:
    row = con.execute("SELECT value FROM order_learned WHERE kind = ? AND key = ?", (kind, key)).fetchone()
    return int(row[0]) if row else None


def learn(con: sqlite3.Connection, kind: str, key: str, value: int) -> None:
    con.execute(
        "INSERT INTO order_learned (kind, key, value, learned_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, learned_at = excluded.learned_at",
        (kind, key, value, now_iso()),
    )
