"""Drift: where the store's stock disagrees with what we last pushed.

Someone edits stock in the Shopify admin, an app adjusts it, a level is removed: the store then holds
something else than our last write. `check_drift` reads every item's levels from the store (bulk for a
large store, else pages: stock_push.refresh_levels), keeps them in `shopify_inventory_levels`, and lists
every linked item and target location whose store value differs from `shopify_stock_pushed.pushed_quantity`
in `shopify_stock_drift` (replaced per channel on each check): SKU, location, what we pushed, what the
store holds (null: no longer stocked there), when we pushed, when it was read.

Repair needs nothing more: the read levels are newer than our own belief, so the next stock push sees the
store's actual value, sends the target again and compares against that value, not our stale one.
Levels pushed after the read started are not compared (the read cannot have seen them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ResolvedChannel
from gecko_pipeline.stores.shopify.catalogue import StoreRead, shop_facts
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.stock_push import (
    Target,
    channel_targets,
    ensure_stock_tables,
    refresh_levels,
)

DDL = """CREATE TABLE IF NOT EXISTS shopify_stock_drift (
    channel VARCHAR NOT NULL, store_inventory_item_id VARCHAR NOT NULL, store_location_id VARCHAR NOT NULL,
    variant_id BIGINT, sku VARCHAR, pushed_quantity BIGINT, store_quantity BIGINT,
    pushed_at TIMESTAMP, read_at TIMESTAMP,
    PRIMARY KEY (channel, store_inventory_item_id, store_location_id))"""


@dataclass
class DriftReport:
    channel: str
    compared: int = 0  # pushed levels the read could see
    drifted: int = 0  # of them, the store holds something else
    drifted_skus: int = 0
    missing: int = 0  # of the drifted, no longer stocked at the location
    by_location: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    read_at: datetime | None = None
    read_mode: str | None = None
    read_seconds: float = 0.0
    requests: int = 0
    cost_actual: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("sample", "by_location")}


def ensure_drift_table(con: duckdb.DuckDBPyConnection) -> None:
    ensure_stock_tables(con)
    con.execute(DDL)


def compute_drift(
    con: duckdb.DuckDBPyConnection, channel: str, read_at: datetime, locations: Sequence[str]
) -> DriftReport:
    """Compares the levels read at `read_at` with what we last pushed; replaces the channel's drift rows."""
    ensure_drift_table(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM shopify_stock_drift WHERE channel = $1", [channel])
        con.execute(
            """INSERT INTO shopify_stock_drift
               SELECT s.channel, s.store_inventory_item_id, s.store_location_id, s.variant_id, s.sku,
                      s.pushed_quantity, lv.available, s.pushed_at, $2
               FROM shopify_stock_pushed s
               JOIN channel_product_links l
                 ON l.channel = s.channel AND l.store_inventory_item_id = s.store_inventory_item_id
                AND l.status = 'linked'
               LEFT JOIN shopify_inventory_levels lv
                 ON lv.channel = s.channel AND lv.store_inventory_item_id = s.store_inventory_item_id
                AND lv.store_location_id = s.store_location_id
               WHERE s.channel = $1 AND s.pushed_quantity IS NOT NULL AND s.pushed_at < $2
                 AND s.store_location_id IN (SELECT unnest($3::VARCHAR[]))
                 AND lv.available IS DISTINCT FROM s.pushed_quantity""",
            [channel, read_at, list(locations)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    (compared,) = con.execute(
        """SELECT count(*) FROM shopify_stock_pushed s
           JOIN channel_product_links l ON l.channel = s.channel AND l.store_inventory_item_id = s.store_inventory_item_id
            AND l.status = 'linked'
           WHERE s.channel = $1 AND s.pushed_quantity IS NOT NULL AND s.pushed_at < $2
             AND s.store_location_id IN (SELECT unnest($3::VARCHAR[]))""",
        [channel, read_at, list(locations)],
    ).fetchone() or (0,)
    report = DriftReport(channel=channel, compared=int(compared), read_at=read_at)
    (report.drifted, report.drifted_skus, report.missing) = con.execute(
        """SELECT count(*), count(DISTINCT coalesce(sku, store_inventory_item_id)),
                  count(*) FILTER (WHERE store_quantity IS NULL)
           FROM shopify_stock_drift WHERE channel = $1""",
        [channel],
    ).fetchone() or (0, 0, 0)
    report.by_location = dict(
        con.execute(
            "SELECT store_location_id, count(*) FROM shopify_stock_drift WHERE channel = $1 GROUP BY 1 ORDER BY 1",
            [channel],
        ).fetchall()
    )
    report.sample = [
        {"sku": sku, "location": location, "pushed": pushed, "store": store}
        for sku, location, pushed, store in con.execute(
            """SELECT sku, store_location_id, pushed_quantity, store_quantity FROM shopify_stock_drift
               WHERE channel = $1 ORDER BY sku NULLS LAST, store_location_id LIMIT 20""",
            [channel],
        ).fetchall()
    ]
    return report


def check_drift(
    client: ShopifyClient,
    con: duckdb.DuckDBPyConnection,
    channel: ResolvedChannel,
    *,
    mode: str = "auto",
    read: StoreRead | None = None,
) -> DriftReport:
    """Reads the store's levels (unless `read`, a catalogue read just written, is given) and reports drift."""
    ensure_drift_table(con)
    _currency, primary = shop_facts(con, channel.name)
    targets: list[Target] = channel_targets(channel, primary)
    locations = [t.location for t in targets]
    shared = read is not None
    if read is None:
        read = refresh_levels(client, con, channel, targets, mode=mode)
    report = compute_drift(con, channel.name, read.read_at, locations)
    if shared:  # the catalogue read's cost is the links asset's, not counted twice
        report.read_mode = f"{read.mode} (the catalogue read of this run)"
    else:
        report.read_mode, report.read_seconds = read.mode, read.seconds
        report.requests, report.cost_actual = read.requests, read.cost_actual
    return report
