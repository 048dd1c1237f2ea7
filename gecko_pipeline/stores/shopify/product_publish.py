"""New inventory products out to a Shopify store: created there, linked, stocked; archived ones taken down.

For a `kind: shopify` channel with `publish_new_products: true` (issue 16 item 3).

**What is published.** A *new* inventory variant: one whose id, or whose product's id, is above the
channel's baseline (`shopify_publish_state`: the highest product and variant ids in the warehouse when
publishing first ran for the channel, so turning the option on does not publish the whole existing
catalogue), that is active, of an active product, listed on the channel with a price
(`channel_listings`), has a SKU held by no other active inventory variant, is not linked to a store
variant and whose SKU the store does not already have (that one is linked by SKU instead). A variant
without a SKU is never published: nothing could find it again after a lost answer, nor link it. Each
case left out for a reason is reported (`price_missing`, `sku_ambiguous`, `over_variant_limit`,
`refused` with Shopify's userErrors).

**How.** A product without a store product gets one `productSet` (synchronous: title, handle
`<name>-gk<product id>`, vendor from the brand, product type, tags, up to three options from
`opt1..3`, and per variant its option values, price from the channel's price list, barcode from
`upc`, SKU, weight, `inventoryPolicy` from the listing, tracked when the variant's stock is). A product
that already has a store product (one of its variants is linked, or we published it) gets its new
variants by `productVariantsBulkCreate`, never by a productSet, which would replace the product's
variant list. Within the store's limits: at most three options; at most 2,048 variants a product
(2025-10 on; 100 before), 250 a call (more go in further productVariantsBulkCreate calls); option value
combinations made unique (a product without options, or whose values repeat, gets one `Title` option
whose values are the variant names, or `Default Title` for a single variant). Every published variant is
linked (`linked_by = published`) and given its stock at the mapped locations by the stock push
(stock_push.py: activation where the version needs it, compare-and-set).

**Exactly once.** productSet and productVariantsBulkCreate take no idempotency key (the `@idempotent`
directive is for inventory and refund mutations), and a create is not repeatable, so each is made once
with a ledger, `shopify_publish_ledger` in the warehouse (next to the links it completes): the intent
(variant, SKU, handle, operation) is committed before the mutation, the answer as the outcome. A row
with an intent and no outcome means "the mutation may have run": the next run looks the SKU up in the
store (`productVariants(query: "sku:...")`) and the product by its handle before sending anything; what
it finds is linked, the rest is created (into the product found by handle, if any). The client never
resends a mutation blindly.

**Unpublished.** A product we published whose inventory product is archived is set to **ARCHIVED** in
the store (`productSet` with its id and status only; idempotent, an update by id); made active again in
the inventory system, it is set back to ACTIVE. Why ARCHIVED rather than DRAFT: Shopify's ARCHIVED means
"no longer sold, kept for its history", as the inventory system's archived does; DRAFT means "not ready
yet", and a draft sits among the merchant's work in progress. Either takes the product off every sales
channel. Store products linked by SKU or created by the import are the merchant's own listings and are
left as they are (their stock push still lowers them as the channel's quantities say).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb

from gecko_pipeline.channels.config import ResolvedChannel
from gecko_pipeline.stores.shopify.catalogue import ensure_catalogue_tables, utc_now
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.links import LinkConflict, add_link, ensure_links_table
from gecko_pipeline.stores.shopify.stock_push import StockPushResult, push_stock

log = logging.getLogger("gecko_pipeline.stores.shopify.product_publish")

MAX_PER_CALL = 250  # variants in one productSet / productVariantsBulkCreate (the input cap)
WEIGHT_UNITS = {"g": "GRAMS", "kg": "KILOGRAMS", "oz": "OUNCES", "lb": "POUNDS"}
PROBLEMS = ("price_missing", "sku_ambiguous", "over_variant_limit", "refused", "link_conflict")

STATE_DDL = """CREATE TABLE IF NOT EXISTS shopify_publish_state (
    channel VARCHAR PRIMARY KEY, since_product_id BIGINT NOT NULL, since_variant_id BIGINT NOT NULL,
    enabled_at TIMESTAMP NOT NULL)"""
LEDGER_DDL = """CREATE TABLE IF NOT EXISTS shopify_publish_ledger (
    channel VARCHAR NOT NULL, variant_id BIGINT NOT NULL, product_id BIGINT NOT NULL, sku VARCHAR NOT NULL,
    handle VARCHAR, operation VARCHAR NOT NULL, attempts INTEGER NOT NULL, intent_at TIMESTAMP NOT NULL,
    outcome VARCHAR, store_product_id VARCHAR, store_variant_id VARCHAR, store_inventory_item_id VARCHAR,
    detail VARCHAR, done_at TIMESTAMP, digest VARCHAR, PRIMARY KEY (channel, variant_id))"""
PRODUCTS_DDL = """CREATE TABLE IF NOT EXISTS shopify_published_products (
    channel VARCHAR NOT NULL, product_id BIGINT NOT NULL, store_product_id VARCHAR NOT NULL, handle VARCHAR,
    store_status VARCHAR NOT NULL, changed_at TIMESTAMP NOT NULL, PRIMARY KEY (channel, product_id))"""

PRODUCT_SET = """mutation PublishProduct($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) {
    product { id handle variants(first: 250) { nodes { id sku inventoryItem { id } } } }
    userErrors { code field message } } }"""
VARIANTS_CREATE = """mutation PublishVariants($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkCreate(productId: $productId, variants: $variants) {
    productVariants { id sku inventoryItem { id } } userErrors { code field message } } }"""
SET_STATUS = """mutation PublishStatus($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) { product { id status } userErrors { code field message } } }"""
FIND_SKU = """query PublishFindSku($q: String!) {
  productVariants(first: 5, query: $q) { nodes { id sku inventoryItem { id } product { id handle } } } }"""
FIND_HANDLE = "query PublishFindHandle($handle: String!) { productByHandle(handle: $handle) { id handle } }"


def ensure_publish_tables(con: duckdb.DuckDBPyConnection) -> None:
    ensure_catalogue_tables(con)
    ensure_links_table(con)
    for ddl in (STATE_DDL, LEDGER_DDL, PRODUCTS_DDL):
        con.execute(ddl)


def variant_limit(api_version: str) -> int:
    """Variants a product may have: 2,048 from 2025-10, 100 before (shared/shopify-api.md §3.2)."""
    return 2048 if api_version == "unstable" or api_version >= "2025-10" else 100


def handle_for(name: str | None, product_id: int) -> str:
    """The store handle of a published product: its name as a slug, then `-gk<id>` (unique, stable)."""
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")[:60].strip("-")
    return f"{slug}-gk{product_id}" if slug else f"gk{product_id}"


@dataclass
class PublishItem:
    variant_id: int
    product_id: int
    sku: str | None
    action: str  # published, added, recovered, or one of PROBLEMS
    store_variant_id: str | None = None
    detail: str | None = None


@dataclass
class PublishResult:
    channel: str
    enabled: bool = True
    baseline_set: bool = False  # this run recorded the baseline (nothing older is ever published)
    candidates: int = 0
    products_published: int = 0  # productSet calls that created a store product
    variants_published: int = 0  # variants created in the store (productSet or productVariantsBulkCreate)
    recovered: int = 0  # variants of an interrupted run found in the store and linked (not created again)
    unpublished: int = 0  # products set to ARCHIVED
    republished: int = 0  # products set back to ACTIVE
    mutations: int = 0
    problems: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROBLEMS, 0))
    items: list[PublishItem] = field(default_factory=list)
    stock: StockPushResult | None = None
    requests: int = 0
    cost_actual: float = 0.0
    seconds: float = 0.0

    @property
    def problem_total(self) -> int:
        return sum(self.problems.values())

    def problem(self, item: PublishItem) -> None:
        self.problems[item.action] += 1
        self.items.append(item)


@dataclass
class PublishHooks:
    """The test suite's seam: `after_send(operation, variant_ids)` runs after a create mutation was
    answered, before anything is recorded (raise there to play a crash that lost the answer)."""

    after_send: Callable[[str, list[int]], None] | None = None


@dataclass
class Candidate:
    variant_id: int
    product_id: int
    sku: str
    name: str | None
    options: tuple[str | None, str | None, str | None]
    upc: str | None
    weight: str | None
    weight_unit: str | None
    taxable: bool | None
    product_name: str | None
    option_names: tuple[str | None, str | None, str | None]
    product_type: str | None
    brand: str | None
    tags: str | None
    price: Decimal | None
    inventory_policy: str | None
    tracked: bool
    sku_count: int

    def digest(self) -> str:
        """What the store would be sent for this variant and its product: a refusal is not resent
        until something of it changes."""
        return hashlib.sha256(repr(astuple(self)).encode()).hexdigest()[:32]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1", [table]
    ).fetchall()
    return {r[0] for r in rows}


def ensure_baseline(con: duckdb.DuckDBPyConnection, channel: str) -> tuple[int, int, bool]:
    """(since product id, since variant id, set now?) of the channel."""
    row = con.execute(
        "SELECT since_product_id, since_variant_id FROM shopify_publish_state WHERE channel = $1", [channel]
    ).fetchone()
    if row:
        return int(row[0]), int(row[1]), False
    products = (
        con.execute("SELECT coalesce(max(id), 0) FROM products").fetchone()
        if _columns(con, "products")
        else None
    )
    variants = (
        con.execute("SELECT coalesce(max(id), 0) FROM variants").fetchone()
        if _columns(con, "variants")
        else None
    )
    since_product, since_variant = int((products or (0,))[0]), int((variants or (0,))[0])
    con.execute(
        "INSERT INTO shopify_publish_state VALUES ($1, $2, $3, $4)",
        [channel, since_product, since_variant, utc_now()],
    )
    return since_product, since_variant, True


CANDIDATES_SQL = """
WITH inv_sku AS (
    SELECT trim(sku) AS sku, count(*) AS n FROM variants
    WHERE coalesce(status, 'active') = 'active' AND nullif(trim(sku), '') IS NOT NULL {live}
    GROUP BY 1
)
SELECT v.id, v.product_id, trim(v.sku), v.name, v.opt1, v.opt2, v.opt3, v.upc, v.weight, v.weight_unit, v.taxable,
       p.name, p.opt1, p.opt2, p.opt3, p.product_type, p.brand, p.tags, li.price, li.inventory_policy,
       li.quantity IS NOT NULL, s.n
FROM variants v
JOIN products p ON p.id = v.product_id
JOIN channel_listings li ON li.channel = $1 AND li.variant_id = v.id AND li.listed
JOIN inv_sku s ON s.sku = trim(v.sku)
WHERE (v.id > $2 OR p.id > $3)
  AND coalesce(v.status, 'active') = 'active' AND coalesce(p.status, 'active') = 'active' {live_v}
  AND v.id NOT IN (SELECT variant_id FROM channel_product_links
                   WHERE channel = $1 AND status = 'linked' AND variant_id IS NOT NULL)
  AND trim(v.sku) NOT IN (SELECT trim(sku) FROM shopify_catalogue WHERE channel = $1 AND sku IS NOT NULL)
  {scope}
ORDER BY v.product_id, v.position NULLS LAST, v.id
"""


def find_candidates(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    since_product: int,
    since_variant: int,
    variant_ids: Sequence[int] | None = None,
) -> list[Candidate]:
    """The new inventory variants to publish on the channel (module docstring), in product order."""
    if not _columns(con, "variants") or not _columns(con, "channel_listings"):
        return []
    live = "AND _vanished_at IS NULL" if "_vanished_at" in _columns(con, "variants") else ""
    live_v = "AND v._vanished_at IS NULL" if live else ""
    scope = "AND v.id IN (SELECT unnest($4::BIGINT[]))" if variant_ids is not None else ""
    params: list[Any] = [channel, since_variant, since_product]
    if variant_ids is not None:
        params.append(list(variant_ids))
    sql = CANDIDATES_SQL.format(live=live, live_v=live_v, scope=scope)
    rows = con.execute(sql, params).fetchall()  # noqa: S608 - fixed fragments
    return [
        Candidate(
            variant_id=int(r[0]),
            product_id=int(r[1]),
            sku=str(r[2]),
            name=r[3],
            options=(r[4], r[5], r[6]),
            upc=r[7],
            weight=r[8],
            weight_unit=r[9],
            taxable=r[10],
            product_name=r[11],
            option_names=(r[12], r[13], r[14]),
            product_type=r[15],
            brand=r[16],
            tags=r[17],
            price=Decimal(str(r[18])) if r[18] is not None else None,
            inventory_policy=r[19],
            tracked=bool(r[20]),
            sku_count=int(r[21]),
        )
        for r in rows
    ]


# --- building the store's input --------------------------------------------------------------------


def product_options(variants: Sequence[Candidate]) -> tuple[list[str], list[list[str]]]:
    """(option names, each variant's values): the product's opt1..3 when every variant's combination is
    distinct, else one `Title` option with the variant names (made unique), `Default Title` for one."""
    first = variants[0]
    names = [str(n) for n in first.option_names if n]
    if names:
        values = [
            [
                str(v.options[i]) if v.options[i] not in (None, "") else "Default"
                for i, n in enumerate(first.option_names)
                if n
            ]
            for v in variants
        ]
        if len({tuple(x) for x in values}) == len(values):
            return names, values
    if len(variants) == 1:
        return ["Title"], [["Default Title"]]
    seen: Counter[str] = Counter()
    values = []
    for v in variants:
        label = str(v.name or v.sku)
        seen[label] += 1
        values.append([label if seen[label] == 1 else f"{label} ({v.sku})"])
    return ["Title"], values


def _weight(candidate: Candidate) -> dict[str, Any] | None:
    unit = WEIGHT_UNITS.get(str(candidate.weight_unit or "").lower())
    if unit is None or candidate.weight in (None, ""):
        return None
    try:
        value = Decimal(str(candidate.weight))
    except InvalidOperation:
        return None
    return {"weight": {"unit": unit, "value": float(value)}} if value > 0 else None


def variant_input(candidate: Candidate, names: list[str], values: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"sku": candidate.sku, "tracked": candidate.tracked}
    measurement = _weight(candidate)
    if measurement:
        item["measurement"] = measurement
    spec: dict[str, Any] = {
        "optionValues": [{"optionName": n, "name": v} for n, v in zip(names, values, strict=True)],
        "price": format(candidate.price, "f") if candidate.price is not None else None,
        "inventoryPolicy": "CONTINUE" if str(candidate.inventory_policy).lower() == "continue" else "DENY",
        "inventoryItem": item,
    }
    if candidate.upc:
        spec["barcode"] = candidate.upc
    if candidate.taxable is not None:
        spec["taxable"] = bool(candidate.taxable)
    return spec


def product_input(variants: Sequence[Candidate], names: list[str], values: list[list[str]]) -> dict[str, Any]:
    first = variants[0]
    distinct = [list(dict.fromkeys(vals[i] for vals in values)) for i in range(len(names))]
    data: dict[str, Any] = {
        "title": first.product_name or first.sku,
        "handle": handle_for(first.product_name, first.product_id),
        "status": "ACTIVE",
        "productOptions": [
            {"name": name, "values": [{"name": v} for v in vals]}
            for name, vals in zip(names, distinct, strict=True)
        ],
        "variants": [variant_input(v, names, vals) for v, vals in zip(variants, values, strict=True)],
    }
    if first.brand:
        data["vendor"] = first.brand
    if first.product_type:
        data["productType"] = first.product_type
    if first.tags:
        data["tags"] = [t.strip() for t in str(first.tags).split(",") if t.strip()]
    return data


# --- the ledger ------------------------------------------------------------------------------------


def _write_intents(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    variants: Sequence[Candidate],
    handle: str | None,
    operation: str,
) -> None:
    now = utc_now()
    con.execute("BEGIN TRANSACTION")
    try:
        for v in variants:
            con.execute(
                """INSERT INTO shopify_publish_ledger
                   VALUES ($1, $2, $3, $4, $5, $6, 1, $7, NULL, NULL, NULL, NULL, NULL, NULL, $8)
                   ON CONFLICT (channel, variant_id) DO UPDATE SET
                       product_id = EXCLUDED.product_id, sku = EXCLUDED.sku, handle = EXCLUDED.handle,
                       operation = EXCLUDED.operation, attempts = shopify_publish_ledger.attempts + 1,
                       intent_at = EXCLUDED.intent_at, outcome = NULL, detail = NULL, done_at = NULL,
                       digest = EXCLUDED.digest""",
                [channel, v.variant_id, v.product_id, v.sku, handle, operation, now, v.digest()],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _record_outcome(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    variant_id: int,
    outcome: str,
    *,
    store_product_id: str | None = None,
    store_variant_id: str | None = None,
    store_inventory_item_id: str | None = None,
    detail: str | None = None,
) -> None:
    con.execute(
        """UPDATE shopify_publish_ledger SET outcome = $3, store_product_id = $4, store_variant_id = $5,
               store_inventory_item_id = $6, detail = $7, done_at = $8
           WHERE channel = $1 AND variant_id = $2""",
        [
            channel,
            variant_id,
            outcome,
            store_product_id,
            store_variant_id,
            store_inventory_item_id,
            detail,
            utc_now(),
        ],
    )


def _remember_product(
    con: duckdb.DuckDBPyConnection, channel: str, product_id: int, store_product_id: str, handle: str | None
) -> None:
    con.execute(
        """INSERT INTO shopify_published_products VALUES ($1, $2, $3, $4, 'ACTIVE', $5)
           ON CONFLICT (channel, product_id) DO NOTHING""",
        [channel, product_id, store_product_id, handle, utc_now()],
    )


# --- the run ---------------------------------------------------------------------------------------


class _Publisher:
    def __init__(
        self,
        client: ShopifyClient,
        con: duckdb.DuckDBPyConnection,
        channel: ResolvedChannel,
        result: PublishResult,
        hooks: PublishHooks | None,
    ) -> None:
        self.client, self.con, self.channel, self.result = client, con, channel, result
        self.hooks = hooks or PublishHooks()
        self.published: list[int] = []

    @property
    def name(self) -> str:
        return self.channel.name

    def link(
        self,
        variant_id: int,
        product_id: int,
        sku: str,
        store_product: str,
        store_variant: str,
        item: str | None,
    ) -> bool:
        try:
            add_link(
                self.con,
                self.name,
                store_variant_id=store_variant,
                variant_id=variant_id,
                linked_by="published",
                store_product_id=store_product,
                store_inventory_item_id=item,
                sku=sku,
            )
        except LinkConflict as exc:
            self.result.problem(
                PublishItem(variant_id, product_id, sku, "link_conflict", store_variant, str(exc))
            )
            return False
        self.published.append(variant_id)
        return True

    # -- after a crash: what the store already has --------------------------------------------------

    def recover(self) -> None:
        """Intents without an outcome: look each SKU (and the product's handle) up in the store."""
        rows = self.con.execute(
            """SELECT variant_id, product_id, sku, handle FROM shopify_publish_ledger
               WHERE channel = $1 AND outcome IS NULL ORDER BY variant_id""",
            [self.name],
        ).fetchall()
        handles: dict[int, str] = {}
        for variant_id, product_id, sku, handle in rows:
            found = self._find_sku(str(sku))
            if found is None:
                if handle:
                    handles[int(product_id)] = str(handle)
                continue
            store_variant, item, store_product, store_handle = found
            _record_outcome(
                self.con,
                self.name,
                int(variant_id),
                "found",
                store_product_id=store_product,
                store_variant_id=store_variant,
                store_inventory_item_id=item,
            )
            _remember_product(self.con, self.name, int(product_id), store_product, store_handle)
            if self.link(int(variant_id), int(product_id), str(sku), store_product, store_variant, item):
                self.result.recovered += 1
                self.result.items.append(
                    PublishItem(int(variant_id), int(product_id), str(sku), "recovered", store_variant)
                )
        for product_id, handle in handles.items():
            node = self.client.execute(FIND_HANDLE, {"handle": handle}).get("productByHandle")
            if isinstance(node, dict) and node.get("id"):
                _remember_product(self.con, self.name, product_id, str(node["id"]), handle)
        # Outcomes recorded whose link is missing (a crash between the two): link them now.
        for variant_id, product_id, sku, sp, sv, item in self.con.execute(
            """SELECT g.variant_id, g.product_id, g.sku, g.store_product_id, g.store_variant_id, g.store_inventory_item_id
               FROM shopify_publish_ledger g
               LEFT JOIN channel_product_links l ON l.channel = g.channel AND l.store_variant_id = g.store_variant_id
               WHERE g.channel = $1 AND g.outcome IN ('published', 'found') AND g.store_variant_id IS NOT NULL
                 AND l.store_variant_id IS NULL""",
            [self.name],
        ).fetchall():
            self.link(int(variant_id), int(product_id), str(sku), str(sp), str(sv), item)

    def _find_sku(self, sku: str) -> tuple[str, str | None, str, str | None] | None:
        quoted = sku.replace("\\", "\\\\").replace('"', '\\"')
        nodes = (self.client.execute(FIND_SKU, {"q": f'sku:"{quoted}"'}).get("productVariants") or {}).get(
            "nodes"
        ) or []
        for node in nodes:
            if str(node.get("sku") or "").strip() == sku:
                product = node.get("product") or {}
                return (
                    str(node["id"]),
                    (node.get("inventoryItem") or {}).get("id"),
                    str(product.get("id")),
                    product.get("handle"),
                )
        return None

    # -- creating -----------------------------------------------------------------------------------

    def store_product_of(self, product_id: int) -> str | None:
        row = self.con.execute(
            "SELECT store_product_id FROM shopify_published_products WHERE channel = $1 AND product_id = $2",
            [self.name, product_id],
        ).fetchone()
        if row:
            return str(row[0])
        row = self.con.execute(
            """SELECT min(l.store_product_id) FROM channel_product_links l JOIN variants v ON v.id = l.variant_id
               WHERE l.channel = $1 AND l.status = 'linked' AND v.product_id = $2 AND l.store_product_id IS NOT NULL""",
            [self.name, product_id],
        ).fetchone()
        return str(row[0]) if row and row[0] else None

    def refused_before(self, variant_ids: list[int]) -> dict[int, tuple[str, str | None]]:
        rows = self.con.execute(
            """SELECT variant_id, digest, detail FROM shopify_publish_ledger
               WHERE channel = $1 AND outcome = 'refused' AND variant_id IN (SELECT unnest($2::BIGINT[]))""",
            [self.name, variant_ids],
        ).fetchall()
        return {int(v): (str(d), detail) for v, d, detail in rows}

    def publish_product(self, variants: list[Candidate]) -> None:
        product_id = variants[0].product_id
        store_product = self.store_product_of(product_id)
        ok = []
        for v in variants:
            if v.price is None:
                self.result.problem(
                    PublishItem(
                        v.variant_id,
                        product_id,
                        v.sku,
                        "price_missing",
                        None,
                        "no price in the channel's price list",
                    )
                )
            elif v.sku_count > 1:
                detail = f"SKU {v.sku} is on {v.sku_count} active inventory variants"
                self.result.problem(
                    PublishItem(v.variant_id, product_id, v.sku, "sku_ambiguous", None, detail)
                )
            else:
                ok.append(v)
        refused = self.refused_before([v.variant_id for v in ok])
        for v in [v for v in ok if refused.get(v.variant_id, ("",))[0] == v.digest()]:
            ok.remove(v)  # refused as it is: reported, not sent again
            self.result.problem(
                PublishItem(v.variant_id, product_id, v.sku, "refused", None, refused[v.variant_id][1])
            )
        if not ok:
            return
        limit = variant_limit(self.client.api_version)
        if store_product is None and len(ok) > limit:
            for v in ok:
                detail = f"the product has {len(ok)} variants; the store takes {limit}"
                self.result.problem(
                    PublishItem(v.variant_id, product_id, v.sku, "over_variant_limit", None, detail)
                )
            return
        names, values = product_options(ok)
        if store_product is None:
            first, ok, values_rest = ok[:MAX_PER_CALL], ok[MAX_PER_CALL:], values[MAX_PER_CALL:]
            store_product = self._product_set(first, names, values[:MAX_PER_CALL])
            if store_product is None or not ok:
                return
            values = values_rest
        for start in range(0, len(ok), MAX_PER_CALL):
            self._variants_create(
                store_product, ok[start : start + MAX_PER_CALL], names, values[start : start + MAX_PER_CALL]
            )

    def _send(
        self, document: str, variables: dict[str, Any], root: str, operation: str, variant_ids: list[int]
    ) -> dict[str, Any]:
        data = self.client.execute(document, variables)
        self.result.mutations += 1
        if self.hooks.after_send is not None:
            self.hooks.after_send(operation, variant_ids)
        payload = data.get(root)
        return payload if isinstance(payload, dict) else {}

    def _refused(self, variants: Sequence[Candidate], errors: list[dict[str, Any]], operation: str) -> None:
        detail = "; ".join(
            f"{'.'.join(map(str, e.get('field') or []))}: {e.get('message')} ({e.get('code')})"
            for e in errors
        )
        for v in variants:
            _record_outcome(self.con, self.name, v.variant_id, "refused", detail=f"{operation}: {detail}")
            self.result.problem(
                PublishItem(v.variant_id, v.product_id, v.sku, "refused", None, f"{operation}: {detail}")
            )

    def _linked(
        self, variants: Sequence[Candidate], created: list[dict[str, Any]], store_product: str, action: str
    ) -> None:
        by_sku = {str(n.get("sku") or "").strip(): n for n in created}
        for v in variants:
            node = by_sku.get(v.sku)
            if node is None:
                _record_outcome(
                    self.con, self.name, v.variant_id, "refused", detail="not in the store's answer"
                )
                self.result.problem(
                    PublishItem(
                        v.variant_id, v.product_id, v.sku, "refused", None, "not in the store's answer"
                    )
                )
                continue
            item = (node.get("inventoryItem") or {}).get("id")
            _record_outcome(
                self.con,
                self.name,
                v.variant_id,
                "published",
                store_product_id=store_product,
                store_variant_id=str(node["id"]),
                store_inventory_item_id=item,
            )
            if self.link(v.variant_id, v.product_id, v.sku, store_product, str(node["id"]), item):
                self.result.variants_published += 1
                self.result.items.append(
                    PublishItem(v.variant_id, v.product_id, v.sku, action, str(node["id"]))
                )

    def _product_set(
        self, variants: list[Candidate], names: list[str], values: list[list[str]]
    ) -> str | None:
        data = product_input(variants, names, values)
        _write_intents(self.con, self.name, variants, data["handle"], "productSet")
        payload = self._send(
            PRODUCT_SET, {"input": data}, "productSet", "productSet", [v.variant_id for v in variants]
        )
        errors = payload.get("userErrors") or []
        product = payload.get("product") or {}
        if errors or not product.get("id"):
            self._refused(variants, errors or [{"message": "no product in the answer"}], "productSet")
            return None
        store_product = str(product["id"])
        _remember_product(self.con, self.name, variants[0].product_id, store_product, product.get("handle"))
        self.result.products_published += 1
        self._linked(
            variants, ((product.get("variants") or {}).get("nodes")) or [], store_product, "published"
        )
        return store_product

    def _variants_create(
        self, store_product: str, variants: list[Candidate], names: list[str], values: list[list[str]]
    ) -> None:
        _write_intents(self.con, self.name, variants, None, "productVariantsBulkCreate")
        specs = [variant_input(v, names, vals) for v, vals in zip(variants, values, strict=True)]
        payload = self._send(
            VARIANTS_CREATE,
            {"productId": store_product, "variants": specs},
            "productVariantsBulkCreate",
            "productVariantsBulkCreate",
            [v.variant_id for v in variants],
        )
        errors = payload.get("userErrors") or []
        if errors:
            self._refused(variants, errors, "productVariantsBulkCreate")
            return
        self._linked(variants, payload.get("productVariants") or [], store_product, "added")

    # -- archived -> ARCHIVED -------------------------------------------------------------------------

    def statuses(self) -> None:
        """Products we published whose inventory status says otherwise than the store's: set it."""
        if not _columns(self.con, "products"):
            return
        rows = self.con.execute(
            """SELECT pp.product_id, pp.store_product_id, pp.store_status,
                      CASE WHEN p.id IS NULL OR p.status = 'archived' THEN 'ARCHIVED' ELSE 'ACTIVE' END
               FROM shopify_published_products pp LEFT JOIN products p ON p.id = pp.product_id
               WHERE pp.channel = $1 ORDER BY pp.product_id""",
            [self.name],
        ).fetchall()
        for product_id, store_product, current, wanted in rows:
            if current == wanted:
                continue
            data = self.client.execute(SET_STATUS, {"input": {"id": store_product, "status": wanted}})
            self.result.mutations += 1
            payload = data.get("productSet") or {}
            errors = payload.get("userErrors") or []
            if errors:
                log.warning(
                    "channel %s: product %s status %s refused: %s", self.name, store_product, wanted, errors
                )
                continue
            self.con.execute(
                """UPDATE shopify_published_products SET store_status = $3, changed_at = $4
                   WHERE channel = $1 AND product_id = $2""",
                [self.name, product_id, wanted, utc_now()],
            )
            if wanted == "ARCHIVED":
                self.result.unpublished += 1
            else:
                self.result.republished += 1


def publish_products(
    client: ShopifyClient,
    con: duckdb.DuckDBPyConnection,
    channel: ResolvedChannel,
    *,
    variant_ids: Sequence[int] | None = None,
    hooks: PublishHooks | None = None,
    push: bool = True,
) -> PublishResult:
    """Publishes the channel's new inventory products and variants to its store, links them, gives them
    their stock, and sets the store status of the products it published (module docstring). Does
    nothing unless the channel says `publish_new_products: true`. `variant_ids`: consider only these
    (the webhook path). Needs the warehouse's extract and channel listings, and a catalogue read."""
    shopify = channel.config.shopify
    assert shopify is not None, f"channel {channel.name!r} is not a Shopify channel"
    result = PublishResult(channel=channel.name, enabled=shopify.publish_new_products)
    if not shopify.publish_new_products:
        return result
    started = time.perf_counter()
    before = client.stats.snapshot()
    ensure_publish_tables(con)
    try:
        since_product, since_variant, result.baseline_set = ensure_baseline(con, channel.name)
        publisher = _Publisher(client, con, channel, result, hooks)
        publisher.recover()
        candidates = find_candidates(con, channel.name, since_product, since_variant, variant_ids)
        result.candidates = len(candidates)
        by_product: dict[int, list[Candidate]] = {}
        for candidate in candidates:
            by_product.setdefault(candidate.product_id, []).append(candidate)
        for variants in by_product.values():
            publisher.publish_product(variants)
        publisher.statuses()
        if push and publisher.published:
            result.stock = push_stock(client, con, channel, variant_ids=publisher.published)
    finally:
        after = client.stats.snapshot()
        result.requests = int(after["requests"] - before["requests"])
        result.cost_actual = after["cost_actual"] - before["cost_actual"]
        result.seconds = round(time.perf_counter() - started, 3)
    return result
