"""Fulfilments flow back to Shopify, exactly once (docs/shopify.md, "Fulfilments out").

When a sales order that came from a Shopify store is shipped in the inventory system (an inventory
fulfillment with status `fulfilled`, loaded into the warehouse by the webhook refresh or the sync), the
store gets one fulfilment with the tracking number, URL and company, partial shipments included:

1. **Which**: the order ledger (ops.sqlite) says which sales order is which Shopify order; the warehouse
   holds their fulfillments and lines (`fulfillments`, `fulfillment_line_items`). Only shipped ones
   (`fulfilled`) go; a `packed` one waits until it ships.
2. **Not an echo**: a shipment the store reported itself (the order push turned it into this inventory
   fulfillment) is recognised from the order ledger's copy of the store order (same SKUs, quantities
   and tracking number, each store fulfilment standing for one inventory fulfillment) and never sent.
3. **Mapping**: its lines by SKU onto the Shopify order's line items, through the open fulfilment orders
   of one location (the one mapped to the fulfillment's stock location first) and their remaining
   quantities.
4. **Exactly once** (`fulfilment_ledger.py`): the intent (the planned input, the store order's
   fulfilments at that moment) is committed before `fulfillmentCreate`; the answer is the outcome.
   After a crash or a lost answer the order's fulfilments are read first: one created since the intent
   with exactly the planned line items, quantities and tracking number is ours. Shopify keeps no field
   of ours on a fulfilment (2026-10: no note, no external id, `message` is not readable back), so that
   line set plus tracking number is the marker.

Voids: a sales order voided in the inventory system while its store order is open is flagged for a
person (`shopify_order_voids`), never cancelled in the store by itself; `cancel_store_order` does it,
once, when a person decides so.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import duckdb

from gecko_pipeline.channels.config import ChannelConfig, shopify_location_gid
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.inbox import now_iso
from gecko_pipeline.stores.shopify import fulfilment_ledger as fl
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyForbidden,
    ShopifyHttpError,
    ShopifyPaymentRequired,
    ShopifyShopLocked,
    ShopifyTransportError,
    ShopifyUserError,
)
from gecko_pipeline.stores.shopify.fulfilment_ledger import FulfilmentAction as FA
from gecko_pipeline.stores.shopify.fulfilment_ledger import FulfilmentRow, FulfilmentState
from gecko_pipeline.stores.shopify.fulfilment_ledger import VoidAction as VA
from gecko_pipeline.stores.shopify.normalise import numeric_id
from gecko_pipeline.stores.shopify.shops import ShopifyNotConfigured, ShopifyShops

log = logging.getLogger("gecko_pipeline.stores.shopify.fulfilments")
Logger = logging.Logger | logging.LoggerAdapter[Any]
# Errors that stop a whole channel (no token, a revoked one, a frozen or locked shop, a missing scope).
CHANNEL_ERRORS = (
    ShopifyNotConfigured,
    ShopifyAuthError,
    ShopifyPaymentRequired,
    ShopifyShopLocked,
    ShopifyForbidden,
)

ATTEMPTS = 3  # fulfillmentCreate calls per fulfilment and pass; each after the first is preceded by a look
MAX_FAILURES = 5  # failed passes in a row before a fulfilment is left for a person
WAIT_LIMIT_SECONDS = 86_400.0  # how long a fulfilment may wait for its line mapping before a person looks
STALE_AFTER_SECONDS = 300.0  # an intent younger than this, left by another pass, may still be in flight
FULFILMENTS_READ = 50  # the store order's fulfilments read at once (more: a person looks, see _send)
SHIPPED = "fulfilled"  # the inventory fulfillment status that goes to the store
FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})  # fulfilment orders Shopify lets us fulfil from
ON_HOLD = frozenset({"ON_HOLD", "SCHEDULED", "INCOMPLETE"})
DEAD = frozenset({"CANCELLED", "ERROR", "FAILURE"})  # store fulfilments that shipped nothing

FO_FIELDS = (
    "id status assignedLocation { location { id } } "
    "lineItems(first: 50) { pageInfo { hasNextPage endCursor } "
    "nodes { id remainingQuantity totalQuantity lineItem { id sku } } }"
)
# What the push needs of a store order: its fulfilments (ids, status, tracking numbers) and its fulfilment
# orders with their remaining quantities. Requested cost about 530 points (under the 1,000 cap).
ORDER_STATE = f"""query FulfilmentTarget($id: ID!) {{ order(id: $id) {{ id cancelledAt
  fulfillments(first: {FULFILMENTS_READ}) {{ id status createdAt trackingInfo(first: 5) {{ number }} }}
  fulfillmentOrders(first: 5) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {FO_FIELDS} }} }} }} }}"""
MORE_FULFILMENT_ORDERS = f"""query MoreFulfilmentOrders($id: ID!, $after: String) {{ node(id: $id) {{
  ... on Order {{ fulfillmentOrders(first: 5, after: $after) {{ pageInfo {{ hasNextPage endCursor }}
  nodes {{ {FO_FIELDS} }} }} }} }} }}"""
MORE_FO_LINES = """query MoreFulfilmentOrderLines($id: ID!, $after: String) { node(id: $id) {
  ... on FulfillmentOrder { lineItems(first: 50, after: $after) { pageInfo { hasNextPage endCursor }
  nodes { id remainingQuantity totalQuantity lineItem { id sku } } } } } }"""
FULFILMENT_LINES = """query FulfilmentLines($id: ID!, $after: String) { node(id: $id) {
  ... on Fulfillment { fulfillmentLineItems(first: 50, after: $after) { pageInfo { hasNextPage endCursor }
  nodes { quantity lineItem { id sku } } } } } }"""
CREATE = """mutation FulfilmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo(first: 5) { number url company } }
    userErrors { field message } } }"""
ORDER_CANCELLED = "query OrderCancelled($id: ID!) { order(id: $id) { id cancelledAt } }"
CANCEL_REFUND_METHOD = """mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!,
  $refundMethod: OrderCancelRefundMethodInput, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, refundMethod: $refundMethod,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done } orderCancelUserErrors { code field message } } }"""
CANCEL_REFUND_FLAG = """mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!,
  $refund: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, refund: $refund,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done } orderCancelUserErrors { code field message } } }"""
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF")


# --- what the inventory system and the order ledger say ------------------------------------------------


@dataclass(frozen=True)
class InventoryFulfilment:
    """One inventory fulfillment as the warehouse holds it."""

    id: int
    order_id: int
    status: str
    stock_location_id: int | None
    tracking_number: str | None
    tracking_url: str | None
    tracking_company: str | None
    lines: Mapping[str, Decimal]  # SKU -> quantity (lines without a SKU are left out: nothing to map)
    unskued: Decimal  # quantity on lines without a SKU
    gone: bool  # vanished from the API

    @property
    def live(self) -> bool:
        return not self.gone and self.status not in ("void", "deleted")

    def tracking(self) -> dict[str, str]:
        values = {"number": self.tracking_number, "url": self.tracking_url, "company": self.tracking_company}
        return {k: v.strip() for k, v in values.items() if v and v.strip()}


@dataclass
class InventorySnapshot:
    """What the push reads from the warehouse, in one go (the warehouse can be closed afterwards)."""

    fulfilments: dict[int, list[InventoryFulfilment]]  # sales order id -> its fulfillments, by id
    order_status: dict[int, str]  # sales order id -> status (void, ...)
    location_labels: dict[int, str]  # inventory location id -> label


@dataclass(frozen=True)
class StoreShipment:
    shipment_id: str  # the store's fulfilment id (numeric)
    lines: Mapping[str, Decimal]
    tracking_number: str | None


@dataclass(frozen=True)
class StoreOrderLink:
    """A sales order that came from a Shopify order (the order ledger's row)."""

    channel: str
    channel_order_id: str
    order_id: int
    shipments: tuple[StoreShipment, ...]  # shipped fulfilments the store itself reported
    cancelled: bool  # the store cancelled it

    @property
    def gid(self) -> str:
        return f"gid://shopify/Order/{self.channel_order_id}"


def store_order_links(ops: sqlite3.Connection, channels: Iterable[str]) -> dict[int, StoreOrderLink]:
    """Sales order id -> its store order, for the orders of these channels that have a sales order."""
    names = list(channels)
    if not names:
        return {}
    exists = ops.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'order_ledger'"
    ).fetchone()
    if not exists:
        return {}
    marks = ",".join("?" for _ in names)
    rows = ops.execute(
        "SELECT channel, channel_order_id, order_id, payload FROM order_ledger "  # noqa: S608
        f"WHERE order_id IS NOT NULL AND channel IN ({marks})",
        names,
    ).fetchall()
    links: dict[int, StoreOrderLink] = {}
    for channel, channel_order_id, order_id, payload in rows:
        try:
            order = inbox.loads(payload)
        except ValueError:
            order = {}
        if not isinstance(order, Mapping):
            order = {}
        shipments = tuple(_store_shipments(order))
        links[int(order_id)] = StoreOrderLink(
            channel, str(channel_order_id), int(order_id), shipments, bool(order.get("cancelled"))
        )
    return links


def _store_shipments(order: Any) -> Iterable[StoreShipment]:
    if not isinstance(order, Mapping):
        return
    for shipment in order.get("shipments") or []:
        if not isinstance(shipment, Mapping) or (shipment.get("status") or "shipped") != "shipped":
            continue
        lines: dict[str, Decimal] = {}
        for item in shipment.get("lines") or []:
            sku, quantity = item.get("sku"), _decimal(item.get("quantity"))
            if isinstance(sku, str) and quantity is not None:
                lines[sku] = lines.get(sku, Decimal(0)) + quantity
        ident = numeric_id(shipment.get("shipment_id")) or str(shipment.get("shipment_id"))
        yield StoreShipment(ident, lines, _clean(shipment.get("tracking_number")))


def read_inventory(con: duckdb.DuckDBPyConnection, order_ids: Iterable[int]) -> InventorySnapshot:
    """The fulfillments (with their lines) and statuses of these sales orders, from warehouse.duckdb."""
    ids = sorted(set(order_ids))
    snapshot = InventorySnapshot({}, {}, {})
    if not ids:
        return snapshot
    snapshot.location_labels = {
        int(i): str(label) for i, label in con.execute("SELECT id, label FROM locations").fetchall()
    }
    snapshot.order_status = {
        int(i): str(status or "")
        for i, status, gone in con.execute(
            "SELECT id, status, _vanished_at FROM orders WHERE list_contains(?, id)", [ids]
        ).fetchall()
        if gone is None
    }
    heads = con.execute(
        "SELECT id, order_id, status, stock_location_id, tracking_number, tracking_url, tracking_company, "
        "_vanished_at IS NOT NULL FROM fulfillments WHERE list_contains(?, order_id) ORDER BY id",
        [ids],
    ).fetchall()
    lines: dict[int, dict[str, Decimal]] = {}
    unskued: dict[int, Decimal] = {}
    if heads:
        for fid, sku, quantity in con.execute(
            "SELECT fulfillment_id, variant_sku, quantity FROM fulfillment_line_items "
            "WHERE list_contains(?, fulfillment_id) AND _vanished_at IS NULL ORDER BY fulfillment_id, position, id",
            [[int(h[0]) for h in heads]],
        ).fetchall():
            amount = Decimal(str(quantity or 0))
            if sku:
                per = lines.setdefault(int(fid), {})
                per[str(sku)] = per.get(str(sku), Decimal(0)) + amount
            else:
                unskued[int(fid)] = unskued.get(int(fid), Decimal(0)) + amount
    for fid, order_id, status, location, number, url, company, gone in heads:
        snapshot.fulfilments.setdefault(int(order_id), []).append(
            InventoryFulfilment(
                id=int(fid),
                order_id=int(order_id),
                status=str(status or ""),
                stock_location_id=int(location) if location is not None else None,
                tracking_number=number,
                tracking_url=url,
                tracking_company=company,
                lines=lines.get(int(fid), {}),
                unskued=unskued.get(int(fid), Decimal(0)),
                gone=bool(gone),
            )
        )
    return snapshot


# --- what the store says -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FulfilmentOrderLine:
    id: str  # FulfillmentOrderLineItem GID
    line_item_id: str  # the order's line item (numeric id)
    sku: str | None
    remaining: int
    total: int


@dataclass(frozen=True)
class FulfilmentOrder:
    id: str
    status: str
    location: str | None  # Location GID
    lines: tuple[FulfilmentOrderLine, ...]


@dataclass(frozen=True)
class StoreFulfilment:
    id: str  # numeric
    gid: str
    status: str
    tracking_numbers: frozenset[str]


@dataclass
class StoreOrderView:
    gid: str
    cancelled: bool
    fulfilments: list[StoreFulfilment]
    fulfilment_orders: list[FulfilmentOrder]

    @property
    def fulfilment_ids(self) -> set[str]:
        return {f.id for f in self.fulfilments}


def read_store_order(client: ShopifyClient, gid: str) -> StoreOrderView | None:
    """The store order's fulfilments and fulfilment orders (every page); None when it does not exist."""
    data = client.execute(ORDER_STATE, {"id": gid})
    order = data.get("order")
    if not isinstance(order, Mapping):
        return None
    fulfilments = [
        StoreFulfilment(
            numeric_id(f.get("id"), "Fulfillment") or str(f.get("id")),
            str(f.get("id")),
            str(f.get("status") or ""),
            frozenset(
                str(t["number"]).strip()
                for t in f.get("trackingInfo") or []
                if isinstance(t, Mapping) and t.get("number")
            ),
        )
        for f in order.get("fulfillments") or []
        if isinstance(f, Mapping)
    ]
    orders: list[FulfilmentOrder] = []
    connection = order.get("fulfillmentOrders") or {}
    while True:
        for node in connection.get("nodes") or []:
            orders.append(_fulfilment_order(client, node))
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        more = client.execute(MORE_FULFILMENT_ORDERS, {"id": gid, "after": info.get("endCursor")})
        connection = ((more.get("node") or {}).get("fulfillmentOrders")) or {}
    return StoreOrderView(gid, bool(order.get("cancelledAt")), fulfilments, orders)


def _fulfilment_order(client: ShopifyClient, node: Mapping[str, Any]) -> FulfilmentOrder:
    lines: list[FulfilmentOrderLine] = []
    connection = node.get("lineItems") or {}
    while True:
        for item in connection.get("nodes") or []:
            line_item = item.get("lineItem") or {}
            lines.append(
                FulfilmentOrderLine(
                    str(item["id"]),
                    numeric_id(line_item.get("id"), "LineItem") or str(line_item.get("id")),
                    line_item.get("sku") or None,
                    int(item.get("remainingQuantity") or 0),
                    int(item.get("totalQuantity") or 0),
                )
            )
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        more = client.execute(MORE_FO_LINES, {"id": node["id"], "after": info.get("endCursor")})
        connection = ((more.get("node") or {}).get("lineItems")) or {}
    location = ((node.get("assignedLocation") or {}).get("location") or {}).get("id")
    return FulfilmentOrder(str(node["id"]), str(node.get("status") or ""), location, tuple(lines))


def read_fulfilment_lines(client: ShopifyClient, gid: str) -> list[tuple[str, str | None, int]]:
    """A store fulfilment's lines: (line item id, SKU, quantity), every page."""
    out: list[tuple[str, str | None, int]] = []
    after: str | None = None
    while True:
        data = client.execute(FULFILMENT_LINES, {"id": gid, "after": after})
        connection = (data.get("node") or {}).get("fulfillmentLineItems") or {}
        for item in connection.get("nodes") or []:
            line_item = item.get("lineItem") or {}
            out.append(
                (
                    numeric_id(line_item.get("id"), "LineItem") or str(line_item.get("id")),
                    line_item.get("sku") or None,
                    int(item.get("quantity") or 0),
                )
            )
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return out
        after = info.get("endCursor")


# --- the mapping (pure) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One fulfillmentCreate: the fulfilment orders' lines of one location, and what it covers."""

    location: str | None
    groups: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # (fulfilment order, ((its line, qty), ...))
    line_items: Mapping[str, int]  # the order's line item id -> quantity it fulfils


@dataclass(frozen=True)
class Decision:
    """What to do with a fulfilment once the store order is known."""

    kind: str  # send | wait | skip | covered
    plan: Plan | None = None
    reason: str | None = None
    mapped: Mapping[str, int] = field(default_factory=dict)  # SKU -> quantity on the store order
    unmapped: Mapping[str, int] = field(default_factory=dict)  # SKU -> quantity it does not have


def plan_fulfilment(
    need: Mapping[str, int], orders: Sequence[FulfilmentOrder], preferred: Sequence[str] = ()
) -> Decision:
    """Maps a shipment (SKU -> quantity) onto the store order's fulfilment orders.

    - SKUs the store order does not have are left out (`unmapped`): they were added to the sales order in
      the inventory system and the store cannot ship them; none left: `skip`.
    - The rest must fit the open fulfilment orders (OPEN, IN_PROGRESS) of ONE location (a Shopify
      fulfilment has one location): the `preferred` ones first (mapped to the fulfillment's stock
      location), then by id; within it, lines are taken by fulfilment order and line, each up to its
      remaining quantity: `send`.
    - Shopify already shows every unit fulfilled (and none remaining): `covered`.
    - Otherwise `wait` (on hold, spread over locations, not enough remaining), with the reason."""
    on_order = {line.sku for fo in orders for line in fo.lines if line.sku}
    mapped = {sku: q for sku, q in need.items() if sku in on_order and q > 0}
    unmapped = {sku: q for sku, q in need.items() if sku not in on_order and q > 0}
    if not mapped:
        skus = ", ".join(sorted(unmapped)) or "(none)"
        return Decision(
            "skip", reason=f"no line of it is on the store order (SKUs {skus})", unmapped=unmapped
        )

    def remaining(fos: Iterable[FulfilmentOrder], sku: str) -> int:
        return sum(line.remaining for fo in fos for line in fo.lines if line.sku == sku)

    open_orders = [fo for fo in orders if fo.status in FULFILLABLE]
    locations: list[str | None] = []
    for fo in sorted(open_orders, key=lambda fo: (fo.location not in preferred, _order_key(fo.id))):
        if fo.location not in locations:
            locations.append(fo.location)
    for location in locations:
        here = sorted((fo for fo in open_orders if fo.location == location), key=lambda fo: _order_key(fo.id))
        if all(remaining(here, sku) >= q for sku, q in mapped.items()):
            return Decision("send", plan=_allocate(here, mapped, location), mapped=mapped, unmapped=unmapped)
    shipped = {
        sku: sum(
            line.total - line.remaining
            for fo in orders
            if fo.status != "CANCELLED"
            for line in fo.lines
            if line.sku == sku
        )
        for sku in mapped
    }
    if all(remaining(open_orders, sku) == 0 and shipped[sku] >= q for sku, q in mapped.items()):
        return Decision(
            "covered",
            reason="the store shows every unit of it fulfilled already",
            mapped=mapped,
            unmapped=unmapped,
        )
    held = [fo for fo in orders if fo.status in ON_HOLD and any(line.sku in mapped for line in fo.lines)]
    if held:
        why = (
            "its fulfilment orders are "
            + ", ".join(sorted({fo.status.lower() for fo in held}))
            + " in Shopify"
        )
    elif all(remaining(open_orders, sku) >= q for sku, q in mapped.items()):
        why = (
            "its lines are open at different Shopify locations; a fulfilment has one: move the fulfilment "
            "orders to one location in Shopify"
        )
    else:
        short = ", ".join(
            f"{sku} {q} (open {remaining(open_orders, sku)})"
            for sku, q in sorted(mapped.items())
            if remaining(open_orders, sku) < q
        )
        why = f"the store order has less left to fulfil than was shipped: {short}"
    return Decision("wait", reason=why, mapped=mapped, unmapped=unmapped)


def _allocate(orders: Sequence[FulfilmentOrder], mapped: Mapping[str, int], location: str | None) -> Plan:
    left = dict(mapped)
    groups: list[tuple[str, tuple[tuple[str, int], ...]]] = []
    covered: dict[str, int] = {}
    for fo in orders:
        taken: list[tuple[str, int]] = []
        for line in sorted(fo.lines, key=lambda x: _order_key(x.id)):
            want = left.get(line.sku or "", 0)
            quantity = min(want, line.remaining)
            if quantity > 0:
                taken.append((line.id, quantity))
                left[line.sku or ""] = want - quantity
                covered[line.line_item_id] = covered.get(line.line_item_id, 0) + quantity
        if taken:
            groups.append((fo.id, tuple(taken)))
    return Plan(location, tuple(groups), covered)


def _order_key(gid: str) -> tuple[int, str]:
    number = numeric_id(gid)
    return (int(number) if number else 0, gid)


# --- the pass ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FulfilmentHooks:
    """Seams for whoever runs a pass (production passes none). `after_create` is called right after
    fulfillmentCreate answered and before the ledger records the outcome: the test suite kills a real
    process there to prove a rerun creates no second fulfilment."""

    after_create: Callable[[FulfilmentRow], None] | None = None


@dataclass
class FulfilmentPushResult:
    sent: int = 0  # fulfilments the store got from this pass (recovered ones included)
    recovered: int = 0  # of those, found by a lookup after a lost answer or a crash
    already_there: int = 0  # the store had them before anything was sent
    skipped_store_side: int = 0  # came from the store: not echoed back
    skipped: int = 0  # none of their lines is on the store order
    waiting: int = 0  # waiting for a line mapping (after this pass)
    failed: int = 0  # failed in this pass (tried again by the next)
    attention: int = 0  # for a person (after this pass)
    withdrawn: int = 0  # voided in the inventory system before they were sent
    in_flight: int = 0  # left alone: another pass's intent, younger than stale_after_seconds
    not_shipped: int = 0  # packed, not shipped: not sent (yet)
    voids_flagged: int = 0  # sales orders voided while their store order is open (after this pass)
    voids_from_store: int = 0  # voids that follow a cancellation in the store (not flagged)
    shopify_requests: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}

    def as_metadata(self) -> dict[str, Any]:
        return {**self.counts(), "errors": "\n".join(self.errors[:20]) or "none"}


class _OrderContext:
    """One store order during a pass: its client, its store view (read at most when needed, again after
    each write), the store fulfilments already standing for an inventory fulfillment."""

    def __init__(self, client: ShopifyClient, link: StoreOrderLink, claimed: set[str]) -> None:
        self.client = client
        self.link = link
        self.claimed = claimed
        self._view: StoreOrderView | None = None
        self._read = False
        self._lines: dict[str, list[tuple[str, str | None, int]]] = {}

    def view(self) -> StoreOrderView | None:
        if not self._read:
            self._view = read_store_order(self.client, self.link.gid)
            self._read = True
        return self._view

    def stale(self) -> None:
        self._read = False

    def lines_of(self, fulfilment: StoreFulfilment) -> list[tuple[str, str | None, int]]:
        if fulfilment.id not in self._lines:
            self._lines[fulfilment.id] = read_fulfilment_lines(self.client, fulfilment.gid)
        return self._lines[fulfilment.id]


class FulfilmentPusher:
    """One pass over the shipped fulfillments of Shopify orders (see the module docstring)."""

    def __init__(
        self,
        shops: ShopifyShops,
        ops: sqlite3.Connection,
        channels: Sequence[ChannelConfig],
        *,
        notify_customer: bool = True,
        hooks: FulfilmentHooks | None = None,
        stale_after_seconds: float = STALE_AFTER_SECONDS,
        wait_limit_seconds: float = WAIT_LIMIT_SECONDS,
        logger: Logger | None = None,
    ) -> None:
        fl.ensure_schema(ops)
        self.shops = shops
        self.ops = ops
        self.channels = [c for c in channels if c.kind == "shopify" and c.shopify is not None]
        self.notify_customer = notify_customer
        self.hooks = hooks or FulfilmentHooks()
        self.stale_after_seconds = stale_after_seconds
        self.wait_limit_seconds = wait_limit_seconds
        self.log = logger or log
        self.result = FulfilmentPushResult()
        self._intents: set[int] = set()  # intents written by this pass

    def links(self) -> dict[int, StoreOrderLink]:
        return store_order_links(self.ops, [c.name for c in self.channels])

    def run(self, snapshot: InventorySnapshot, links: Mapping[int, StoreOrderLink]) -> FulfilmentPushResult:
        known = fl.states(self.ops)
        for channel in self.channels:
            mine = {oid: link for oid, link in links.items() if link.channel == channel.name}
            self._channel(channel, mine, snapshot, known)
            self._voids(channel, mine, snapshot)
        counts = fl.state_counts(self.ops)
        self.result.waiting = counts.get(FulfilmentState.WAITING, 0)
        self.result.attention = counts.get(FulfilmentState.ATTENTION, 0)
        voids = fl.void_counts(self.ops)
        self.result.voids_flagged = voids.get(fl.VoidState.FLAGGED, 0) + voids.get(fl.VoidState.CANCELLING, 0)
        return self.result

    # -- one channel ---------------------------------------------------------------------------------

    def _channel(
        self,
        channel: ChannelConfig,
        links: Mapping[int, StoreOrderLink],
        snapshot: InventorySnapshot,
        known: Mapping[int, str],
    ) -> None:
        work: dict[int, list[InventoryFulfilment]] = {}
        for order_id in links:
            for fulfilment in snapshot.fulfilments.get(order_id, []):
                state = known.get(fulfilment.id)
                if state is None and fulfilment.live and fulfilment.status != SHIPPED:
                    self.result.not_shipped += int(fulfilment.status == "packed")
                    continue
                if state is None and not fulfilment.live:
                    continue
                if (
                    state is not None
                    and state not in fl.OPEN_STATES
                    and not (state == FulfilmentState.ATTENTION and not fulfilment.live)
                ):
                    continue
                work.setdefault(order_id, []).append(fulfilment)
        if not work:
            return
        client: ShopifyClient | None = None
        try:
            client = self.shops.client(channel)
            for order_id, fulfilments in work.items():
                self._order(client, channel, links[order_id], fulfilments, snapshot)
        except CHANNEL_ERRORS as exc:  # the channel cannot be served at all: every fulfilment fails
            self.result.errors.append(f"channel {channel.name}: {exc}")
            self.log.warning("fulfilments of channel %s: %s", channel.name, exc)
            for fulfilments in work.values():
                for fulfilment in fulfilments:
                    row = fl.get(self.ops, fulfilment.id)
                    if row is not None:
                        self._fail(row, f"channel {channel.name}: {exc}", quiet=True)
                    else:
                        self.result.failed += 1  # not even recorded yet: the next pass starts it
        finally:
            if client is not None:
                self.result.shopify_requests += int(client.stats.snapshot()["requests"])
                client.close()

    def _order(
        self,
        client: ShopifyClient,
        channel: ChannelConfig,
        link: StoreOrderLink,
        fulfilments: list[InventoryFulfilment],
        snapshot: InventorySnapshot,
    ) -> None:
        ctx = _OrderContext(client, link, fl.claimed_ids(self.ops, link.channel, link.channel_order_id))
        rows: list[tuple[FulfilmentRow, InventoryFulfilment]] = []
        for fulfilment in fulfilments:
            with transaction(self.ops):
                row = fl.insert(
                    self.ops,
                    fulfillment_id=fulfilment.id,
                    channel=link.channel,
                    channel_order_id=link.channel_order_id,
                    order_id=link.order_id,
                    lines=_dumps_lines(fulfilment.lines),
                    tracking=json.dumps(fulfilment.tracking()) if fulfilment.tracking() else None,
                )
                if row.state in fl.OPEN_STATES:
                    fl.note(
                        self.ops,
                        row,
                        lines=_dumps_lines(fulfilment.lines),
                        tracking=json.dumps(fulfilment.tracking()) if fulfilment.tracking() else None,
                    )
            rows.append((row, fulfilment))
        # An intent another pass may still be sending: the whole order waits for the next pass (its store
        # fulfilment must be found before anything else could claim it).
        if any(
            row.state == FulfilmentState.SENDING
            and row.fulfillment_id not in self._intents
            and _younger_than(row.intent_at, self.stale_after_seconds)
            for row, _ in rows
        ):
            self.result.in_flight += 1
            return
        # Intents first: a write of an earlier pass must be found before anything else claims its store
        # fulfilment. Then the others in id order (the order they were shipped in).
        rows.sort(key=lambda pair: (pair[0].state != FulfilmentState.SENDING, pair[0].fulfillment_id))
        for row, fulfilment in rows:
            preferred = _preferred_locations(channel, fulfilment, snapshot.location_labels)
            try:
                self._fulfilment(ctx, row, fulfilment, preferred)
            except CHANNEL_ERRORS:
                raise  # the whole channel is blocked
            except ShopifyError as exc:
                self._fail(row, str(exc))
            except Exception as exc:  # noqa: BLE001 - one fulfilment's failure never stops the pass
                self.log.exception("fulfilment %s", row.fulfillment_id)
                self._fail(row, f"{type(exc).__name__}: {exc}")

    # -- one fulfilment ------------------------------------------------------------------------------

    def _fulfilment(
        self,
        ctx: _OrderContext,
        row: FulfilmentRow,
        fulfilment: InventoryFulfilment,
        preferred: Sequence[str],
    ) -> None:
        if row.state == FulfilmentState.SENDING:
            if self._recover(ctx, row):
                return
            if ctx.view() is None:
                return
            fl.transition(self.ops, row, FA.CLEAR, intent_at=None, baseline=None)
        if not fulfilment.live:
            fl.transition(
                self.ops,
                row,
                FA.WITHDRAW,
                reason=f"{fulfilment.status or 'vanished'} in the inventory system",
            )
            self.result.withdrawn += 1
            return
        if row.state == FulfilmentState.ATTENTION:
            return
        need, fractional = _whole_quantities(fulfilment.lines)
        if fractional:
            self._escalate(row, f"quantities the store cannot take (whole units only): {fractional}")
            return
        # 1. It came from the store: never echoed back.
        shipment = _store_shipment_for(ctx, fulfilment)
        if shipment is not None:
            ctx.claimed.add(shipment.shipment_id)
            fl.transition(
                self.ops,
                row,
                FA.ECHO,
                shopify_fulfillment_id=shipment.shipment_id,
                reason=f"store fulfilment {shipment.shipment_id} (reported by the store, shipped by the order push)",
                last_error=None,
                failures=0,
            )
            self.result.skipped_store_side += 1
            return
        view = ctx.view()
        if view is None:
            self._escalate(row, f"the store order {ctx.link.channel_order_id} does not exist (any more)")
            return
        decision = plan_fulfilment(need, view.fulfilment_orders, preferred)
        unmapped = json.dumps(decision.unmapped, sort_keys=True) if decision.unmapped else None
        # 2. The store has it already (same lines and tracking number), made there by someone else.
        existing = self._existing(ctx, view, decision.mapped, fulfilment.tracking_number)
        if existing is not None:
            ctx.claimed.add(existing.id)
            fl.transition(
                self.ops,
                row,
                FA.FIND,
                shopify_fulfillment_id=existing.id,
                unmapped=unmapped,
                reason=f"store fulfilment {existing.id} has the same lines and tracking number",
                last_error=None,
            )
            self.result.already_there += 1
            return
        if decision.kind == "skip":
            fl.transition(self.ops, row, FA.SKIP, unmapped=unmapped, reason=decision.reason)
            self.result.skipped += 1
            return
        if decision.kind == "covered":
            fl.transition(self.ops, row, FA.FIND, unmapped=unmapped, reason=decision.reason, last_error=None)
            self.result.already_there += 1
            return
        if decision.kind == "wait" or decision.plan is None:
            if view.cancelled:
                self._escalate(row, f"the store order is cancelled ({decision.reason})")
            else:
                self._wait(row, decision.reason or "no line mapping")
            return
        self._send(ctx, row, fulfilment, decision.plan, view, unmapped)

    def _existing(
        self,
        ctx: _OrderContext,
        view: StoreOrderView,
        mapped: Mapping[str, int],
        tracking_number: str | None,
    ) -> StoreFulfilment | None:
        number = _clean(tracking_number)
        if number is None or not mapped:
            return None  # without a tracking number two genuine shipments can look alike: never matched
        for candidate in view.fulfilments:
            if (
                candidate.id in ctx.claimed
                or candidate.status in DEAD
                or number not in candidate.tracking_numbers
            ):
                continue
            by_sku: dict[str, int] = {}
            for _, sku, quantity in ctx.lines_of(candidate):
                by_sku[sku or ""] = by_sku.get(sku or "", 0) + quantity
            if by_sku == dict(mapped):
                return candidate
        return None

    def _send(
        self,
        ctx: _OrderContext,
        row: FulfilmentRow,
        fulfilment: InventoryFulfilment,
        plan: Plan,
        view: StoreOrderView,
        unmapped: str | None,
    ) -> None:
        if len(view.fulfilments) >= FULFILMENTS_READ:
            # A lookup could not see a fulfilment beyond the first FULFILMENTS_READ: no exactly-once then.
            self._escalate(row, f"the store order has {FULFILMENTS_READ} or more fulfilments")
            return
        tracking = _tracking_input(fulfilment)
        body: dict[str, Any] = {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fo,
                    "fulfillmentOrderLineItems": [{"id": i, "quantity": q} for i, q in lines],
                }
                for fo, lines in plan.groups
            ],
            "notifyCustomer": self.notify_customer,
        }
        if tracking:
            body["trackingInfo"] = tracking
        record = {
            "input": body,
            "line_items": dict(plan.line_items),
            "tracking_number": tracking.get("number"),
            "location": plan.location,
        }
        with transaction(self.ops):  # compare-and-set: two passes never send the same fulfilment
            fresh = fl.get(self.ops, row.fulfillment_id)
            if fresh is None or fresh.state != row.state or fresh.intent_at != row.intent_at:
                self.result.in_flight += 1
                return
            fl.transition(
                self.ops,
                row,
                FA.SEND,
                plan=json.dumps(record, sort_keys=True),
                baseline=json.dumps(sorted(view.fulfilment_ids)),
                intent_at=now_iso(),
                unmapped=unmapped,
                notified=int(self.notify_customer),
                reason=None,
                waiting_since=None,
            )
        self._intents.add(row.fulfillment_id)
        self._write(ctx, row)

    def _write(self, ctx: _OrderContext, row: FulfilmentRow) -> None:
        """fulfillmentCreate under the intent, never blindly again: after a lost answer the store order
        is read, and a new fulfilment matching the intent is the outcome."""
        record = row.plan_data or {}
        for attempt in range(1, ATTEMPTS + 1):
            fl.note(self.ops, row, attempts=row.attempts + 1)
            try:
                payload = ctx.client.mutate(
                    CREATE, {"fulfillment": record["input"]}, root="fulfillmentCreate"
                )
            except ShopifyUserError as exc:  # refused: nothing was written
                ctx.stale()
                self._refused(row, str(exc))
                return
            except CHANNEL_ERRORS:
                fl.transition(self.ops, row, FA.FAIL, intent_at=None)  # refused before it ran
                raise
            except ShopifyError as exc:
                if not _answer_lost(exc):
                    ctx.stale()
                    self._refused(row, str(exc))
                    return
                self.log.warning("fulfilment %s: %s; looking before sending again", row.fulfillment_id, exc)
                ctx.stale()
                if self._recover(ctx, row):
                    return
                if attempt == ATTEMPTS:
                    self._refused(row, f"{exc} ({ATTEMPTS} attempts; the store shows none of them)")
                    return
                time.sleep(min(2.0, 0.1 * 2**attempt))
                continue
            if self.hooks.after_create is not None:
                self.hooks.after_create(row)  # the test suite's seam: between the answer and the record
            created = payload.get("fulfillment") or {}
            ident = numeric_id(created.get("id"), "Fulfillment") or str(created.get("id"))
            self._record(ctx, row, ident, recovered=False)
            return

    def _recover(self, ctx: _OrderContext, row: FulfilmentRow) -> bool:
        """After an intent without an outcome: a store fulfilment created since the intent (not in its
        baseline, not standing for another fulfillment) with exactly the planned line items, quantities
        and tracking number is the outcome."""
        record = row.plan_data or {}
        planned = {str(k): int(v) for k, v in (record.get("line_items") or {}).items()}
        number = _clean(record.get("tracking_number"))
        view = ctx.view()
        if view is None:
            self._escalate(row, f"the store order {ctx.link.channel_order_id} does not exist (any more)")
            return True
        baseline = row.baseline_ids
        for candidate in sorted(view.fulfilments, key=lambda f: _order_key(f.gid)):
            if candidate.id in baseline or candidate.id in ctx.claimed or candidate.status in DEAD:
                continue
            if candidate.tracking_numbers != (frozenset({number}) if number else frozenset()):
                continue
            lines: dict[str, int] = {}
            for line_item, _, quantity in ctx.lines_of(candidate):
                lines[line_item] = lines.get(line_item, 0) + quantity
            if lines == planned:
                self.log.info("fulfilment %s: found store fulfilment %s", row.fulfillment_id, candidate.id)
                self._record(ctx, row, candidate.id, recovered=True)
                return True
        return False

    def _record(self, ctx: _OrderContext, row: FulfilmentRow, ident: str, *, recovered: bool) -> None:
        fl.transition(
            self.ops,
            row,
            FA.RECORD,
            shopify_fulfillment_id=ident,
            recovered=int(recovered),
            intent_at=None,
            sent_at=now_iso(),
            failures=0,
            last_error=None,
            reason=None,
        )
        ctx.claimed.add(ident)
        ctx.stale()
        self.result.sent += 1
        self.result.recovered += int(recovered)

    # -- outcomes ------------------------------------------------------------------------------------

    def _fail(self, row: FulfilmentRow, error: str, *, quiet: bool = False) -> None:
        """A failure of this pass. A row still `sending` keeps its intent (whether the write happened is
        not known: the next pass looks first); others become `failed`, and after MAX_FAILURES in a row
        are left for a person."""
        if (FulfilmentState(row.state), FA.FAIL) not in fl.TRANSITIONS:
            return
        self.result.failed += 1
        if not quiet:
            self.result.errors.append(
                f"fulfilment {row.fulfillment_id} (order {row.channel}:{row.channel_order_id}): {error}"
            )
        if row.state == FulfilmentState.SENDING:
            fl.note(self.ops, row, last_error=error[:2000])
            return
        with transaction(self.ops):
            fl.transition(
                self.ops, row, FA.FAIL, failures=row.failures + 1, last_error=error[:2000], intent_at=None
            )
            if row.failures >= MAX_FAILURES:
                fl.transition(
                    self.ops, row, FA.ESCALATE, reason=f"failed {row.failures} times in a row: {error}"[:2000]
                )

    def _refused(self, row: FulfilmentRow, error: str) -> None:
        """The write did not happen (refused, or the lookup shows none): the intent is dropped."""
        fl.transition(self.ops, row, FA.FAIL, intent_at=None, last_error=error[:2000])
        self._fail(row, error)

    def _escalate(self, row: FulfilmentRow, reason: str) -> None:
        fl.transition(self.ops, row, FA.ESCALATE, reason=reason, intent_at=None)

    def _wait(self, row: FulfilmentRow, reason: str) -> None:
        since = row.waiting_since or now_iso()
        if _age_seconds(since) > self.wait_limit_seconds:
            self._escalate(row, f"waiting since {since}: {reason}")
            return
        fl.transition(self.ops, row, FA.WAIT, waiting_since=since, reason=reason)

    # -- voids ---------------------------------------------------------------------------------------

    def _voids(
        self, channel: ChannelConfig, links: Mapping[int, StoreOrderLink], snapshot: InventorySnapshot
    ) -> None:
        """A sales order voided in the inventory system: following a cancellation in the store (nothing
        to do), or flagged for a person (docs/shopify.md, "Voids")."""
        for order_id, link in links.items():
            if snapshot.order_status.get(order_id) != "void":
                continue
            flag = fl.get_void(self.ops, link.channel, link.channel_order_id)
            if link.cancelled:
                self.result.voids_from_store += 1
                if flag is not None and flag.state == fl.VoidState.FLAGGED:
                    fl.void_transition(self.ops, flag, VA.RESOLVE, resolved_at=now_iso(), resolved_by="store")
                continue
            if flag is None and fl.flag_void(
                self.ops,
                link.channel,
                link.channel_order_id,
                order_id,
                f"sales order {order_id} was voided in the inventory system while store order "
                f"{link.channel_order_id} is open: cancel it in the store (gecko-pipeline shopify-voids cancel) "
                "or dismiss this flag",
            ):
                self.log.warning(
                    "sales order %s voided; store order %s:%s flagged for a person",
                    order_id,
                    link.channel,
                    link.channel_order_id,
                )


def push_fulfilments(
    shops: ShopifyShops,
    ops: sqlite3.Connection,
    warehouse: duckdb.DuckDBPyConnection,
    channels: Sequence[ChannelConfig],
    **options: Any,
) -> FulfilmentPushResult:
    """One pass: reads the fulfillments of Shopify orders from the warehouse, then sends the shipped ones
    the store does not have yet (options: notify_customer, hooks, stale_after_seconds, wait_limit_seconds,
    logger)."""
    pusher = FulfilmentPusher(shops, ops, channels, **options)
    links = pusher.links()
    return pusher.run(read_inventory(warehouse, links), links)


# --- a person's decision on a void ---------------------------------------------------------------------


@dataclass(frozen=True)
class CancelRequest:
    reason: str = "OTHER"  # OrderCancelReason: CUSTOMER, DECLINED, FRAUD, INVENTORY, OTHER, STAFF
    refund: bool = False  # refund the payment to its original method
    restock: bool = True  # put the units back into Shopify's stock
    notify_customer: bool = False
    staff_note: str | None = None


def cancel_store_order(
    client: ShopifyClient,
    ops: sqlite3.Connection,
    channel: str,
    channel_order_id: str,
    request: CancelRequest | None = None,
) -> fl.VoidRow:
    """Cancels a flagged store order in Shopify (`orderCancel`), exactly once: the intent is committed
    first; after a crash or a lost answer the order's `cancelledAt` is read before sending again.
    Raises KeyError when the order is not flagged, ShopifyError when Shopify refuses or cannot be
    reached (the flag stays, or stays `cancelling` until the next call looks)."""
    fl.ensure_schema(ops)
    request = request or CancelRequest()
    if request.reason not in CANCEL_REASONS:
        raise ValueError(f"reason must be one of {', '.join(CANCEL_REASONS)} (got {request.reason!r})")
    row = fl.get_void(ops, channel, channel_order_id)
    if row is None or row.state not in (fl.VoidState.FLAGGED, fl.VoidState.CANCELLING):
        state = row.state if row else "not flagged"
        raise KeyError(f"store order {channel}:{channel_order_id} is {state}: nothing to cancel")
    gid = f"gid://shopify/Order/{channel_order_id}"
    if row.state == fl.VoidState.CANCELLING and _cancelled(client, gid):
        fl.void_transition(ops, row, VA.CONFIRM, resolved_at=now_iso(), resolved_by="cancel (found)")
        return row
    if row.state == fl.VoidState.FLAGGED:
        fl.void_transition(
            ops, row, VA.CANCEL, cancel_request=json.dumps(request.__dict__), attempts=row.attempts + 1
        )
    else:
        fl.void_note(ops, row, attempts=row.attempts + 1)
    variables: dict[str, Any] = {
        "orderId": gid,
        "reason": request.reason,
        "restock": request.restock,
        "notifyCustomer": request.notify_customer,
        "staffNote": request.staff_note,
    }
    if client.api_version >= "2025-04":
        document = CANCEL_REFUND_METHOD
        variables["refundMethod"] = {"originalPaymentMethodsRefund": request.refund}
    else:
        document = CANCEL_REFUND_FLAG
        variables["refund"] = request.refund
    try:
        client.mutate(document, variables, root="orderCancel")
    except ShopifyUserError as exc:
        if _cancelled(client, gid):  # e.g. "already cancelled": a lost earlier answer
            fl.void_transition(ops, row, VA.CONFIRM, resolved_at=now_iso(), resolved_by="cancel (found)")
            return row
        fl.void_transition(ops, row, VA.RETRACT, last_error=str(exc)[:2000])
        raise
    except ShopifyError as exc:
        if _answer_lost(exc) and _cancelled(client, gid):
            fl.void_transition(ops, row, VA.CONFIRM, resolved_at=now_iso(), resolved_by="cancel (found)")
            return row
        if not _answer_lost(exc):
            fl.void_transition(ops, row, VA.RETRACT, last_error=str(exc)[:2000])
        else:
            fl.void_note(ops, row, last_error=str(exc)[:2000])
        raise
    fl.void_transition(ops, row, VA.CONFIRM, resolved_at=now_iso(), resolved_by="cancel", last_error=None)
    return row


def dismiss_void(
    ops: sqlite3.Connection, channel: str, channel_order_id: str, note: str | None = None
) -> fl.VoidRow:
    """A person's decision that the store order stays as it is."""
    fl.ensure_schema(ops)
    row = fl.get_void(ops, channel, channel_order_id)
    if row is None or row.state != fl.VoidState.FLAGGED:
        raise KeyError(f"store order {channel}:{channel_order_id} is not flagged")
    fl.void_transition(
        ops, row, VA.DISMISS, resolved_at=now_iso(), resolved_by=f"dismissed: {note or ''}".strip()
    )
    return row


def _cancelled(client: ShopifyClient, gid: str) -> bool:
    order = client.execute(ORDER_CANCELLED, {"id": gid}).get("order")
    return isinstance(order, Mapping) and bool(order.get("cancelledAt"))


# --- helpers -------------------------------------------------------------------------------------------


def _answer_lost(exc: ShopifyError) -> bool:
    """True when a mutation may have run although no usable answer came back."""
    if isinstance(exc, ShopifyTransportError):
        return exc.may_have_reached_server
    return isinstance(exc, ShopifyHttpError) and (exc.status is None or exc.status >= 500)


def _store_shipment_for(ctx: _OrderContext, fulfilment: InventoryFulfilment) -> StoreShipment | None:
    """The store's own shipment this inventory fulfillment was made from: same SKUs, quantities and
    tracking number, not yet standing for another fulfillment."""
    number = _clean(fulfilment.tracking_number)
    lines = {sku: q for sku, q in fulfilment.lines.items() if q}
    for shipment in ctx.link.shipments:
        if shipment.shipment_id in ctx.claimed:
            continue
        if shipment.tracking_number == number and {k: v for k, v in shipment.lines.items() if v} == lines:
            return shipment
    return None


def _preferred_locations(
    channel: ChannelConfig, fulfilment: InventoryFulfilment, labels: Mapping[int, str]
) -> list[str]:
    """The Shopify locations the channel file maps to the inventory location it shipped from."""
    if channel.shopify is None or fulfilment.stock_location_id is None:
        return []
    label = labels.get(fulfilment.stock_location_id)
    return [
        gid
        for gid, ref in channel.shopify.locations
        if shopify_location_gid(gid)
        and (ref == fulfilment.stock_location_id or (label is not None and ref == label))
    ]


def _tracking_input(fulfilment: InventoryFulfilment) -> dict[str, str]:
    """FulfillmentTrackingInput from the inventory fulfillment: number, company, and the URL when it is
    an absolute http(s) URL (Shopify's URL scalar refuses anything else, and a known carrier's URL is
    built by Shopify from the number)."""
    values = fulfilment.tracking()
    url = values.get("url")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            values.pop("url")
    return values


def _whole_quantities(lines: Mapping[str, Decimal]) -> tuple[dict[str, int], str]:
    whole: dict[str, int] = {}
    fractional: list[str] = []
    for sku, quantity in lines.items():
        if quantity != quantity.to_integral_value():
            fractional.append(f"{sku} {quantity}")
        elif quantity > 0:
            whole[sku] = int(quantity)
    return whole, ", ".join(fractional)


def _dumps_lines(lines: Mapping[str, Decimal]) -> str:
    return json.dumps({sku: str(q.normalize()) if q else "0" for sku, q in sorted(lines.items())})


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _clean(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _age_seconds(iso: str) -> float:
    return (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()


def _younger_than(iso: str | None, seconds: float) -> bool:
    return iso is not None and seconds > 0 and _age_seconds(iso) < seconds
