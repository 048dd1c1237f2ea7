"""Shopify payloads in the order inbox: how they are stored (webhook deliveries, backfilled pages) and
how the push turns one into the canonical order (`to_canonical`, registered in orders/formats.py).

Storage (ops.sqlite): the body is stored exactly as Shopify sent it in `order_inbox` (`payload`), with
`format` saying its shape and `source` where it came from:

| format | source | payload |
|---|---|---|
| `shopify.rest-order` | `shopify-webhook:orders/create` (`/updated`, `/paid`, `/cancelled`) | the REST Order |
| `shopify.rest-refund` | `shopify-webhook:refunds/create` | the REST Refund |
| `shopify.graphql-order` | `shopify-backfill` | `{"order": <Order node>, "shop_timezone": "..."}` |

`shopify_webhooks` remembers every delivery (by `X-Shopify-Webhook-Id`) with its headers and the inbox
row holding its body; a delivery already seen, or one with the same business key (topic, order id,
updated_at and body digest; for a refund, its id), is a duplicate and stores nothing new.
`shopify_sync_state` holds each channel's backfill watermark.

A `refunds/create` body carries one refund, not the order: it is kept (and checked) but makes no order
state of its own; the `orders/updated` Shopify sends with every refund carries the whole order with
that refund, and the backfill (a refund moves the order's updated_at) reconciles a lost one.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.inbox import InboxRow
from gecko_pipeline.orders.model import OrderInvalid, parse_order
from gecko_pipeline.stores.shopify import mapping
from gecko_pipeline.stores.shopify.normalise import (
    ShopifyShapeError,
    from_graphql,
    from_rest,
    from_rest_refund,
    numeric_id,
)

FORMAT_REST_ORDER = "shopify.rest-order"
FORMAT_REST_REFUND = "shopify.rest-refund"
FORMAT_GRAPHQL_ORDER = "shopify.graphql-order"
SOURCE_BACKFILL = "shopify-backfill"

# The webhook topics the pipeline takes, and the shape of their bodies.
ORDER_TOPICS = {
    "orders/create": FORMAT_REST_ORDER,
    "orders/updated": FORMAT_REST_ORDER,
    "orders/paid": FORMAT_REST_ORDER,
    "orders/cancelled": FORMAT_REST_ORDER,
    "refunds/create": FORMAT_REST_REFUND,
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS shopify_webhooks (
    webhook_id TEXT PRIMARY KEY,      -- X-Shopify-Webhook-Id: the same on every retry of a delivery
    channel TEXT NOT NULL,
    topic TEXT NOT NULL,              -- X-Shopify-Topic
    shop_domain TEXT,                 -- X-Shopify-Shop-Domain
    api_version TEXT,                 -- X-Shopify-API-Version the body was serialised with
    event_id TEXT,                    -- X-Shopify-Event-Id: one merchant action
    triggered_at TEXT,                -- X-Shopify-Triggered-At
    business_key TEXT,                -- topic|order id|updated_at|body digest (refunds: topic|order|refund)
    inbox_id INTEGER NOT NULL,        -- the order_inbox row holding the body (for a duplicate: the first's)
    duplicate_of TEXT,                -- a duplicate by business key: the webhook id stored first
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shopify_webhooks_key ON shopify_webhooks (channel, business_key);
CREATE TABLE IF NOT EXISTS shopify_sync_state (
    channel TEXT PRIMARY KEY,
    orders_updated_at TEXT,           -- the backfill's watermark: the newest updatedAt stored (UTC)
    boundary_ids TEXT NOT NULL DEFAULT '[]',  -- order ids stored at exactly that second (JSON list)
    synced_at TEXT NOT NULL
);
"""


def ensure_schema(con: sqlite3.Connection) -> None:
    inbox.ensure_schema(con)
    con.executescript(SCHEMA)


# --- webhook deliveries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A verified delivery's headers and body (the body exactly as received)."""

    channel: str
    topic: str
    webhook_id: str
    body: str
    shop_domain: str | None = None
    api_version: str | None = None
    event_id: str | None = None
    triggered_at: str | None = None


@dataclass(frozen=True)
class Stored:
    inbox_id: int
    duplicate: bool


def order_id_of(topic: str, payload: Any) -> str | None:
    """The numeric order id a body is about (`id` of an order, `order_id` of a refund), as text."""
    if not isinstance(payload, Mapping):
        return None
    return numeric_id(payload.get("order_id" if topic.startswith("refunds/") else "id"))


def business_key(topic: str, payload: Any, body: str) -> str | None:
    """What makes two deliveries the same news: an order's topic, id, updated_at and body (the body
    digest keeps two changes within one second, which share an updated_at, apart); a refund's id."""
    order_id = order_id_of(topic, payload)
    if order_id is None or not isinstance(payload, Mapping):
        return None
    if topic.startswith("refunds/"):
        refund_id = numeric_id(payload.get("id"))
        return f"{topic}|{order_id}|{refund_id}" if refund_id else None
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return f"{topic}|{order_id}|{payload.get('updated_at')}|{digest}"


def store_delivery(con: sqlite3.Connection, delivery: Delivery, payload: Any) -> Stored:
    """Stores a verified delivery (one transaction): its body in the inbox unless the webhook id or the
    business key was seen before, and the delivery itself in `shopify_webhooks`."""
    key = business_key(delivery.topic, payload, delivery.body)
    with transaction(con):
        seen = con.execute(
            "SELECT inbox_id FROM shopify_webhooks WHERE webhook_id = ?", (delivery.webhook_id,)
        ).fetchone()
        if seen is not None:
            return Stored(int(seen[0]), True)
        first = None
        if key is not None:
            first = con.execute(
                "SELECT webhook_id, inbox_id FROM shopify_webhooks "
                "WHERE channel = ? AND business_key = ? AND duplicate_of IS NULL",
                (delivery.channel, key),
            ).fetchone()
        if first is not None:
            inbox_id, duplicate_of = int(first[1]), str(first[0])
        else:
            inbox_id, duplicate_of = (
                inbox.insert_row(
                    con,
                    delivery.channel,
                    order_id_of(delivery.topic, payload),
                    delivery.body,
                    f"shopify-webhook:{delivery.topic}",
                    format=ORDER_TOPICS[delivery.topic],
                ),
                None,
            )
        con.execute(
            "INSERT INTO shopify_webhooks (webhook_id, channel, topic, shop_domain, api_version, event_id, "
            "triggered_at, business_key, inbox_id, duplicate_of, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                delivery.webhook_id,
                delivery.channel,
                delivery.topic,
                delivery.shop_domain,
                delivery.api_version,
                delivery.event_id,
                delivery.triggered_at,
                key,
                inbox_id,
                duplicate_of,
                inbox.now_iso(),
            ),
        )
        return Stored(inbox_id, duplicate_of is not None)


# --- backfilled orders ---------------------------------------------------------------------------------


def insert_backfilled(
    con: sqlite3.Connection, channel: str, node: Mapping[str, Any], shop_timezone: str | None
) -> int:
    """One GraphQL order node in the inbox (inside the caller's transaction)."""
    payload = {"order": node, "shop_timezone": shop_timezone}
    return inbox.insert_row(
        con,
        channel,
        numeric_id(node.get("id"), "Order"),
        inbox.dumps(payload),
        SOURCE_BACKFILL,
        format=FORMAT_GRAPHQL_ORDER,
    )


# --- the translation the push calls ----------------------------------------------------------------------


def _reference(row: InboxRow) -> str:
    if row.channel and row.channel_order_id:
        return f"{row.channel}:{row.channel_order_id}"
    return f"inbox #{row.id}"


def to_canonical(row: InboxRow, payload: Any, channel: ChannelConfig | None) -> dict[str, Any] | None:
    """The canonical order of a stored Shopify payload (orders/formats.py calls it when the push
    accepts the row); None for a refund notice. Raises OrderInvalid naming the Shopify field path
    (`line_items[2].price_set.shop_money.amount`), so the row is quarantined as it came and can be
    replayed."""
    ref = _reference(row)
    if channel is None or channel.shopify is None:
        raise OrderInvalid(
            ref,
            "channel",
            f"channel {row.channel!r} is not a kind: shopify channel in the channel file",
            "channel",
        )
    try:
        if row.format == FORMAT_REST_REFUND:
            from_rest_refund(payload)  # checked, so a malformed one is quarantined, then it is a notice
            return None
        if row.format == FORMAT_REST_ORDER:
            order, zone = from_rest(payload), None
        elif row.format == FORMAT_GRAPHQL_ORDER:
            if not isinstance(payload, Mapping) or not isinstance(payload.get("order"), Mapping):
                raise ShopifyShapeError("order", 'a backfilled row holds {"order": <Order node>, ...}')
            zone = payload.get("shop_timezone") if isinstance(payload.get("shop_timezone"), str) else None
            order = from_graphql(payload["order"], "order")
        else:
            raise OrderInvalid(ref, "(format)", f"unknown Shopify payload format {row.format!r}", "format")
        options = mapping.MappingOptions(
            channel=channel.name,
            shop=channel.shopify.shop,
            use_presentment_currency=channel.shopify.use_presentment_currency,
            shop_timezone=zone,
        )
        translation = mapping.to_canonical(order, options)
    except ShopifyShapeError as exc:
        raise OrderInvalid(ref, exc.path, exc.problem, "shopify") from None
    except OrderInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - a translation bug quarantines the row, never stops the run
        raise OrderInvalid(ref, "(translation)", f"{type(exc).__name__}: {exc}", "shopify") from exc
    try:
        parse_order(translation.order, fallback_ref=ref)
    except OrderInvalid as exc:
        source = translation.source_of(exc.field)
        raise OrderInvalid(
            exc.order_ref, source, f"{exc.problem} (canonical field {exc.field})", exc.rule
        ) from None
    return translation.order
