"""`channel_product_links`: the one place that says which store item is which inventory variant.

One row per channel and store variant (GIDs as text): the store's product, variant and inventory item,
the SKU, our variant id, how the link was made (`linked_by`), its status and, for a problem, which one.
Everything that writes to a store (stock_push.py, price_push.py) or reads one back (drift.py) goes
through it; a row that is not `linked` is never written to.

`linked_by`:
- `sku`: matched by SKU from the store catalogue (`upsert_links_by_sku`, re-run after every catalogue
  read; it owns these rows and only these);
- `created`, `published` (reserved for the import / publish work): a link made when we created the store
  product or published it; `add_link` writes them, and SKU matching never touches or takes them over.

`status` is `linked` or `problem`; `problem` says which (precedence in this order):
- `no_sku`: the store variant has no SKU;
- `sku_duplicate_in_store`: another variant of the same store has the same SKU;
- `sku_unknown`: no inventory variant has the SKU;
- `sku_ambiguous`: two or more active inventory variants have it (or, with none active, two or more
  archived ones);
- `variant_linked_elsewhere`: the inventory variant is already linked to another store variant by
  another `linked_by`.
`variant_id` of a problem row is the inventory variant the SKU points at when exactly one does (so a
person can see what it would be), else null; look-ups only ever return `linked` rows.

SKUs are compared trimmed and case-sensitive (as the inventory system and Shopify store them). An
inventory variant vanished from the API does not count; one active variant is preferred over archived
ones with the same SKU (a SKU reused after archiving links to the live variant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ResolvedChannel
from gecko_pipeline.stores.shopify.catalogue import (
    StoreRead,
    channel_targets,
    ensure_catalogue_tables,
    expected_store_size,
    read_store,
    utc_now,
    write_store_read,
)
from gecko_pipeline.stores.shopify.client import ShopifyClient

LINKED_BY = ("sku", "created", "published")
PROBLEMS = ("no_sku", "sku_duplicate_in_store", "sku_unknown", "sku_ambiguous", "variant_linked_elsewhere")

DDL = """CREATE TABLE IF NOT EXISTS channel_product_links (
    channel VARCHAR NOT NULL,
    store_product_id VARCHAR,
    store_variant_id VARCHAR NOT NULL,
    store_inventory_item_id VARCHAR,
    sku VARCHAR,
    variant_id BIGINT,
    linked_by VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    problem VARCHAR,
    detail VARCHAR,
    linked_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    seen_at TIMESTAMP,
    PRIMARY KEY (channel, store_variant_id))"""

COLUMNS = (
    "channel",
    "store_product_id",
    "store_variant_id",
    "store_inventory_item_id",
    "sku",
    "variant_id",
    "linked_by",
    "status",
    "problem",
    "detail",
    "linked_at",
    "updated_at",
    "seen_at",
)


class LinkConflict(ValueError):
    """A link that would make two store variants one inventory variant (or take over another's row)."""


@dataclass(frozen=True)
class Link:
    channel: str
    store_product_id: str | None
    store_variant_id: str
    store_inventory_item_id: str | None
    sku: str | None
    variant_id: int | None
    linked_by: str
    status: str
    problem: str | None
    detail: str | None
    linked_at: datetime
    updated_at: datetime
    seen_at: datetime | None


@dataclass
class LinkCounts:
    """What one SKU matching pass found for a channel."""

    store_variants: int = 0
    linked_by_sku: int = 0
    linked_other: int = 0  # rows of other linked_by values, left as they were
    problems: dict[str, int] | None = None
    new: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def problem_total(self) -> int:
        return sum((self.problems or {}).values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "store_variants": self.store_variants,
            "linked_by_sku": self.linked_by_sku,
            "linked_other": self.linked_other,
            "problems": self.problem_total,
            **{f"problem_{name}": (self.problems or {}).get(name, 0) for name in PROBLEMS},
            "new": self.new,
            "changed": self.changed,
            "removed": self.removed,
        }


def ensure_links_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
        [table, column],
    ).fetchone()
    return bool(row and row[0])


# Candidates for one channel from its catalogue: one row per store variant not held by another linked_by.
# `{live}` is a fixed fragment (the vanished filter), never input.
CANDIDATES_SQL = """
CREATE OR REPLACE TEMP TABLE _link_candidates AS
WITH store AS (
    SELECT store_variant_id, store_product_id, store_inventory_item_id, nullif(trim(sku), '') AS sku
    FROM shopify_catalogue WHERE channel = $1
), store_counts AS (
    SELECT sku, count(*) AS n FROM store WHERE sku IS NOT NULL GROUP BY sku
), inv AS (
    SELECT id, trim(sku) AS sku, coalesce(status, 'active') = 'active' AS active
    FROM variants WHERE nullif(trim(sku), '') IS NOT NULL {live}
), inv_sku AS (
    SELECT sku, count(*) AS n_all, count(*) FILTER (WHERE active) AS n_active,
           min(id) FILTER (WHERE active) AS active_id, min(id) AS any_id,
           list(id ORDER BY id) AS ids
    FROM inv WHERE sku IN (SELECT sku FROM store) GROUP BY sku
), held AS (
    SELECT store_variant_id FROM channel_product_links WHERE channel = $1 AND linked_by <> 'sku'
), held_variants AS (
    SELECT variant_id FROM channel_product_links
    WHERE channel = $1 AND linked_by <> 'sku' AND status = 'linked' AND variant_id IS NOT NULL
), picked AS (
    SELECT s.*, sc.n AS store_n, i.n_all, i.n_active, i.ids,
           CASE WHEN i.n_active = 1 THEN i.active_id WHEN i.n_active = 0 AND i.n_all = 1 THEN i.any_id END
               AS candidate
    FROM store s
    LEFT JOIN store_counts sc ON sc.sku = s.sku
    LEFT JOIN inv_sku i ON i.sku = s.sku
    WHERE s.store_variant_id NOT IN (SELECT store_variant_id FROM held)
)
SELECT store_variant_id, store_product_id, store_inventory_item_id, sku, candidate AS variant_id,
       CASE WHEN sku IS NULL THEN 'no_sku'
            WHEN store_n > 1 THEN 'sku_duplicate_in_store'
            WHEN n_all IS NULL THEN 'sku_unknown'
            WHEN candidate IS NULL THEN 'sku_ambiguous'
            WHEN candidate IN (SELECT variant_id FROM held_variants)
                THEN 'variant_linked_elsewhere'
       END AS problem,
       CASE WHEN sku IS NULL THEN 'the store variant has no SKU'
            WHEN store_n > 1 THEN 'SKU ' || sku || ' is on ' || store_n || ' variants of the store'
            WHEN n_all IS NULL THEN 'no inventory variant has SKU ' || sku
            WHEN candidate IS NULL THEN 'SKU ' || sku || ' is on inventory variants '
                 || array_to_string(ids, ', ')
            WHEN candidate IN (SELECT variant_id FROM held_variants)
                THEN 'inventory variant ' || candidate || ' is already linked to another store variant'
       END AS detail
FROM picked
"""


def upsert_links_by_sku(
    con: duckdb.DuckDBPyConnection, channel: str, now: datetime | None = None
) -> LinkCounts:
    """Matches the channel's store catalogue (`shopify_catalogue`) to inventory variants by SKU and
    brings its `linked_by = 'sku'` rows up to date: new store variants get a row, changed ones are
    updated (`updated_at`; `linked_at` only when the variant or the status changes), store variants gone
    from the catalogue lose theirs. Rows of other `linked_by` values are left as they are."""
    ensure_catalogue_tables(con)
    ensure_links_table(con)
    now = now or utc_now()
    live = "AND _vanished_at IS NULL" if _has_column(con, "variants", "_vanished_at") else ""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(CANDIDATES_SQL.format(live=live), [channel])  # noqa: S608 - fixed fragment
        (removed,) = con.execute(
            """DELETE FROM channel_product_links
               WHERE channel = $1 AND linked_by = 'sku'
                 AND store_variant_id NOT IN (SELECT store_variant_id FROM _link_candidates)""",
            [channel],
        ).fetchone() or (0,)
        (new,) = con.execute(
            """SELECT count(*) FROM _link_candidates
               WHERE store_variant_id NOT IN (SELECT store_variant_id FROM channel_product_links WHERE channel = $1)""",
            [channel],
        ).fetchone() or (0,)
        (changed,) = con.execute(
            """SELECT count(*) FROM _link_candidates c JOIN channel_product_links l
                 ON l.channel = $1 AND l.store_variant_id = c.store_variant_id
               WHERE (l.store_product_id, l.store_inventory_item_id, l.sku, l.variant_id, l.problem, l.detail)
                     IS DISTINCT FROM
                     (c.store_product_id, c.store_inventory_item_id, c.sku, c.variant_id, c.problem, c.detail)""",
            [channel],
        ).fetchone() or (0,)
        con.execute(
            """INSERT INTO channel_product_links
               SELECT $1, store_product_id, store_variant_id, store_inventory_item_id, sku, variant_id, 'sku',
                      CASE WHEN problem IS NULL THEN 'linked' ELSE 'problem' END, problem, detail, $2, $2, $2
               FROM _link_candidates
               ON CONFLICT (channel, store_variant_id) DO UPDATE SET
                   linked_at = CASE WHEN (channel_product_links.variant_id, channel_product_links.problem)
                                         IS DISTINCT FROM (EXCLUDED.variant_id, EXCLUDED.problem)
                                    THEN EXCLUDED.linked_at ELSE channel_product_links.linked_at END,
                   updated_at = CASE WHEN (channel_product_links.store_product_id,
                                           channel_product_links.store_inventory_item_id, channel_product_links.sku,
                                           channel_product_links.variant_id, channel_product_links.problem,
                                           channel_product_links.detail)
                                          IS DISTINCT FROM
                                          (EXCLUDED.store_product_id, EXCLUDED.store_inventory_item_id,
                                           EXCLUDED.sku, EXCLUDED.variant_id, EXCLUDED.problem, EXCLUDED.detail)
                                     THEN EXCLUDED.updated_at ELSE channel_product_links.updated_at END,
                   store_product_id = EXCLUDED.store_product_id,
                   store_inventory_item_id = EXCLUDED.store_inventory_item_id,
                   sku = EXCLUDED.sku, variant_id = EXCLUDED.variant_id, status = EXCLUDED.status,
                   problem = EXCLUDED.problem, detail = EXCLUDED.detail, seen_at = EXCLUDED.seen_at""",
            [channel, now],
        )
        # A row made another way whose store variant the catalogue still shows is seen too.
        con.execute(
            """UPDATE channel_product_links SET seen_at = $2
               WHERE channel = $1 AND linked_by <> 'sku'
                 AND store_variant_id IN (SELECT store_variant_id FROM shopify_catalogue WHERE channel = $1)""",
            [channel, now],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _link_candidates")
    counts = link_counts(con, channel)
    counts.new, counts.changed, counts.removed = int(new), int(changed), int(removed)
    return counts


def link_counts(con: duckdb.DuckDBPyConnection, channel: str) -> LinkCounts:
    """The channel's links as they are: by how they were made and by problem."""
    ensure_links_table(con)
    rows = con.execute(
        """SELECT linked_by, status, problem, count(*) FROM channel_product_links
           WHERE channel = $1 GROUP BY ALL""",
        [channel],
    ).fetchall()
    counts = LinkCounts(problems=dict.fromkeys(PROBLEMS, 0))
    assert counts.problems is not None
    for linked_by, status, problem, n in rows:
        counts.store_variants += int(n)
        if status == "linked":
            if linked_by == "sku":
                counts.linked_by_sku += int(n)
            else:
                counts.linked_other += int(n)
        elif problem:
            counts.problems[problem] = counts.problems.get(problem, 0) + int(n)
    return counts


def _select(where: str) -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM channel_product_links WHERE {where}"  # noqa: S608 - fixed


def link_for_variant(con: duckdb.DuckDBPyConnection, channel: str, variant_id: int) -> Link | None:
    """The store variant linked to inventory variant `variant_id` on `channel` (linked rows only)."""
    ensure_links_table(con)
    rows = con.execute(
        _select("channel = $1 AND variant_id = $2 AND status = 'linked' ORDER BY store_variant_id"),
        [channel, variant_id],
    ).fetchall()
    if len(rows) > 1:
        raise LinkConflict(
            f"channel {channel!r}: inventory variant {variant_id} is linked to {len(rows)} store variants "
            f"({', '.join(r[2] for r in rows)}); the links check says so too"
        )
    return Link(*rows[0]) if rows else None


def link_for_store_variant(
    con: duckdb.DuckDBPyConnection, channel: str, store_variant_id: str
) -> Link | None:
    """The row of a store variant (GID) on `channel`, whatever its status (None: not in the table)."""
    ensure_links_table(con)
    row = con.execute(
        _select("channel = $1 AND store_variant_id = $2"), [channel, store_variant_id]
    ).fetchone()
    return Link(*row) if row else None


def add_link(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    *,
    store_variant_id: str,
    variant_id: int,
    linked_by: str,
    store_product_id: str | None = None,
    store_inventory_item_id: str | None = None,
    sku: str | None = None,
    now: datetime | None = None,
) -> Link:
    """Records a link made another way than by SKU (`created`, `published`): status `linked`. A SKU link
    of the same inventory variant to another store variant becomes a `variant_linked_elsewhere` problem in
    the same transaction; a link of another kind raises LinkConflict (two store variants would be one
    inventory variant)."""
    ensure_catalogue_tables(con)
    if linked_by == "sku" or linked_by not in LINKED_BY:
        raise ValueError(
            f"linked_by must be one of {', '.join(LINKED_BY[1:])} (sku links come from the catalogue)"
        )
    ensure_links_table(con)
    now = now or utc_now()
    other = con.execute(
        """SELECT store_variant_id FROM channel_product_links
           WHERE channel = $1 AND variant_id = $2 AND status = 'linked' AND store_variant_id <> $3
             AND linked_by <> 'sku'""",
        [channel, variant_id, store_variant_id],
    ).fetchone()
    if other:
        raise LinkConflict(
            f"channel {channel!r}: inventory variant {variant_id} is already linked to store variant {other[0]}"
        )
    con.execute("BEGIN TRANSACTION")
    try:
        # A SKU match of the same inventory variant gives way (as the next SKU pass would decide).
        con.execute(
            """UPDATE channel_product_links
               SET status = 'problem', problem = 'variant_linked_elsewhere', updated_at = $4, linked_at = $4,
                   detail = 'inventory variant ' || $2 || ' is already linked to another store variant'
               WHERE channel = $1 AND variant_id = $2 AND status = 'linked' AND linked_by = 'sku'
                 AND store_variant_id <> $3""",
            [channel, variant_id, store_variant_id, now],
        )
        # Store fields not given come from the catalogue (or the row the store variant had).
        con.execute(
            """INSERT OR REPLACE INTO channel_product_links
               SELECT $1, coalesce($2, c.store_product_id, l.store_product_id), $3,
                      coalesce($4, c.store_inventory_item_id, l.store_inventory_item_id),
                      coalesce($5, nullif(trim(c.sku), ''), l.sku), $6, $7, 'linked', NULL, NULL, $8, $8, $8
               FROM (SELECT 1) AS one
               LEFT JOIN shopify_catalogue c ON c.channel = $1 AND c.store_variant_id = $3
               LEFT JOIN channel_product_links l ON l.channel = $1 AND l.store_variant_id = $3""",
            [
                channel,
                store_product_id,
                store_variant_id,
                store_inventory_item_id,
                sku,
                variant_id,
                linked_by,
                now,
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    link = link_for_store_variant(con, channel, store_variant_id)
    assert link is not None
    return link


@dataclass(frozen=True)
class NewLink:
    """One link for `add_links` (the arguments of `add_link`)."""

    store_variant_id: str
    variant_id: int
    store_product_id: str | None = None
    store_inventory_item_id: str | None = None
    sku: str | None = None


def add_links(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    links: list[NewLink],
    *,
    linked_by: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """`add_link` for many store variants in one transaction (the import and the publish make thousands;
    one transaction each costs tens of milliseconds). Same rules: SKU links of the same inventory
    variants give way; a link whose inventory variant is already linked another way to another store
    variant (or that appears twice in `links`) is not written. Returns those refused: store variant ->
    why."""
    if linked_by == "sku" or linked_by not in LINKED_BY:
        raise ValueError(
            f"linked_by must be one of {', '.join(LINKED_BY[1:])} (sku links come from the catalogue)"
        )
    ensure_catalogue_tables(con)
    ensure_links_table(con)
    now = now or utc_now()
    refused: dict[str, str] = {}
    held = dict(
        con.execute(
            """SELECT variant_id, min(store_variant_id) FROM channel_product_links
               WHERE channel = $1 AND status = 'linked' AND linked_by <> 'sku'
                 AND variant_id IN (SELECT unnest($2::BIGINT[])) GROUP BY variant_id""",
            [channel, [link.variant_id for link in links]],
        ).fetchall()
    )
    chosen: dict[int, NewLink] = {}
    for link in links:
        other = held.get(link.variant_id)
        if other is not None and other != link.store_variant_id:
            refused[link.store_variant_id] = (
                f"channel {channel!r}: inventory variant {link.variant_id} is already linked to store variant {other}"
            )
        elif link.variant_id in chosen and chosen[link.variant_id].store_variant_id != link.store_variant_id:
            refused[link.store_variant_id] = (
                f"channel {channel!r}: inventory variant {link.variant_id} is given to two store variants"
            )
        else:
            chosen[link.variant_id] = link
    rows = list(chosen.values())
    if not rows:
        return refused
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """UPDATE channel_product_links
               SET status = 'problem', problem = 'variant_linked_elsewhere', updated_at = $4, linked_at = $4,
                   detail = 'inventory variant ' || variant_id || ' is already linked to another store variant'
               WHERE channel = $1 AND status = 'linked' AND linked_by = 'sku'
                 AND variant_id IN (SELECT unnest($2::BIGINT[]))
                 AND store_variant_id NOT IN (SELECT unnest($3::VARCHAR[]))""",
            [channel, [r.variant_id for r in rows], [r.store_variant_id for r in rows], now],
        )
        con.execute(
            """INSERT OR REPLACE INTO channel_product_links
               SELECT $1, coalesce(n.store_product_id, c.store_product_id, l.store_product_id), n.store_variant_id,
                      coalesce(n.item, c.store_inventory_item_id, l.store_inventory_item_id),
                      coalesce(n.sku, nullif(trim(c.sku), ''), l.sku), n.variant_id, $2, 'linked', NULL, NULL,
                      $3, $3, $3
               FROM (SELECT unnest($4::VARCHAR[]) AS store_variant_id, unnest($5::BIGINT[]) AS variant_id,
                            unnest($6::VARCHAR[]) AS store_product_id, unnest($7::VARCHAR[]) AS item,
                            unnest($8::VARCHAR[]) AS sku) AS n
               LEFT JOIN shopify_catalogue c ON c.channel = $1 AND c.store_variant_id = n.store_variant_id
               LEFT JOIN channel_product_links l ON l.channel = $1 AND l.store_variant_id = n.store_variant_id""",
            [
                channel,
                linked_by,
                now,
                [r.store_variant_id for r in rows],
                [r.variant_id for r in rows],
                [r.store_product_id for r in rows],
                [r.store_inventory_item_id for r in rows],
                [r.sku for r in rows],
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return refused


def links_by_kind(con: duckdb.DuckDBPyConnection, channel: str) -> dict[str, int]:
    """The channel's linked rows by how they were made (`sku`, `created`, `published`), and its problems."""
    ensure_links_table(con)
    rows = con.execute(
        """SELECT CASE WHEN status = 'linked' THEN linked_by ELSE 'problem' END, count(*)
           FROM channel_product_links WHERE channel = $1 GROUP BY 1""",
        [channel],
    ).fetchall()
    counts = {**dict.fromkeys(LINKED_BY, 0), "problem": 0}
    counts.update({str(kind): int(n) for kind, n in rows})
    return counts


def double_links(con: duckdb.DuckDBPyConnection, channel: str) -> list[dict[str, Any]]:
    """Inventory variants linked to more than one store variant of the channel (should be none)."""
    ensure_links_table(con)
    rows = con.execute(
        """SELECT variant_id, list(store_variant_id ORDER BY store_variant_id), list(linked_by ORDER BY store_variant_id)
           FROM channel_product_links WHERE channel = $1 AND status = 'linked' AND variant_id IS NOT NULL
           GROUP BY variant_id HAVING count(*) > 1 ORDER BY variant_id""",
        [channel],
    ).fetchall()
    return [{"variant_id": v, "store_variant_ids": list(s), "linked_by": list(b)} for v, s, b in rows]


def problem_sample(con: duckdb.DuckDBPyConnection, channel: str, limit: int = 10) -> list[dict[str, Any]]:
    """A few problem rows, for metadata."""
    ensure_links_table(con)
    rows = con.execute(
        """SELECT store_variant_id, sku, problem, detail FROM channel_product_links
           WHERE channel = $1 AND status = 'problem' ORDER BY problem, sku NULLS FIRST, store_variant_id LIMIT $2""",
        [channel, limit],
    ).fetchall()
    return [{"store_variant_id": r[0], "sku": r[1], "problem": r[2], "detail": r[3]} for r in rows]


def refresh_catalogue(
    client: ShopifyClient, con: duckdb.DuckDBPyConnection, channel: ResolvedChannel, *, mode: str = "auto"
) -> tuple[StoreRead, LinkCounts]:
    """Reads the channel's store catalogue (bulk or pages: catalogue.py) into the warehouse, with the
    levels at the channel's target locations, then brings its SKU links up to date."""
    assert channel.config.shopify is not None, f"channel {channel.name!r} is not a Shopify channel"
    read = read_store(client, mode=mode, expected_variants=expected_store_size(con, channel.name))
    targets = channel_targets(channel, read.primary_location_id)
    write_store_read(
        con,
        channel.name,
        read,
        shop=channel.config.shopify.shop,
        api_version=client.served_version or client.api_version,
        locations=[t.location for t in targets],
    )
    return read, upsert_links_by_sku(con, channel.name, now=read.read_at)
