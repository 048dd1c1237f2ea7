"""The order ledger's state machine: one table of allowed transitions, and a ledger (a real ops.sqlite
file) that changes an order's state only through it, refusing any other move."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gecko_pipeline import ops_db
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.states import (
    OPEN_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderAction,
    OrderState,
    after,
    allowed,
)

S, A = OrderState, OrderAction


def test_the_table_reaches_every_state_and_resting_states_leave_only_on_a_newer_channel_state() -> None:
    targets = set(TRANSITIONS.values())
    assert targets == set(OrderState)
    assert OPEN_STATES == {S.RECEIVED, S.WAITING, S.CREATED, S.FAILED}
    for state in (S.DONE, S.QUARANTINED, S.HELD):
        leaving = {action for (source, action) in TRANSITIONS if source == state}
        assert leaving <= {A.RECEIVE, A.REOPEN}, (state, leaving)
    # An order without a sales order is never completed or held; one is created only once.
    assert {source for (source, action) in TRANSITIONS if action == A.CREATE} == {
        S.RECEIVED,
        S.WAITING,
        S.FAILED,
    }


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (S.RECEIVED, A.COMPLETE),
        (S.RECEIVED, A.HOLD),
        (S.CREATED, A.CREATE),
        (S.DONE, A.CREATE),
        (S.DONE, A.FAIL),
        (S.HELD, A.COMPLETE),
        (S.QUARANTINED, A.COMPLETE),
        (S.DONE, A.RECEIVE),
    ],
)
def test_moves_outside_the_table_are_refused(state: OrderState, action: OrderAction) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot {action} an order that is {state}"):
        after(state, action)


def accept(con: sqlite3.Connection, order_id: str, inbox_id: int, **kwargs: object) -> ledger.LedgerRow:
    ledger.accept(
        con,
        channel="webstore",
        channel_order_id=order_id,
        reference=f"webstore:{order_id}",
        payload=json.dumps({"channel_order_id": order_id}),
        channel_updated_at=datetime(2026, 11, 27, tzinfo=timezone.utc),
        inbox_id=inbox_id,
        **kwargs,  # type: ignore[arg-type]
    )
    row = ledger.get(con, "webstore", order_id)
    assert row is not None
    return row


def stored_state(con: sqlite3.Connection, order_id: str) -> str:
    row = ledger.get(con, "webstore", order_id)
    assert row is not None
    return row.state


def test_the_ledger_changes_state_only_through_the_table(tmp_path: Path) -> None:
    con = ops_db.connect(tmp_path / "ops.sqlite")
    try:
        ledger.ensure_schema(con)
        row = accept(con, "1", 1)
        assert row.state == S.RECEIVED
        with pytest.raises(IllegalTransition, match="cannot move from received to done"):
            ledger.transition(con, row, S.DONE, order_id=5)
        assert stored_state(con, "1") == S.RECEIVED and ledger.get(con, "webstore", "1").order_id is None  # type: ignore[union-attr]
        with pytest.raises(IllegalTransition, match="only through transition"):
            ledger.note(con, row, state="done")

        ledger.transition(con, row, after(row.state, A.CREATE), order_id=5)
        ledger.transition(con, row, after(row.state, A.COMPLETE))
        assert stored_state(con, "1") == S.DONE
        for illegal in (S.WAITING, S.FAILED, S.HELD, S.RECEIVED):
            with pytest.raises(IllegalTransition):
                ledger.transition(con, row, illegal)
        assert stored_state(con, "1") == S.DONE

        # A newer channel state reopens it (REOPEN: it has a sales order); held and replayed, the
        # lines it was held for count as accepted.
        row = accept(con, "1", 2)
        assert row.state == S.CREATED
        ledger.note(con, row, lines_sent='{"products": [], "extras": []}')
        ledger.transition(con, row, after(row.state, A.HOLD))
        with pytest.raises(IllegalTransition):
            ledger.transition(con, row, S.DONE)
        row = accept(con, "1", 3, replayed=True)
        assert (row.state, row.lines_sent) == (S.CREATED, None)

        # Inside a caller's transaction the move commits (or rolls back) with the other writes.
        other = accept(con, "2", 4)
        with pytest.raises(RuntimeError), ops_db.transaction(con):
            ledger.transition(con, other, S.WAITING, waiting_since="2026-11-27T00:00:00+00:00")
            raise RuntimeError("the caller fails after the move")
        assert stored_state(con, "2") == S.RECEIVED
        assert allowed(S.RECEIVED, S.WAITING) and not allowed(S.QUARANTINED, S.DONE)
    finally:
        con.close()


# order_ledger as an earlier version created it: no `failures`, no `lines_sent`.
OLD_LEDGER = """
CREATE TABLE order_ledger (
    channel TEXT NOT NULL, channel_order_id TEXT NOT NULL, reference TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL, channel_updated_at TEXT, inbox_id INTEGER NOT NULL, state TEXT NOT NULL,
    create_key TEXT, intent_at TEXT, order_id INTEGER, order_number TEXT, line_items TEXT,
    actions_done TEXT NOT NULL DEFAULT '[]', action_intent TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, waiting_since TEXT, next_attempt_at TEXT, first_seen_at TEXT NOT NULL,
    created_at TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (channel, channel_order_id)
);
INSERT INTO order_ledger (channel, channel_order_id, reference, payload, inbox_id, state, order_id,
    actions_done, first_seen_at, updated_at)
VALUES ('webstore', 'old-1', 'webstore:old-1', '{}', 7, 'done', 42, '["pay"]', '2026-01-01', '2026-01-01'),
       ('webstore', 'old-2', 'webstore:old-2', '{}', 8, 'failed', NULL, '[]', '2026-01-01', '2026-01-01');
"""


def test_an_ops_sqlite_of_an_earlier_version_still_opens_and_moves(tmp_path: Path) -> None:
    path = tmp_path / "ops.sqlite"
    old = sqlite3.connect(path)
    old.executescript(OLD_LEDGER)
    old.close()
    con = ops_db.connect(path)
    try:
        inbox.ensure_schema(con)
        ledger.ensure_schema(con)
        columns = {r[1] for r in con.execute("PRAGMA table_info(order_ledger)")}
        assert {"failures", "lines_sent"} <= columns
        done = ledger.get(con, "webstore", "old-1")
        assert done is not None and (done.state, done.order_id, done.done, done.lines_sent) == (
            S.DONE,
            42,
            ["pay"],
            None,
        )
        assert [r.channel_order_id for r in ledger.rows_to_push(con)] == ["old-2"]
        assert accept(con, "old-1", 9).state == S.CREATED  # a newer state reopens it
        failed = ledger.get(con, "webstore", "old-2")
        assert failed is not None
        ledger.transition(con, failed, after(failed.state, A.QUARANTINE), last_error="x")
        assert stored_state(con, "old-2") == S.QUARANTINED
    finally:
        con.close()
