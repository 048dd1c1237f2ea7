"""A Shopify channel's catalogue, read into the warehouse: what the store sells and holds.

One read walks the store's inventory items, each with its variant (SKU, price, inventory policy, title),
its product (id, title, status), whether Shopify tracks its stock (`tracked`) and its `available`
quantity at every location. Two ways, one record shape:

- **pages** (small stores): `inventoryItems(first: n)` page by page, `n` chosen so a page's requested
  cost stays under the single-query cap (1,000) and the shop's bucket;
- **bulk** (large stores): one bulk operation (`bulkOperationRunQuery`, shared/shopify-api.md §3.3) over
  the same fields; the levels come back as child lines of their item (`__parentId`), which
  `ShopifyClient.run_bulk_query` re-attaches. It costs 10 points however large the store is.

`mode="auto"` takes bulk when the store is expected to hold more than BULK_THRESHOLD variants (the
previous read of the channel, else the channel's listings), pages otherwise. Why 500: a page read costs
about 10 points a variant (measured: 594 for 60 variants at 3 locations), so 500 variants are ~5,000
points, 50 s of a Standard bucket's refill, where a bulk operation costs 10 points and a second or two
of polling.

Tables (warehouse.duckdb, documented in docs/data-model.md):

- `shopify_shop`: per channel, the shop's currency, primary location and locations as last read;
- `shopify_catalogue`: per channel and store variant, the variant, its product and inventory item;
- `shopify_inventory_levels`: per channel, inventory item and (target) location, `available`.

Each read replaces the channel's rows in one transaction; `read_at` is when the read *started*, so a
value read is never taken as newer than it is (stock_push.py compares it with what it pushed).
`read_levels` re-reads a few items' levels by id (the stock push's answer to a stale compare).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ResolvedChannel
from gecko_pipeline.stores.shopify.client import ShopifyClient

# Stores with more variants than this are read with a bulk operation (auto mode).
BULK_THRESHOLD = 500
# Shopify's single-query cap: a page query must request less.
MAX_QUERY_COST = 1_000
MAX_PAGE = 250

DDL = [
    """CREATE TABLE IF NOT EXISTS shopify_shop (
        channel VARCHAR PRIMARY KEY, shop VARCHAR, api_version VARCHAR, currency VARCHAR,
        primary_location_id VARCHAR, locations JSON, variants INTEGER, mode VARCHAR, read_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS shopify_catalogue (
        channel VARCHAR NOT NULL, store_variant_id VARCHAR NOT NULL, store_product_id VARCHAR,
        store_inventory_item_id VARCHAR, sku VARCHAR, product_title VARCHAR, variant_title VARCHAR,
        product_status VARCHAR, price DECIMAL(18,2), inventory_policy VARCHAR, tracked BOOLEAN,
        read_at TIMESTAMP NOT NULL, PRIMARY KEY (channel, store_variant_id))""",
    """CREATE TABLE IF NOT EXISTS shopify_inventory_levels (
        channel VARCHAR NOT NULL, store_inventory_item_id VARCHAR NOT NULL, store_location_id VARCHAR NOT NULL,
        available BIGINT, read_at TIMESTAMP NOT NULL,
        PRIMARY KEY (channel, store_inventory_item_id, store_location_id))""",
]

SHOP_QUERY = """query StoreShop {
  shop { currencyCode }
  location { id }
  locations(first: 50, includeInactive: true) { nodes { id name isActive } }
}"""

_ITEM_FIELDS = """id tracked sku
      variant { id sku price inventoryPolicy title product { id title status } }"""
_LEVEL_FIELDS = """location { id } quantities(names: ["available"]) { name quantity }"""

PAGE_QUERY = f"""query StoreCatalogue($first: Int!, $after: String, $levels: Int!) {{
  inventoryItems(first: $first, after: $after) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {_ITEM_FIELDS}
      inventoryLevels(first: $levels) {{ nodes {{ {_LEVEL_FIELDS} }} }} }}
  }}
}}"""
LEVELS_PAGE_QUERY = f"""query StoreLevels($first: Int!, $after: String, $levels: Int!) {{
  inventoryItems(first: $first, after: $after) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ id inventoryLevels(first: $levels) {{ nodes {{ {_LEVEL_FIELDS} }} }} }}
  }}
}}"""
BULK_QUERY = f"""{{ inventoryItems {{ edges {{ node {{ {_ITEM_FIELDS}
  inventoryLevels {{ edges {{ node {{ {_LEVEL_FIELDS} }} }} }} }} }} }} }}"""
LEVELS_BULK_QUERY = f"""{{ inventoryItems {{ edges {{ node {{ id
  inventoryLevels {{ edges {{ node {{ {_LEVEL_FIELDS} }} }} }} }} }} }} }}"""


def utc_now() -> datetime:
    """Now in UTC, naive (as every TIMESTAMP of these tables is)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class StoreItem:
    """One inventory item of the store with its variant and product, and `available` per location."""

    inventory_item_id: str
    tracked: bool | None = None
    variant_id: str | None = None
    product_id: str | None = None
    sku: str | None = None
    price: Decimal | None = None
    inventory_policy: str | None = None
    variant_title: str | None = None
    product_title: str | None = None
    product_status: str | None = None
    levels: dict[str, int | None] = field(default_factory=dict)  # location GID -> available


@dataclass
class StoreRead:
    """One read of a store: its shop facts and items, how it was read and what it cost."""

    read_at: datetime
    currency: str | None
    primary_location_id: str | None
    locations: list[dict[str, Any]]
    items: list[StoreItem]
    mode: str  # "pages" or "bulk"
    levels_only: bool
    requests: int = 0
    cost_actual: float = 0.0
    seconds: float = 0.0

    @property
    def variants(self) -> int:
        return sum(1 for item in self.items if item.variant_id)


def ensure_catalogue_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def bucket_maximum(client: ShopifyClient) -> float | None:
    """The shop's bucket size as the client last saw it (None before any answer)."""
    bucket = getattr(client, "_bucket", None)
    return getattr(bucket, "maximum", None)


def page_size(location_count: int, bucket: float | None) -> int:
    """Items per page: a page requests 2 + n * (5 + 3 L) points (a connection is 2 + n plus n times a
    node: variant 1, product 1, the levels connection 2 + L, each level's location and quantities 1 + 1),
    which must stay under the single-query cap and the bucket."""
    cap = min(MAX_QUERY_COST, bucket) if bucket else MAX_QUERY_COST
    per_node = 5 + 3 * max(1, location_count)
    return max(1, min(MAX_PAGE, int((cap - 2) // per_node)))


def read_store(
    client: ShopifyClient,
    *,
    mode: str = "auto",
    expected_variants: int | None = None,
    levels_only: bool = False,
    bulk_poll_interval: float = 1.0,
) -> StoreRead:
    """Reads the store's catalogue (or, with `levels_only`, just every item's levels)."""
    if mode not in ("auto", "bulk", "pages"):
        raise ValueError(f"catalogue read mode must be auto, bulk or pages (got {mode!r})")
    started, read_at = time.perf_counter(), utc_now()
    before = client.stats.snapshot()
    shop = client.execute(SHOP_QUERY)
    locations = list(((shop.get("locations") or {}).get("nodes")) or [])
    chosen = mode
    if mode == "auto":
        chosen = "bulk" if (expected_variants or 0) > BULK_THRESHOLD else "pages"
    if chosen == "bulk":
        records: Iterable[dict[str, Any]] = client.run_bulk_query(
            LEVELS_BULK_QUERY if levels_only else BULK_QUERY, poll_interval=bulk_poll_interval
        )
    else:
        records = _pages(client, len(locations), levels_only)
    items = [_item(record) for record in records]
    after = client.stats.snapshot()
    return StoreRead(
        read_at=read_at,
        currency=(shop.get("shop") or {}).get("currencyCode"),
        primary_location_id=(shop.get("location") or {}).get("id"),
        locations=locations,
        items=items,
        mode=chosen,
        levels_only=levels_only,
        requests=int(after["requests"] - before["requests"]),
        cost_actual=after["cost_actual"] - before["cost_actual"],
        seconds=round(time.perf_counter() - started, 3),
    )


def _pages(client: ShopifyClient, location_count: int, levels_only: bool) -> Iterator[dict[str, Any]]:
    levels = max(1, min(MAX_PAGE, location_count))
    variables = {"first": page_size(levels, bucket_maximum(client)), "levels": levels}
    query = LEVELS_PAGE_QUERY if levels_only else PAGE_QUERY
    for nodes, _ in client.iter_pages(query, variables, path=("inventoryItems",)):
        yield from nodes


def _connection_nodes(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("nodes"), list):
        return [n for n in value["nodes"] if isinstance(n, dict)]
    return [
        e["node"] for e in value.get("edges") or [] if isinstance(e, dict) and isinstance(e.get("node"), dict)
    ]


def _available(level: dict[str, Any]) -> int | None:
    for quantity in level.get("quantities") or []:
        if quantity.get("name") == "available":
            value = quantity.get("quantity")
            return int(value) if value is not None else None
    return None


def _item(record: dict[str, Any]) -> StoreItem:
    """A page node or a bulk root record (levels inline, or as `__children` lines)."""
    variant = record.get("variant") or {}
    product = variant.get("product") or {}
    levels = _connection_nodes(record.get("inventoryLevels")) + [
        child for child in record.get("__children") or [] if "location" in child
    ]
    price = variant.get("price")
    return StoreItem(
        inventory_item_id=str(record["id"]),
        tracked=record.get("tracked"),
        variant_id=variant.get("id"),
        product_id=product.get("id"),
        sku=variant.get("sku") if variant else record.get("sku"),
        price=Decimal(str(price)) if price is not None else None,
        inventory_policy=variant.get("inventoryPolicy"),
        variant_title=variant.get("title"),
        product_title=product.get("title"),
        product_status=product.get("status"),
        levels={
            str(level["location"]["id"]): _available(level)
            for level in levels
            if isinstance(level.get("location"), dict) and level["location"].get("id")
        },
    )


def write_store_read(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    read: StoreRead,
    *,
    shop: str,
    api_version: str,
    locations: Collection[str] | None = None,
) -> dict[str, int]:
    """Replaces the channel's rows with this read: the catalogue (unless the read was levels only) and
    the levels at `locations` (None: every location). Returns rows written per table."""
    ensure_catalogue_tables(con)
    wanted = set(locations) if locations is not None else None
    level_rows = [
        (item.inventory_item_id, location, available)
        for item in read.items
        for location, available in item.levels.items()
        if wanted is None or location in wanted
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT OR REPLACE INTO shopify_shop VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                channel,
                shop,
                api_version,
                read.currency,
                read.primary_location_id,
                json.dumps(read.locations),
                read.variants if not read.levels_only else _previous_variants(con, channel),
                read.mode,
                read.read_at,
            ],
        )
        if not read.levels_only:
            con.execute("DELETE FROM shopify_catalogue WHERE channel = $1", [channel])
            rows = [i for i in read.items if i.variant_id]
            con.execute(
                """INSERT INTO shopify_catalogue
                   SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::VARCHAR[]),
                          unnest($5::VARCHAR[]), unnest($6::VARCHAR[]), unnest($7::VARCHAR[]),
                          unnest($8::VARCHAR[]), CAST(unnest($9::VARCHAR[]) AS DECIMAL(18,2)),
                          unnest($10::VARCHAR[]), unnest($11::BOOLEAN[]), $12""",
                [
                    channel,
                    [i.variant_id for i in rows],
                    [i.product_id for i in rows],
                    [i.inventory_item_id for i in rows],
                    [i.sku for i in rows],
                    [i.product_title for i in rows],
                    [i.variant_title for i in rows],
                    [i.product_status for i in rows],
                    [format(i.price, "f") if i.price is not None else None for i in rows],
                    [i.inventory_policy for i in rows],
                    [i.tracked for i in rows],
                    read.read_at,
                ],
            )
        con.execute("DELETE FROM shopify_inventory_levels WHERE channel = $1", [channel])
        con.execute(
            """INSERT INTO shopify_inventory_levels
               SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::BIGINT[]), $5""",
            [
                channel,
                [r[0] for r in level_rows],
                [r[1] for r in level_rows],
                [r[2] for r in level_rows],
                read.read_at,
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {
        "shopify_catalogue": 0 if read.levels_only else read.variants,
        "shopify_inventory_levels": len(level_rows),
    }


def _previous_variants(con: duckdb.DuckDBPyConnection, channel: str) -> int | None:
    row = con.execute("SELECT variants FROM shopify_shop WHERE channel = $1", [channel]).fetchone()
    return row[0] if row else None


def expected_store_size(con: duckdb.DuckDBPyConnection, channel: str) -> int:
    """How many variants the channel's store probably holds: its last read, else the channel's listings."""
    ensure_catalogue_tables(con)
    row = con.execute("SELECT variants FROM shopify_shop WHERE channel = $1", [channel]).fetchone()
    if row and row[0] is not None:
        return int(row[0])
    has_listings = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'channel_listings'"
    ).fetchone()
    if not has_listings or not has_listings[0]:
        return 0
    (count,) = con.execute(
        "SELECT count(*) FROM channel_listings WHERE channel = $1", [channel]
    ).fetchone() or (0,)
    return int(count)


def shop_facts(con: duckdb.DuckDBPyConnection, channel: str) -> tuple[str | None, str | None]:
    """(currency, primary location GID) of the channel's shop as last read, or (None, None)."""
    ensure_catalogue_tables(con)
    row = con.execute(
        "SELECT currency, primary_location_id FROM shopify_shop WHERE channel = $1", [channel]
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def served_version(con: duckdb.DuckDBPyConnection, channel: str) -> str | None:
    """The Admin API version the channel's shop answered as at its last read."""
    ensure_catalogue_tables(con)
    row = con.execute("SELECT api_version FROM shopify_shop WHERE channel = $1", [channel]).fetchone()
    return row[0] if row else None


LEVELS_BY_ID_QUERY = """query StoreLevelsById($ids: [ID!]!, {params}) {{
  nodes(ids: $ids) {{ ... on InventoryItem {{ id {fields} }} }}
}}"""


def read_levels(client: ShopifyClient, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
    """The store's `available` now for (inventory item GID, location GID) pairs; None where the item is
    not stocked there (or is gone). Items are read by id, a location per alias, as few per query as the
    single-query cap allows."""
    wanted: dict[str, set[str]] = {}
    for item, location in pairs:
        wanted.setdefault(item, set()).add(location)
    locations = sorted({loc for locs in wanted.values() for loc in locs})
    if not locations:
        return {}
    params = ", ".join(f"$l{i}: ID!" for i in range(len(locations)))
    fields = " ".join(
        f'l{i}: inventoryLevel(locationId: $l{i}) {{ quantities(names: ["available"]) {{ name quantity }} }}'
        for i in range(len(locations))
    )
    query = LEVELS_BY_ID_QUERY.format(params=params, fields=fields)
    per_item = 1 + 2 * len(locations)  # the item, and per location its level and quantities
    bucket = bucket_maximum(client)
    cap = min(MAX_QUERY_COST, bucket) if bucket else MAX_QUERY_COST
    chunk = max(1, min(MAX_PAGE, int(cap - 2) // per_item))
    items = sorted(wanted)
    found: dict[tuple[str, str], int | None] = {}
    for start in range(0, len(items), chunk):
        ids = items[start : start + chunk]
        variables: dict[str, Any] = {"ids": ids, **{f"l{i}": loc for i, loc in enumerate(locations)}}
        nodes = client.execute(query, variables).get("nodes") or []
        by_id = {str(n.get("id")): n for n in nodes if isinstance(n, dict) and n.get("id")}
        for item in ids:
            node = by_id.get(item) or {}
            for i, location in enumerate(locations):
                if location in wanted[item]:
                    level = node.get(f"l{i}")
                    found[(item, location)] = _available(level) if isinstance(level, dict) else None
    return found


@dataclass(frozen=True)
class Target:
    """A Shopify location the channel writes, and what it gets: `location` (its inventory location's
    share), `total` (the channel quantity) or `zero`."""

    location: str
    inventory_location_id: int | None
    share: str


def channel_targets(channel: ResolvedChannel, primary_location_id: str | None = None) -> list[Target]:
    """The Shopify locations `channel` writes and what each gets (stock_push.py's docstring): per mapped
    location its inventory location's share (`per_location`), else the total at the first mapped one and
    0 at the others; without a mapping, the total at the shop's primary location."""
    shopify = channel.config.shopify
    mapped = (
        list(zip((gid for gid, _ in shopify.locations), channel.location_ids, strict=False))
        if shopify
        else []
    )
    if not mapped:
        return [Target(primary_location_id, None, "total")] if primary_location_id else []
    if channel.per_location:
        return [Target(gid, location_id, "location") for gid, location_id in mapped]
    return [
        Target(gid, location_id, "total" if index == 0 else "zero")
        for index, (gid, location_id) in enumerate(mapped)
    ]
