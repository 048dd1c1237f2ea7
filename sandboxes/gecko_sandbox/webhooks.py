"""Webhook delivery: for each event, POST the documented payload to every subscription of that event,
signed with the app secret, from background tasks (API answers never wait on receivers).

200-399 is success; 410 deletes the subscription; anything else, a timeout or a refused connection is
retried with exponential backoff (base * 4**(attempt-1)) up to `webhook_max_attempts`, under the same
X-Gecko-Delivery id and the same body and signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sandbox_kit import signing

from gecko_sandbox.core import Sandbox
from gecko_sandbox.store import Record, dumps

LOG_SIZE = 10_000
CONCURRENCY = 16


class Deliverer:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        sandbox.store.listeners.append(self.on_event)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self._client = httpx.AsyncClient(timeout=self.sandbox.config.webhook_timeout)
        try:
            yield
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._client.aclose()
            self._client = None

    def on_event(self, event: str, table: str, record: Record) -> None:
        """Called (in the server's loop) by every change that has an API event."""
        webhooks = self.sandbox.store.table("webhooks").records
        subscribers = [hook for hook in webhooks.values() if hook["event"] == event]
        if not subscribers:
            return
        payload = {
            "object_id": record["id"],
            "event": event,  # the subscribed (singular) name; the docs' plural example is a typo
            "timestamp": int(time.time()),
            "resource_url": f"{self.sandbox.base_url}/{table}/{record['id']}.json",
        }
        body = dumps(payload)
        for hook in subscribers:
            delivery = {
                "id": str(uuid.uuid4()),
                "webhook_id": hook["id"],
                "event": event,
                "object_id": record["id"],
                "address": hook["address"],
                "payload": payload,
                "state": "pending",
                "attempts": [],
            }
            self.log.append(delivery)
            try:
                task = asyncio.get_running_loop().create_task(self._deliver(delivery, body))
            except RuntimeError:  # no loop (the store changed outside the server): record only
                delivery["state"] = "not_sent"
                continue
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: dict[str, Any], body: bytes) -> None:
        config = self.sandbox.config
        headers = {
            "Content-Type": "application/json",
            "X-Gecko-Delivery": delivery["id"],
            "X-Gecko-Signature": signing.sign(config.app_secret, body),
            "User-Agent": "gecko-sandbox-webhooks",
        }
        for attempt in range(1, max(1, config.webhook_max_attempts) + 1):
            if attempt > 1:
                await asyncio.sleep(config.webhook_retry_base_delay * 4 ** (attempt - 2))
            outcome: dict[str, Any] = {"at": self.sandbox.store.clock.now()}
            try:
                async with self._slots:
                    assert self._client is not None
                    response = await self._client.post(delivery["address"], content=body, headers=headers)
                outcome["status"] = response.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            delivery["attempts"].append(outcome)
            status = outcome.get("status")
            if status is not None and 200 <= status < 400:
                delivery["state"] = "delivered"
                return
            if status == 410:
                delivery["state"] = "gone"  # the receiver asked us to stop: delete the subscription
                webhooks = self.sandbox.store.table("webhooks")
                if delivery["webhook_id"] in webhooks.records:
                    self.sandbox.store.purge(webhooks, delivery["webhook_id"])
                return
        delivery["state"] = "failed"
