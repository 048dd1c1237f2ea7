"""Webhook deliveries: for each event, an HTTP POST of the REST-shaped body to every subscription of its
topic, signed with the app secret, with Shopify's headers. A failed attempt (non-2xx, redirect, timeout,
refused connection) is retried with the same body and X-Shopify-Webhook-Id after base * factor**(n-1)
seconds, up to `webhook_max_retries` times; after `webhook_failures_before_removal` consecutive failed
attempts the subscription is deleted. Switches for duplicates and held / reordered deliveries live in
the control plane."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sandbox_kit.signing import sign

from shopify_sandbox.store import Store
from shopify_sandbox.wire import gid, triggered_at

LOG_SIZE = 10_000
SPECIAL_TOPICS = {
    "INVENTORY_LEVELS_UPDATE": "inventory_levels/update",
    "BULK_OPERATIONS_FINISH": "bulk_operations/finish",
    "APP_UNINSTALLED": "app/uninstalled",
    "ORDERS_PARTIALLY_FULFILLED": "orders/partially_fulfilled",
}


def topic_path(topic: str) -> str:
    """ORDERS_CREATE -> orders/create (the enum is the REST topic upper-cased, `/` -> `_`)."""
    if topic in SPECIAL_TOPICS:
        return SPECIAL_TOPICS[topic]
    head, _, rest = topic.lower().partition("_")
    return f"{head}/{rest}"


@dataclass
class Delivery:
    id: str  # X-Shopify-Webhook-Id: the same on every retry and duplicate
    subscription_id: int
    topic: str
    uri: str
    event_id: str
    triggered: float
    body: bytes
    state: str = "pending"  # pending | held | delivered | failed | removed
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subscription_id": gid("WebhookSubscription", self.subscription_id),
            "topic": self.topic,
            "uri": self.uri,
            "event_id": self.event_id,
            "triggered_at": triggered_at(self.triggered),
            "state": self.state,
            "attempts": self.attempts,
            "payload": json.loads(self.body),
        }


def _trim(payload: dict[str, Any], include: list[str]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k in include} if include else payload


class Deliverer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.log: deque[Delivery] = deque(maxlen=LOG_SIZE)
        self.by_id: dict[str, Delivery] = {}
        self.hold = False
        self.held: list[Delivery] = []
        self.duplicate_rate = 0.0
        self.rng = random.Random(store.config.seed)
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        store.listeners.append(self.on_event)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        config = self.store.config
        timeout = httpx.Timeout(config.webhook_timeout, connect=config.webhook_connect_timeout)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        try:
            yield
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._client.aclose()
            self._client = None

    def settings(self) -> dict[str, Any]:
        return {"hold": self.hold, "duplicate_rate": self.duplicate_rate, "held": len(self.held)}

    def on_event(self, topic: str, build: Callable[[], dict[str, Any]]) -> None:
        hooks = [h for h in self.store.webhooks.values() if topic_path(h.topic) == topic]
        if not hooks:
            return
        payload = build()
        event_id = str(uuid.uuid4())  # one merchant action, shared by its deliveries to every subscription
        moment = time.time()
        for hook in hooks:
            body = json.dumps(_trim(payload, hook.include_fields), separators=(",", ":")).encode()
            delivery = Delivery(str(uuid.uuid4()), hook.id, topic, hook.uri, event_id, moment, body)
            self.log.append(delivery)
            self.by_id[delivery.id] = delivery
            if len(self.by_id) > LOG_SIZE:
                self.by_id.pop(next(iter(self.by_id)))
            if self.hold:
                delivery.state = "held"
                self.held.append(delivery)
                continue
            self.send(delivery)
            if self.duplicate_rate and self.rng.random() < self.duplicate_rate:
                self.send(delivery, duplicate=True)

    def send(self, delivery: Delivery, *, duplicate: bool = False) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a change outside the server loop (seeding): recorded, not sent
            delivery.state = "not_sent"
            return
        task = loop.create_task(self._deliver(delivery, duplicate))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def release(self, order: str = "fifo") -> int:
        """Send the held deliveries: fifo, reverse (newest first) or shuffle (seeded)."""
        held, self.held = self.held, []
        self.hold = False
        if order == "reverse":
            held.reverse()
        elif order == "shuffle":
            self.rng.shuffle(held)
        for delivery in held:
            delivery.state = "pending"
            self.send(delivery)
        return len(held)

    def headers(self, delivery: Delivery) -> dict[str, str]:
        config = self.store.config
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign(config.app_secret, delivery.body),
            "X-Shopify-Shop-Domain": config.shop_domain,
            "X-Shopify-API-Version": config.api_version,
            "X-Shopify-Webhook-Id": delivery.id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": triggered_at(delivery.triggered),
        }

    async def _deliver(self, delivery: Delivery, duplicate: bool) -> None:
        config = self.store.config
        headers = self.headers(delivery)
        for attempt in range(config.webhook_max_retries + 1):
            if attempt:
                await asyncio.sleep(
                    config.webhook_retry_base_delay * config.webhook_retry_factor ** (attempt - 1)
                )
            hook = self.store.webhooks.get(delivery.subscription_id)
            if hook is None:
                delivery.state = "removed"  # the subscription is gone: nothing more is sent
                return
            outcome: dict[str, Any] = {"at": triggered_at(time.time()), "duplicate": duplicate}
            try:
                assert self._client is not None
                response = await self._client.post(delivery.uri, content=delivery.body, headers=headers)
                outcome["status"] = response.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            delivery.attempts.append(outcome)
            if 200 <= outcome.get("status", 0) < 300:
                hook.failures = 0
                delivery.state = "delivered"
                return
            hook.failures += 1
            if hook.failures >= config.webhook_failures_before_removal:
                self.store.webhooks.pop(hook.id, None)
                self.store.touch()
                delivery.state = "removed"
                return
        delivery.state = "failed"
