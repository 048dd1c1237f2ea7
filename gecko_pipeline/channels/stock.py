"""The channel stock rule (shared/design.md section 5), computed in DuckDB SQL over the warehouse.

One set-based pass per call, never row by row in Python:
  1. the resolved channels go into two small tables (`channel_settings`, `channel_locations`), so the
     rule is a join and analysts can see which setup produced the numbers;
  2. `channel_listings` (channel x variant): listed?, published quantity, policy, price, reason;
  3. `channel_stock_levels` (channel x variant x channel location), for channels with `per_location: true`
     only: on hand, committed, available and the location's share of the published quantity, handed out
     in the channel's location priority order. A channel without per-location stock publishes one total
     (its listing), so it has no rows here: writing shares nobody publishes cost most of the recompute.
Both read one shared pass over `variant_locations`: a temp table with, per variant, its stock as a short
list indexed by location slot, so a channel total or the stock handed out before a location is a
`list_select` + `list_sum` over at most a few values, with no window sort and no second join.
The new rows go to temp tables first and are compared with the stored ones: only rows that differ are
deleted and inserted, and the (channel, variant) keys whose *fed* fields moved are queued in
`channel_feed_pending`, which is what the next feed reads instead of comparing everything.
With `variant_ids` only those variants' rows are recomputed (the webhook path), so nothing else moves.
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
    # The listings whose feed rows moved since the channel's last feed (filled here, emptied by the feed).
    """CREATE TABLE IF NOT EXISTS channel_feed_pending (channel VARCHAR NOT NULL, variant_id BIGINT NOT NULL)""",
    # Per variant, a hash of everything the rule read for it when its rows were last computed (see
    # INPUTS_SQL): a full recompute recomputes only the variants whose inputs hash differently.
    """CREATE TABLE IF NOT EXISTS channel_variant_inputs (variant_id BIGINT NOT NULL, fingerprint UBIGINT NOT NULL)""",
]

# Part of every fingerprint: a new version of the rule's SQL (a changed output for the same inputs)
# must recompute every variant once.
RULE_VERSION = "channel-stock-rule 2"

# Columns of the two tables, and the ones a feed publishes: a change in those queues the listing for the
# next feed; a change elsewhere (e.g. `available` when the quantity is capped) only updates the row.
LISTING_KEY = ("channel", "variant_id")
LISTING_COLUMNS = (
    "product_id", "sku", "variant_name", "listed", "quantity", "inventory_policy", "price", "currency",
    "price_list_id", "price_missing", "reason", "available", "max_online", "safety_buffer",
)  # fmt: skip
LISTING_FED = ("product_id", "sku", "variant_name", "listed", "quantity", "inventory_policy", "price",
               "currency", "reason")  # fmt: skip
LEVEL_KEY = ("channel", "variant_id", "location_id")
LEVEL_COLUMNS = ("priority", "stocked", "stock_on_hand", "committed", "available", "quantity")
LEVEL_FED = ("priority", "quantity")

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

# Steps 1-3 of the rule for every (channel, variant) in scope, into a temp table (compared with the
# stored rows afterwards). The `{scope_*}` and `{vanished}` placeholders take fixed fragments chosen in
# compute_channel_stock, never input.
LISTINGS_SQL = """
CREATE OR REPLACE TEMP TABLE _channel_new_listings AS
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
    LEFT JOIN (SELECT * FROM variant_prices vp WHERE {scope_vp}) vp
           ON vp.variant_id = v.id AND vp.price_list_id = s.price_list_id
    WHERE {scope_v}
), ruled AS (
    SELECT *, greatest(available - safety_buffer, 0) AS after_buffer,
           max_online IS NOT NULL AND greatest(available - safety_buffer, 0) > max_online AS capped
    FROM base
)
SELECT channel, CAST(variant_id AS BIGINT) AS variant_id, CAST(product_id AS BIGINT) AS product_id,
       CAST(sku AS VARCHAR) AS sku, CAST(variant_name AS VARCHAR) AS variant_name, listed,
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

# Per-location rows, for the channels that take stock per location: every channel location for every
# listing, and the location's share of the published quantity: locations fill up in priority order,
# each with what it has available (never below 0), until the channel quantity is handed out, so the
# shares add up to the channel total.
STOCK_LEVELS_SQL = """
CREATE OR REPLACE TEMP TABLE _channel_new_levels AS
WITH levels AS (
    SELECT l.channel, l.variant_id, cl.location_id, cl.priority,
           vs.rows[cl.slot] AS found,
           coalesce(vs.available[cl.slot], 0) AS available,
           -- what the locations before this one already hand out
           coalesce(list_sum(list_select(vs.offered, cl.earlier)), 0) AS handed_out,
           l.quantity AS channel_quantity
    FROM _channel_new_listings l
    JOIN channel_settings cs ON cs.channel = l.channel AND cs.per_location
    JOIN _channel_location_slots cl ON cl.channel = l.channel
    LEFT JOIN _channel_variant_stock vs ON vs.variant_id = l.variant_id
)
SELECT channel, variant_id, CAST(location_id AS BIGINT) AS location_id, CAST(priority AS INTEGER) AS priority,
       found IS NOT NULL AS stocked,
       CAST(found.on_hand AS DECIMAL(18,4)) AS stock_on_hand, CAST(found.committed AS DECIMAL(18,4)) AS committed,
       CAST(available AS DECIMAL(18,4)) AS available,
       CAST(CASE WHEN channel_quantity IS NULL THEN NULL
                 ELSE least(greatest(available, 0), greatest(channel_quantity - handed_out, 0)) END
            AS DECIMAL(18,4)) AS quantity
FROM levels
"""


def _diff_sql(
    table: str, new: str, key: tuple[str, ...], columns: tuple[str, ...], fed: tuple[str, ...]
) -> str:
    """Keys whose row in `new` differs from the stored one in `table` (added, changed or gone), and
    whether a fed column moved. The stored side is limited by `{scope_old}`; names are ours, not input."""
    on = " AND ".join(f"o.{k} = n.{k}" for k in key)
    keys = ", ".join(f"coalesce(n.{k}, o.{k}) AS {k}" for k in key)
    missing = "o.channel IS NULL OR n.channel IS NULL"
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in columns)
    fed_differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in fed)
    return f"""
CREATE OR REPLACE TEMP TABLE _diff_{table} AS
SELECT {keys}, ({missing} OR {fed_differs}) AS fed_changed
FROM {new} n
FULL OUTER JOIN (SELECT * FROM {table} WHERE {{scope_old}}) o ON {on}
WHERE {missing} OR {differs}
"""  # noqa: S608 (fixed names)


def _apply_sql(table: str, new: str, key: tuple[str, ...]) -> list[str]:
    """Replaces exactly the differing rows of `table`: delete them by key, insert their new version."""
    match = " AND ".join(f"t.{k} = d.{k}" for k in key)
    return [
        f"DELETE FROM {table} t USING _diff_{table} d WHERE {match}",  # noqa: S608 (fixed names)
        f"INSERT INTO {table} SELECT t.* FROM {new} t SEMI JOIN _diff_{table} d ON {match}",  # noqa: S608
    ]


LISTINGS_DIFF_SQL = _diff_sql(
    "channel_listings", "_channel_new_listings", LISTING_KEY, LISTING_COLUMNS, LISTING_FED
)
LEVELS_DIFF_SQL = _diff_sql(
    "channel_stock_levels", "_channel_new_levels", LEVEL_KEY, LEVEL_COLUMNS, LEVEL_FED
)

# Queue for the feed what moved in a fed field, for the channels still in the file. A listing may be
# queued twice (two recomputes before a feed): the feed reads each once, and not checking is free here.
PENDING_SQL = """
INSERT INTO channel_feed_pending
SELECT DISTINCT channel, variant_id FROM (
    SELECT channel, variant_id FROM _diff_channel_listings WHERE fed_changed
    UNION ALL
    SELECT channel, variant_id FROM _diff_channel_stock_levels WHERE fed_changed
)
WHERE channel IN (SELECT channel FROM channel_settings)
"""

# Everything the rule reads for a variant, hashed, for every variant: its own fields, its product's
# status, its stock at the channels' locations, its prices in the channels' lists, and `$1` (the channel
# setup and the rule version, so a changed setup recomputes every variant). A column read by
# LISTINGS_SQL or STOCK_LEVELS_SQL must be hashed here too (test_channels_incremental.py changes each).
INPUTS_SQL = """
CREATE OR REPLACE TEMP TABLE _channel_inputs AS
WITH stock AS (
    SELECT vl.variant_id, bit_xor(hash(vl.location_id, vl.stock_on_hand, vl.committed)) AS h
    FROM variant_locations vl
    WHERE vl.location_id IN (SELECT location_id FROM channel_locations)
    GROUP BY vl.variant_id
), prices AS (
    SELECT vp.variant_id, bit_xor(hash(vp.price_list_id, vp.value)) AS h
    FROM variant_prices vp
    WHERE vp.price_list_id IN (SELECT price_list_id FROM channel_settings)
    GROUP BY vp.variant_id
)
SELECT v.id AS variant_id,
       hash($1, v.product_id, v.sku, v.name, v.status, v.product_status, v.sellable, v.manage_stock,
            v.keep_selling, v.max_online, p.status, s.h, pr.h {vanished_columns}) AS fingerprint
FROM variants v
LEFT JOIN products p ON p.id = v.product_id
LEFT JOIN stock s ON s.variant_id = v.id
LEFT JOIN prices pr ON pr.variant_id = v.id
"""

# The variants whose inputs hash differently from their last computation, new ones, and ones gone.
CHANGED_SQL = """
CREATE OR REPLACE TEMP TABLE _channel_scope AS
SELECT coalesce(n.variant_id, o.variant_id) AS id
FROM _channel_inputs n
FULL OUTER JOIN channel_variant_inputs o ON o.variant_id = n.variant_id
WHERE n.fingerprint IS DISTINCT FROM o.fingerprint
"""

# Above this share of changed variants, one pass over everything is cheaper than filtering by id.
ALL_AT = 0.5

TEMP_TABLES = (
    "_channel_inputs",
    "_channel_scope",
    "_channel_location_slots",
    "_channel_variant_stock",
    "_channel_new_listings",
    "_channel_new_levels",
    "_diff_channel_listings",
    "_diff_channel_stock_levels",
)


def create_missing(con: duckdb.DuckDBPyConnection, statements: Sequence[str]) -> None:
    """Runs the `CREATE TABLE IF NOT EXISTS <name>` statements whose table is missing (one catalog
    read instead of one statement per table on every call)."""
    have = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary"
        ).fetchall()
    }
    for statement in statements:
        if statement.split("EXISTS", 1)[1].split()[0] not in have:
            con.execute(statement)


def ensure_channel_tables(con: duckdb.DuckDBPyConnection) -> None:
    create_missing(con, DDL)


def write_channel_settings(con: duckdb.DuckDBPyConnection, channels: Sequence[ResolvedChannel]) -> None:
    """Replaces `channel_settings` / `channel_locations` with the resolved channels (a few rows)."""
    con.execute("DELETE FROM channel_settings")
    con.execute("DELETE FROM channel_locations")
    con.execute(
        """INSERT INTO channel_settings
           SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::DECIMAL(18,4)[]),
                  unnest($5::BOOLEAN[]), unnest($6::BIGINT[]), now()::TIMESTAMP""",
        [
            [c.name for c in channels],
            [c.price_list_id for c in channels],
            [c.currency for c in channels],
            [c.safety_buffer for c in channels],
            [c.per_location for c in channels],
            [c.stock_location_id for c in channels],
        ],
    )
    con.execute(
        """INSERT INTO channel_locations
           SELECT channel, unnest(ids), generate_subscripts(ids, 1)
           FROM (SELECT unnest($1::VARCHAR[]) AS channel, unnest($2::BIGINT[][]) AS ids)""",
        [[c.name for c in channels], [list(c.location_ids) for c in channels]],
    )


def _vanished_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """`v._vanished_at` / `p._vanished_at` where the warehouse has them (a full refresh sets them)."""
    rows = con.execute(
        """SELECT table_name FROM duckdb_columns()
           WHERE database_name = current_database() AND schema_name = 'main' AND column_name = '_vanished_at'
             AND table_name IN ('variants', 'products')"""
    ).fetchall()
    found = {row[0] for row in rows}
    return [
        f"{alias}._vanished_at" for alias, table in (("v", "variants"), ("p", "products")) if table in found
    ]


def as_resolved(
    con: duckdb.DuckDBPyConnection, channels: Sequence[ChannelConfig | ResolvedChannel]
) -> list[ResolvedChannel]:
    """Channels as given by callers (from `load_channels()` or already resolved), checked against the warehouse."""
    plain = [c for c in channels if isinstance(c, ChannelConfig)]
    if not plain:
        return list(channels)  # type: ignore[arg-type]
    return resolve_channels(con, [c.config if isinstance(c, ResolvedChannel) else c for c in channels])


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    (n,) = con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)  # noqa: S608 (our tables)
    return int(n)


def _rule_signature(channels: Sequence[ResolvedChannel], vanished: Sequence[str]) -> str:
    """The channel setup the rule reads, as text: hashed into every fingerprint."""
    setup = sorted(
        (c.name, c.price_list_id, c.currency, str(c.safety_buffer), c.per_location, tuple(c.location_ids))
        for c in channels
    )
    return repr((RULE_VERSION, tuple(vanished), setup))


def _scope(by_id: bool, channels_dropped: bool) -> dict[str, str]:
    """SQL fragments limiting each statement to the ids in `_channel_scope`, or to nothing (every variant).
    The stored rows of a channel no longer in the file are always in scope: they go."""
    if not by_id:
        return dict.fromkeys(("scope_v", "scope_vl", "scope_vp", "scope_old", "scope_ids"), "true")
    dropped = " OR channel NOT IN (SELECT channel FROM channel_settings)" if channels_dropped else ""
    return {
        "scope_v": "v.id IN (SELECT id FROM _channel_scope)",
        "scope_vl": "vl.variant_id IN (SELECT id FROM _channel_scope)",
        "scope_vp": "vp.variant_id IN (SELECT id FROM _channel_scope)",
        "scope_old": f"(variant_id IN (SELECT id FROM _channel_scope){dropped})",  # noqa: S608 (fixed)
        "scope_ids": "variant_id IN (SELECT id FROM _channel_scope)",
    }


def _rows_missing(con: duckdb.DuckDBPyConnection, variants: int) -> bool:
    """Whether the stored tables lack rows their fingerprints vouch for (e.g. a table emptied by hand):
    then every variant is recomputed. Counts only, so it costs nothing."""
    (listings, levels, slots, channels) = con.execute(
        """SELECT (SELECT count(*) FROM channel_listings), (SELECT count(*) FROM channel_stock_levels),
                  (SELECT count(*) FROM channel_locations JOIN channel_settings USING (channel) WHERE per_location),
                  (SELECT count(*) FROM channel_settings)"""
    ).fetchone() or (0, 0, 0, 0)
    return listings < variants * channels or levels < variants * slots


def _choose_scope(
    con: duckdb.DuckDBPyConnection,
    variant_ids: list[int] | None,
    fingerprint: dict[str, Any],
    channels_dropped: bool,
) -> tuple[dict[str, str], int | None]:
    """Which variants to recompute: the given ones, else those whose inputs changed (every variant when
    most did). For all variants, leaves `_channel_inputs` (their fingerprints) behind; returns the
    fragments and how many variants (None: every variant)."""
    signature = [fingerprint["signature"]]
    if variant_ids is not None:
        # The webhook path does not hash: it drops the given variants' fingerprints (see _recompute),
        # so the next full recompute checks those few again, and the webhook's latency stays low.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _channel_scope AS SELECT DISTINCT unnest($1::BIGINT[]) AS id",
            [list(variant_ids)],
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _channel_inputs (variant_id BIGINT, fingerprint UBIGINT)")
        return _scope(True, channels_dropped), _count(con, "_channel_scope")
    con.execute(INPUTS_SQL.format(**fingerprint), signature)  # noqa: S608 (fixed fragments)
    con.execute(CHANGED_SQL)
    changed, known = _count(con, "_channel_scope"), _count(con, "channel_variant_inputs")
    if changed >= ALL_AT * _count(con, "_channel_inputs") or _rows_missing(con, known):
        return _scope(False, False), None
    return _scope(True, channels_dropped), changed


def _recompute(con: duckdb.DuckDBPyConnection, scope: dict[str, str], vanished: str) -> dict[str, int]:
    """The rule for the variants in scope into temp tables, then only the differing rows into the
    stored tables, the moved listings into the feed queue and the fingerprints into their table."""
    con.execute(LOCATION_SLOTS_SQL)
    con.execute(VARIANT_STOCK_SQL.format(**scope))  # noqa: S608 (fixed fragments)
    con.execute(LISTINGS_SQL.format(**scope, vanished=vanished))  # noqa: S608
    con.execute(STOCK_LEVELS_SQL)
    con.execute(LISTINGS_DIFF_SQL.format(**scope))  # noqa: S608 (fixed fragments)
    con.execute(LEVELS_DIFF_SQL.format(**scope))  # noqa: S608
    counts = dict(
        zip(
            ("listings_rows", "stock_level_rows", "listings_changed", "stock_levels_changed"),
            con.execute(
                """SELECT (SELECT count(*) FROM _channel_new_listings), (SELECT count(*) FROM _channel_new_levels),
                          (SELECT count(*) FROM _diff_channel_listings),
                          (SELECT count(*) FROM _diff_channel_stock_levels)"""
            ).fetchone()
            or (0, 0, 0, 0),
            strict=True,
        )
    )
    for table, new, key, changed in (
        ("channel_listings", "_channel_new_listings", LISTING_KEY, "listings_changed"),
        ("channel_stock_levels", "_channel_new_levels", LEVEL_KEY, "stock_levels_changed"),
    ):
        if counts[changed]:
            for statement in _apply_sql(table, new, key):
                con.execute(statement)
    queued = 0
    if counts["listings_changed"] or counts["stock_levels_changed"]:
        (queued,) = con.execute(PENDING_SQL).fetchone() or (0,)
    ids = scope["scope_ids"]
    con.execute(f"DELETE FROM channel_variant_inputs WHERE {ids}")  # noqa: S608 (fixed fragment)
    # The fingerprints of what was just computed (none on the webhook path: see _choose_scope).
    keep = (
        f"INSERT INTO channel_variant_inputs SELECT variant_id, fingerprint FROM _channel_inputs WHERE {ids}"  # noqa: S608
    )
    con.execute(keep)
    return {**{k: int(v) for k, v in counts.items()}, "feed_queued": int(queued)}


NOTHING_CHANGED = dict.fromkeys(
    ("listings_rows", "stock_level_rows", "listings_changed", "stock_levels_changed", "feed_queued"), 0
)


def compute_channel_stock(
    con: duckdb.DuckDBPyConnection,
    channels: Sequence[ChannelConfig | ResolvedChannel],
    variant_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Brings `channel_listings` and `channel_stock_levels` up to date: for all variants, or only
    `variant_ids` (the webhook path).

    For all variants, each variant's inputs are hashed and only those that hash differently from their
    last computation are recomputed (every variant when the channel setup changed): the same rows as
    computing everything, without computing everything. Returns counts: rows computed per table (for
    the variants recomputed), rows that differed and were rewritten, listings queued for the next feed,
    the variants recomputed, and seconds.
    """
    started = time.perf_counter()
    resolved = as_resolved(con, channels)
    con.execute("BEGIN TRANSACTION")
    try:
        ensure_channel_tables(con)
        # A variant that vanished from the API (noticed by a full refresh) is taken down like an archived one.
        gone = _vanished_columns(con)
        fingerprint = {
            "signature": _rule_signature(resolved, gone),
            "vanished_columns": "".join(f", {column}" for column in gone),
        }
        before = {row[0] for row in con.execute("SELECT channel FROM channel_settings").fetchall()}
        write_channel_settings(con, resolved)
        dropped = bool(before - {c.name for c in resolved})
        scope, recomputed = _choose_scope(con, variant_ids, fingerprint, dropped)
        checked = time.perf_counter()
        if recomputed == 0 and not dropped:
            counts = dict(NOTHING_CHANGED)
        else:
            counts = _recompute(con, scope, "".join(f" AND {column} IS NULL" for column in gone))
        # Dropped inside the transaction: a rollback takes them away just the same.
        for temp in TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {
        "channels": [c.name for c in resolved],
        "scope": "all" if variant_ids is None else f"{len(set(variant_ids))} variants",
        "variants_recomputed": "all" if recomputed is None else recomputed,
        **counts,
        "check_seconds": round(checked - started, 4),
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
