"""Stock out to Shopify: the channel's listings become `available` quantities at the mapped locations.

**What each Shopify location gets** (`channel_targets`):
- a `per_location: true` channel: each mapped Shopify location gets its inventory location's share of
  the channel quantity (`channel_stock_levels.quantity`);
- otherwise the channel's total (`channel_listings.quantity`) goes to the **first** mapped Shopify location
  (the channel's first location, where its stock is handed out first) and every other mapped location
  is set to 0, so the store's sellable total is the channel's total; a channel without a `locations`
  mapping publishes its total at the shop's primary location. Unmapped locations are never touched.
Quantities are whole units, rounded down (a fraction of a unit is never offered). A variant whose stock
is not tracked (quantity null) gets no quantity (price_push.py sets `tracked: false` on its item).
Only `linked` rows of `channel_product_links` are written, and never an inventory variant linked to two
store variants.

**Only what changed.** `shopify_stock_pushed` keeps, per channel, inventory item and location, what we
last set (`pushed_quantity`, `writes`) and the store's value as we last knew it (`store_quantity`,
`store_seen_at`: our own write, or a re-read). The store's value we believe is the newer of that and the
last catalogue / drift read (`shopify_inventory_levels.read_at`); a level is sent only when the target
differs from it. So a second push with nothing changed sends nothing, a stock move sends exactly its
levels, and a drift read that saw a merchant's edit makes the next push repair it.

**Compare-and-set, never blind.** Each entry carries the value we believe the store holds
(`changeFromQuantity` from 2026-01, `compareQuantity` before: `InventoryApi`, the one place the versions
differ). One stale entry rejects the whole call (shared/shopify-api.md §7.5): the stale items are
re-read, an entry whose store value now equals the target is dropped (nothing to do), the others are
resent against the fresh value, up to MAX_ATTEMPTS times; what is still stale is left for the next push
and counted. Other per-entry errors drop their entry (counted, logged); errors of the call itself raise.

**Batches and keys.** Up to 250 entries per `inventorySetQuantities` (the API's input cap), in a fixed
order; the client paces by the cost bucket. Where the version needs it (2026-01 on) each call carries
`@idempotent(key:)` derived from its content: channel, every entry (item, location, quantity, compare
value, how many times we have written that level) and the attempt number. A retry after a lost answer,
in this run or the next, rebuilds the same batch and key, so Shopify replays its first answer instead of
applying it again; a later write of the same numbers has another write count, hence another key.

**Not stocked.** From 2026-10 a set at a location where the item is not stocked creates the level
(compared against 0). Before, such an item is first activated there (`inventoryActivate` with the
target as `available`, several per request as aliases); an already stocked level keeps its quantity, so
the answer's quantity decides whether a set must follow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ResolvedChannel
from gecko_pipeline.channels.stock import ensure_channel_tables
from gecko_pipeline.stores.shopify.catalogue import (
    StoreRead,
    Target,
    channel_targets,
    ensure_catalogue_tables,
    expected_store_size,
    read_levels,
    read_store,
    shop_facts,
    utc_now,
    write_store_read,
)
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.errors import ShopifyError
from gecko_pipeline.stores.shopify.links import ensure_links_table

log = logging.getLogger("gecko_pipeline.stores.shopify.stock")

MAX_ENTRIES = 250  # per inventorySetQuantities call (shared/shopify-api.md §7.6)
MAX_ACTIVATIONS = 25  # inventoryActivate fields per request (10 points each)
MAX_ATTEMPTS = 5  # sends of one batch while entries keep going stale
FLUSH_EVERY = 40  # batches between writes of the state table
REASON = "correction"
APP_URI = "gid://gecko-pipeline/ChannelStockPush"

DDL = """CREATE TABLE IF NOT EXISTS shopify_stock_pushed (
    channel VARCHAR NOT NULL, store_inventory_item_id VARCHAR NOT NULL, store_location_id VARCHAR NOT NULL,
    variant_id BIGINT, sku VARCHAR, pushed_quantity BIGINT, pushed_at TIMESTAMP, writes INTEGER NOT NULL DEFAULT 0,
    store_quantity BIGINT, store_seen_at TIMESTAMP,
    PRIMARY KEY (channel, store_inventory_item_id, store_location_id))"""


def ensure_stock_tables(con: duckdb.DuckDBPyConnection) -> None:
    ensure_channel_tables(con)
    ensure_catalogue_tables(con)
    ensure_links_table(con)
    con.execute(DDL)


# --- the API versions, in one place ---------------------------------------------------------------


@dataclass(frozen=True)
class InventoryApi:
    """How the inventory mutations look in one Admin API version."""

    version: str
    compare_field: str  # changeFromQuantity (2026-01 on) or compareQuantity
    stale_codes: frozenset[str]
    idempotency_key: bool  # @idempotent(key:) (optional 2026-01, required 2026-04)
    activate_unstocked: bool  # ITEM_NOT_STOCKED_AT_LOCATION exists (before 2026-10)

    @classmethod
    def for_version(cls, version: str) -> InventoryApi:
        def at_least(other: str) -> bool:
            return version == "unstable" or version >= other

        return cls(
            version=version,
            compare_field="changeFromQuantity" if at_least("2026-01") else "compareQuantity",
            stale_codes=frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"}),
            idempotency_key=at_least("2026-01"),
            activate_unstocked=not at_least("2026-10"),
        )

    def set_document(self) -> str:
        directive = " @idempotent(key: $key)" if self.idempotency_key else ""
        params = "$input: InventorySetQuantitiesInput!" + (", $key: String!" if self.idempotency_key else "")
        return (
            f"mutation StockSet({params}) {{ inventorySetQuantities(input: $input){directive} "
            "{ inventoryAdjustmentGroup { id } userErrors { code field message } } }"
        )

    def activate_document(self, count: int) -> str:
        params, fields = [], []
        for i in range(count):
            params += [f"$i{i}: ID!", f"$l{i}: ID!", f"$q{i}: Int!"] + (
                [f"$k{i}: String!"] if self.idempotency_key else []
            )
            directive = f" @idempotent(key: $k{i})" if self.idempotency_key else ""
            fields.append(
                f"a{i}: inventoryActivate(inventoryItemId: $i{i}, locationId: $l{i}, available: $q{i}){directive} "
                '{ inventoryLevel { id quantities(names: ["available"]) { name quantity } } userErrors { field message } }'
            )
        return f"mutation StockActivate({', '.join(params)}) {{ {' '.join(fields)} }}"

    def entry(self, item: str, location: str, quantity: int, compare: int | None) -> dict[str, Any]:
        return {
            "inventoryItemId": item,
            "locationId": location,
            "quantity": quantity,
            self.compare_field: compare,
        }


# --- the plan --------------------------------------------------------------------------------------

# Every (linked item, target location) in scope with its target quantity and what we believe the store
# holds. `{scope}` is a fixed fragment chosen below, never input.
PLAN_SQL = """
CREATE OR REPLACE TEMP TABLE _stock_plan AS
WITH lk AS (
    SELECT variant_id, any_value(store_inventory_item_id) AS item, any_value(sku) AS sku
    FROM channel_product_links
    WHERE channel = $1 AND status = 'linked' AND variant_id IS NOT NULL AND store_inventory_item_id IS NOT NULL
    GROUP BY variant_id HAVING count(*) = 1
), want AS (
    SELECT lk.variant_id, lk.item, coalesce(lk.sku, li.sku) AS sku, t.location,
           li.quantity IS NOT NULL AS tracked,
           CAST(floor(greatest(CASE t.share WHEN 'total' THEN li.quantity WHEN 'zero' THEN 0
                                            ELSE coalesce(sl.quantity, 0) END, 0)) AS BIGINT) AS quantity
    FROM lk
    JOIN channel_listings li ON li.channel = $1 AND li.variant_id = lk.variant_id
    CROSS JOIN _stock_targets t
    LEFT JOIN channel_stock_levels sl
           ON sl.channel = $1 AND sl.variant_id = lk.variant_id AND sl.location_id = t.inventory_location_id
    WHERE {scope}
)
SELECT w.*, coalesce(s.writes, 0) AS writes, s.pushed_quantity,
       s.store_seen_at IS NOT NULL AND (lv.read_at IS NULL OR s.store_seen_at >= lv.read_at) AS state_newer,
       CASE WHEN s.store_seen_at IS NOT NULL AND (lv.read_at IS NULL OR s.store_seen_at >= lv.read_at)
                THEN s.store_quantity
            WHEN lv.store_inventory_item_id IS NOT NULL THEN coalesce(lv.available, 0) END AS belief,
       CASE WHEN s.store_seen_at IS NOT NULL AND (lv.read_at IS NULL OR s.store_seen_at >= lv.read_at)
                THEN s.store_seen_at ELSE lv.read_at END AS belief_at
FROM want w
LEFT JOIN shopify_stock_pushed s
       ON s.channel = $1 AND s.store_inventory_item_id = w.item AND s.store_location_id = w.location
LEFT JOIN shopify_inventory_levels lv
       ON lv.channel = $1 AND lv.store_inventory_item_id = w.item AND lv.store_location_id = w.location
"""


@dataclass
class Entry:
    """One level to write: the target and the value we believe the store holds (None: not stocked)."""

    item: str
    location: str
    quantity: int
    belief: int | None
    writes: int
    variant_id: int
    sku: str | None

    @property
    def pair(self) -> tuple[str, str]:
        return (self.item, self.location)


@dataclass
class StockPushResult:
    """What one push did for one channel (the push asset's metadata)."""

    channel: str
    levels: int = 0  # (linked item, target location) pairs in scope, tracked
    untracked: int = 0  # linked variants in scope whose stock is not tracked: no quantity
    unchanged: int = 0  # levels whose target equals what the store holds: not sent
    sent: int = 0  # levels written (set entries applied + activations that wrote the target)
    activated: int = 0  # levels created with inventoryActivate (before 2026-10)
    stale_retried: int = 0  # entries re-read after a stale compare
    stale_resolved_by_read: int = 0  # re-read entries already at the target (dropped)
    stale_unresolved: int = 0  # still stale after MAX_ATTEMPTS: left for the next push
    rejected: int = 0  # entries the API refused for another reason
    mutations: int = 0  # mutation requests (inventorySetQuantities + inventoryActivate)
    batches: int = 0  # distinct set batches
    reads: int = 0  # re-read queries
    requests: int = 0
    cost_requested: float = 0.0
    cost_actual: float = 0.0
    seconds: float = 0.0
    full: bool = False
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}


@dataclass
class PushHooks:
    """Test seams: `after_send(entries, key)` runs after a set call was answered, before anything is
    recorded (raise there to play a crash that lost the answer)."""

    after_send: Callable[[list[Entry], str], None] | None = None


def batch_key(channel: str, api: InventoryApi, entries: Sequence[Entry], attempt: int) -> str:
    """The idempotency key of one set call: a digest of what it sets (module docstring)."""
    content = json.dumps(
        [
            channel,
            api.version,
            REASON,
            attempt,
            [[e.item, e.location, e.quantity, e.belief, e.writes] for e in entries],
        ],
        separators=(",", ":"),
    )
    return "gecko-stock-" + hashlib.sha256(content.encode()).hexdigest()[:40]


def _targets_table(con: duckdb.DuckDBPyConnection, targets: Sequence[Target]) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _stock_targets (location VARCHAR, inventory_location_id BIGINT, share VARCHAR)"
    )
    for target in targets:
        con.execute(
            "INSERT INTO _stock_targets VALUES ($1, $2, $3)",
            [target.location, target.inventory_location_id, target.share],
        )


def plan_stock(
    con: duckdb.DuckDBPyConnection,
    channel: ResolvedChannel,
    targets: Sequence[Target],
    variant_ids: Sequence[int] | None = None,
) -> None:
    """Builds `_stock_plan` (temp) for the channel: all linked variants, or only `variant_ids`."""
    ensure_stock_tables(con)
    _targets_table(con, targets)
    scope = "true"
    if variant_ids is not None:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _stock_scope AS SELECT DISTINCT unnest($1::BIGINT[]) AS id",
            [list(variant_ids)],
        )
        scope = "lk.variant_id IN (SELECT id FROM _stock_scope)"
    con.execute(PLAN_SQL.format(scope=scope), [channel.name])  # noqa: S608 - fixed fragment


class _State:
    """Buffered writes of shopify_stock_pushed (flushed every FLUSH_EVERY batches and at the end)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, channel: str) -> None:
        self.con, self.channel = con, channel
        self.written: list[tuple[Entry, datetime]] = []
        self.confirmed: list[tuple[Entry, datetime | None]] = []
        self.observed: list[tuple[Entry, int | None, datetime]] = []

    def flush(self) -> None:
        now = utc_now()
        # One row per level in each statement (a level re-read twice keeps its last reading).
        self.observed = list({e.pair: (e, v, at) for e, v, at in self.observed}.values())
        self.confirmed = list({e.pair: (e, at) for e, at in self.confirmed}.values())
        self.written = list({e.pair: (e, at) for e, at in self.written}.values())
        # In the order things happened: what was read, what was found right, what was written.
        if self.observed:
            rows3 = self.observed
            self.con.execute(
                """INSERT INTO shopify_stock_pushed
                   SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::BIGINT[]),
                          unnest($5::VARCHAR[]), NULL, NULL, 0, unnest($6::BIGINT[]), unnest($7::TIMESTAMP[])
                   ON CONFLICT (channel, store_inventory_item_id, store_location_id) DO UPDATE SET
                       store_quantity = EXCLUDED.store_quantity, store_seen_at = EXCLUDED.store_seen_at
                   WHERE shopify_stock_pushed.store_seen_at IS NULL
                      OR EXCLUDED.store_seen_at >= shopify_stock_pushed.store_seen_at""",
                [
                    self.channel,
                    [e.item for e, _, _ in rows3],
                    [e.location for e, _, _ in rows3],
                    [e.variant_id for e, _, _ in rows3],
                    [e.sku for e, _, _ in rows3],
                    [value for _, value, _ in rows3],
                    [at for _, _, at in rows3],
                ],
            )
        if self.confirmed:
            rows2 = self.confirmed
            # The store already holds the target: nothing written, but it is what we now stand for.
            self.con.execute(
                """INSERT INTO shopify_stock_pushed
                   SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::BIGINT[]),
                          unnest($5::VARCHAR[]), unnest($6::BIGINT[]), $7, 0,
                          unnest($6::BIGINT[]), unnest($8::TIMESTAMP[])
                   ON CONFLICT (channel, store_inventory_item_id, store_location_id) DO UPDATE SET
                       variant_id = EXCLUDED.variant_id, sku = EXCLUDED.sku,
                       pushed_quantity = EXCLUDED.pushed_quantity, pushed_at = EXCLUDED.pushed_at,
                       store_quantity = EXCLUDED.store_quantity,
                       store_seen_at = greatest(EXCLUDED.store_seen_at, shopify_stock_pushed.store_seen_at)""",
                [
                    self.channel,
                    [e.item for e, _ in rows2],
                    [e.location for e, _ in rows2],
                    [e.variant_id for e, _ in rows2],
                    [e.sku for e, _ in rows2],
                    [e.quantity for e, _ in rows2],
                    now,
                    [at or now for _, at in rows2],
                ],
            )
        if self.written:
            rows = self.written
            self.con.execute(
                """INSERT INTO shopify_stock_pushed
                   SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::BIGINT[]),
                          unnest($5::VARCHAR[]), unnest($6::BIGINT[]), unnest($7::TIMESTAMP[]), 1,
                          unnest($6::BIGINT[]), unnest($7::TIMESTAMP[])
                   ON CONFLICT (channel, store_inventory_item_id, store_location_id) DO UPDATE SET
                       variant_id = EXCLUDED.variant_id, sku = EXCLUDED.sku,
                       pushed_quantity = EXCLUDED.pushed_quantity, pushed_at = EXCLUDED.pushed_at,
                       writes = shopify_stock_pushed.writes + 1,
                       store_quantity = EXCLUDED.store_quantity, store_seen_at = EXCLUDED.store_seen_at""",
                [
                    self.channel,
                    [e.item for e, _ in rows],
                    [e.location for e, _ in rows],
                    [e.variant_id for e, _ in rows],
                    [e.sku for e, _ in rows],
                    [e.quantity for e, _ in rows],
                    [at for _, at in rows],
                ],
            )
        self.written, self.confirmed, self.observed = [], [], []


def push_stock(
    client: ShopifyClient,
    con: duckdb.DuckDBPyConnection,
    channel: ResolvedChannel,
    *,
    variant_ids: Sequence[int] | None = None,
    full: bool = False,
    batch_size: int = MAX_ENTRIES,
    hooks: PushHooks | None = None,
) -> StockPushResult:
    """Writes the channel's changed stock levels to its Shopify store (module docstring).

    `variant_ids`: only these inventory variants (the webhook path). `full`: trust nothing remembered:
    re-read every item's levels from the store first (`refresh_levels`, as the drift check does), then
    write every level that differs from what the store holds. Needs `channel_listings` / `channel_stock_levels` computed and the channel's
    links (a catalogue read) in place."""
    started = time.perf_counter()
    before = client.stats.snapshot()
    api = InventoryApi.for_version(client.api_version)
    result = StockPushResult(channel=channel.name, full=full)
    ensure_stock_tables(con)
    _currency, primary = shop_facts(con, channel.name)
    targets = channel_targets(channel, primary)
    if not targets:
        result.errors.append("no Shopify location to write: map `locations` or read the catalogue first")
        return result
    if full:
        refresh_levels(client, con, channel, targets)
        result.reads += 1
    plan_stock(con, channel, targets, variant_ids)
    try:
        (result.untracked,) = con.execute(
            "SELECT count(DISTINCT variant_id) FROM _stock_plan WHERE NOT tracked"
        ).fetchone() or (0,)
        rows = con.execute(
            """SELECT item, location, quantity, belief, writes, variant_id, sku, pushed_quantity, belief_at
               FROM _stock_plan WHERE tracked ORDER BY item, location"""
        ).fetchall()
    finally:
        for temp in ("_stock_plan", "_stock_targets", "_stock_scope"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    result.levels = len(rows)
    state = _State(con, channel.name)
    todo: list[Entry] = []
    for item, location, quantity, belief, writes, variant_id, sku, pushed, belief_at in rows:
        entry = Entry(
            item,
            location,
            int(quantity),
            None if belief is None else int(belief),
            int(writes),
            int(variant_id),
            sku,
        )
        if entry.belief == entry.quantity:
            result.unchanged += 1
            if pushed is None or int(pushed) != entry.quantity:
                state.confirmed.append((entry, belief_at))
        else:
            todo.append(entry)
    try:
        if api.activate_unstocked:
            todo = _activate(
                client, api, channel.name, [e for e in todo if e.belief is None], todo, state, result
            )
        size = max(1, min(batch_size, MAX_ENTRIES))
        for index, start in enumerate(range(0, len(todo), size)):
            _send_batch(client, api, channel.name, todo[start : start + size], state, result, hooks)
            if (index + 1) % FLUSH_EVERY == 0:
                state.flush()
    finally:
        state.flush()
        after = client.stats.snapshot()
        result.requests = int(after["requests"] - before["requests"])
        result.cost_requested = after["cost_requested"] - before["cost_requested"]
        result.cost_actual = after["cost_actual"] - before["cost_actual"]
        result.seconds = round(time.perf_counter() - started, 3)
    return result


def refresh_levels(
    client: ShopifyClient,
    con: duckdb.DuckDBPyConnection,
    channel: ResolvedChannel,
    targets: Sequence[Target],
    *,
    mode: str = "auto",
) -> StoreRead:
    """Reads every item's levels from the store (bulk for a large store) into `shopify_inventory_levels`
    (the target locations): what a full push and the drift check start from."""
    assert channel.config.shopify is not None
    read = read_store(
        client, mode=mode, expected_variants=expected_store_size(con, channel.name), levels_only=True
    )
    write_store_read(
        con,
        channel.name,
        read,
        shop=channel.config.shopify.shop,
        api_version=client.served_version or client.api_version,
        locations=[t.location for t in targets],
    )
    return read


def _send_batch(
    client: ShopifyClient,
    api: InventoryApi,
    channel: str,
    batch: list[Entry],
    state: _State,
    result: StockPushResult,
    hooks: PushHooks | None,
) -> None:
    pending = list(batch)
    document = api.set_document()
    result.batches += 1
    for attempt in range(MAX_ATTEMPTS):
        if not pending:
            return
        key = batch_key(channel, api, pending, attempt)
        variables: dict[str, Any] = {
            "input": {
                "name": "available",
                "reason": REASON,
                # Derived from the key: a replay must send exactly the same arguments.
                "referenceDocumentUri": f"{APP_URI}/{key[-24:]}",
                "quantities": [
                    api.entry(e.item, e.location, e.quantity, 0 if e.belief is None else e.belief)
                    for e in pending
                ],
            }
        }
        if api.idempotency_key:
            variables["key"] = key
        data = client.execute(document, variables, idempotent=True)
        result.mutations += 1
        payload = data.get("inventorySetQuantities") or {}
        errors = payload.get("userErrors") or []
        if hooks and hooks.after_send:
            hooks.after_send(pending, key)
        if not errors:
            now = utc_now()
            state.written.extend((e, now) for e in pending)
            result.sent += len(pending)
            return
        stale: list[Entry] = []
        unstocked: list[Entry] = []
        dropped: set[int] = set()
        for error in errors:
            index = _entry_index(error)
            if index is None or index >= len(pending):
                raise ShopifyError(
                    f"inventorySetQuantities for channel {channel!r}: {error.get('message')} "
                    f"(field {error.get('field')}, code {error.get('code')})"
                )
            code = error.get("code")
            if code in api.stale_codes:
                stale.append(pending[index])
            elif code == "ITEM_NOT_STOCKED_AT_LOCATION" and api.activate_unstocked:
                unstocked.append(pending[index])
            else:
                result.rejected += 1
                message = f"{pending[index].sku or pending[index].item} at {pending[index].location}: {code}: {error.get('message')}"
                result.errors.append(message)
                log.warning("channel %s: stock entry refused: %s", channel, message)
            dropped.add(index)
        keep = [e for i, e in enumerate(pending) if i not in dropped]
        if stale:
            keep += _refresh(client, stale, state, result)
        if unstocked:
            for entry in unstocked:
                entry.belief = None
            keep += _activate(client, api, channel, unstocked, unstocked, state, result)
        pending = sorted(keep, key=lambda e: e.pair)
    if pending:
        result.stale_unresolved += len(pending)
        result.errors.append(
            f"{len(pending)} levels still stale after {MAX_ATTEMPTS} attempts: left for the next push"
        )


def _refresh(
    client: ShopifyClient, stale: list[Entry], state: _State, result: StockPushResult
) -> list[Entry]:
    """Re-reads stale entries; returns those still to write (against the value just read)."""
    result.stale_retried += len(stale)
    fresh = read_levels(client, [e.pair for e in stale])
    result.reads += 1
    now = utc_now()
    again = []
    for entry in stale:
        value = fresh.get(entry.pair)
        state.observed.append((entry, value, now))
        entry.belief = value
        if value == entry.quantity:
            result.stale_resolved_by_read += 1
            state.confirmed.append((entry, now))
        else:
            again.append(entry)
    return again


def _entry_index(error: dict[str, Any]) -> int | None:
    path = error.get("field") or []
    if isinstance(path, list) and len(path) >= 3 and path[:2] == ["input", "quantities"]:
        try:
            return int(path[2])
        except (TypeError, ValueError):
            return None
    return None


def _activate(
    client: ShopifyClient,
    api: InventoryApi,
    channel: str,
    unstocked: list[Entry],
    todo: list[Entry],
    state: _State,
    result: StockPushResult,
) -> list[Entry]:
    """Creates the levels of `unstocked` with their target as `available`; returns `todo` without the
    entries that are now done (the rest, with the level's actual quantity as belief, still need a set)."""
    done: set[tuple[str, str]] = set()
    for start in range(0, len(unstocked), MAX_ACTIVATIONS):
        chunk = unstocked[start : start + MAX_ACTIVATIONS]
        variables: dict[str, Any] = {}
        for i, entry in enumerate(chunk):
            variables.update({f"i{i}": entry.item, f"l{i}": entry.location, f"q{i}": entry.quantity})
            if api.idempotency_key:
                variables[f"k{i}"] = (
                    "gecko-activate-"
                    + hashlib.sha256(
                        json.dumps(
                            [channel, entry.item, entry.location, entry.quantity, entry.writes]
                        ).encode()
                    ).hexdigest()[:40]
                )
        data = client.execute(api.activate_document(len(chunk)), variables, idempotent=True)
        result.mutations += 1
        now = utc_now()
        for i, entry in enumerate(chunk):
            payload = data.get(f"a{i}") or {}
            errors = payload.get("userErrors") or []
            level = payload.get("inventoryLevel") or {}
            if errors or not level:
                result.rejected += 1
                message = f"{entry.sku or entry.item} at {entry.location}: inventoryActivate: " + "; ".join(
                    str(e.get("message")) for e in errors
                )
                result.errors.append(message)
                log.warning("channel %s: %s", channel, message)
                done.add(entry.pair)
                continue
            quantities = {q.get("name"): q.get("quantity") for q in level.get("quantities") or []}
            actual = quantities.get("available")
            if actual is not None and int(actual) == entry.quantity:
                result.activated += 1
                result.sent += 1
                state.written.append((entry, now))
                done.add(entry.pair)
            else:
                # The level was there already (kept as it was): set it against what it holds.
                entry.belief = None if actual is None else int(actual)
                state.observed.append((entry, entry.belief, now))
    return [e for e in todo if e.pair not in done]
