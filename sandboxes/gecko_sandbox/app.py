"""The sandbox as an ASGI app: the API (bearer auth, 402 switch, rate limit, faults, routing), the
OAuth token endpoint and the `/_sandbox/` control plane (Starlette), with one access-log line per
request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from gecko_sandbox import control, faults, oauth, reads, webhooks, writes
from gecko_sandbox.config import SandboxConfig
from gecko_sandbox.core import Reply, Sandbox
from gecko_sandbox.errors import ApiError

log = logging.getLogger("gecko_sandbox.access")
JSON = "application/json; charset=utf-8"


def segments_of(path: str) -> list[str]:
    path = path.strip("/")
    if path.endswith(".json"):  # webhook resource_url and old clients use the .json suffix
        path = path[: -len(".json")]
    return [part for part in path.split("/") if part]


def route_name(method: str, segments: list[str]) -> str:
    named = [seg if i != 1 or seg == "current" else "{id}" for i, seg in enumerate(segments)]
    return f"{method} /{'/'.join(named)}"


class SandboxApp:
    """ASGI entry point. `app.sandbox` is the live state (used by the server handle and tests' helpers)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.deliverer = webhooks.Deliverer(sandbox)
        self.router = Starlette(
            routes=[
                Mount("/_sandbox", routes=control.routes(sandbox, self.deliverer)),
                Route("/oauth/token", oauth.token_endpoint(sandbox), methods=["POST"]),
            ],
            lifespan=self.lifespan,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """Webhook delivery runs while serving; so does pre-serializing every record in idle moments."""
        async with self.deliverer.lifespan(app):
            warming = asyncio.get_running_loop().create_task(self.sandbox.store.warm())
            try:
                yield
            finally:
                warming.cancel()
                await asyncio.gather(warming, return_exceptions=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def tracking_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        path: str = scope["path"]
        if path.startswith("/_sandbox/") or path == "/oauth/token":
            await self.router(scope, receive, tracking_send)
        else:
            await self.api(scope, receive, tracking_send)
        if self.sandbox.config.log_requests:
            query = scope.get("query_string", b"").decode("latin-1")
            log.info(
                "%s %s%s %d %.1fms",
                scope["method"],
                path,
                f"?{query}" if query else "",
                status,
                (time.perf_counter() - started) * 1000,
            )

    async def api(self, scope: Scope, receive: Receive, send: Send) -> None:
        sandbox = self.sandbox
        request = Request(scope, receive)
        method = request.method
        segments = segments_of(scope["path"])
        route = route_name(method, segments)
        rate_headers: dict[str, str] = {}
        drop = None
        try:
            token = sandbox.authenticate(request.headers.get("authorization"))
            decision = sandbox.limiter.hit(token)
            rate_headers = decision.headers()
            if not decision.allowed:
                raise ApiError(429, "API rate limit exceeded: wait until X-Rate-Limit-Reset")
            if sandbox.payment_required:
                raise ApiError(402, "Payment Required: the account's subscription has lapsed")
            drop = await faults.before_request(sandbox, token)
            reply = await self.handle(request, method, segments, token)
        except ApiError as error:
            reply = faults.reply_for(error)
        headers = {"Content-Type": JSON, **rate_headers, **reply.headers, "X-Request-ID": uuid.uuid4().hex}
        sandbox.stats.record(route, reply.status, len(reply.body))
        await _send_reply(send, reply, headers, drop == faults.DROP)

    async def handle(self, request: Request, method: str, segments: list[str], token: str) -> Reply:
        sandbox = self.sandbox
        if not segments:
            raise ApiError(404, f"No route matches {method} /")
        tables = sandbox.store.tables
        if method == "GET":
            if segments == ["accounts", "current"]:
                return reads.current_account(sandbox)
            if segments == ["users", "current"]:
                return reads.current_user(sandbox)
            if segments[0] == "stock_levels" and len(segments) <= 2:
                if len(segments) == 1:
                    return reads.list_stock_levels(sandbox, request)
                return reads.show_stock_level(sandbox, segments[1])
            table = tables.get(segments[0])
            if segments[0] in sandbox.config.unavailable_lists:
                table = None
            if table is not None and len(segments) == 1:
                return reads.list_records(sandbox, request, table)
            if table is not None and len(segments) == 2:
                return reads.show_record(sandbox, request, table, segments[1])
        else:
            reply = await writes.dispatch(sandbox, request, method, segments, token)
            if reply is not None:
                return reply
        raise ApiError(404, f"No route matches {method} {request.url.path}")


async def _send_reply(send: Send, reply: Reply, headers: dict[str, str], drop: bool) -> None:
    body = reply.body
    if reply.status == 204:
        headers.pop("Content-Type", None)
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
    if drop and len(body) > 1:
        # Send part of the promised body, then give up: the server closes the connection mid-response.
        # (uvicorn closes the connection when the app returns with the response incomplete).
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        return
    await send({"type": "http.response.body", "body": body})


def create_app(config: SandboxConfig) -> SandboxApp:
    """Seed the account described by `config` and return the ASGI app serving it."""
    return SandboxApp(Sandbox(config))
