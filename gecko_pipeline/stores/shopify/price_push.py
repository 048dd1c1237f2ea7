"""Variant fields out to Shopify: price, inventory policy and whether the item's stock is tracked.

Per linked variant (`channel_product_links`, status `linked`) the channel listing gives:
- **price**: `channel_listings.price` (the channel's price list) rounded half-up to cents. A missing
  price (`price` null, `price_missing`) is never sent (never as zero): skipped and counted. A price list
  in another currency than the shop's is not sent either (counted; the message says which).
- **inventoryPolicy**: the listing's `inventory_policy` (`continue` -> CONTINUE, `deny` -> DENY): the
  stock rule says `continue` for `keep_selling` variants and for untracked ones.
- **inventoryItem.tracked**: false exactly when the listing's quantity is null (`manage_stock = false`),
  else true; a tracked item is what lets Shopify take its `available` (stock_push.py).

Each field is sent only when it differs from what the store holds as far as we know: the newer of the
catalogue read (`shopify_catalogue`, at `read_at`) and our own last write of that field
(`shopify_variant_pushed`, per-field times). So an unchanged price list sends nothing; a changed price
sends that variant; a merchant's edit seen by the next catalogue read is put back.

One `productVariantsBulkUpdate` per product (its changed variants, up to 250 per call), before the
stock push (an item must be tracked before its quantity is set). Absolute values by id: repeating a
call sets the same values (shared/shopify-api.md §4.8), so the client may resend it after a lost answer.
A variant the API refuses (userErrors naming `variants.N`) is dropped and the rest sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ResolvedChannel
from gecko_pipeline.channels.stock import ensure_channel_tables
from gecko_pipeline.stores.shopify.catalogue import ensure_catalogue_tables, shop_facts, utc_now
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.errors import ShopifyError
from gecko_pipeline.stores.shopify.links import ensure_links_table

log = logging.getLogger("gecko_pipeline.stores.shopify.prices")

MAX_VARIANTS = 250  # per productVariantsBulkUpdate call
CENT = Decimal("0.01")

DDL = """CREATE TABLE IF NOT EXISTS shopify_variant_pushed (
    channel VARCHAR NOT NULL, store_variant_id VARCHAR NOT NULL, variant_id BIGINT,
    price DECIMAL(18,2), price_pushed_at TIMESTAMP,
    inventory_policy VARCHAR, policy_pushed_at TIMESTAMP,
    tracked BOOLEAN, tracked_pushed_at TIMESTAMP,
    PRIMARY KEY (channel, store_variant_id))"""

UPDATE_DOCUMENT = """mutation VariantFields($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: false) {
    productVariants { id }
    userErrors { code field message }
  }
}"""

# Per linked variant in scope: the target fields and what the store holds as far as we know. `{scope}`
# is a fixed fragment, never input.
PLAN_SQL = """
WITH lk AS (
    SELECT variant_id, any_value(store_variant_id) AS store_variant_id, any_value(store_product_id) AS product
    FROM channel_product_links
    WHERE channel = $1 AND status = 'linked' AND variant_id IS NOT NULL AND store_product_id IS NOT NULL
    GROUP BY variant_id HAVING count(*) = 1
)
SELECT lk.product, lk.store_variant_id, lk.variant_id, li.sku, li.listed,
       CAST(li.price AS VARCHAR) AS price, li.price_missing, li.currency,
       upper(li.inventory_policy) AS policy, li.quantity IS NOT NULL AS tracked,
       CASE WHEN p.price_pushed_at IS NOT NULL AND (c.read_at IS NULL OR p.price_pushed_at >= c.read_at)
            THEN CAST(p.price AS VARCHAR) ELSE CAST(c.price AS VARCHAR) END AS store_price,
       CASE WHEN p.policy_pushed_at IS NOT NULL AND (c.read_at IS NULL OR p.policy_pushed_at >= c.read_at)
            THEN p.inventory_policy ELSE c.inventory_policy END AS store_policy,
       CASE WHEN p.tracked_pushed_at IS NOT NULL AND (c.read_at IS NULL OR p.tracked_pushed_at >= c.read_at)
            THEN p.tracked ELSE c.tracked END AS store_tracked
FROM lk
JOIN channel_listings li ON li.channel = $1 AND li.variant_id = lk.variant_id
LEFT JOIN shopify_catalogue c ON c.channel = $1 AND c.store_variant_id = lk.store_variant_id
LEFT JOIN shopify_variant_pushed p ON p.channel = $1 AND p.store_variant_id = lk.store_variant_id
WHERE {scope}
ORDER BY lk.product, lk.store_variant_id
"""


@dataclass
class VariantPushResult:
    """What one push of variant fields did for one channel."""

    channel: str
    variants: int = 0  # linked variants in scope
    prices_sent: int = 0
    prices_unchanged: int = 0
    prices_skipped_missing: int = 0  # no price in the channel's price list: never sent
    prices_skipped_currency: int = 0  # the price list is not in the shop's currency
    policies_sent: int = 0
    tracked_sent: int = 0
    variants_updated: int = 0
    products_updated: int = 0
    rejected: int = 0
    mutations: int = 0
    requests: int = 0
    cost_actual: float = 0.0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}


def ensure_variant_tables(con: duckdb.DuckDBPyConnection) -> None:
    ensure_channel_tables(con)
    ensure_catalogue_tables(con)
    ensure_links_table(con)
    con.execute(DDL)


def money(value: Decimal) -> Decimal:
    """A price as Shopify takes it: cents, rounded half-up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class _Change:
    store_variant_id: str
    variant_id: int
    sku: str | None
    input: dict[str, Any]
    price: Decimal | None = None
    policy: str | None = None
    tracked: bool | None = None


def push_variant_fields(
    client: ShopifyClient,
    con: duckdb.DuckDBPyConnection,
    channel: ResolvedChannel,
    *,
    variant_ids: Sequence[int] | None = None,
) -> VariantPushResult:
    """Sends the channel's changed prices, inventory policies and tracked flags (module docstring)."""
    started = time.perf_counter()
    before = client.stats.snapshot()
    result = VariantPushResult(channel=channel.name)
    ensure_variant_tables(con)
    shop_currency, _ = shop_facts(con, channel.name)
    scope = "true"
    params: list[Any] = [channel.name]
    if variant_ids is not None:
        scope = "lk.variant_id IN (SELECT unnest($2::BIGINT[]))"
        params.append(list(variant_ids))
    rows = con.execute(PLAN_SQL.format(scope=scope), params).fetchall()  # noqa: S608 - fixed fragment
    result.variants = len(rows)
    products: dict[str, list[_Change]] = {}
    currency_noted: set[str] = set()
    for (
        product,
        store_variant,
        variant_id,
        sku,
        _listed,
        price,
        _missing,
        currency,
        policy,
        tracked,
        s_price,
        s_policy,
        s_tracked,
    ) in rows:
        change = _Change(str(store_variant), int(variant_id), sku, {"id": store_variant})
        if price is None:
            result.prices_skipped_missing += 1
        elif shop_currency and currency and currency != shop_currency:
            result.prices_skipped_currency += 1
            if currency not in currency_noted:
                currency_noted.add(currency)
                result.errors.append(
                    f"prices not sent: the channel's price list is in {currency}, the shop sells in {shop_currency}"
                )
        else:
            target = money(Decimal(price))
            if s_price is None or Decimal(s_price) != target:
                change.input["price"] = format(target, "f")
                change.price = target
            else:
                result.prices_unchanged += 1
        if policy and policy != s_policy:
            change.input["inventoryPolicy"] = policy
            change.policy = policy
        if s_tracked is None or bool(tracked) != bool(s_tracked):
            change.input["inventoryItem"] = {"tracked": bool(tracked)}
            change.tracked = bool(tracked)
        if len(change.input) > 1:
            products.setdefault(str(product), []).append(change)
    try:
        for product, changes in products.items():
            for start in range(0, len(changes), MAX_VARIANTS):
                _update_product(
                    client, con, channel.name, product, changes[start : start + MAX_VARIANTS], result
                )
    finally:
        after = client.stats.snapshot()
        result.requests = int(after["requests"] - before["requests"])
        result.cost_actual = after["cost_actual"] - before["cost_actual"]
        result.seconds = round(time.perf_counter() - started, 3)
    return result


def _update_product(
    client: ShopifyClient,
    con: duckdb.DuckDBPyConnection,
    channel: str,
    product: str,
    changes: list[_Change],
    result: VariantPushResult,
) -> None:
    pending = list(changes)
    for _ in range(2):  # once, and once more without the variants the API refused
        if not pending:
            return
        data = client.execute(
            UPDATE_DOCUMENT, {"productId": product, "variants": [c.input for c in pending]}, idempotent=True
        )
        result.mutations += 1
        errors = (data.get("productVariantsBulkUpdate") or {}).get("userErrors") or []
        if not errors:
            _record(con, channel, pending)
            result.products_updated += 1
            result.variants_updated += len(pending)
            result.prices_sent += sum(c.price is not None for c in pending)
            result.policies_sent += sum(c.policy is not None for c in pending)
            result.tracked_sent += sum(c.tracked is not None for c in pending)
            return
        refused: set[int] = set()
        for error in errors:
            path = error.get("field") or []
            index = None
            if isinstance(path, list) and len(path) >= 2 and path[0] == "variants":
                try:
                    index = int(path[1])
                except (TypeError, ValueError):
                    index = None
            if index is None or index >= len(pending):
                raise ShopifyError(
                    f"productVariantsBulkUpdate {product} for channel {channel!r}: {error.get('message')} "
                    f"(field {path}, code {error.get('code')})"
                )
            refused.add(index)
            change = pending[index]
            message = f"{change.sku or change.store_variant_id}: {error.get('code')}: {error.get('message')}"
            result.errors.append(message)
            log.warning("channel %s: variant update refused: %s", channel, message)
        result.rejected += len(refused)
        pending = [c for i, c in enumerate(pending) if i not in refused]


def _record(con: duckdb.DuckDBPyConnection, channel: str, changes: list[_Change]) -> None:
    """What was just written, per field (a field not sent keeps its last write)."""
    con.execute(
        """INSERT INTO shopify_variant_pushed
           SELECT $1, sv, v, p, CASE WHEN p IS NOT NULL THEN $7 END, pol, CASE WHEN pol IS NOT NULL THEN $7 END,
                  tr, CASE WHEN tr IS NOT NULL THEN $7 END
           FROM (SELECT unnest($2::VARCHAR[]) AS sv, unnest($3::BIGINT[]) AS v,
                        CAST(unnest($4::VARCHAR[]) AS DECIMAL(18,2)) AS p, unnest($5::VARCHAR[]) AS pol,
                        unnest($6::BOOLEAN[]) AS tr)
           ON CONFLICT (channel, store_variant_id) DO UPDATE SET
               variant_id = EXCLUDED.variant_id,
               price = coalesce(EXCLUDED.price, shopify_variant_pushed.price),
               price_pushed_at = coalesce(EXCLUDED.price_pushed_at, shopify_variant_pushed.price_pushed_at),
               inventory_policy = coalesce(EXCLUDED.inventory_policy, shopify_variant_pushed.inventory_policy),
               policy_pushed_at = coalesce(EXCLUDED.policy_pushed_at, shopify_variant_pushed.policy_pushed_at),
               tracked = coalesce(EXCLUDED.tracked, shopify_variant_pushed.tracked),
               tracked_pushed_at = coalesce(EXCLUDED.tracked_pushed_at, shopify_variant_pushed.tracked_pushed_at)""",
        [
            channel,
            [c.store_variant_id for c in changes],
            [c.variant_id for c in changes],
            [format(c.price, "f") if c.price is not None else None for c in changes],
            [c.policy for c in changes],
            [c.tracked for c in changes],
            utc_now(),
        ],
    )
