"""Orders in, pulled: a shop's orders read by their `updated_at`, fed to the same inbox as the webhooks.

`backfill_orders(client, con, channel, since=...)` onboards a store ("import the orders since DATE");
called again without `since`, it goes on from the stored watermark, which is how a periodic run
reconciles what webhooks missed (Shopify does not guarantee delivery; a refund, a payment or a
fulfilment all move an order's updated_at).

How (shared/shopify-api.md section 3.1, singer-io/tap-shopify's bookmark discipline):
- `orders(first: 3, after:, query: "updated_at:>='W' AND updated_at:<='U'", sortKey: UPDATED_AT)`:
  an inclusive lower bound on the watermark W, an upper bound U fixed when the run starts (an order
  changed during the run is left for the next run rather than read twice or skipped);
- Shopify's times have whole seconds, so several orders (and several states of one order) can share W:
  the watermark keeps what it stored at exactly W as `<order id>:<digest of the node>`
  (`boundary_ids`), and only an exact repeat is skipped: an order changed again within that second
  has another digest and is stored;
- each page's orders and the advanced watermark are committed in one transaction (ops.sqlite
  `shopify_sync_state`), so a crash resumes after the last stored page, never skipping one;
- an order with more lines, fulfilments or refunds than the page query's nested `first`s is completed
  from its own node, page by page (queries.py), before it is stored.

Both paths key an order on its numeric id and carry Shopify's updated_at (mapping.py): an order that
arrives by webhook and by backfill, twice or out of order, is one ledger row and one sales order.
Without the `read_all_orders` scope Shopify shows only the last 60 days of orders: an older `since`
then finds nothing, which proves nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders.inbox import now_iso
from gecko_pipeline.stores.shopify import queries
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.inbox import ensure_schema, insert_backfilled
from gecko_pipeline.stores.shopify.normalise import numeric_id

log = logging.getLogger("gecko_pipeline.stores.shopify.backfill")


@dataclass(frozen=True)
class Watermark:
    """Where a channel's backfill stands: the newest updatedAt stored (UTC, whole seconds, `...Z`) and
    the order states stored at exactly that second (`<order id>:<node digest>`)."""

    updated_at: str | None = None
    boundary_ids: tuple[str, ...] = ()


@dataclass
class BackfillResult:
    channel: str
    since: str
    until: str
    pages: int = 0
    orders_read: int = 0
    stored: int = 0  # orders put in the inbox
    skipped: int = 0  # repeats at the watermark's second
    inbox_ids: list[int] = field(default_factory=list)
    watermark: Watermark = field(default_factory=Watermark)
    requests: int = 0  # GraphQL requests this run sent
    cost_requested: float = 0.0
    cost_actual: float = 0.0
    throttled: int = 0

    def as_metadata(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("inbox_ids", "watermark")} | {
            "watermark": self.watermark.updated_at
        }


def _second(moment: datetime | str) -> str:
    """A time as Shopify's search and updatedAt write it: UTC, whole seconds, `Z`."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError(f"{moment.isoformat()} has no time zone; say e.g. 2026-01-01T00:00:00Z")
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_watermark(con: sqlite3.Connection, channel: str) -> Watermark:
    ensure_schema(con)
    row = con.execute(
        "SELECT orders_updated_at, boundary_ids FROM shopify_sync_state WHERE channel = ?", (channel,)
    ).fetchone()
    if row is None:
        return Watermark()
    return Watermark(row[0], tuple(json.loads(row[1] or "[]")))


def _save_watermark(con: sqlite3.Connection, channel: str, mark: Watermark) -> None:
    con.execute(
        "INSERT INTO shopify_sync_state (channel, orders_updated_at, boundary_ids, synced_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET orders_updated_at = excluded.orders_updated_at, "
        "boundary_ids = excluded.boundary_ids, synced_at = excluded.synced_at",
        (channel, mark.updated_at, json.dumps(list(mark.boundary_ids)), now_iso()),
    )


def _advance(mark: Watermark, seen: str, updated: str) -> Watermark:
    if mark.updated_at is None or updated > mark.updated_at:
        return Watermark(updated, (seen,))
    if updated == mark.updated_at and seen not in mark.boundary_ids:
        return Watermark(updated, (*mark.boundary_ids, seen))
    return mark


def state_key(order_id: str, node: Mapping[str, Any]) -> str:
    """`<order id>:<digest>` of one state of an order as the page query returned it."""
    text = json.dumps(node, sort_keys=True, separators=(",", ":"), default=str)
    return f"{order_id}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def backfill_orders(
    client: ShopifyClient,
    con: sqlite3.Connection,
    channel: ChannelConfig,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    page_size: int = queries.PAGE_ORDERS,
    max_pages: int | None = None,
) -> BackfillResult:
    """Stores the channel's orders updated since `since` (default: the stored watermark) up to `until`
    (default: now) in the inbox as `shopify.graphql-order` rows, page by page, advancing the watermark
    with each page. Returns what it did (requests and cost included). `since` is needed the first time."""
    if channel.shopify is None:
        raise ValueError(f"channel {channel.name!r} is not kind: shopify")
    ensure_schema(con)
    stored_mark = read_watermark(con, channel.name)
    if since is None:
        if stored_mark.updated_at is None:
            raise ValueError(
                f"channel {channel.name!r} has no backfill watermark yet: say since when to import orders"
            )
        start = stored_mark
    else:
        start = Watermark(_second(since))
    upper = _second(until or datetime.now(timezone.utc))
    before = client.stats.snapshot()
    result = BackfillResult(channel.name, start.updated_at or "", upper, watermark=start)
    zone = client.execute(queries.SHOP).get("shop", {}).get("ianaTimezone")
    search = f"updated_at:>='{start.updated_at}' AND updated_at:<='{upper}'"
    mark = start
    pages = client.iter_pages(queries.ORDERS_PAGE, {"first": page_size, "query": search}, path=("orders",))
    for nodes, _ in pages:
        result.pages += 1
        kept = []
        for node in nodes:
            result.orders_read += 1
            order_id = numeric_id(node.get("id"), "Order")
            updated = node.get("updatedAt")
            if order_id is None or not isinstance(updated, str):
                log.warning("backfill %s: an order node without id or updatedAt skipped", channel.name)
                continue
            updated = _second(updated)
            seen = state_key(order_id, node)
            if updated < (start.updated_at or "") or (
                updated == start.updated_at and seen in start.boundary_ids
            ):
                result.skipped += 1  # this very state was stored by the run that set the watermark
                continue
            kept.append((seen, updated, complete_order(client, node)))
        with transaction(con):
            for seen, updated, node in kept:
                result.inbox_ids.append(insert_backfilled(con, channel.name, node, zone))
                mark = _advance(mark, seen, updated)
            _save_watermark(con, channel.name, mark)
        result.stored += len(kept)
        if max_pages is not None and result.pages >= max_pages:
            break
    result.watermark = mark
    after = client.stats.snapshot()
    result.requests = int(after["requests"] - before["requests"])
    result.cost_requested = after["cost_requested"] - before["cost_requested"]
    result.cost_actual = after["cost_actual"] - before["cost_actual"]
    result.throttled = int(after["throttled"] - before["throttled"])
    log.info(
        "backfill %s: %d orders stored (%d pages, %d requests, %.0f points) up to %s",
        channel.name,
        result.stored,
        result.pages,
        result.requests,
        result.cost_actual,
        mark.updated_at,
    )
    return result


def fetch_orders(
    client: ShopifyClient, con: sqlite3.Connection, channel: ChannelConfig, order_ids: Iterable[str | int]
) -> list[int]:
    """Stores the current state of these orders (numeric ids or GIDs) in the inbox, as the backfill
    would: e.g. for the orders named by `refunds/create` notices when the `orders/updated` that follows
    them is in doubt. Leaves the watermark alone. Returns the inbox ids."""
    ensure_schema(con)
    zone = client.execute(queries.SHOP).get("shop", {}).get("ianaTimezone")
    nodes = []
    for value in dict.fromkeys(str(i) for i in order_ids):
        number = numeric_id(value, "Order")
        if number is None:
            raise ValueError(f"{value!r} is not a Shopify order id")
        node = client.execute(queries.ORDER_BY_ID, {"id": f"gid://shopify/Order/{number}"}).get("order")
        if isinstance(node, dict):
            nodes.append(complete_order(client, node))
    with transaction(con):
        return [insert_backfilled(con, channel.name, node, zone) for node in nodes]


def complete_order(client: ShopifyClient, node: dict[str, Any]) -> dict[str, Any]:
    """Reads what an order node has beyond the page query's nested `first`s, from the node itself."""
    gid = node.get("id")
    if not isinstance(gid, str):
        return node
    for name, document in (
        ("lineItems", queries.LINE_ITEMS_OF),
        ("shippingLines", queries.SHIPPING_LINES_OF),
        ("discountApplications", queries.DISCOUNTS_OF),
    ):
        _extend(client, node, name, document, gid)
    if any(len(node.get(name) or []) >= queries.NESTED_LISTS for name in ("fulfillments", "refunds")):
        more = (
            client.execute(queries.ORDER_LISTS_OF, {"id": gid, "first": queries.MORE_FIRST}).get("node") or {}
        )
        node["fulfillments"] = more.get("fulfillments") or node.get("fulfillments")
        node["refunds"] = more.get("refunds") or node.get("refunds")
    for fulfillment in node.get("fulfillments") or []:
        _extend(
            client, fulfillment, "fulfillmentLineItems", queries.FULFILLMENT_LINES_OF, fulfillment.get("id")
        )
    for refund in node.get("refunds") or []:
        _extend(client, refund, "refundLineItems", queries.REFUND_LINES_OF, refund.get("id"))
    return node


def _extend(client: ShopifyClient, holder: Mapping[str, Any], name: str, document: str, gid: Any) -> None:
    connection = holder.get(name)
    if not isinstance(connection, dict) or not isinstance(gid, str):
        return
    info = connection.get("pageInfo") or {}
    if not info.get("hasNextPage"):
        return
    nodes = connection.setdefault("nodes", [])
    for page, _ in client.iter_pages(document, {"id": gid}, path=("node", name), after=info.get("endCursor")):
        nodes.extend(page)
    connection["pageInfo"] = {"hasNextPage": False, "endCursor": None}
