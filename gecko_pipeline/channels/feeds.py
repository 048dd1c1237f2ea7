"""Channel feeds: what a store importer reads, and only what moved since the last feed.

For each channel, under `<feeds_dir>/<channel>/`:
  listings.csv, listings.json   every listing (one row per variant; per variant and location for a
                                channel with `per_location: true`), always current, replaced atomically
                                (temp file + os.replace) whenever a row in them changed;
  changes-<UTC stamp>.json      the rows whose published fields (sku, listed, quantity, policy, price,
                                currency) changed since the last feed: added / updated / removed, with the
                                previous quantity and price; written only when something moved;
  changes-latest.json           the same for the latest feed, also when nothing moved (empty list).

A normal feed costs time in proportion to what moved, not to the size of the feed:
  - the recompute queues the listings whose fed fields moved in `channel_feed_pending`; the feed renders
    and compares only those rows against `channel_feed_state` (what was last fed);
  - the listing files are patched, not re-rendered: each fed row's state also says where it sits in the
    files (a position that orders the rows, and its byte length in each file), so the new file is the
    old one's unchanged byte ranges, copied by the kernel and never parsed, with the changed rows
    spliced in; only changed rows' state is rewritten;
  - a channel with nothing queued keeps its files as they are.
The files are rewritten in full when asked (`full=True`), on a channel's first feed, when its shape
changed (per_location, its locations or their labels), when its files are not the ones this pipeline
last wrote (missing, edited, or replaced before the fed state was saved: inode, size or mtime differ),
or when so much moved that a full write is cheaper. Both ways render each row with the same SQL, so a
patched file is byte for byte the file a full write gives.

A run writes the changes files and the new listing files (as temp files) first, then saves the fed
state, the emptied queue and the identity of the new files in one transaction, then moves the new files
into place. Dying before the save lists the same changes again next time (at least once, never
skipped); dying after it leaves old files the state does not vouch for, which the next feed rewrites in
full. New files take their names by an atomic swap and the replaced versions are deleted by a
background thread (channels/file_swap.py: both keep waits on the disk off the feed's path).
Decimals are rendered by DuckDB as exact strings ("12.5", "-3") end to end.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from gecko_pipeline.channels.config import ChannelConfig, ResolvedChannel
from gecko_pipeline.channels.file_swap import RETIRER, final_name, move_into_place, temp_name
from gecko_pipeline.channels.stock import QTY, as_resolved, create_missing, dec_text, ensure_channel_tables

# Part of each channel's signature: a change in how rows are rendered rewrites every feed once.
FORMAT_VERSION = "feed 2"
# Above this share of a channel's rows queued, one full write is cheaper than splicing them in.
PATCH_LIMIT = 0.10
# Listing files patched at the same time (kernel copies overlap well on two cores).
SPLICE_THREADS = 2
# A full write gives its rows positions GAP, 2 GAP, 3 GAP...; an inserted row takes one in between
# (when a gap runs out, the channel is written in full and numbered afresh).
GAP = 1 << 20

STATE_DDL = [
    f"""CREATE TABLE IF NOT EXISTS channel_feed_state (
        channel VARCHAR NOT NULL, variant_id BIGINT NOT NULL,
        location_id BIGINT NOT NULL,  -- 0: the whole channel (a channel without per-location stock)
        sku VARCHAR, listed BOOLEAN, quantity {QTY}, inventory_policy VARCHAR, price {QTY}, currency VARCHAR,
        fed_at TIMESTAMP NOT NULL,
        position BIGINT,  -- the row's place in the listing files (their rows sorted by position)
        csv_bytes INTEGER, json_bytes INTEGER)  -- its bytes there (in the JSON with its ",\\n")""",
    # Per channel: what its listing files were built from besides their rows (signature), which files
    # were written (inode:size:mtime_ns), how many rows they hold, and when the channel was last fed.
    """CREATE TABLE IF NOT EXISTS channel_feed_files (
        channel VARCHAR PRIMARY KEY, signature VARCHAR NOT NULL, rows BIGINT NOT NULL,
        csv_file VARCHAR, json_file VARCHAR, fed_at TIMESTAMP NOT NULL)""",
]
# A fed state from before positions were kept: the columns come in empty, so each channel's next feed
# is a full one (it has no channel_feed_files row either).
STATE_COLUMNS = {"position": "BIGINT", "csv_bytes": "INTEGER", "json_bytes": "INTEGER"}

# The order of rows in the files (and in the changes files).
ROW_ORDER = "sku NULLS LAST, variant_id, priority"

MACROS = [
    # Exact decimal text without padding: 12.5000 -> "12.5", 3.0000 -> "3", null stays null.
    f"CREATE OR REPLACE TEMP MACRO _dec_text(x) AS {dec_text('x')}",
    # A CSV field as DuckDB's CSV writer quotes it: null is empty, "" an empty string; quotes doubled.
    """CREATE OR REPLACE TEMP MACRO _csv_text(x) AS
       CASE WHEN x IS NULL THEN ''
            WHEN x = '' OR contains(x, ',') OR contains(x, '"') OR contains(x, chr(10)) OR contains(x, chr(13))
            THEN '"' || replace(x, '"', '""') || '"'
            ELSE x END""",
]

# The feed's columns per channel shape: (name, kind). The kind decides the rendering.
CHANNEL_FIELDS = (
    ("sku", "text"), ("variant_id", "int"), ("product_id", "int"), ("variant_name", "text"),
    ("listed", "bool"), ("quantity", "dec"), ("inventory_policy", "text"), ("price", "dec"),
    ("currency", "text"), ("reason", "text"),
)  # fmt: skip
LOCATION_FIELDS = (
    ("sku", "text"), ("variant_id", "int"), ("product_id", "int"), ("variant_name", "text"),
    ("location_id", "int"), ("location", "text"), ("listed", "bool"), ("quantity", "dec"),
    ("channel_quantity", "dec"), ("inventory_policy", "text"), ("price", "dec"), ("currency", "text"),
    ("reason", "text"),
)  # fmt: skip
DECIMALS = ("quantity", "price", "channel_quantity")


def _csv_line(fields: Sequence[tuple[str, str]]) -> str:
    """SQL rendering one CSV record (without its newline); column names are ours, not input.
    Decimals come pre-rendered as `<name>_text`."""
    render = {
        "text": "_csv_text({})",
        "int": "coalesce(CAST({} AS VARCHAR), '')",
        "bool": "coalesce(CAST({} AS VARCHAR), '')",
        "dec": "coalesce({}_text, '')",
    }
    return " || ',' || ".join(render[kind].format(name) for name, kind in fields)


def _json_object(fields: Sequence[tuple[str, str]]) -> str:
    """SQL rendering one JSON object (decimals as exact strings); column names are ours, not input."""
    values = ", ".join(f"{name} := {name}{'_text' if kind == 'dec' else ''}" for name, kind in fields)
    return f"CAST(to_json(struct_pack({values})) AS VARCHAR)"


# A listing's rows in a feed: itself, or its stock levels for a per_location channel.
LEVELS_JOIN = "LEFT JOIN channel_stock_levels s ON {c}.per_location AND s.channel = l.channel AND s.variant_id = l.variant_id"

# What the channels in `_feed_channels` publish now: all rows of a channel written in full (`rewrite`),
# only the listings queued in `_feed_keys` for a patched one; each row rendered for both files.
FEED_NOW_SQL = f"""
CREATE OR REPLACE TEMP TABLE _feed_now AS
WITH listings AS (
    SELECT l.*, c.per_location FROM channel_listings l JOIN _feed_channels c ON c.channel = l.channel
    WHERE c.rewrite
    UNION ALL
    SELECT l.*, c.per_location FROM channel_listings l
    JOIN _feed_keys k ON k.channel = l.channel AND k.variant_id = l.variant_id
    JOIN _feed_channels c ON c.channel = l.channel
), levels AS (  -- only the listings' own levels: no hash table over all stock levels
    SELECT s.* FROM channel_stock_levels s
    SEMI JOIN listings l ON l.per_location AND l.channel = s.channel AND l.variant_id = s.variant_id
), fed AS (
    SELECT l.channel, l.variant_id, coalesce(s.location_id, 0) AS location_id,
           coalesce(s.priority, 0) AS priority, loc.label AS location, l.product_id, l.sku, l.variant_name,
           l.listed, CASE WHEN l.per_location THEN s.quantity ELSE l.quantity END AS quantity,
           l.quantity AS channel_quantity, l.inventory_policy, l.price, l.currency, l.reason, l.per_location
    FROM listings l
    LEFT JOIN levels s ON s.channel = l.channel AND s.variant_id = l.variant_id
    LEFT JOIN locations loc ON loc.id = s.location_id
), texts AS (
    SELECT *, {", ".join(f"_dec_text({d}) AS {d}_text" for d in DECIMALS)} FROM fed
)
SELECT channel, variant_id, location_id, priority, location, product_id, sku, listed, quantity,
       inventory_policy, price, currency, reason,
       CASE WHEN per_location THEN {_csv_line(LOCATION_FIELDS)} ELSE {_csv_line(CHANNEL_FIELDS)} END AS csv_row,
       CASE WHEN per_location THEN {_json_object(LOCATION_FIELDS)} ELSE {_json_object(CHANNEL_FIELDS)} END
           AS json_row
FROM texts
"""  # noqa: S608 (fixed fragments)

# What was last fed for the same rows.
FED_BEFORE_SQL = """
CREATE OR REPLACE TEMP TABLE _feed_before AS
SELECT f.*, CASE WHEN f.location_id = 0 THEN 0 ELSE cl.priority END AS priority
FROM (
    SELECT f.* FROM channel_feed_state f JOIN _feed_channels c ON c.channel = f.channel WHERE c.rewrite
    UNION ALL
    SELECT f.* FROM channel_feed_state f JOIN _feed_keys k ON k.channel = f.channel AND k.variant_id = f.variant_id
) f
LEFT JOIN channel_locations cl ON cl.channel = f.channel AND cl.location_id = f.location_id
"""

CHANGES_SQL = """
CREATE OR REPLACE TEMP TABLE _feed_changes AS
SELECT coalesce(n.channel, o.channel) AS channel, coalesce(n.variant_id, o.variant_id) AS variant_id,
       coalesce(n.location_id, o.location_id) AS location_id, coalesce(n.priority, o.priority) AS priority,
       n.location,
       CASE WHEN o.channel IS NULL THEN 'added' WHEN n.channel IS NULL THEN 'removed' ELSE 'updated' END
           AS change,
       coalesce(n.sku, o.sku) AS sku, coalesce(n.listed, false) AS listed, n.quantity,
       n.inventory_policy, n.price, n.currency, n.reason,
       o.quantity AS previous_quantity, o.price AS previous_price
FROM _feed_now n
FULL OUTER JOIN _feed_before o
  ON o.channel = n.channel AND o.variant_id = n.variant_id AND o.location_id = n.location_id
WHERE o.channel IS NULL OR n.channel IS NULL
   OR n.sku IS DISTINCT FROM o.sku OR n.listed IS DISTINCT FROM o.listed
   OR n.quantity IS DISTINCT FROM o.quantity OR n.inventory_policy IS DISTINCT FROM o.inventory_policy
   OR n.price IS DISTINCT FROM o.price OR n.currency IS DISTINCT FROM o.currency
"""

# A change's fields, in order: (name, SQL); decimals as exact text.
CHANGE_FIELDS = (
    ("change", "change"), ("sku", "sku"), ("variant_id", "variant_id"), ("location_id", "location_id"),
    ("location", "location"), ("listed", "listed"), ("quantity", "_dec_text(quantity)"),
    ("inventory_policy", "inventory_policy"), ("price", "_dec_text(price)"), ("currency", "currency"),
    ("reason", "reason"), ("previous_quantity", "_dec_text(previous_quantity)"),
    ("previous_price", "_dec_text(previous_price)"),
)  # fmt: skip
CHANGE_COLUMNS = ", ".join(f"{sql} AS {name}" for name, sql in CHANGE_FIELDS)
# Up to this many changes, a channel's list is rendered in one query; above, DuckDB streams it to a file.
CHANGES_IN_ONE_QUERY = 20_000
# The same JSON array DuckDB's COPY writes ("[\n\t{...},\n\t{...}\n]\n"), as one string.
_CHANGE_OBJECT = (
    "CAST(to_json(struct_pack(" + ", ".join(f"{n} := {q}" for n, q in CHANGE_FIELDS) + ")) AS VARCHAR)"
)
CHANGES_ARRAY_SQL = f"""
SELECT '[' || chr(10) || chr(9)
       || coalesce(string_agg({_CHANGE_OBJECT}, ',' || chr(10) || chr(9) ORDER BY {ROW_ORDER}), '')
       || chr(10) || ']' || chr(10)
FROM _feed_changes WHERE channel = $1
"""  # noqa: S608 (fixed fragments)

# How each queued row of a patched channel changes its files: replaced where it is, removed, or
# inserted (a new row, or one whose SKU moved it; a moved row is also removed from its old place).
EDITS_SQL = """
SELECT coalesce(n.variant_id, o.variant_id) AS variant_id, coalesce(n.location_id, o.location_id) AS location_id,
       CASE WHEN o.channel IS NULL THEN 'insert' WHEN n.channel IS NULL THEN 'remove'
            WHEN n.sku IS DISTINCT FROM o.sku THEN 'move' ELSE 'replace' END AS edit,
       o.position, n.csv_row, n.json_row
FROM (SELECT * FROM _feed_now WHERE channel = $1) n
FULL OUTER JOIN (SELECT * FROM _feed_before WHERE channel = $1) o
  ON o.variant_id = n.variant_id AND o.location_id = n.location_id
"""

# Where the inserted rows go: how many rows of the current file sort before each (the file's rows are
# the channel's fed state). Sorts the channel's rows, so it runs only when a row is inserted.
INSERT_AT_SQL = f"""
WITH file AS (
    SELECT f.sku, f.variant_id, CASE WHEN f.location_id = 0 THEN 0 ELSE cl.priority END AS priority,
           f.location_id, true AS old, NULL::VARCHAR AS csv_row, NULL::VARCHAR AS json_row
    FROM channel_feed_state f
    LEFT JOIN channel_locations cl ON cl.channel = f.channel AND cl.location_id = f.location_id
    WHERE f.channel = $1
), inserted AS (
    SELECT n.sku, n.variant_id, n.priority, n.location_id, false AS old, n.csv_row, n.json_row
    FROM (SELECT * FROM _feed_now WHERE channel = $1) n
    LEFT JOIN (SELECT * FROM _feed_before WHERE channel = $1) o
      ON o.variant_id = n.variant_id AND o.location_id = n.location_id
    WHERE o.channel IS NULL OR n.sku IS DISTINCT FROM o.sku
)
SELECT variant_id, location_id, csv_row, json_row, before FROM (
    SELECT *, count(*) FILTER (WHERE old) OVER (ORDER BY {ROW_ORDER} ROWS UNBOUNDED PRECEDING) AS before
    FROM (SELECT * FROM file UNION ALL SELECT * FROM inserted)
)
WHERE NOT old
ORDER BY {ROW_ORDER}
"""  # noqa: S608 (fixed fragments)

# A channel written in full: its rows in file order, each with its place n.
SORTED_SQL = f"""
CREATE OR REPLACE TEMP TABLE _feed_sorted AS
SELECT variant_id, location_id, csv_row, json_row, row_number() OVER (ORDER BY {ROW_ORDER}) AS n
FROM _feed_now WHERE channel = $1
"""  # noqa: S608 (fixed fragments)

# Where every row written this time sits (filled per channel, saved with the fed state).
LAYOUT_DDL = """CREATE OR REPLACE TEMP TABLE _feed_layout (channel VARCHAR, variant_id BIGINT,
    location_id BIGINT, position BIGINT, csv_bytes INTEGER, json_bytes INTEGER)"""

SAVE_SQL = [
    # What was fed: all rows of a channel written in full, the queued listings' rows of a patched one.
    """DELETE FROM channel_feed_state
       WHERE channel IN (SELECT channel FROM _feed_channels WHERE rewrite)""",
    """DELETE FROM channel_feed_state f USING _feed_keys k WHERE f.channel = k.channel AND f.variant_id = k.variant_id""",
    """INSERT INTO channel_feed_state
       SELECT n.channel, n.variant_id, n.location_id, n.sku, n.listed, n.quantity, n.inventory_policy, n.price,
              n.currency, $1::TIMESTAMP, p.position, p.csv_bytes, p.json_bytes
       FROM _feed_now n JOIN _feed_layout p USING (channel, variant_id, location_id)""",
    """DELETE FROM channel_feed_pending
       WHERE channel IN (SELECT channel FROM _feed_channels WHERE rewrite)""",
    """DELETE FROM channel_feed_pending p USING _feed_keys k WHERE p.channel = k.channel AND p.variant_id = k.variant_id""",
    # Which files each channel now has, and when it was fed ($2: one list per column).
    """INSERT OR REPLACE INTO channel_feed_files
       SELECT unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::BIGINT[]), unnest($5::VARCHAR[]),
              unnest($6::VARCHAR[]), $1::TIMESTAMP""",
]

TEMP_TABLES = (
    "_feed_channels",
    "_feed_keys",
    "_feed_now",
    "_feed_before",
    "_feed_changes",
    "_feed_sorted",
    "_feed_layout",
)


@dataclass(frozen=True)
class FeedFile:
    """One listing file: its name, the rendered row it is made of, and how rows are wrapped."""

    name: str
    row: str  # the `_feed_now` column holding the rendered row
    json: bool  # a JSON array: "[\n", rows as "\t{...},\n", the last without its comma, then "]\n"

    def head(self, per_location: bool) -> bytes:
        if self.json:
            return b"[\n"
        fields = LOCATION_FIELDS if per_location else CHANNEL_FIELDS
        return (",".join(name for name, _ in fields) + "\n").encode()

    def unit(self, row: str) -> bytes:
        """A row as it sits in the body of the file (the JSON's last row then loses its comma)."""
        return f"\t{row},\n".encode() if self.json else f"{row}\n".encode()

    def unit_bytes_sql(self) -> str:
        return f"strlen({self.row}) + {3 if self.json else 1}"

    def size(self, head: bytes, body: int) -> int:
        """Bytes on disk for a body of `body` bytes."""
        if not self.json:
            return len(head) + body
        return len(head) + body + 1 if body else len(head) + 2

    def copy_all(self, con: duckdb.DuckDBPyConnection, head: bytes, path: Path, rows: int) -> None:
        """Writes the whole file from `_feed_sorted` with one COPY of one column, with no quoting and no
        delimiter: DuckDB writes each rendered line as it is, in file order."""
        if self.json:  # every row but the last ends in a comma; then the closing bracket
            body = f"chr(9) || {self.row} || CASE WHEN n < {int(rows)} THEN ',' ELSE '' END"
            tail = "UNION ALL SELECT 2, 0, ']'"
        else:
            body, tail = self.row, ""
        lines = f"SELECT 0 AS part, 0 AS n, $1 AS line UNION ALL SELECT 1, n, {body} FROM _feed_sorted {tail}"  # noqa: S608
        con.execute(
            f"COPY (SELECT line FROM ({lines}) ORDER BY part, n) TO $2 "  # noqa: S608 (fixed fragments)
            "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '')",
            [head.decode().removesuffix("\n"), str(path)],
        )


FILES = (
    FeedFile("listings.csv", "csv_row", json=False),
    FeedFile("listings.json", "json_row", json=True),
)


@dataclass
class ChannelFeed:
    """What one channel's feed run does, decided before anything is written, and what it wrote."""

    channel: ResolvedChannel
    signature: str
    mode: str  # "full", "patch" or "unchanged"
    reason: str
    since: datetime | None
    rows: int = 0  # rows in the files
    files: dict[str, str | None] = field(default_factory=dict)  # name -> identity, as found or as written


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S%fZ")


def _identity(path: Path) -> str | None:
    """inode:size:mtime_ns: a file replaced (new inode) or edited (size, mtime) shows a new identity."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return f"{found.st_ino}:{found.st_size}:{found.st_mtime_ns}"


def _signature(con: duckdb.DuckDBPyConnection, channel: ResolvedChannel) -> str:
    """What a channel's files are built from besides its rows: a change rewrites them in full."""
    if not channel.per_location:
        return f"{FORMAT_VERSION}|whole"
    labels = dict(
        con.execute(
            "SELECT id, label FROM locations WHERE id IN (SELECT unnest($1::BIGINT[]))",
            [list(channel.location_ids)],
        ).fetchall()
    )
    return f"{FORMAT_VERSION}|per_location|" + json.dumps([[i, labels.get(i)] for i in channel.location_ids])


def _plan(
    con: duckdb.DuckDBPyConnection, channels: Sequence[ResolvedChannel], feeds_dir: Path, full: bool
) -> list[ChannelFeed]:
    """Per channel: rewrite in full, patch the queued rows, or leave the files as they are (and why)."""
    names = [c.name for c in channels]
    stored = {
        row[0]: row[1:]
        for row in con.execute(
            """SELECT channel, signature, rows, csv_file, json_file, fed_at FROM channel_feed_files
               WHERE channel IN (SELECT unnest($1::VARCHAR[]))""",
            [names],
        ).fetchall()
    }
    queued = dict(
        con.execute(
            """SELECT channel, count(DISTINCT variant_id) FROM channel_feed_pending
               WHERE channel IN (SELECT unnest($1::VARCHAR[])) GROUP BY channel""",
            [names],
        ).fetchall()
    )
    plans = []
    for channel in channels:
        signature = _signature(con, channel)
        found = stored.get(channel.name)
        files = {f.name: _identity(Path(feeds_dir) / channel.name / f.name) for f in FILES}
        waiting = int(queued.get(channel.name, 0)) * (
            len(channel.location_ids) if channel.per_location else 1
        )
        if full:
            mode, reason = "full", "asked"
        elif found is None:
            mode, reason = "full", "first feed"
        elif found[0] != signature:
            mode, reason = "full", "the channel's shape changed"
        elif (files["listings.csv"], files["listings.json"]) != (found[2], found[3]):
            mode, reason = "full", "the files are not the ones last written"
        elif waiting == 0:
            mode, reason = "unchanged", "nothing moved"
        elif waiting > PATCH_LIMIT * max(int(found[1]), 1):
            mode, reason = "full", "much of it moved"
        else:
            mode, reason = "patch", f"{queued[channel.name]} listings moved"
        plan = ChannelFeed(channel, signature, mode, reason, since=found[4] if found else None, files=files)
        plan.rows = int(found[1]) if found else 0
        plans.append(plan)
    return plans


def _stage(con: duckdb.DuckDBPyConnection, plans: Sequence[ChannelFeed]) -> None:
    """The rows to render and compare: all of a full channel's, the queued ones of a patched channel's."""
    active = [p for p in plans if p.mode != "unchanged"]
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _feed_channels AS
           SELECT unnest($1::VARCHAR[]) AS channel, unnest($2::BOOLEAN[]) AS per_location,
                  unnest($3::BOOLEAN[]) AS rewrite""",
        [
            [p.channel.name for p in active],
            [p.channel.per_location for p in active],
            [p.mode == "full" for p in active],
        ],
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _feed_keys AS
           SELECT DISTINCT channel, variant_id FROM channel_feed_pending
           WHERE channel IN (SELECT channel FROM _feed_channels WHERE NOT rewrite)"""
    )
    for statement in (FEED_NOW_SQL, FED_BEFORE_SQL, CHANGES_SQL):
        con.execute(statement)


def _copy_range(source: int, target: int, offset: int, count: int) -> None:
    """`count` bytes of `source` from `offset` appended to `target`, by the kernel where it can."""
    while count > 0:
        try:
            moved = os.copy_file_range(source, target, count, offset)
        except (AttributeError, OSError) as error:  # not Linux, or a file system that cannot
            if isinstance(error, OSError) and error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL):
                raise
            chunk = os.pread(source, min(count, 1 << 20), offset)
            moved = os.write(target, chunk) if chunk else 0
        if moved <= 0:
            raise OSError(f"the feed file being patched ended early at byte {offset}")
        offset += moved
        count -= moved


class _Splice:
    """Writes a listing file as: its head, then the old body's unchanged byte ranges (copied) with new
    rows in between, then the JSON's closing. Body offsets count from the end of the head."""

    def __init__(self, source: int, target: int, file: FeedFile, head: bytes, old_body: int) -> None:
        self.source, self.target, self.file = source, target, file
        self.start = len(head)
        # A JSON file lacks the ",\n" that ends its last row in the body: those bytes are not on disk.
        self.on_disk = old_body - 2 if file.json and old_body else old_body
        self.buffer: list[bytes] = [head]
        self.written = 0  # body bytes

    def add(self, data: bytes) -> None:
        self.buffer.append(data)
        self.written += len(data)

    def copy(self, begin: int, end: int) -> None:
        """Old body bytes [begin, end)."""
        real_end = min(end, self.on_disk)
        if real_end > begin:
            self._flush()
            _copy_range(self.source, self.target, self.start + begin, real_end - begin)
            self.written += real_end - begin
        if end > max(begin, self.on_disk):  # the old last row's missing ",\n"
            self.add(b",\n"[max(begin, self.on_disk) - self.on_disk : end - self.on_disk])

    def close(self) -> None:
        if self.file.json and self.written:
            self._flush()
            end = os.lseek(self.target, 0, os.SEEK_END)
            os.ftruncate(self.target, end - 2)  # the last row's ",\n" becomes "\n]\n"
            os.lseek(self.target, 0, os.SEEK_END)
            self.buffer.append(b"\n]\n")
        elif self.file.json:
            self.buffer.append(b"]\n")
        self._flush()

    def _flush(self) -> None:
        view = memoryview(b"".join(self.buffer))
        self.buffer.clear()
        while view:
            view = view[os.write(self.target, view) :]


class LayoutMismatch(Exception):
    """The fed state does not describe the channel's files as they are: write them in full instead."""


def _file_layout(con: duckdb.DuckDBPyConnection, plan: ChannelFeed) -> dict[str, np.ndarray]:
    """The channel's fed rows in file order: position and bytes per file, checked against the files."""
    found = con.execute(
        "SELECT position, csv_bytes, json_bytes FROM channel_feed_state WHERE channel = $1",
        [plan.channel.name],
    ).fetchnumpy()
    if any(np.ma.isMaskedArray(values) and np.ma.getmaskarray(values).any() for values in found.values()):
        raise LayoutMismatch("rows without a position")
    position = np.asarray(found["position"], dtype=np.int64)
    order = np.argsort(position, kind="stable")
    layout = {"position": position[order]}
    for file, column in zip(FILES, ("csv_bytes", "json_bytes"), strict=True):
        layout[file.name] = np.asarray(found[column], dtype=np.int64)[order]
        size = int((plan.files[file.name] or "0:-1:0").split(":")[1])
        if file.size(file.head(plan.channel.per_location), int(layout[file.name].sum())) != size:
            raise LayoutMismatch(f"{file.name} is not as long as its rows")
    if len(position) != plan.rows or (len(position) > 1 and (np.diff(layout["position"]) <= 0).any()):
        raise LayoutMismatch("rows missing or sharing a position")
    return layout


def _rank(positions: np.ndarray, wanted: Sequence[int]) -> np.ndarray:
    """Where in the file (row index) the rows at the given positions are."""
    at = np.searchsorted(positions, np.asarray(wanted, dtype=np.int64))
    if len(at) and (
        (at >= len(positions)).any() or (positions[np.minimum(at, len(positions) - 1)] != wanted).any()
    ):
        raise LayoutMismatch("a queued row is not in the files")
    return at


def _new_positions(positions: np.ndarray, before: Sequence[int]) -> list[int]:
    """Positions for rows inserted before the given row indexes (several at one index in row order):
    spread evenly over the gap between their neighbours."""
    count = len(positions)
    result: list[int] = []
    index = 0
    while index < len(before):
        j = before[index]
        same = index
        while same < len(before) and before[same] == j:
            same += 1
        low = int(positions[j - 1]) if j > 0 else (int(positions[0]) if count else GAP) - GAP
        high = int(positions[j]) if j < count else (int(positions[-1]) if count else 0) + GAP
        k = same - index
        if high - low <= k:
            raise LayoutMismatch("no room left between two rows")
        result += [low + (high - low) * (i + 1) // (k + 1) for i in range(k)]
        index = same
    return result


@dataclass(frozen=True)
class SpliceJob:
    """One listing file to patch: the old file, its head and body length, and the sorted splices
    (body offset, 0: before the row there / 1: that row, bytes dropped, bytes written)."""

    plan: ChannelFeed
    file: FeedFile
    target: Path
    head: bytes
    old_body: int
    splices: list[tuple[int, int, int, bytes]]


def _prepare_patch(con: duckdb.DuckDBPyConnection, plan: ChannelFeed, folder: Path) -> list[SpliceJob]:
    """What patching the channel's files takes, from its queued rows only; records where those rows
    will sit. Everything is checked here, before a byte is written (LayoutMismatch otherwise)."""
    name = plan.channel.name
    layout = _file_layout(con, plan)
    positions = layout["position"]
    edits = con.execute(EDITS_SQL, [name]).fetchall()
    replaced = [e for e in edits if e[2] == "replace"]
    removed = [e for e in edits if e[2] in ("remove", "move")]
    # (variant_id, location_id, csv row, json row, rows of the old file before it), in row order
    inserted = (
        con.execute(INSERT_AT_SQL, [name]).fetchall()
        if any(e[2] in ("insert", "move") for e in edits)
        else []
    )
    replaced_at = _rank(positions, [e[3] for e in replaced]).tolist()
    removed_at = _rank(positions, [e[3] for e in removed]).tolist()
    inserted_positions = _new_positions(positions, [r[4] for r in inserted])
    jobs, units = [], {}
    for file in FILES:
        lengths = layout[file.name]
        starts = np.concatenate(([0], np.cumsum(lengths)))
        new = [file.unit(e[5 if file.json else 4]) for e in replaced]
        added = [file.unit(r[3 if file.json else 2]) for r in inserted]
        units[file.name] = (new, added)
        splices = [
            (int(starts[i]), 1, int(lengths[i]), data) for i, data in zip(replaced_at, new, strict=True)
        ]
        splices += [(int(starts[i]), 1, int(lengths[i]), b"") for i in removed_at]
        splices += [(int(starts[r[4]]), 0, 0, data) for r, data in zip(inserted, added, strict=True)]
        splices.sort(key=lambda s: (s[0], s[1]))  # stable: rows inserted at one spot stay in row order
        head = file.head(plan.channel.per_location)
        jobs.append(SpliceJob(plan, file, folder / file.name, head, int(starts[-1]), splices))
    (csv_new, csv_added), (json_new, json_added) = units["listings.csv"], units["listings.json"]
    rows = [
        (e[0], e[1], int(positions[i]), len(c), len(j))
        for i, e, c, j in zip(replaced_at, replaced, csv_new, json_new, strict=True)
    ] + [
        (r[0], r[1], p, len(c), len(j))
        for r, p, c, j in zip(inserted, inserted_positions, csv_added, json_added, strict=True)
    ]
    columns = [list(c) for c in zip(*rows, strict=True)] or [[]] * 5
    con.execute(
        """INSERT INTO _feed_layout SELECT $1, unnest($2::BIGINT[]), unnest($3::BIGINT[]), unnest($4::BIGINT[]),
                  unnest($5::INTEGER[]), unnest($6::INTEGER[])""",
        [name, *columns],
    )
    plan.rows += len(inserted) - len(removed)
    return jobs


def _splice_file(job: SpliceJob) -> Path:
    """Writes the patched file next to its target (moved into place once the fed state is saved)."""
    temp = temp_name(job.target)
    with job.target.open("rb") as source, temp.open("wb") as out:
        splice = _Splice(source.fileno(), out.fileno(), job.file, job.head, job.old_body)
        cursor = 0
        for offset, _, drop, data in job.splices:
            splice.copy(cursor, offset)
            cursor = max(cursor, offset) + drop
            splice.add(data)
        splice.copy(cursor, job.old_body)
        splice.close()
    return temp


def _write_full(con: duckdb.DuckDBPyConnection, plan: ChannelFeed, folder: Path) -> list[Path]:
    """Writes both listing files from all of the channel's rows, numbering them afresh; returns the
    temp files (moved into place once the fed state is saved)."""
    name = plan.channel.name
    con.execute(SORTED_SQL, [name])
    (rows,) = con.execute("SELECT count(*) FROM _feed_sorted").fetchone() or (0,)
    temps = []
    for file in FILES:
        temp = temp_name(folder / file.name)
        temps.append(temp)
        file.copy_all(con, file.head(plan.channel.per_location), temp, int(rows))
        plan.files[file.name] = _identity(temp)  # a rename keeps inode, size and mtime
    con.execute(
        f"""INSERT INTO _feed_layout
            SELECT $1, variant_id, location_id, n * {GAP}, {FILES[0].unit_bytes_sql()}, {FILES[1].unit_bytes_sql()}
            FROM _feed_sorted""",  # noqa: S608 (fixed fragments)
        [name],
    )
    plan.rows = int(rows)
    return temps


def _write_changes(
    con: duckdb.DuckDBPyConnection, channel: str, header: dict[str, Any], count: int, target: Path
) -> None:
    """`{header..., "changes": [...]}`: DuckDB renders the array (exact decimals), Python wraps it. A
    short list comes back from one query; a long one (a first feed) is streamed through a file."""
    head = json.dumps(header)[:-1].encode() + b', "changes": '
    temp = temp_name(target)
    array = target.with_name(f".{target.name}.{os.getpid()}.array")
    try:
        if count <= CHANGES_IN_ONE_QUERY:
            (rendered,) = con.execute(CHANGES_ARRAY_SQL, [channel]).fetchone() or ("[]",)
            temp.write_bytes(head + rendered.encode() + b"}\n")
        else:
            query = f"SELECT {CHANGE_COLUMNS} FROM _feed_changes WHERE channel = $1 ORDER BY {ROW_ORDER}"  # noqa: S608
            con.execute(f"COPY ({query}) TO $2 (FORMAT json, ARRAY true)", [channel, str(array)])  # noqa: S608
            with temp.open("wb") as out, array.open("rb") as changes:
                out.write(head)
                shutil.copyfileobj(changes, out)
                out.write(b"}\n")
        os.replace(temp, target)
    finally:
        array.unlink(missing_ok=True)
        temp.unlink(missing_ok=True)


def _change_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per channel: how many rows were added, updated and removed."""
    counts: dict[str, dict[str, int]] = {}
    for channel, change, count in con.execute(
        "SELECT channel, change, count(*) FROM _feed_changes GROUP BY channel, change"
    ).fetchall():
        counts.setdefault(channel, {})[change] = int(count)
    return counts


def _publish_changes(
    con: duckdb.DuckDBPyConnection,
    plan: ChannelFeed,
    counts: dict[str, int],
    folder: Path,
    now: datetime,
    generated_at: str,
) -> list[str]:
    """changes-<stamp>.json when something moved, and changes-latest.json always (the same file, linked).
    Returns the files written."""
    count = int(sum(counts.values()))
    header = {
        "channel": plan.channel.name,
        "generated_at": generated_at,
        "since": plan.since.isoformat(timespec="milliseconds") + "Z" if plan.since else None,
        "count": count,
    }
    latest = folder / "changes-latest.json"
    if not counts:
        _write_json(latest, json.dumps({**header, "changes": []}).encode() + b"\n")
        return [latest.name]
    stamped = folder / f"changes-{_stamp(now)}.json"
    _write_changes(con, plan.channel.name, header, count, stamped)
    temp = temp_name(latest)
    try:
        try:
            os.link(stamped, temp)  # the same bytes under a second name: no copy of a large first feed
        except OSError:
            shutil.copyfile(stamped, temp)
        os.replace(temp, latest)
    finally:
        temp.unlink(missing_ok=True)
    return [latest.name, stamped.name]


def _write_json(target: Path, data: bytes) -> None:
    temp = temp_name(target)
    try:
        temp.write_bytes(data)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _save(con: duckdb.DuckDBPyConnection, plans: Sequence[ChannelFeed], now: datetime) -> None:
    """After the files are in place: the fed state (with where each row sits), the emptied queue and
    the identity of the files, in one transaction."""
    files = [
        [p.channel.name for p in plans],
        [p.signature for p in plans],
        [p.rows for p in plans],
        [p.files["listings.csv"] for p in plans],
        [p.files["listings.json"] for p in plans],
    ]
    fed_at = now.replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        for statement in SAVE_SQL:
            params = [fed_at, *files] if "$2" in statement else [fed_at] if "$1" in statement else []
            con.execute(statement, params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _ensure_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    ensure_channel_tables(con)
    create_missing(con, STATE_DDL)
    for statement in MACROS:
        con.execute(statement)
    have = {
        row[0]
        for row in con.execute(
            """SELECT column_name FROM duckdb_columns()
               WHERE database_name = current_database() AND table_name = 'channel_feed_state'"""
        ).fetchall()
    }
    for column, kind in STATE_COLUMNS.items():
        if column not in have:
            con.execute(f"ALTER TABLE channel_feed_state ADD COLUMN {column} {kind}")  # names are ours


def _report(
    plan: ChannelFeed, folder: Path, counts: dict[str, int], changes_files: list[str]
) -> dict[str, Any]:
    return {
        "rows": plan.rows,
        "changes": int(sum(counts.values())),
        "added": int(counts.get("added", 0)),
        "updated": int(counts.get("updated", 0)),
        "removed": int(counts.get("removed", 0)),
        "mode": plan.mode,
        "why": plan.reason,
        "folder": str(folder),
        "files": [*(f.name for f in FILES if plan.mode != "unchanged"), *changes_files],
    }


def write_feeds(
    con: duckdb.DuckDBPyConnection,
    channels: Sequence[ChannelConfig | ResolvedChannel],
    feeds_dir: Path,
    full: bool = False,
) -> dict[str, Any]:
    """Brings every channel's listing files up to date and writes its changes file; `full=True` rewrites
    the listing files from all rows (otherwise only when needed, see the module's doc). Returns per
    channel: rows in the feed, changes (added / updated / removed), how the files were written and why."""
    started = time.perf_counter()
    resolved = as_resolved(con, channels)
    _ensure_state_tables(con)
    now = datetime.now(UTC)
    generated_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    plans = _plan(con, resolved, Path(feeds_dir), full)
    report: dict[str, Any] = {}
    written: list[
        Path
    ] = []  # temp files, moved into place (see file_swap.final_name) after the state is saved
    pool = ThreadPoolExecutor(max_workers=SPLICE_THREADS)
    spliced: list[tuple[SpliceJob, Future[Path]]] = []
    finished = False
    try:
        con.execute(LAYOUT_DDL)  # once: staging again (a channel falling back to a full write) keeps it
        _stage(con, plans)
        # The biggest files first: their copies take longest, so they start while DuckDB does the rest.
        for plan in sorted(plans, key=lambda p: -p.rows):
            if plan.mode == "patch":
                try:
                    jobs = _prepare_patch(con, plan, Path(feeds_dir) / plan.channel.name)
                except LayoutMismatch as mismatch:  # found before anything is written
                    plan.mode, plan.reason = "full", f"the fed state did not match the files ({mismatch})"
                    _stage(con, plans)
                    continue
                # The kernel copies the file's unchanged bytes while DuckDB goes on with the rest.
                spliced += [(job, pool.submit(_splice_file, job)) for job in jobs]
        changes = _change_counts(con)
        for plan in plans:
            folder = Path(feeds_dir) / plan.channel.name
            folder.mkdir(parents=True, exist_ok=True)
            RETIRER.sweep(folder)
            if plan.mode == "full":
                written += _write_full(con, plan, folder)
            counts = changes.get(plan.channel.name, {})
            files = _publish_changes(con, plan, counts, folder, now, generated_at)
            report[plan.channel.name] = _report(plan, folder, counts, files)
        for job, done in spliced:
            written.append(done.result())
            job.plan.files[job.file.name] = _identity(written[-1])
        # The state vouches for the new files before they take the old ones' names: a crash in between
        # leaves old files the state does not vouch for, so the next feed rewrites them. (Committing
        # before the renames also keeps ext4 from flushing the new files inside DuckDB's commit.)
        _save(con, plans, now)
        moved = pool.map(lambda temp: move_into_place(temp, final_name(temp)), written)
        RETIRER.retire([r for r in moved if r is not None])
        finished = True
    finally:
        pool.shutdown(wait=True)  # splices in flight finish before their files are cleaned up
        for temp in TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        if not finished:  # no half-made file stays behind
            for path in [*written, *(temp_name(job.target) for job, _ in spliced)]:
                path.unlink(missing_ok=True)
    return {
        "generated_at": generated_at,
        "channels": report,
        "seconds": round(time.perf_counter() - started, 4),
    }


def feed_row_counts(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> dict[str, int]:
    """Rows each channel's listing files hold when current: one per listing, or per listing and location
    for a per_location channel (the join the feed renders from)."""
    query = f"""SELECT l.channel, count(*) FROM channel_listings l
                JOIN channel_settings c ON c.channel = l.channel
                {LEVELS_JOIN.format(c="c")}
                WHERE l.channel IN (SELECT unnest($1::VARCHAR[])) GROUP BY l.channel"""  # noqa: S608 (fixed)
    return {name: int(rows) for name, rows in con.execute(query, [list(names)]).fetchall()}


def read_changes(feeds_dir: Path, channel: str) -> dict[str, Any]:
    """The latest changes file of a channel, parsed (for tests, the demo and tools)."""
    return json.loads((Path(feeds_dir) / channel / "changes-latest.json").read_text(encoding="utf-8"))
