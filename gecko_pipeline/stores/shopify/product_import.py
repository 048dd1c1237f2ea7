"""Onboarding a Shopify store: its catalogue into the inventory system, each store variant linked or created.

For every store variant (issue 16 item 2):

- its SKU is on exactly one inventory variant: it is **linked** by SKU (links.py's SKU pass after a
  catalogue read, `linked_by = sku`);
- its SKU is on no inventory variant: the product and its variants are **created** in the inventory
  system (`POST /products`, then `POST /variants` per variant: name, options `opt1..3`, SKU, barcode as
  `upc`, weight, the store price into the channel's price list, `keep_selling` from the inventory
  policy, `taxable`) and linked with `linked_by = created`. A store product some of whose variants
  are already linked by SKU gets its new variants added to that inventory product instead of a new
  product;
- anything else is **reported per item** with its reason and the rest goes on: no SKU
  (`no_sku`), a SKU on two store variants (`sku_duplicate_in_store`), a SKU on several inventory
  variants (`sku_ambiguous`), an inventory variant already linked to another store variant
  (`variant_linked_elsewhere`), a store product that is ARCHIVED (`archived_in_store`: nothing is
  created for a product the store no longer sells), and a product or variant the inventory system
  refuses (`refused`, with its 422 reasons).

**Exactly once** (the create-once pattern of orders/create_once.py), with a ledger,
`shopify_import_ledger` in the warehouse: before a POST the intent (the body and an Idempotency-Key
derived from the store id and the body) is committed; the answer is committed as the outcome. A row
with an intent and no outcome means "a POST may have happened" (a crash, a lost answer): only then is
the inventory system asked before posting again, the product by its marker tag
(`shopify:<channel>:<store product number>`, a tag every imported product carries) and a variant by
`GET /variants?sku=..&product_id=..`; if nothing is found the same body goes again under the same key
(within 24 h the API replays its first answer). The client never retries a create blindly
(`post_looking_first`). A re-run therefore creates nothing: created variants are linked (`created`
links are never taken over by the SKU pass), and a refusal whose body has not changed is reported
again without a request.

Why the warehouse, not ops.sqlite: the ledger is read together with the catalogue and the links it
completes (one DuckDB connection, one SQL join for the plan), and the import runs in the step that
already holds the warehouse. If the warehouse were rebuilt, the ledger would go with the links, and a
re-import would link the created variants by SKU (they exist in the inventory system now): nothing is
created twice either way.

**Dry run**: the store is read (one bulk operation) and every store variant is classified against the
warehouse's inventory variants by the SKU pass's rules; nothing is written anywhere.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from gecko_pipeline.api import GeckoClient, ValidationError
from gecko_pipeline.channels.config import ResolvedChannel
from gecko_pipeline.orders.lookup_first import post_looking_first
from gecko_pipeline.stores.shopify.catalogue import utc_now
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.links import NewLink, add_links, ensure_links_table, refresh_catalogue

log = logging.getLogger("gecko_pipeline.stores.shopify.product_import")

# One bulk operation reads every product with its variants (10 points, whatever the store's size).
PRODUCTS_BULK_QUERY = """{ products { edges { node { id legacyResourceId title handle status vendor productType tags
  options { name position }
  variants { edges { node { id sku barcode price inventoryPolicy taxable title position
    selectedOptions { name value }
    inventoryItem { id measurement { weight { unit value } } } } } } } } } }"""
SHOP_CURRENCY_QUERY = "query ShopCurrency { shop { currencyCode } }"

BUILT_IN_PRICE_LISTS = ("retail", "wholesale", "buy")
WEIGHT_UNITS = {"GRAMS": "g", "KILOGRAMS": "kg", "OUNCES": "oz", "POUNDS": "lb"}
DEFAULT_TITLE = "Default Title"

# Per store variant, what the import did (or, in a dry run, would do).
LINKED_BY_SKU = "linked_by_sku"
ALREADY_LINKED = "already_linked"  # linked before this run by the import or the publish
CREATE = "create"  # dry run: would be created
CREATED = "created"
PROBLEMS = (
    "no_sku",
    "sku_duplicate_in_store",
    "sku_ambiguous",
    "variant_linked_elsewhere",
    "archived_in_store",
    "refused",
    "not_in_catalogue",
)

LEDGER_DDL = """CREATE TABLE IF NOT EXISTS shopify_import_ledger (
    channel VARCHAR NOT NULL,
    store_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    store_product_id VARCHAR,
    sku VARCHAR,
    idempotency_key VARCHAR NOT NULL,
    body VARCHAR NOT NULL,
    attempts INTEGER NOT NULL,
    intent_at TIMESTAMP NOT NULL,
    outcome VARCHAR,
    inventory_id BIGINT,
    detail VARCHAR,
    done_at TIMESTAMP,
    PRIMARY KEY (channel, store_id))"""


def ensure_import_tables(con: duckdb.DuckDBPyConnection) -> None:
    ensure_links_table(con)
    con.execute(LEDGER_DDL)


# --- the store's products ------------------------------------------------------------------------


@dataclass
class StoreVariant:
    id: str
    product_id: str
    sku: str | None
    title: str | None
    barcode: str | None
    price: Decimal | None
    inventory_policy: str | None
    taxable: bool | None
    options: dict[str, str]
    inventory_item_id: str | None
    weight: Decimal | None
    weight_unit: str | None


@dataclass
class StoreProduct:
    id: str
    number: str  # legacyResourceId
    title: str
    handle: str | None
    status: str | None
    vendor: str | None
    product_type: str | None
    tags: list[str]
    options: list[str]  # option names in position order ([] for a product with only its default variant)
    variants: list[StoreVariant]


def _sku(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _product(record: dict[str, Any]) -> StoreProduct:
    options = sorted(record.get("options") or [], key=lambda o: o.get("position") or 0)
    names = [str(o.get("name")) for o in options if o.get("name")]
    variants = []
    for child in record.get("__children") or []:
        if not str(child.get("id", "")).startswith("gid://shopify/ProductVariant/"):
            continue
        item = child.get("inventoryItem") or {}
        weight = ((item.get("measurement") or {}).get("weight")) or {}
        price = child.get("price")
        variants.append(
            StoreVariant(
                id=str(child["id"]),
                product_id=str(record["id"]),
                sku=_sku(child.get("sku")),
                title=child.get("title"),
                barcode=_sku(child.get("barcode")),
                price=Decimal(str(price)) if price not in (None, "") else None,
                inventory_policy=child.get("inventoryPolicy"),
                taxable=child.get("taxable"),
                options={str(o["name"]): str(o["value"]) for o in child.get("selectedOptions") or []},
                inventory_item_id=item.get("id"),
                weight=Decimal(str(weight["value"])) if weight.get("value") not in (None, "") else None,
                weight_unit=weight.get("unit"),
            )
        )
    if names == ["Title"] and all(v.options.get("Title") == DEFAULT_TITLE for v in variants):
        names = []  # Shopify's stand-in option of a product without options
    return StoreProduct(
        id=str(record["id"]),
        number=str(record.get("legacyResourceId") or str(record["id"]).rsplit("/", 1)[-1]),
        title=str(record.get("title") or ""),
        handle=record.get("handle"),
        status=record.get("status"),
        vendor=record.get("vendor") or None,
        product_type=record.get("productType") or None,
        tags=[str(t) for t in record.get("tags") or []],
        options=names[:3],
        variants=variants,
    )


def read_store_products(client: ShopifyClient, *, poll_interval: float = 1.0) -> list[StoreProduct]:
    """Every product of the store with its variants, options, barcodes and weights (one bulk operation)."""
    return [_product(r) for r in client.run_bulk_query(PRODUCTS_BULK_QUERY, poll_interval=poll_interval)]


# --- the plan ------------------------------------------------------------------------------------


@dataclass
class ImportItem:
    """One store variant and what became of it (or would, in a dry run)."""

    store_product_id: str
    store_variant_id: str
    sku: str | None
    title: str
    action: str  # LINKED_BY_SKU, ALREADY_LINKED, CREATE, CREATED or one of PROBLEMS
    variant_id: int | None = None
    detail: str | None = None


@dataclass
class ImportResult:
    channel: str
    dry_run: bool
    store_products: int = 0
    store_variants: int = 0
    linked_by_sku: int = 0
    already_linked: int = 0
    products_to_create: int = 0  # inventory products the plan needs (created or, dry run, would be)
    variants_to_create: int = 0
    products_created: int = 0
    variants_created: int = 0
    recovered: int = 0  # creates of an earlier, interrupted run found by a look-up (not posted again)
    lookups: int = 0  # look-ups made because an intent had no outcome
    posts: int = 0  # create requests this run sent (first tries and re-posts)
    prices_skipped_currency: int = 0
    problems: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROBLEMS, 0))
    # Creates and problems (a dry run: its SKU links too; a run: not the thousands of plain links).
    items: list[ImportItem] = field(default_factory=list)
    gecko_requests: int = 0
    shopify_requests: int = 0
    shopify_cost: float = 0.0
    seconds: float = 0.0

    @property
    def problem_total(self) -> int:
        return sum(self.problems.values())

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("items", "problems")}
        data.update({f"problem_{k}": v for k, v in self.problems.items()})
        data["problems"] = self.problem_total
        return data

    def note(self, item: ImportItem) -> None:
        if item.action == LINKED_BY_SKU:
            self.linked_by_sku += 1
            if self.dry_run:  # a dry run lists what it would link too
                self.items.append(item)
            return
        if item.action == ALREADY_LINKED:
            self.already_linked += 1
            return
        if item.action in PROBLEMS:
            self.problems[item.action] += 1
        self.items.append(item)


@dataclass
class ImportHooks:
    """The test suite's seam: `after_post(kind, store_id)` runs after a create was answered, before its
    outcome is recorded (raise there to play a crash that lost the answer)."""

    after_post: Callable[[str, str], None] | None = None


def _inventory_skus(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[int, bool]]]:
    """SKU (trimmed) -> [(variant id, active)] of the live inventory variants."""
    columns = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'variants'"
        ).fetchall()
    }
    if not columns:
        return {}
    live = "AND _vanished_at IS NULL" if "_vanished_at" in columns else ""
    rows = con.execute(
        f"""SELECT trim(sku), id, coalesce(status, 'active') = 'active' FROM variants
            WHERE nullif(trim(sku), '') IS NOT NULL {live}"""  # noqa: S608 - fixed fragment
    ).fetchall()
    found: dict[str, list[tuple[int, bool]]] = {}
    for sku, variant_id, active in rows:
        found.setdefault(str(sku), []).append((int(variant_id), bool(active)))
    return found


def _held(con: duckdb.DuckDBPyConnection, channel: str) -> tuple[dict[str, int | None], set[int]]:
    """Store variants linked other ways than by SKU (-> inventory variant), and their inventory variants."""
    rows = con.execute(
        """SELECT store_variant_id, variant_id FROM channel_product_links
           WHERE channel = $1 AND linked_by <> 'sku' AND status = 'linked'""",
        [channel],
    ).fetchall()
    return {str(s): (int(v) if v is not None else None) for s, v in rows}, {int(v) for _, v in rows if v}


def _classify_offline(
    con: duckdb.DuckDBPyConnection, channel: str, products: list[StoreProduct]
) -> dict[str, tuple[str, int | None, str | None]]:
    """Store variant -> (action, inventory variant, detail) by the SKU pass's rules (links.py), without
    writing: the dry run's plan."""
    inventory = _inventory_skus(con)
    held, held_variants = _held(con, channel)
    in_store = Counter(v.sku for p in products for v in p.variants if v.sku)
    plan: dict[str, tuple[str, int | None, str | None]] = {}
    for product in products:
        for variant in product.variants:
            if variant.id in held:
                plan[variant.id] = (ALREADY_LINKED, held[variant.id], None)
                continue
            sku = variant.sku
            if sku is None:
                plan[variant.id] = ("no_sku", None, "the store variant has no SKU")
                continue
            if in_store[sku] > 1:
                plan[variant.id] = (
                    "sku_duplicate_in_store",
                    None,
                    f"SKU {sku} is on {in_store[sku]} variants of the store",
                )
                continue
            found = inventory.get(sku)
            if not found:
                plan[variant.id] = ("sku_unknown", None, None)
                continue
            active = [v for v, is_active in found if is_active]
            candidate = (
                active[0] if len(active) == 1 else (found[0][0] if not active and len(found) == 1 else None)
            )
            if candidate is None:
                ids = ", ".join(str(v) for v, _ in sorted(found))
                plan[variant.id] = ("sku_ambiguous", None, f"SKU {sku} is on inventory variants {ids}")
            elif candidate in held_variants:
                plan[variant.id] = (
                    "variant_linked_elsewhere",
                    candidate,
                    f"inventory variant {candidate} is already linked to another store variant",
                )
            else:
                plan[variant.id] = (LINKED_BY_SKU, candidate, None)
    return plan


def _classify_from_links(
    con: duckdb.DuckDBPyConnection, channel: str, products: list[StoreProduct]
) -> dict[str, tuple[str, int | None, str | None]]:
    """Store variant -> (action, inventory variant, detail) from channel_product_links as the SKU pass
    (just run) left them."""
    rows = con.execute(
        """SELECT store_variant_id, linked_by, status, problem, detail, variant_id
           FROM channel_product_links WHERE channel = $1""",
        [channel],
    ).fetchall()
    links = {str(r[0]): r[1:] for r in rows}
    plan: dict[str, tuple[str, int | None, str | None]] = {}
    for product in products:
        for variant in product.variants:
            row = links.get(variant.id)
            if row is None:  # created between the two reads: its SKU was not matched, so wait
                plan[variant.id] = (
                    "not_in_catalogue",
                    None,
                    "not in the catalogue read yet: the next run takes it",
                )
                continue
            linked_by, status, problem, detail, variant_id = row
            vid = int(variant_id) if variant_id is not None else None
            if status == "linked":
                plan[variant.id] = (LINKED_BY_SKU if linked_by == "sku" else ALREADY_LINKED, vid, None)
            else:
                plan[variant.id] = (str(problem), vid, detail)
    return plan


# --- the ledger ----------------------------------------------------------------------------------


@dataclass
class LedgerRow:
    store_id: str
    kind: str
    idempotency_key: str
    body: str
    attempts: int
    outcome: str | None
    inventory_id: int | None
    detail: str | None


def ledger_rows(con: duckdb.DuckDBPyConnection, channel: str, store_ids: list[str]) -> dict[str, LedgerRow]:
    rows = con.execute(
        """SELECT store_id, kind, idempotency_key, body, attempts, outcome, inventory_id, detail
           FROM shopify_import_ledger WHERE channel = $1 AND store_id IN (SELECT unnest($2::VARCHAR[]))""",
        [channel, store_ids],
    ).fetchall()
    return {str(r[0]): LedgerRow(*r) for r in rows}


def _body_text(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def idempotency_key(channel: str, kind: str, store_id: str, body_text: str) -> str:
    """The key of one create: the store item and what is sent (a changed body is another request)."""
    digest = hashlib.sha256(f"{channel}\n{store_id}\n{body_text}".encode()).hexdigest()[:32]
    return f"shopify-import-{kind}-{digest}"


@dataclass
class Create:
    """One create request of the import: what it is, and how to find it again."""

    kind: str  # product | variant
    store_id: str
    store_product_id: str
    sku: str | None
    path: str
    root: str
    body: dict[str, Any]
    lookup: Callable[[], int | None]
    key: str = ""
    body_text: str = ""
    attempts: int = 1


def _write_intents(con: duckdb.DuckDBPyConnection, channel: str, creates: list[Create]) -> None:
    """Commits the intents of a chunk of creates in one transaction, before any of them is sent."""
    if not creates:
        return
    con.execute(
        """INSERT OR REPLACE INTO shopify_import_ledger
           SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::VARCHAR[]), unnest($5::VARCHAR[]),
                  unnest($6::VARCHAR[]), unnest($7::VARCHAR[]), unnest($8::INTEGER[]), $9, NULL, NULL, NULL, NULL""",
        [
            channel,
            [c.store_id for c in creates],
            [c.kind for c in creates],
            [c.store_product_id for c in creates],
            [c.sku for c in creates],
            [c.key for c in creates],
            [c.body_text for c in creates],
            [c.attempts for c in creates],
            utc_now(),
        ],
    )


def _record(
    con: duckdb.DuckDBPyConnection, channel: str, outcomes: list[tuple[str, str, int | None, str | None]]
) -> None:
    """Commits (store id, outcome, inventory id, refusal) of answered creates in one statement."""
    if not outcomes:
        return
    con.execute(
        """UPDATE shopify_import_ledger SET outcome = o.outcome, inventory_id = o.inventory_id, detail = o.detail,
               done_at = $6
           FROM (SELECT unnest($2::VARCHAR[]) AS store_id, unnest($3::VARCHAR[]) AS outcome,
                        unnest($4::BIGINT[]) AS inventory_id, unnest($5::VARCHAR[]) AS detail) AS o
           WHERE shopify_import_ledger.channel = $1 AND shopify_import_ledger.store_id = o.store_id""",
        [
            channel,
            [o[0] for o in outcomes],
            [o[1] for o in outcomes],
            [o[2] for o in outcomes],
            [o[3] for o in outcomes],
            utc_now(),
        ],
    )


def refusal_text(exc: ValidationError) -> str:
    """A 422's reasons as one line: `name: can't be blank; retail_price: is not a number`."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict) and errors:
        return "; ".join(
            f"{name}: {', '.join(map(str, messages)) if isinstance(messages, list) else messages}"
            for name, messages in errors.items()
        )
    return str(exc)


# --- the request bodies --------------------------------------------------------------------------


def marker_tag(channel: str, product: StoreProduct) -> str:
    """The tag an imported product carries: how a lost answer is found again."""
    return f"shopify:{channel}:{product.number}"


def product_body(channel: str, product: StoreProduct) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": product.title,
        "status": "active",
        "tags": ",".join([*product.tags, marker_tag(channel, product)]),
    }
    if product.product_type:
        fields["product_type"] = product.product_type
    if product.vendor:
        fields["brand"] = product.vendor
    for index, name in enumerate(product.options, start=1):
        fields[f"opt{index}"] = name
    return {"product": fields}


def variant_body(
    product: StoreProduct,
    variant: StoreVariant,
    product_id: int,
    price_list_id: str,
    send_price: bool,
) -> dict[str, Any]:
    title = variant.title if variant.title and variant.title != DEFAULT_TITLE else product.title
    fields: dict[str, Any] = {"product_id": product_id, "name": title, "sku": variant.sku}
    if variant.barcode:
        fields["upc"] = variant.barcode
    for index, name in enumerate(product.options, start=1):
        if variant.options.get(name) is not None:
            fields[f"opt{index}"] = variant.options[name]
    if variant.weight is not None and variant.weight > 0 and variant.weight_unit in WEIGHT_UNITS:
        fields["weight"] = format(variant.weight.normalize(), "f")
        fields["weight_unit"] = WEIGHT_UNITS[variant.weight_unit]
    if send_price and variant.price is not None:
        value = format(variant.price, "f")
        if price_list_id in BUILT_IN_PRICE_LISTS:
            fields[f"{price_list_id}_price"] = value
        else:
            fields["variant_prices"] = [{"price_list_id": str(price_list_id), "value": value}]
    if variant.inventory_policy:
        fields["keep_selling"] = variant.inventory_policy == "CONTINUE"
    if variant.taxable is not None:
        fields["taxable"] = bool(variant.taxable)
    return {"variant": fields}


# --- the import ----------------------------------------------------------------------------------

# Creates whose intents are committed together (and outcomes after them): a kill -9 mid-chunk leaves at
# most this many intents to look up; a commit per create would cost tens of milliseconds each.
CHUNK = 50


class _Importer:
    def __init__(
        self,
        gecko: GeckoClient,
        con: duckdb.DuckDBPyConnection,
        channel: ResolvedChannel,
        result: ImportResult,
        hooks: ImportHooks | None,
    ) -> None:
        self.gecko, self.con, self.channel, self.result = gecko, con, channel, result
        self.hooks = hooks or ImportHooks()

    def create_all(self, creates: list[Create]) -> dict[str, tuple[str, int | None, str | None]]:
        """store id -> (outcome, inventory id, refusal) for each create, made at most once (module
        docstring). Outcomes: `created` (posted and answered now), `found` (an earlier attempt was
        applied), `done` (recorded by an earlier run) or `refused`."""
        found: dict[str, tuple[str, int | None, str | None]] = {}
        for start in range(0, len(creates), CHUNK):
            found.update(self._chunk(creates[start : start + CHUNK]))
        return found

    def _chunk(self, creates: list[Create]) -> dict[str, tuple[str, int | None, str | None]]:
        channel = self.channel.name
        rows = ledger_rows(self.con, channel, [c.store_id for c in creates])
        answers: dict[str, tuple[str, int | None, str | None]] = {}
        recorded: list[tuple[str, str, int | None, str | None]] = []
        to_post: list[Create] = []
        for create in creates:
            create.body_text = _body_text(create.body)
            row = rows.get(create.store_id)
            if row is not None and row.outcome in ("created", "found"):
                answers[create.store_id] = ("done", row.inventory_id, None)
                continue
            if row is not None and row.outcome == "refused" and row.body == create.body_text:
                answers[create.store_id] = ("refused", None, row.detail)  # the same request: not sent again
                continue
            if row is not None and row.outcome is None:
                # An earlier attempt may have been applied: look before posting again.
                self.result.lookups += 1
                inventory_id = create.lookup()
                if inventory_id is not None:
                    answers[create.store_id] = ("found", inventory_id, None)
                    recorded.append((create.store_id, "found", inventory_id, None))
                    self.result.recovered += 1
                    continue
                create.key, create.body_text, create.attempts = (
                    row.idempotency_key,
                    row.body,
                    row.attempts + 1,
                )
                create.body = json.loads(row.body)
            else:
                create.key = idempotency_key(channel, create.kind, create.store_id, create.body_text)
            to_post.append(create)
        _record(self.con, channel, recorded)
        _write_intents(self.con, channel, to_post)
        recorded = []
        try:
            for create in to_post:
                answers[create.store_id] = self._post(create)
                outcome, inventory_id, refusal = answers[create.store_id]
                recorded.append((create.store_id, outcome, inventory_id, refusal))
        finally:
            _record(self.con, channel, recorded)  # what was answered before an error is kept
        return answers

    def _post(self, create: Create) -> tuple[str, int | None, str | None]:
        seen: dict[str, int | None] = {}

        def applied() -> bool:
            self.result.lookups += 1
            seen["id"] = create.lookup()
            return seen["id"] is not None

        self.result.posts += 1
        try:
            answer = post_looking_first(self.gecko, create.path, create.body, create.key, applied)
        except ValidationError as exc:
            return "refused", None, refusal_text(exc)
        if self.hooks.after_post is not None:
            self.hooks.after_post(create.kind, create.store_id)
        if answer is None:
            self.result.recovered += 1
            return "found", seen.get("id"), None
        return "created", int((answer.get(create.root) or {})["id"]), None

    def find_product(self, marker: str) -> int | None:
        answer = self.gecko.get(
            "/products", {"tags": marker, "status": "active,disabled,archived", "limit": 10}
        )
        for record in answer.get("products") or []:
            tags = [t.strip() for t in str(record.get("tags") or "").split(",")]
            if marker in tags:
                return int(record["id"])
        return None

    def find_variant(self, sku: str, product_id: int) -> int | None:
        answer = self.gecko.get(
            "/variants", {"sku": sku, "product_id": product_id, "status": "active,archived", "limit": 10}
        )
        for record in answer.get("variants") or []:
            if _sku(record.get("sku")) == sku and int(record.get("product_id") or 0) == product_id:
                return int(record["id"])
        return None


def _sibling_product(
    con: duckdb.DuckDBPyConnection, product: StoreProduct, plan: dict[str, tuple[str, int | None, str | None]]
) -> int | None:
    """The inventory product that the store product's already linked variants belong to (the most
    common one, then the lowest id), if any."""
    linked = [plan[v.id][1] for v in product.variants if plan[v.id][0] in (LINKED_BY_SKU, ALREADY_LINKED)]
    linked_ids = [v for v in linked if v is not None]
    if not linked_ids:
        return None
    rows = con.execute(
        "SELECT product_id FROM variants WHERE id IN (SELECT unnest($1::BIGINT[])) AND product_id IS NOT NULL",
        [linked_ids],
    ).fetchall()
    if not rows:
        return None
    counts = Counter(int(r[0]) for r in rows)
    return sorted(counts, key=lambda p: (-counts[p], p))[0]


def import_products(
    shopify: ShopifyClient,
    gecko: GeckoClient,
    con: duckdb.DuckDBPyConnection,
    channel: ResolvedChannel,
    *,
    dry_run: bool = False,
    hooks: ImportHooks | None = None,
    read_mode: str = "auto",
    bulk_poll_interval: float = 1.0,
) -> ImportResult:
    """Imports the channel's store catalogue into the inventory system (module docstring). Needs the
    warehouse's `variants` (an extract) for the SKU matching."""
    assert channel.config.shopify is not None, f"channel {channel.name!r} is not a Shopify channel"
    started = time.perf_counter()
    shop_before, gecko_before = shopify.stats.snapshot(), gecko.stats.requests
    ensure_import_tables(con)
    result = ImportResult(channel=channel.name, dry_run=dry_run)
    try:
        products = read_store_products(shopify, poll_interval=bulk_poll_interval)
        currency = (shopify.execute(SHOP_CURRENCY_QUERY).get("shop") or {}).get("currencyCode")
        result.store_products = len(products)
        result.store_variants = sum(len(p.variants) for p in products)
        if dry_run:
            plan = _classify_offline(con, channel.name, products)
        else:
            # auto: bulk. An import reads the whole store, and a page read costs ~10 points a variant
            # (40 s of a Standard bucket for 400 variants) where a bulk operation costs 10 in all.
            refresh_catalogue(shopify, con, channel, mode="bulk" if read_mode == "auto" else read_mode)
            plan = _classify_from_links(con, channel.name, products)
        send_price = not (channel.currency and currency and channel.currency != currency)
        _run(_Importer(gecko, con, channel, result, hooks), products, plan, dry_run, send_price)
    finally:
        shop_after = shopify.stats.snapshot()
        result.shopify_requests = int(shop_after["requests"] - shop_before["requests"])
        result.shopify_cost = shop_after["cost_actual"] - shop_before["cost_actual"]
        result.gecko_requests = gecko.stats.requests - gecko_before
        result.seconds = round(time.perf_counter() - started, 3)
    return result


def _run(
    importer: _Importer,
    products: list[StoreProduct],
    plan: dict[str, tuple[str, int | None, str | None]],
    dry_run: bool,
    send_price: bool,
) -> None:
    result, con, channel = importer.result, importer.con, importer.channel
    # 1. What each store variant is, and which store products need inventory variants made.
    groups: list[tuple[StoreProduct, list[StoreVariant], int | None]] = []
    for product in products:
        new: list[StoreVariant] = []
        for variant in product.variants:
            action, variant_id, detail = plan[variant.id]
            item = ImportItem(product.id, variant.id, variant.sku, product.title, action, variant_id, detail)
            if action == "sku_unknown":
                if product.status != "ARCHIVED":
                    new.append(variant)
                    continue
                item.action, item.detail = "archived_in_store", "the store product is archived: not imported"
            result.note(item)
        if new:
            groups.append((product, new, _sibling_product(con, product, plan)))
    done = ledger_rows(con, channel.name, [p.id for p, _, target in groups if target is None])
    for product, new, target in groups:
        row = done.get(product.id)
        if target is None and not (row and row.outcome in ("created", "found")):
            result.products_to_create += 1
        result.variants_to_create += len(new)
    if dry_run:
        for product, new, _ in groups:
            for variant in new:
                result.note(ImportItem(product.id, variant.id, variant.sku, product.title, CREATE))
        return
    # 2. The inventory products, then 3. their variants, each made at most once; 4. the links.
    made = importer.create_all(
        [
            Create(
                kind="product",
                store_id=product.id,
                store_product_id=product.id,
                sku=None,
                path="/products",
                root="product",
                body=product_body(channel.name, product),
                lookup=functools.partial(importer.find_product, marker_tag(channel.name, product)),
            )
            for product, _, target in groups
            if target is None
        ]
    )
    result.products_created += sum(1 for outcome, _, _ in made.values() if outcome == "created")
    variants: list[tuple[StoreProduct, StoreVariant, Create]] = []
    for product, new, target in groups:
        if target is None:
            outcome, target, refusal = made[product.id]
            if target is None:
                for variant in new:
                    detail = f"product refused by the inventory system: {refusal}"
                    result.note(
                        ImportItem(
                            product.id, variant.id, variant.sku, product.title, "refused", None, detail
                        )
                    )
                continue
        for variant in new:
            assert variant.sku is not None
            create = Create(
                kind="variant",
                store_id=variant.id,
                store_product_id=product.id,
                sku=variant.sku,
                path="/variants",
                root="variant",
                body=variant_body(product, variant, target, channel.price_list_id, send_price),
                lookup=functools.partial(importer.find_variant, variant.sku, target),
            )
            variants.append((product, variant, create))
    for start in range(0, len(variants), CHUNK):
        _variants(importer, variants[start : start + CHUNK], send_price)


def _variants(
    importer: _Importer, chunk: list[tuple[StoreProduct, StoreVariant, Create]], send_price: bool
) -> None:
    result, channel = importer.result, importer.channel
    answers = importer.create_all([create for _, _, create in chunk])
    links: list[NewLink] = []
    for product, variant, _ in chunk:
        outcome, variant_id, refusal = answers[variant.id]
        if variant_id is None:
            detail = f"variant refused: {refusal}"
            result.note(
                ImportItem(product.id, variant.id, variant.sku, product.title, "refused", None, detail)
            )
            continue
        if outcome == "created":
            result.variants_created += 1
        if variant.price is not None and not send_price:
            result.prices_skipped_currency += 1
        links.append(NewLink(variant.id, variant_id, product.id, variant.inventory_item_id, variant.sku))
    refused = add_links(importer.con, channel.name, links, linked_by="created")
    for product, variant, _ in chunk:
        _, variant_id, _ = answers[variant.id]
        if variant_id is None:
            continue
        if variant.id in refused:
            item = ImportItem(product.id, variant.id, variant.sku, product.title, "variant_linked_elsewhere")
            item.variant_id, item.detail = variant_id, refused[variant.id]
        else:
            item = ImportItem(product.id, variant.id, variant.sku, product.title, CREATED, variant_id)
        result.note(item)


def ledger_counts(con: duckdb.DuckDBPyConnection, channel: str) -> dict[str, int]:
    """The import ledger of a channel by kind and outcome (`pending` = an intent without an outcome)."""
    ensure_import_tables(con)
    rows = con.execute(
        """SELECT kind, coalesce(outcome, 'pending'), count(*) FROM shopify_import_ledger
           WHERE channel = $1 GROUP BY ALL""",
        [channel],
    ).fetchall()
    return {f"{kind} {outcome}": int(n) for kind, outcome, n in rows}


def problem_items(result: ImportResult, limit: int | None = None) -> list[dict[str, Any]]:
    """The reported items (problems), for metadata and the CLI."""
    rows = [asdict(i) for i in result.items if i.action in PROBLEMS]
    return rows[:limit] if limit is not None else rows


def created_items(result: ImportResult) -> Iterable[ImportItem]:
    return (i for i in result.items if i.action in (CREATE, CREATED))
