"""The order inbox and the quarantine, in ops.sqlite.

Intake (HTTP endpoint, drop folder, replay) appends one row per order to `order_inbox` and commits
before it acknowledges; the order push job reads rows by id (the sensor's cursor). An order that
cannot be pushed lands in `order_quarantine` with its raw payload and a reason naming the field, where
`gecko-pipeline quarantine list` shows it and `quarantine replay ID` sends it (or a fixed copy) back
through the inbox.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from gecko_pipeline.ops_db import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT,                 -- the channel the order came in for (URL or drop file); may be NULL
    channel_order_id TEXT,        -- as far as it could be read; the payload is the truth
    payload TEXT NOT NULL,        -- the order's JSON exactly as stored (never re-validated here)
    source TEXT NOT NULL,         -- http | file:<name> | replay:q<id> | shopify-webhook:<topic> | shopify-backfill
    received_at TEXT NOT NULL,
    handled_at TEXT,              -- set once validated into the ledger or quarantined
    format TEXT                   -- NULL: a canonical order; else a store's own shape (orders/formats.py)
);
CREATE TABLE IF NOT EXISTS order_quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox_id INTEGER,
    channel TEXT,
    channel_order_id TEXT,
    payload TEXT NOT NULL,
    field TEXT,
    reason TEXT NOT NULL,
    quarantined_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',   -- open | replayed | superseded | resolved
    closed_at TEXT,
    replay_inbox_id INTEGER,
    format TEXT                   -- the payload's shape, as in order_inbox (NULL: canonical)
);
CREATE INDEX IF NOT EXISTS order_quarantine_key ON order_quarantine (channel, channel_order_id, status);
CREATE TABLE IF NOT EXISTS order_drop_files (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    orders INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
"""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def ensure_schema(con: sqlite3.Connection) -> None:
    con.executescript(SCHEMA)
    add_missing_columns(con, "order_inbox", {"handled_at": "TEXT", "format": "TEXT"})
    add_missing_columns(con, "order_quarantine", {"format": "TEXT"})


def add_missing_columns(con: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    """Brings a table created by an older version up to date (SQLite has no ADD COLUMN IF NOT EXISTS)."""
    present = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}  # our own table names
    for name, ddl in columns.items():
        if name not in present:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")


# A canonical order is about five levels deep; far deeper is hostile (and would exhaust the parser).
MAX_DEPTH = 32
_SURROGATE = re.compile(r"[\ud800-\udfff]")


# json.dumps can write a Decimal only as a string; a JSON number must stay a number (a number where
# text is expected is an error the schema reports, and must not turn valid by being stored). So a
# Decimal is written as a marked string first, and the marks are then replaced by the bare number.
_MARK = f"\u0000decimal-{secrets.token_hex(6)}:"
_MARKED = re.compile(r'"\\u0000' + _MARK[1:] + r'(-?[0-9]+(?:\.[0-9]+)?(?:E[+-]?[0-9]+)?)"')


def _decimal_text(value: object) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return _MARK + str(value)  # the number's own text: 9.95, 1.5E+2 (JSON number syntax)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_decimal_text)
    return _MARKED.sub(r"\1", text) if "\\u0000decimal-" in text else text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Which of two values a duplicate key means is undefined in JSON: refuse rather than guess.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r} in an object")
        seen.add(key)
    return dict(pairs)


def _check_shape(value: Any) -> None:
    """Refuses what JSON allows but an order must not hold: nesting deeper than MAX_DEPTH, and lone
    UTF-16 surrogates ("\\ud800"), which are not text (SQLite, the API and the warehouse choke on them)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                raise ValueError(
                    f"lone surrogate \\u{ord(found.group()):04x} in a string (not valid Unicode)"
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)


def loads(text: str | bytes) -> Any:
    """Strict JSON: numbers with a fraction become Decimal (9.95 stays 9.95 when stored again); NaN,
    Infinity, duplicate keys, lone surrogates and absurd nesting are refused with ValueError naming
    the problem, so no caller ever meets a RecursionError or a string SQLite cannot store."""
    try:
        value = json.loads(
            text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys
        )
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    _check_shape(value)
    return value


@dataclass(frozen=True)
class InboxRow:
    id: int
    channel: str | None
    channel_order_id: str | None
    payload: str
    source: str
    received_at: str
    format: str | None = None  # None: a canonical order; else the store shape it is in


_INBOX_COLUMNS = "id, channel, channel_order_id, payload, source, received_at, format"


def _order_id_of(item: Any) -> str | None:
    if isinstance(item, dict):
        value = item.get("channel_order_id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def add_orders(
    con: sqlite3.Connection, channel: str | None, items: Sequence[Any], source: str, *, raw: bool = False
) -> list[int]:
    """Appends orders to the inbox in one transaction and returns their ids.

    `items` are parsed JSON values (one per order), or with `raw=True` texts to keep as they are (an
    NDJSON line that is not JSON is still stored, so the push job quarantines it rather than losing it).
    """
    with transaction(con):
        return insert_orders(con, channel, items, source, raw=raw)


def insert_orders(
    con: sqlite3.Connection, channel: str | None, items: Sequence[Any], source: str, *, raw: bool = False
) -> list[int]:
    """As `add_orders`, inside the caller's transaction."""
    received = now_iso()
    ids: list[int] = []
    for item in items:
        if raw:
            text = str(item)
            try:
                parsed: Any = loads(text)
            except ValueError:
                parsed = None
        else:
            text, parsed = dumps(item), item
        item_channel = channel
        if item_channel is None and isinstance(parsed, dict) and isinstance(parsed.get("channel"), str):
            item_channel = parsed["channel"]
        ids.append(insert_row(con, item_channel, _order_id_of(parsed), text, source, received_at=received))
    return ids


def insert_row(
    con: sqlite3.Connection,
    channel: str | None,
    channel_order_id: str | None,
    payload: str,
    source: str,
    *,
    format: str | None = None,
    received_at: str | None = None,
) -> int:
    """Appends one stored payload (inside the caller's transaction) and returns its inbox id. `format`
    names a store's own shape (e.g. `shopify.rest-order`), translated when the push accepts the row."""
    cur = con.execute(
        "INSERT INTO order_inbox (channel, channel_order_id, payload, source, received_at, format) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (channel, channel_order_id, payload, source, received_at or now_iso(), format),
    )
    return int(cur.lastrowid or 0)


def split_batch(document: Any) -> list[Any]:
    """One order, a list of orders, or {"orders": [...]}: always a list of order values."""
    if isinstance(document, list):
        return document
    if (
        isinstance(document, dict)
        and isinstance(document.get("orders"), list)
        and "channel_order_id" not in document
    ):
        return document["orders"]
    return [document]


def read_inbox(con: sqlite3.Connection, first_id: int, last_id: int) -> list[InboxRow]:
    rows = con.execute(
        f"SELECT {_INBOX_COLUMNS} FROM order_inbox WHERE id BETWEEN ? AND ? ORDER BY id",  # noqa: S608
        (first_id, last_id),
    ).fetchall()
    return [InboxRow(*tuple(r)) for r in rows]


def mark_handled(con: sqlite3.Connection, inbox_id: int) -> None:
    con.execute("UPDATE order_inbox SET handled_at = ? WHERE id = ?", (now_iso(), inbox_id))


def unhandled(con: sqlite3.Connection, received_before: str) -> list[InboxRow]:
    """Rows no run has validated although they arrived before `received_before` (a run that died before
    reading its batch): the retry pass takes them, so nothing in the inbox is ever skipped."""
    rows = con.execute(
        f"SELECT {_INBOX_COLUMNS} FROM order_inbox "  # noqa: S608 - our own column list
        "WHERE handled_at IS NULL AND received_at < ? ORDER BY id",
        (received_before,),
    ).fetchall()
    return [InboxRow(*tuple(r)) for r in rows]


def last_inbox_id(con: sqlite3.Connection) -> int:
    (value,) = con.execute("SELECT coalesce(max(id), 0) FROM order_inbox").fetchone()
    return int(value)


# --- quarantine ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantineRow:
    id: int
    inbox_id: int | None
    channel: str | None
    channel_order_id: str | None
    payload: str
    field: str | None
    reason: str
    quarantined_at: str
    status: str
    closed_at: str | None
    replay_inbox_id: int | None
    format: str | None = None  # the payload's shape (None: a canonical order)


_Q_COLUMNS = (
    "id, inbox_id, channel, channel_order_id, payload, field, reason, quarantined_at, status, "
    "closed_at, replay_inbox_id, format"
)


def quarantine(
    con: sqlite3.Connection,
    *,
    inbox_id: int | None,
    channel: str | None,
    channel_order_id: str | None,
    payload: str,
    field: str | None,
    reason: str,
    format: str | None = None,
) -> int:
    """Keeps a bad order where a person can see and replay it. An older open entry for the same order
    is marked superseded, so the list shows each order's latest problem once. `format`: the payload's
    shape (a store's own, replayed through its translation), None for a canonical order."""
    with transaction(con):
        if channel is not None and channel_order_id is not None:
            con.execute(
                "UPDATE order_quarantine SET status = 'superseded', closed_at = ? "
                "WHERE channel = ? AND channel_order_id = ? AND status = 'open'",
                (now_iso(), channel, channel_order_id),
            )
        cur = con.execute(
            "INSERT INTO order_quarantine (inbox_id, channel, channel_order_id, payload, field, reason, "
            "quarantined_at, format) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (inbox_id, channel, channel_order_id, payload, field, reason, now_iso(), format),
        )
        return int(cur.lastrowid or 0)


def resolve_quarantine(con: sqlite3.Connection, channel: str, channel_order_id: str) -> None:
    """The order went through after all (a later delivery or a replay): close its open entries."""
    con.execute(
        "UPDATE order_quarantine SET status = 'resolved', closed_at = ? "
        "WHERE channel = ? AND channel_order_id = ? AND status IN ('open', 'replayed')",
        (now_iso(), channel, channel_order_id),
    )


def list_quarantine(con: sqlite3.Connection, statuses: Iterable[str] = ("open",)) -> list[QuarantineRow]:
    wanted = list(statuses)
    marks = ",".join("?" for _ in wanted)
    sql = f"SELECT {_Q_COLUMNS} FROM order_quarantine WHERE status IN ({marks}) ORDER BY id"  # noqa: S608
    rows = con.execute(sql, wanted).fetchall()
    return [QuarantineRow(*tuple(r)) for r in rows]


def get_quarantine(con: sqlite3.Connection, quarantine_id: int) -> QuarantineRow | None:
    sql = f"SELECT {_Q_COLUMNS} FROM order_quarantine WHERE id = ?"  # noqa: S608
    row = con.execute(sql, (quarantine_id,)).fetchone()
    return QuarantineRow(*tuple(row)) if row else None


def count_open_quarantine(con: sqlite3.Connection) -> int:
    (value,) = con.execute("SELECT count(*) FROM order_quarantine WHERE status = 'open'").fetchone()
    return int(value)


class ReplayError(ValueError):
    pass


def replay(con: sqlite3.Connection, quarantine_id: int, payload: str | None = None) -> int:
    """Sends a quarantined order back through the inbox: as it was (after fixing the catalog or the
    channel file) or as `payload` (a corrected copy, in the entry's own shape: a store's payload is
    translated again). Returns the new inbox id."""
    entry = get_quarantine(con, quarantine_id)
    if entry is None:
        raise ReplayError(f"no quarantined order #{quarantine_id}")
    if entry.status != "open":
        raise ReplayError(f"quarantined order #{quarantine_id} is {entry.status}, not open")
    text = entry.payload if payload is None else payload
    try:
        parsed = loads(text)
    except ValueError as exc:
        raise ReplayError(f"the replacement for #{quarantine_id} is not JSON: {exc}") from None
    with transaction(con):
        inbox_id = insert_row(
            con,
            entry.channel,
            _order_id_of(parsed) or entry.channel_order_id,
            text,
            f"replay:q{quarantine_id}",
            format=entry.format,
        )
        con.execute(
            "UPDATE order_quarantine SET status = 'replayed', closed_at = ?, replay_inbox_id = ? WHERE id = ?",
            (now_iso(), inbox_id, quarantine_id),
        )
    return inbox_id
