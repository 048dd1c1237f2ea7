"""Channel feeds: what a store importer reads, and only what moved since the last feed.

For each channel, under `<feeds_dir>/<channel>/`:
  listings.csv, listings.json   every listing (one row per variant; per variant and location for a
                                channel with `per_location: true`), replaced atomically (temp + os.replace);
  changes-<UTC stamp>.json      the rows whose published fields (sku, listed, quantity, policy, price,
                                currency) changed since the last feed: added / updated / removed, with the
                                previous quantity and price; written only when something moved;
  changes-latest.json           the same for the latest feed, also when nothing moved (empty list).
The last fed state lives in the warehouse table `channel_feed_state`, updated only after the files are in
place: a crash in between repeats the same changes next time (at least once), never skips them.
DuckDB writes the files itself (COPY), so decimals stay exact strings ("12.5", "-3") end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ChannelConfig, ResolvedChannel
from gecko_pipeline.channels.stock import QTY, as_resolved, dec_text, ensure_channel_tables

STATE_DDL = f"""CREATE TABLE IF NOT EXISTS channel_feed_state (
    channel VARCHAR NOT NULL, variant_id BIGINT NOT NULL,
    location_id BIGINT NOT NULL,  -- 0: the whole channel (a channel without per-location stock)
    sku VARCHAR, listed BOOLEAN, quantity {QTY}, inventory_policy VARCHAR, price {QTY}, currency VARCHAR,
    fed_at TIMESTAMP NOT NULL)"""

# Exact decimal text without padding: 12.5000 -> "12.5", 3.0000 -> "3", null stays null.
MACRO = f"CREATE OR REPLACE TEMP MACRO _dec_text(x) AS {dec_text('x')}"

# The rows every feed of the given channels publishes now.
FEED_NOW_SQL = """
CREATE OR REPLACE TEMP TABLE _feed_now AS
SELECT l.channel, l.variant_id, coalesce(s.location_id, 0) AS location_id, coalesce(s.priority, 0) AS priority,
       loc.label AS location, l.product_id, l.sku, l.variant_name, l.listed,
       CASE WHEN cs.per_location THEN s.quantity ELSE l.quantity END AS quantity,
       l.quantity AS channel_quantity, l.inventory_policy, l.price, l.currency, l.reason
FROM channel_listings l
JOIN channel_settings cs ON cs.channel = l.channel
LEFT JOIN channel_stock_levels s ON cs.per_location AND s.channel = l.channel AND s.variant_id = l.variant_id
LEFT JOIN locations loc ON loc.id = s.location_id
WHERE l.channel IN (SELECT unnest($1::VARCHAR[]))
"""

CHANGES_SQL = """
CREATE OR REPLACE TEMP TABLE _feed_changes AS
SELECT coalesce(n.channel, o.channel) AS channel, coalesce(n.variant_id, o.variant_id) AS variant_id,
       coalesce(n.location_id, o.location_id) AS location_id, n.priority, n.location,
       CASE WHEN o.channel IS NULL THEN 'added' WHEN n.channel IS NULL THEN 'removed' ELSE 'updated' END
           AS change,
       coalesce(n.sku, o.sku) AS sku, n.product_id, coalesce(n.listed, false) AS listed, n.quantity,
       n.inventory_policy, n.price, n.currency, n.reason,
       o.quantity AS previous_quantity, o.price AS previous_price
FROM _feed_now n
FULL OUTER JOIN (SELECT * FROM channel_feed_state WHERE channel IN (SELECT unnest($1::VARCHAR[]))) o
  ON o.channel = n.channel AND o.variant_id = n.variant_id AND o.location_id = n.location_id
WHERE o.channel IS NULL OR n.channel IS NULL
   OR n.sku IS DISTINCT FROM o.sku OR n.listed IS DISTINCT FROM o.listed
   OR n.quantity IS DISTINCT FROM o.quantity OR n.inventory_policy IS DISTINCT FROM o.inventory_policy
   OR n.price IS DISTINCT FROM o.price OR n.currency IS DISTINCT FROM o.currency
"""

# Feed columns: the whole-channel shape and the per-location shape. Fixed fragments, never input.
CHANNEL_COLUMNS = """sku, variant_id, product_id, variant_name, listed, _dec_text(quantity) AS quantity,
    inventory_policy, _dec_text(price) AS price, currency, reason"""
LOCATION_COLUMNS = """sku, variant_id, product_id, variant_name, location_id, location, listed,
    _dec_text(quantity) AS quantity, _dec_text(channel_quantity) AS channel_quantity,
    inventory_policy, _dec_text(price) AS price, currency, reason"""
CHANGE_COLUMNS = """change, sku, variant_id, location_id, location, listed, _dec_text(quantity) AS quantity,
    inventory_policy, _dec_text(price) AS price, currency, reason,
    _dec_text(previous_quantity) AS previous_quantity, _dec_text(previous_price) AS previous_price"""


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S%fZ")


def _copy_atomically(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any], target: Path, options: str
) -> None:
    """COPY a query to `target` through a temp file in the same folder, then os.replace it in one step."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        con.execute(f"COPY ({query}) TO ${len(params) + 1} ({options})", [*params, str(temp)])  # noqa: S608
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _write_changes(
    con: duckdb.DuckDBPyConnection, channel: str, header: dict[str, Any], target: Path
) -> None:
    """`{header..., "changes": [...]}`: DuckDB writes the array (fast, exact), Python only wraps it."""
    array = target.with_name(f".{target.name}.{os.getpid()}.array")
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    query = (
        f"SELECT {CHANGE_COLUMNS} FROM _feed_changes WHERE channel = $1 ORDER BY sku, variant_id, priority"  # noqa: S608
    )
    try:
        con.execute(f"COPY ({query}) TO $2 (FORMAT json, ARRAY true)", [channel, str(array)])  # noqa: S608
        with temp.open("wb") as out, array.open("rb") as changes:
            out.write(json.dumps(header)[:-1].encode() + b', "changes": ')
            shutil.copyfileobj(changes, out)
            out.write(b"}\n")
        os.replace(temp, target)
    finally:
        array.unlink(missing_ok=True)
        temp.unlink(missing_ok=True)


def _replace_with_copy(source: Path, target: Path) -> None:
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_feeds(
    con: duckdb.DuckDBPyConnection,
    channels: Sequence[ChannelConfig | ResolvedChannel],
    feeds_dir: Path,
) -> dict[str, Any]:
    """Writes every channel's feed and changes file; returns per-channel counts of rows and changes."""
    started = time.perf_counter()
    resolved = as_resolved(con, channels)
    names = [c.name for c in resolved]
    ensure_channel_tables(con)
    con.execute(STATE_DDL)
    con.execute(MACRO)
    now = datetime.now(UTC)
    generated_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    con.execute(FEED_NOW_SQL, [names])
    con.execute(CHANGES_SQL, [names])

    report: dict[str, Any] = {}
    for channel in resolved:
        folder = Path(feeds_dir) / channel.name
        folder.mkdir(parents=True, exist_ok=True)
        columns = LOCATION_COLUMNS if channel.per_location else CHANNEL_COLUMNS
        listing_query = (
            f"SELECT {columns} FROM _feed_now WHERE channel = $1 ORDER BY sku, variant_id, priority"  # noqa: S608
        )
        _copy_atomically(con, listing_query, [channel.name], folder / "listings.csv", "FORMAT csv, HEADER")
        _copy_atomically(
            con, listing_query, [channel.name], folder / "listings.json", "FORMAT json, ARRAY true"
        )

        since_row = con.execute(
            "SELECT max(fed_at) FROM channel_feed_state WHERE channel = $1", [channel.name]
        ).fetchone()
        since = since_row[0].isoformat(timespec="milliseconds") + "Z" if since_row and since_row[0] else None
        counts = dict(
            con.execute(
                "SELECT change, count(*) FROM _feed_changes WHERE channel = $1 GROUP BY change",
                [channel.name],
            ).fetchall()
        )
        header = {
            "channel": channel.name,
            "generated_at": generated_at,
            "since": since,
            "count": int(sum(counts.values())),
        }
        files = ["listings.csv", "listings.json", "changes-latest.json"]
        latest = folder / "changes-latest.json"
        _write_changes(con, channel.name, header, latest)
        if counts:
            stamped = folder / f"changes-{_stamp(now)}.json"
            _replace_with_copy(latest, stamped)
            files.append(stamped.name)
        (rows,) = con.execute(
            "SELECT count(*) FROM _feed_now WHERE channel = $1", [channel.name]
        ).fetchone() or (0,)
        report[channel.name] = {
            "rows": int(rows),
            "changes": int(sum(counts.values())),
            "added": int(counts.get("added", 0)),
            "updated": int(counts.get("updated", 0)),
            "removed": int(counts.get("removed", 0)),
            "folder": str(folder),
            "files": files,
        }

    # The files are in place: now remember what was fed (in one transaction for all the channels).
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM channel_feed_state WHERE channel IN (SELECT unnest($1::VARCHAR[]))", [names])
        con.execute(
            """INSERT INTO channel_feed_state
               SELECT channel, variant_id, location_id, sku, listed, quantity, inventory_policy, price, currency,
                      $1::TIMESTAMP FROM _feed_now""",
            [now.replace(tzinfo=None)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("DROP TABLE IF EXISTS _feed_now")
    con.execute("DROP TABLE IF EXISTS _feed_changes")
    return {
        "generated_at": generated_at,
        "channels": report,
        "seconds": round(time.perf_counter() - started, 4),
    }


def read_changes(feeds_dir: Path, channel: str) -> dict[str, Any]:
    """The latest changes file of a channel, parsed (for tests, the demo and tools)."""
    return json.loads((Path(feeds_dir) / channel / "changes-latest.json").read_text(encoding="utf-8"))
