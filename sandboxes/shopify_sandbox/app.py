"""The sandbox as an ASGI app: `POST /admin/api/{version}/graphql.json` (token, faults, content type,
execution), `POST /admin/oauth/access_token` (client credentials) and the `/_sandbox/` control plane,
with one access-log line per request."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from shopify_sandbox import control, faults
from shopify_sandbox.config import ShopifySandboxConfig
from shopify_sandbox.executor import Executor
from shopify_sandbox.mutations import IdempotencyCache
from shopify_sandbox.seed import Seeder
from shopify_sandbox.stats import Stats
from shopify_sandbox.store import Store
from shopify_sandbox.throttle import Bucket
from shopify_sandbox.webhooks import Deliverer

log = logging.getLogger("shopify_sandbox.access")
GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")
VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class Sandbox:
    """The live state of one sandbox: the seeded store, the cost bucket, counters, webhooks, faults."""

    def __init__(self, config: ShopifySandboxConfig) -> None:
        self.config = config
        self.store = Store(config)
        Seeder(self.store).run()
        self.store.idempotency = IdempotencyCache(config.idempotency_ttl)
        self.bucket = Bucket(config.bucket_size, config.restore_rate)
        self.stats = Stats()
        self.deliverer = Deliverer(self.store)
        self.executor = Executor(self.store, self.bucket, self.stats)
        self.faults = config.faults
        self.fault_rng = random.Random(config.seed + 1)


class ShopifyApp:
    def __init__(self, config: ShopifySandboxConfig) -> None:
        self.sandbox = Sandbox(config)
        self.router = Starlette(
            routes=[Mount("/_sandbox", routes=control.routes(self.sandbox))], lifespan=self.lifespan
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        async with self.sandbox.deliverer.lifespan():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        started = time.perf_counter()
        seen = {"status": 0, "label": ""}

        async def tracking_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            await send(message)

        path: str = scope["path"]
        if path.startswith("/_sandbox/"):
            await self.router(scope, receive, tracking_send)
        elif (match := GRAPHQL_PATH.match(path)) is not None:
            seen["label"] = await self.graphql(Request(scope, receive), match["version"], tracking_send)
        elif path == "/admin/oauth/access_token":
            await self.access_token(Request(scope, receive), tracking_send)
        else:
            await _reply(tracking_send, 404, {"errors": "Not Found"})
        if self.sandbox.config.log_requests:
            log.info(
                "%s %s %d %.1fms %s",
                scope["method"],
                path,
                seen["status"],
                (time.perf_counter() - started) * 1000,
                seen["label"],
            )

    async def graphql(self, request: Request, version: str, send: Send) -> str:
        sandbox = self.sandbox
        config = sandbox.config
        headers = {"X-Shopify-API-Version": config.api_version, "X-Request-Id": str(uuid.uuid4())}
        if not VERSION.match(version):
            await _reply(send, 404, {"errors": "Not Found"}, headers)
            sandbox.stats.http(404)
            return ""
        if request.method != "POST":
            await _reply(send, 405, {"errors": "Method Not Allowed: use POST"}, headers)
            sandbox.stats.http(405)
            return ""
        if request.headers.get("x-shopify-access-token") != config.token:
            await _reply(send, 401, {"errors": INVALID_TOKEN}, headers)
            sandbox.stats.http(401)
            return ""
        decision = await faults.decide(sandbox.faults, sandbox.fault_rng, sandbox.stats)
        if decision.status is not None:
            sandbox.stats.http(decision.status)
            if decision.html:
                await _send(
                    send,
                    decision.status,
                    faults.HTML_ERROR,
                    {**headers, "Content-Type": "text/html; charset=utf-8"},
                )
            else:
                await _reply(send, decision.status, {"errors": "Internal Server Error"}, headers)
            return "fault"
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        variables: dict[str, Any] | None = None
        operation_name = None
        if content_type == "application/json":
            try:
                payload = json.loads(raw or b"null")
            except ValueError:
                payload = None
            if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
                await _reply(
                    send,
                    400,
                    {"errors": "Bad Request: the body must be a JSON object with a query string"},
                    headers,
                )
                sandbox.stats.http(400)
                return ""
            query = payload["query"]
            variables = payload.get("variables") if isinstance(payload.get("variables"), dict) else None
            operation_name = payload.get("operationName") or None
        elif content_type == "application/graphql":
            query = raw.decode("utf-8", "replace")
        else:
            await _reply(send, 400, {"errors": "Bad Request: Content-Type must be application/json"}, headers)
            sandbox.stats.http(400)
            return ""
        outcome = sandbox.executor.run(query, variables, operation_name, force_throttle=decision.throttle)
        sandbox.stats.http(200)
        body = json.dumps(outcome.body, separators=(",", ":")).encode()
        await _send(
            send,
            200,
            body,
            {**headers, "Content-Type": "application/json; charset=utf-8"},
            drop=decision.drop,
        )
        return outcome.operation

    async def access_token(self, request: Request, send: Send) -> None:
        """Client credentials (Dev Dashboard apps): the configured token for the configured id and secret."""
        config = self.sandbox.config
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = json.loads(raw or b"{}")
            except ValueError:
                form = {}
        else:
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != config.client_id
            or form.get("client_secret") != config.app_secret
        ):
            await _reply(
                send, 400, {"error": "invalid_client", "error_description": "Client authentication failed"}
            )
            return
        await _reply(
            send,
            200,
            {
                "access_token": config.token,
                "scope": "read_products,write_products,read_orders,write_orders,read_inventory,write_inventory,read_fulfillments,write_fulfillments",
                "expires_in": 86399,
            },
        )


async def _reply(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    await _send(
        send,
        status,
        json.dumps(body).encode(),
        {**(headers or {}), "Content-Type": "application/json; charset=utf-8"},
    )


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str], *, drop: bool = False) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    if drop and len(body) > 1:
        # Half the promised body, then the app returns: uvicorn closes the connection mid-response.
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        return
    await send({"type": "http.response.body", "body": body})


def create_app(config: ShopifySandboxConfig) -> ShopifyApp:
    """Seed the shop described by `config` and return the ASGI app serving it."""
    return ShopifyApp(config)
