"""The fulfilment ledger (ops.sqlite): what the pipeline did with each inventory fulfillment of an order
that came from a Shopify store, and with each such sales order voided in the inventory system.

`shopify_fulfilments`: one row per inventory fulfillment id. The rule that makes the push exactly-once
is the one of the order ledger: an intent (`state = sending`, with the planned `fulfillmentCreate`
input, the Shopify fulfillments the order had at that moment and `intent_at`) is committed BEFORE the
mutation; the answer is committed as the outcome (`sent`, `shopify_fulfillment_id`). A row left in
`sending` (a crash, a lost answer) is never sent blindly again: the Shopify order's fulfillments are
read first and one created since the intent with exactly the planned line items, quantities and
tracking number is taken as the outcome.

`shopify_order_voids`: a sales order voided in the inventory system while its store order is open is
flagged for a person (docs/shopify.md, "Voids"), who cancels it in the store (`orderCancel`, once) or
dismisses the flag.

Each row is in one state and changes state only through `transition()` / `void_transition()`, which
refuse any move the tables below do not list; other columns are written with `note()`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders.inbox import now_iso


class FulfilmentState(str, Enum):
    PENDING = "pending"  # a shipped inventory fulfillment, nothing sent yet
    SENDING = "sending"  # intent committed: a fulfillmentCreate may have happened
    SENT = "sent"  # the store has it: created by this pipeline (id from the answer, or found by a lookup)
    ALREADY_THERE = "already_there"  # the store showed it before we sent anything: nothing sent
    STORE_SIDE = (
        "store_side"  # it came FROM the store (a store fulfilment the order push shipped): never sent
    )
    SKIPPED = "skipped"  # none of its lines is on the store order: nothing to send
    WAITING = (
        "waiting"  # no line mapping yet (quantities not open in Shopify, fulfilment orders on hold, ...)
    )
    FAILED = "failed"  # an error; tried again by the next run
    ATTENTION = "attention"  # for a person: refused for good, failing or waiting too long, store order gone
    WITHDRAWN = "withdrawn"  # voided or deleted in the inventory system before it was sent

    def __str__(self) -> str:
        return self.value


class FulfilmentAction(str, Enum):
    SEND = "send"  # write the intent
    RECORD = "record"  # the store has it (the answer, or the lookup after a lost one)
    CLEAR = "clear"  # the lookup after a lost answer found nothing: no write happened
    FIND = "find"  # already in the store before we sent
    ECHO = "echo"  # it came from the store
    SKIP = "skip"
    WAIT = "wait"
    FAIL = "fail"
    ESCALATE = "escalate"
    WITHDRAW = "withdraw"
    REOPEN = "reopen"  # a person asks for another try

    def __str__(self) -> str:
        return self.value


F, FA = FulfilmentState, FulfilmentAction
_UNSENT = (F.PENDING, F.WAITING, F.FAILED)  # where nothing is in flight

TRANSITIONS: dict[tuple[FulfilmentState, FulfilmentAction], FulfilmentState] = {
    **{(s, FA.SEND): F.SENDING for s in _UNSENT},
    (F.SENDING, FA.RECORD): F.SENT,
    (F.SENDING, FA.CLEAR): F.PENDING,
    **{(s, FA.FIND): F.ALREADY_THERE for s in _UNSENT},
    **{(s, FA.ECHO): F.STORE_SIDE for s in _UNSENT},
    **{(s, FA.SKIP): F.SKIPPED for s in _UNSENT},
    **{(s, FA.WAIT): F.WAITING for s in _UNSENT},
    # From sending only when nothing was written: Shopify refused it (userErrors) or the lookup found nothing.
    **{(s, FA.FAIL): F.FAILED for s in (*_UNSENT, F.SENDING)},
    # From sending only when the store order is gone (nothing to look for any more).
    **{(s, FA.ESCALATE): F.ATTENTION for s in (*_UNSENT, F.SENDING)},
    **{(s, FA.WITHDRAW): F.WITHDRAWN for s in (*_UNSENT, F.ATTENTION)},
    **{(s, FA.REOPEN): F.PENDING for s in (F.ATTENTION, F.FAILED, F.WAITING)},
}

# Rows a push pass looks at (the others rest: done, or for a person).
OPEN_STATES = frozenset({F.PENDING, F.SENDING, F.WAITING, F.FAILED})
# The store has (or stands for) the fulfilment: nothing is ever sent for these again.
SETTLED_STATES = frozenset({F.SENT, F.ALREADY_THERE, F.STORE_SIDE})


class VoidState(str, Enum):
    FLAGGED = "flagged"  # voided in the inventory system, the store order still open: for a person
    CANCELLING = "cancelling"  # a person asked to cancel it in the store: orderCancel may have happened
    CANCELLED = "cancelled"  # cancelled in the store by this pipeline
    DISMISSED = "dismissed"  # a person decided the store order stays as it is
    RESOLVED = "resolved"  # the store cancelled the order itself meanwhile

    def __str__(self) -> str:
        return self.value


class VoidAction(str, Enum):
    CANCEL = "cancel"  # intent
    CONFIRM = "confirm"  # the store order is cancelled (answer or lookup)
    RETRACT = "retract"  # the cancel was refused, or the lookup shows it did not happen
    DISMISS = "dismiss"
    RESOLVE = "resolve"

    def __str__(self) -> str:
        return self.value


V, VA = VoidState, VoidAction
VOID_TRANSITIONS: dict[tuple[VoidState, VoidAction], VoidState] = {
    (V.FLAGGED, VA.CANCEL): V.CANCELLING,
    (V.CANCELLING, VA.CONFIRM): V.CANCELLED,
    (V.CANCELLING, VA.RETRACT): V.FLAGGED,
    (V.FLAGGED, VA.DISMISS): V.DISMISSED,
    (V.FLAGGED, VA.RESOLVE): V.RESOLVED,
}


class IllegalTransition(RuntimeError):
    """A move the tables do not allow: a bug in the caller."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS shopify_fulfilments (
    fulfillment_id INTEGER PRIMARY KEY,  -- the inventory fulfillment
    channel TEXT NOT NULL,
    channel_order_id TEXT NOT NULL,      -- the Shopify order (numeric id)
    order_id INTEGER NOT NULL,           -- the sales order
    state TEXT NOT NULL,                 -- a FulfilmentState; changed only by transition()
    lines TEXT NOT NULL,                 -- JSON {sku: quantity} of the fulfillment as last seen
    tracking TEXT,                       -- JSON {number, url, company} as last seen
    plan TEXT,                           -- JSON: the fulfillmentCreate input of the intent and the line items it covers
    baseline TEXT,                       -- JSON: the store order's fulfillment ids when the intent was written
    intent_at TEXT,                      -- set before fulfillmentCreate, cleared by the outcome
    shopify_fulfillment_id TEXT,         -- the store's fulfillment that stands for it (numeric id)
    recovered INTEGER NOT NULL DEFAULT 0,  -- 1: the outcome came from a lookup (lost answer, crash)
    notified INTEGER,                    -- notifyCustomer as sent
    unmapped TEXT,                       -- JSON {sku: quantity}: lines not on the store order (not sent)
    reason TEXT,                         -- why it waits, was skipped, needs a person, or matched
    attempts INTEGER NOT NULL DEFAULT 0,  -- fulfillmentCreate calls
    failures INTEGER NOT NULL DEFAULT 0,  -- failed passes in a row
    last_error TEXT,
    waiting_since TEXT,
    first_seen_at TEXT NOT NULL,
    sent_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shopify_fulfilments_order ON shopify_fulfilments (channel, channel_order_id);
CREATE INDEX IF NOT EXISTS shopify_fulfilments_state ON shopify_fulfilments (state);
CREATE TABLE IF NOT EXISTS shopify_order_voids (
    channel TEXT NOT NULL,
    channel_order_id TEXT NOT NULL,
    order_id INTEGER NOT NULL,           -- the voided sales order
    state TEXT NOT NULL,                 -- a VoidState; changed only by void_transition()
    reason TEXT,
    cancel_request TEXT,                 -- JSON: the orderCancel arguments a person chose
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    flagged_at TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, channel_order_id)
);
"""


def ensure_schema(con: sqlite3.Connection) -> None:
    con.executescript(SCHEMA)


@dataclass
class FulfilmentRow:
    fulfillment_id: int
    channel: str
    channel_order_id: str
    order_id: int
    state: str
    lines: str
    tracking: str | None
    plan: str | None
    baseline: str | None
    intent_at: str | None
    shopify_fulfillment_id: str | None
    recovered: int
    notified: int | None
    unmapped: str | None
    reason: str | None
    attempts: int
    failures: int
    last_error: str | None
    waiting_since: str | None
    first_seen_at: str
    sent_at: str | None
    updated_at: str

    @property
    def plan_data(self) -> dict[str, Any] | None:
        return json.loads(self.plan) if self.plan else None

    @property
    def baseline_ids(self) -> set[str]:
        return set(json.loads(self.baseline)) if self.baseline else set()


COLUMNS = ", ".join(f.name for f in fields(FulfilmentRow))


@dataclass
class VoidRow:
    channel: str
    channel_order_id: str
    order_id: int
    state: str
    reason: str | None
    cancel_request: str | None
    attempts: int
    last_error: str | None
    flagged_at: str
    resolved_at: str | None
    resolved_by: str | None
    updated_at: str


VOID_COLUMNS = ", ".join(f.name for f in fields(VoidRow))


# --- fulfilments ---------------------------------------------------------------------------------------


def get(con: sqlite3.Connection, fulfillment_id: int) -> FulfilmentRow | None:
    row = con.execute(
        f"SELECT {COLUMNS} FROM shopify_fulfilments WHERE fulfillment_id = ?",  # noqa: S608
        (fulfillment_id,),
    ).fetchone()
    return FulfilmentRow(*tuple(row)) if row else None


def rows_of_order(con: sqlite3.Connection, channel: str, channel_order_id: str) -> list[FulfilmentRow]:
    sql = (
        f"SELECT {COLUMNS} FROM shopify_fulfilments WHERE channel = ? AND channel_order_id = ? "  # noqa: S608
        "ORDER BY fulfillment_id"
    )
    return [FulfilmentRow(*tuple(r)) for r in con.execute(sql, (channel, channel_order_id))]


def all_rows(con: sqlite3.Connection, states_: tuple[str, ...] | None = None) -> list[FulfilmentRow]:
    """Every row (or those in `states_`), by fulfillment id."""
    sql = f"SELECT {COLUMNS} FROM shopify_fulfilments"  # noqa: S608
    params: tuple[str, ...] = ()
    if states_:
        sql += f" WHERE state IN ({','.join('?' for _ in states_)})"
        params = states_
    return [FulfilmentRow(*tuple(r)) for r in con.execute(sql + " ORDER BY fulfillment_id", params)]


def states(con: sqlite3.Connection) -> dict[int, str]:
    """fulfillment id -> state, for every row (cheap: the pass filters its candidates with it)."""
    return {
        int(r[0]): str(r[1]) for r in con.execute("SELECT fulfillment_id, state FROM shopify_fulfilments")
    }


def state_counts(con: sqlite3.Connection) -> dict[str, int]:
    return {
        str(r[0]): int(r[1])
        for r in con.execute("SELECT state, count(*) FROM shopify_fulfilments GROUP BY state")
    }


def insert(
    con: sqlite3.Connection,
    *,
    fulfillment_id: int,
    channel: str,
    channel_order_id: str,
    order_id: int,
    lines: str,
    tracking: str | None,
) -> FulfilmentRow:
    """A new row in `pending` (or the existing one, unchanged)."""
    now = now_iso()
    con.execute(
        "INSERT INTO shopify_fulfilments (fulfillment_id, channel, channel_order_id, order_id, state, lines, "
        "tracking, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (fulfillment_id) DO NOTHING",
        (fulfillment_id, channel, channel_order_id, order_id, F.PENDING.value, lines, tracking, now, now),
    )
    row = get(con, fulfillment_id)
    assert row is not None
    return row


def after(state: FulfilmentState | str, action: FulfilmentAction) -> FulfilmentState:
    target = TRANSITIONS.get((FulfilmentState(state), action))
    if target is None:
        raise IllegalTransition(f"cannot {action} a fulfilment that is {state}")
    return target


def transition(con: sqlite3.Connection, row: FulfilmentRow, action: FulfilmentAction, **changes: Any) -> None:
    """Moves one row by `action` (IllegalTransition when the table has no such move), writing `changes`
    with it. Commits at once, or inside the caller's open transaction."""
    target = after(row.state, action)
    _write(con, "shopify_fulfilments", ("fulfillment_id",), row, {**changes, "state": target.value})


def note(con: sqlite3.Connection, row: FulfilmentRow, **changes: Any) -> None:
    """Writes bookkeeping columns, never the state."""
    if "state" in changes:
        raise IllegalTransition(
            f"fulfilment {row.fulfillment_id}: the state changes only through transition()"
        )
    _write(con, "shopify_fulfilments", ("fulfillment_id",), row, changes)


def claimed_ids(con: sqlite3.Connection, channel: str, channel_order_id: str) -> set[str]:
    """The store fulfillments that already stand for an inventory fulfillment of this order."""
    return {
        str(r[0])
        for r in con.execute(
            "SELECT shopify_fulfillment_id FROM shopify_fulfilments WHERE channel = ? AND channel_order_id = ? "
            "AND shopify_fulfillment_id IS NOT NULL",
            (channel, channel_order_id),
        )
    }


def reopen(con: sqlite3.Connection, fulfillment_id: int) -> FulfilmentRow:
    """A person's "try again" for a row needing attention (or failing, or waiting): the next pass
    plans it afresh."""
    with transaction(con):
        row = get(con, fulfillment_id)
        if row is None:
            raise KeyError(f"no fulfilment {fulfillment_id} in the ledger")
        transition(con, row, FA.REOPEN, failures=0, waiting_since=None, last_error=None, reason=None)
    return row


# --- voids ---------------------------------------------------------------------------------------------


def get_void(con: sqlite3.Connection, channel: str, channel_order_id: str) -> VoidRow | None:
    row = con.execute(
        f"SELECT {VOID_COLUMNS} FROM shopify_order_voids WHERE channel = ? AND channel_order_id = ?",  # noqa: S608
        (channel, channel_order_id),
    ).fetchone()
    return VoidRow(*tuple(row)) if row else None


def voids(con: sqlite3.Connection, states_: tuple[str, ...] | None = None) -> list[VoidRow]:
    sql = f"SELECT {VOID_COLUMNS} FROM shopify_order_voids"  # noqa: S608
    params: tuple[str, ...] = ()
    if states_:
        sql += f" WHERE state IN ({','.join('?' for _ in states_)})"
        params = states_
    return [VoidRow(*tuple(r)) for r in con.execute(sql + " ORDER BY flagged_at, channel_order_id", params)]


def flag_void(
    con: sqlite3.Connection, channel: str, channel_order_id: str, order_id: int, reason: str
) -> bool:
    """Flags a voided sales order once; False when it was flagged (or settled) before."""
    now = now_iso()
    cursor = con.execute(
        "INSERT INTO shopify_order_voids (channel, channel_order_id, order_id, state, reason, flagged_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, channel_order_id) DO NOTHING",
        (channel, channel_order_id, order_id, V.FLAGGED.value, reason, now, now),
    )
    return cursor.rowcount == 1


def void_transition(con: sqlite3.Connection, row: VoidRow, action: VoidAction, **changes: Any) -> None:
    target = VOID_TRANSITIONS.get((VoidState(row.state), action))
    if target is None:
        raise IllegalTransition(f"cannot {action} a void that is {row.state}")
    _write(
        con, "shopify_order_voids", ("channel", "channel_order_id"), row, {**changes, "state": target.value}
    )


def void_note(con: sqlite3.Connection, row: VoidRow, **changes: Any) -> None:
    if "state" in changes:
        raise IllegalTransition("a void's state changes only through void_transition()")
    _write(con, "shopify_order_voids", ("channel", "channel_order_id"), row, changes)


def void_counts(con: sqlite3.Connection) -> dict[str, int]:
    return {
        str(r[0]): int(r[1])
        for r in con.execute("SELECT state, count(*) FROM shopify_order_voids GROUP BY state")
    }


# --- shared --------------------------------------------------------------------------------------------


def _write(
    con: sqlite3.Connection, table: str, keys: tuple[str, ...], row: Any, changes: dict[str, Any]
) -> None:
    if not con.in_transaction:
        with transaction(con):
            _write(con, table, keys, row, changes)
        return
    changes["updated_at"] = now_iso()
    names = list(changes)
    assignments = ", ".join(f"{name} = ?" for name in names)  # our own column names
    where = " AND ".join(f"{key} = ?" for key in keys)
    con.execute(
        f"UPDATE {table} SET {assignments} WHERE {where}",  # noqa: S608
        [*(changes[n] for n in names), *(getattr(row, key) for key in keys)],
    )
    for name in names:
        setattr(row, name, changes[name])
