"""The channel stock rule (shared/design.md section 5), computed in DuckDB SQL over the warehouse.

One set-based pass per call, never row by row in Python:
  1. the resolved channels go into two small tables (`channel_settings`, `channel_locations`), so the
     rule is a join and analysts can see which setup produced the numbers;
  2. `channel_listings` (channel x variant): listed?, published quantity, policy, price, reason;
  3. `channel_stock_levels` (channel x variant x channel location): on hand, committed, available and the
     location's share of the published quantity, handed out in the channel's location priority order.
Both read one shared pass over `variant_locations`: a temp table with, per variant, its stock as a short
list indexed by location slot, so a channel total or the stock handed out before a location is a
`list_select` + `list_sum` over at most a few values, with no window sort and no second join.
With `variant_ids` only those variants' rows are replaced (the webhook path), so nothing else moves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ChannelConfig, ResolvedChannel, resolve_channels

QTY = "DECIMAL(18,4)"

DDL = [
    f"""CREATE TABLE IF NOT EXISTS channel_settings (
        channel VARCHAR PRIMARY KEY, price_list_id VARCHAR, currency VARCHAR, safety_buffer {QTY},
        per_location BOOLEAN, stock_location_id BIGINT, computed_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS channel_locations (
        channel VARCHAR, location_id BIGINT, priority INTEGER, PRIMARY KEY (channel, location_id))""",
    # No primary keys on the two big tables: their keys hold by construction (checked by an asset
    # check), and an index would cost more than the whole recompute at 100k variants.
    f"""CREATE TABLE IF NOT EXISTS channel_listings (
        channel VARCHAR NOT NULL, variant_id BIGINT NOT NULL, product_id BIGINT, sku VARCHAR,
        variant_name VARCHAR, listed BOOLEAN NOT NULL, quantity {QTY}, inventory_policy VARCHAR NOT NULL,
        price {QTY}, currency VARCHAR, price_list_id VARCHAR, price_missing BOOLEAN NOT NULL,
        reason VARCHAR NOT NULL, available {QTY}, max_online {QTY}, safety_buffer {QTY})""",
    f"""CREATE TABLE IF NOT EXISTS channel_stock_levels (
        channel VARCHAR NOT NULL, variant_id BIGINT NOT NULL, location_id BIGINT NOT NULL,
        priority INTEGER NOT NULL, stocked BOOLEAN NOT NULL, stock_on_hand {QTY}, committed {QTY},
        available {QTY} NOT NULL, quantity {QTY})""",
]

# Why a listing has its quantity. Unlisted rows (archived or non-sellable variant, inactive product)
# are kept with quantity 0 so a feed can take the variant down.
REASONS = ("not_sellable", "untracked", "capped", "buffer", "in_stock", "backorder", "out_of_stock")

# Each location a channel uses gets a slot (1..n); per channel location: its slot and the slots the
# channel fills before it (lower priority), so the per-location shares need no window function.
LOCATION_SLOTS_SQL = """
CREATE OR REPLACE TEMP TABLE _channel_location_slots AS
WITH slots AS (
    SELECT location_id, CAST(row_number() OVER (ORDER BY location_id) AS INTEGER) AS slot
    FROM (SELECT DISTINCT location_id FROM channel_locations)
)
SELECT a.channel, a.location_id, a.priority, sa.slot,
       coalesce(list(sb.slot) FILTER (WHERE b.priority < a.priority), []) AS earlier
FROM channel_locations a
JOIN slots sa ON sa.location_id = a.location_id
JOIN channel_locations b ON b.channel = a.channel
JOIN slots sb ON sb.location_id = b.location_id
GROUP BY a.channel, a.location_id, a.priority, sa.slot
"""

# The one scan of `variant_locations`: per variant in scope, lists indexed by slot of its row there
# (null where it has none), its available (on hand - committed; null committed counts 0, negatives
# stay; 0 where it has no row) and what it can offer (available, never below 0).
VARIANT_STOCK_SQL = """
CREATE OR REPLACE TEMP TABLE _channel_variant_stock AS
WITH present AS (
    SELECT vl.variant_id,
           list(struct_pack(slot := s.slot, on_hand := vl.stock_on_hand, committed := vl.committed)) AS rows
    FROM variant_locations vl
    JOIN (SELECT DISTINCT location_id, slot FROM _channel_location_slots) s ON s.location_id = vl.location_id
    WHERE {scope_vl}
    GROUP BY vl.variant_id
), found AS (
    SELECT variant_id, rows, list_transform(rows, lambda r: r.slot) AS slots FROM present
), dense AS (
    -- A few slots per variant: list_position is a short native scan, cheaper than sorting rows.
    SELECT f.variant_id,
           list_transform(range(1, n.slots + 1), lambda i: f.rows[list_position(f.slots, i)]) AS rows
    FROM found f, (SELECT count(DISTINCT slot) AS slots FROM _channel_location_slots) n
)
SELECT variant_id, rows,
       list_transform(rows, lambda r: coalesce(r.on_hand, 0) - coalesce(r.committed, 0)) AS available,
       list_transform(rows, lambda r: greatest(coalesce(r.on_hand, 0) - coalesce(r.committed, 0), 0)) AS offered
FROM dense
"""

# Steps 1-3 of the rule for every (channel, variant) in scope. The `{scope_*}` and `{vanished}`
# placeholders take fixed fragments chosen in compute_channel_stock, never input.
LISTINGS_SQL = """
INSERT INTO channel_listings
WITH channel_slots AS (
    SELECT channel, list(slot) AS slots FROM _channel_location_slots GROUP BY channel
), base AS (
    SELECT s.channel, v.id AS variant_id, v.product_id, v.sku, v.name AS variant_name,
           (v.status = 'active' AND coalesce(p.status, v.product_status) = 'active'
            AND coalesce(v.sellable, true) {vanished}) AS listed,
           coalesce(v.manage_stock, true) AS tracked,
           coalesce(v.keep_selling, false) AS keep_selling,
           TRY_CAST(v.max_online AS DECIMAL(18,4)) AS max_online,
           -- the channel total: available summed over the channel's locations
           CAST(coalesce(list_sum(list_select(vs.available, cs.slots)), 0) AS DECIMAL(18,4)) AS available,
           s.safety_buffer, s.price_list_id, s.currency,
           CAST(vp.value AS DECIMAL(18,4)) AS price
    FROM variants v
    CROSS JOIN channel_settings s
    LEFT JOIN channel_slots cs ON cs.channel = s.channel
    LEFT JOIN products p ON p.id = v.product_id
    LEFT JOIN _channel_variant_stock vs ON vs.variant_id = v.id
    LEFT JOIN variant_prices vp ON vp.variant_id = v.id AND vp.price_list_id = s.price_list_id
    WHERE {scope_v}
), ruled AS (
    SELECT *, greatest(available - safety_buffer, 0) AS after_buffer,
           max_online IS NOT NULL AND greatest(available - safety_buffer, 0) > max_online AS capped
    FROM base
)
SELECT channel, variant_id, product_id, sku, variant_name, listed,
       CAST(CASE WHEN NOT listed THEN 0
                 WHEN NOT tracked THEN NULL
                 WHEN capped THEN max_online
                 ELSE after_buffer END AS DECIMAL(18,4)) AS quantity,
       CASE WHEN listed AND (NOT tracked OR keep_selling) THEN 'continue' ELSE 'deny' END AS inventory_policy,
       price, currency, price_list_id,
       listed AND price IS NULL AS price_missing,
       CASE WHEN NOT listed THEN 'not_sellable'
            WHEN NOT tracked THEN 'untracked'
            WHEN capped THEN 'capped'
            WHEN after_buffer > 0 AND safety_buffer > 0 THEN 'buffer'
            WHEN after_buffer > 0 THEN 'in_stock'
            WHEN keep_selling THEN 'backorder'
            WHEN available > 0 THEN 'buffer'
            ELSE 'out_of_stock' END AS reason,
       available, max_online, safety_buffer
FROM ruled
"""

# Per-location rows: every channel location for every listing, and the location's share of the
# published quantity: locations fill up in priority order, each with what it has available (never
# below 0), until the channel quantity is handed out, so the shares add up to the channel total.
STOCK_LEVELS_SQL = """
INSERT INTO channel_stock_levels
WITH levels AS (
    SELECT l.channel, l.variant_id, cl.location_id, cl.priority,
           vs.rows[cl.slot] AS found,
           coalesce(vs.available[cl.slot], 0) AS available,
           -- what the locations before this one already hand out
           coalesce(list_sum(list_select(vs.offered, cl.earlier)), 0) AS handed_out,
           l.quantity AS channel_quantity
    FROM channel_listings l
    JOIN _channel_location_slots cl ON cl.channel = l.channel
    LEFT JOIN _channel_variant_stock vs ON vs.variant_id = l.variant_id
    WHERE {scope_l}
)
SELECT channel, variant_id, location_id, priority, found IS NOT NULL AS stocked, found.on_hand, found.committed,
       CAST(available AS DECIMAL(18,4)) AS available,
       CAST(CASE WHEN channel_quantity IS NULL THEN NULL
                 ELSE least(greatest(available, 0), greatest(channel_quantity - handed_out, 0)) END
            AS DECIMAL(18,4)) AS quantity
FROM levels
"""


def ensure_channel_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def write_channel_settings(con: duckdb.DuckDBPyConnection, channels: Sequence[ResolvedChannel]) -> None:
    """Replaces `channel_settings` / `channel_locations` with the resolved channels (a few rows)."""
    con.execute("DELETE FROM channel_settings")
    con.execute("DELETE FROM channel_locations")
    for channel in channels:
        con.execute(
            "INSERT INTO channel_settings VALUES ($1, $2, $3, $4, $5, $6, now()::TIMESTAMP)",
            [
                channel.name,
                channel.price_list_id,
                channel.currency,
                channel.safety_buffer,
                channel.per_location,
                channel.stock_location_id,
            ],
        )
        con.execute(
            "INSERT INTO channel_locations SELECT $1, unnest($2::BIGINT[]), generate_subscripts($2::BIGINT[], 1)",
            [channel.name, list(channel.location_ids)],
        )


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
        [table, column],
    ).fetchone()
    return bool(row and row[0])


def as_resolved(
    con: duckdb.DuckDBPyConnection, channels: Sequence[ChannelConfig | ResolvedChannel]
) -> list[ResolvedChannel]:
    """Channels as given by callers (from `load_channels()` or already resolved), checked against the warehouse."""
    plain = [c for c in channels if isinstance(c, ChannelConfig)]
    if not plain:
        return list(channels)  # type: ignore[arg-type]
    return resolve_channels(con, [c.config if isinstance(c, ResolvedChannel) else c for c in channels])


def compute_channel_stock(
    con: duckdb.DuckDBPyConnection,
    channels: Sequence[ChannelConfig | ResolvedChannel],
    variant_ids: list[int] | None = None,
) -> dict[str, Any]:
    """(Re)computes `channel_listings` and `channel_stock_levels`: all variants, or only `variant_ids`.

    Returns counts: rows written per table, the scope, and seconds spent in DuckDB.
    """
    started = time.perf_counter()
    resolved = as_resolved(con, channels)
    ensure_channel_tables(con)
    # A variant that vanished from the API (noticed by a full refresh) is taken down like an archived one.
    vanished = "".join(
        f" AND {alias}._vanished_at IS NULL"
        for alias, table in (("v", "variants"), ("p", "products"))
        if _has_column(con, table, "_vanished_at")
    )
    if variant_ids is None:
        scope_v = scope_vl = scope_del = scope_l = "true"
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _channel_scope AS SELECT DISTINCT unnest($1::BIGINT[]) AS id",
            [list(variant_ids)],
        )
        scope_v = "v.id IN (SELECT id FROM _channel_scope)"
        scope_vl = "vl.variant_id IN (SELECT id FROM _channel_scope)"
        scope_del = "variant_id IN (SELECT id FROM _channel_scope)"
        scope_l = "l.variant_id IN (SELECT id FROM _channel_scope)"
    con.execute("BEGIN TRANSACTION")
    try:
        write_channel_settings(con, resolved)
        for table in ("channel_listings", "channel_stock_levels"):
            # Rows of channels no longer in the file go too, whatever the scope.
            con.execute(
                f"DELETE FROM {table} WHERE {scope_del} "  # noqa: S608 (fixed fragments)
                "OR channel NOT IN (SELECT channel FROM channel_settings)"
            )
        phase = time.perf_counter()
        con.execute(LOCATION_SLOTS_SQL)
        con.execute(VARIANT_STOCK_SQL.format(scope_vl=scope_vl))  # noqa: S608 (fixed fragments)
        (listings,) = con.execute(
            LISTINGS_SQL.format(scope_v=scope_v, vanished=vanished)  # noqa: S608
        ).fetchone() or (0,)
        listings_seconds = time.perf_counter() - phase
        phase = time.perf_counter()
        (levels,) = con.execute(STOCK_LEVELS_SQL.format(scope_l=scope_l)).fetchone() or (0,)  # noqa: S608
        levels_seconds = time.perf_counter() - phase
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for temp in ("_channel_scope", "_channel_location_slots", "_channel_variant_stock"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    return {
        "channels": [c.name for c in resolved],
        "scope": "all" if variant_ids is None else f"{len(set(variant_ids))} variants",
        "listings_rows": int(listings),
        "stock_level_rows": int(levels),
        "listings_seconds": round(listings_seconds, 4),
        "stock_levels_seconds": round(levels_seconds, 4),
        "seconds": round(time.perf_counter() - started, 4),
    }


def listing_summary(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per channel: variants listed, out of stock, backordered, untracked, capped, missing prices."""
    rows = con.execute(
        """SELECT channel,
                  count(*) FILTER (WHERE listed) AS listed,
                  count(*) FILTER (WHERE listed AND quantity = 0 AND inventory_policy = 'deny') AS out_of_stock,
                  count(*) FILTER (WHERE reason = 'backorder') AS backordered,
                  count(*) FILTER (WHERE reason = 'untracked') AS untracked,
                  count(*) FILTER (WHERE reason = 'capped') AS capped,
                  count(*) FILTER (WHERE price_missing) AS missing_prices,
                  count(*) FILTER (WHERE NOT listed) AS not_listed
           FROM channel_listings GROUP BY channel ORDER BY channel"""
    ).fetchall()
    names = (
        "channel",
        "listed",
        "out_of_stock",
        "backordered",
        "untracked",
        "capped",
        "missing_prices",
        "not_listed",
    )
    return [dict(zip(names, row, strict=True)) for row in rows]


def dec_text(column: str) -> str:
    """SQL for a DECIMAL column as exact text without padding (12.5000 -> 12.5); `column` is ours, not input."""
    text = f"CAST({column} AS VARCHAR)"
    # Only trim after a decimal point: an integer's zeros are digits.
    return f"CASE WHEN contains({text}, '.') THEN rtrim(rtrim({text}, '0'), '.') ELSE {text} END"


def lowest_stock_preview(con: duckdb.DuckDBPyConnection, limit: int = 10) -> str:
    """A Markdown table of the listed, tracked listings with the least published stock."""
    rows = con.execute(
        f"""SELECT channel, coalesce(sku, '(no sku)'), {dec_text("quantity")}, {dec_text("available")},
                   inventory_policy, reason, coalesce({dec_text("price")} || ' ' || coalesce(currency, ''), 'missing')
            FROM channel_listings WHERE listed AND quantity IS NOT NULL
            ORDER BY quantity, available, channel, sku LIMIT $1""",  # noqa: S608 (fixed columns)
        [limit],
    ).fetchall()
    header = (
        "| channel | sku | published | available | policy | reason | price |\n|---|---|---:|---:|---|---|---|"
    )
    lines = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return "\n".join([header, *lines]) if lines else "(no listed, tracked variants)"
