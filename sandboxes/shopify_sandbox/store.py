"""The shop's state: tables of records, id allocation, the clock, a change counter (list caches key on
it) and the event hook that webhooks listen to."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from shopify_sandbox.config import ShopifySandboxConfig
from shopify_sandbox.records import (
    BulkOperation,
    Company,
    Customer,
    Fulfillment,
    FulfillmentOrder,
    LineItem,
    Location,
    Order,
    Product,
    Refund,
    Shop,
    Variant,
    WebhookSubscription,
)
from shopify_sandbox.wire import ID_BASE

# listener(topic, body builder): the builder makes the REST payload (called only when someone subscribed)
Listener = Callable[[str, Callable[[], dict[str, Any]]], None]


class Store:
    def __init__(self, config: ShopifySandboxConfig) -> None:
        self.config = config
        self.tz = ZoneInfo(config.shop_timezone)
        self.started = int(time.time())
        self._counters = {kind: itertools.count(base + 1) for kind, base in ID_BASE.items()}
        self.shop: Shop
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.items: dict[int, int] = {}  # inventory item id -> variant id
        self.customers: dict[int, Customer] = {}
        self.customers_by_email: dict[str, Customer] = {}  # shoppers are recognised by email
        self.companies: dict[int, Company] = {}
        self.orders: dict[int, Order] = {}
        self.line_items: dict[int, LineItem] = {}
        self.fulfillment_orders: dict[int, FulfillmentOrder] = {}
        self.fulfillments: dict[int, Fulfillment] = {}
        self.refunds: dict[int, Refund] = {}
        self.webhooks: dict[int, WebhookSubscription] = {}
        self.bulk_operations: dict[int, BulkOperation] = {}
        self.order_numbers = itertools.count(1001)
        self.version = 0  # bumped by every change; list caches are valid for one version
        self.listeners: list[Listener] = []
        self.base_url = ""
        self.frozen: int | None = None  # seeding replays history at past moments
        self.tasks: set[Any] = set()  # background work (bulk operations) kept alive until done
        self.caches: dict[str, Any] = {}  # per-shop caches of the query side (sorted id lists)
        self.idempotency: Any = None  # mutations.IdempotencyCache, set by the app

    def next_id(self, kind: str) -> int:
        return next(self._counters[kind])

    def now(self) -> int:
        return self.frozen if self.frozen is not None else int(time.time())

    def touch(self) -> int:
        """A change happened: invalidate list caches; returns the stamp for updated_at."""
        self.version += 1
        return self.now()

    def emit(self, topic: str, body: Callable[[], dict[str, Any]]) -> None:
        for listener in self.listeners:
            listener(topic, body)

    def variant_by_item(self, item_id: int) -> Variant | None:
        vid = self.items.get(item_id)
        return None if vid is None else self.variants.get(vid)

    def primary_location(self) -> Location:
        return next(iter(self.locations.values()))
