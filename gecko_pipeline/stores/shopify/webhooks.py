"""The Shopify webhook route: `POST /shopify/{channel}/webhooks` (served by the gateway).

Shopify gives a delivery 5 s and counts anything but a 2xx as a failure (8 retries over 4 hours, then
the subscription is deleted), so the route only verifies, deduplicates and stores, then answers:

1. the channel must be a `kind: shopify` channel of the channel file (404), with its app secret set
   (503 names the variable: Shopify retries, and the delivery lands once it is set);
2. the body is read under a limit (413), and `X-Shopify-Hmac-Sha256` must be the base64 HMAC-SHA256 of
   the raw body with the app's client secret, compared in constant time (401; nothing is stored);
3. `X-Shopify-Shop-Domain` must be the channel's shop (403: another shop of the same app), and
   `X-Shopify-Webhook-Id` / `X-Shopify-Topic` must be there (400);
4. topics other than orders/create, orders/updated, orders/paid, orders/cancelled and refunds/create
   are answered 200 and not stored (Shopify would otherwise retry them, then drop the subscription);
5. the body must be strict JSON (no NaN, duplicate keys, lone surrogates, nesting past 32 levels): 400;
6. it is stored in ops.sqlite (inbox.store_delivery) and committed BEFORE the 200; a delivery seen
   before (same webhook id, or same business key) answers 200 `duplicate` and stores nothing new. A
   body of an unexpected shape is stored like any other: the push quarantines it naming the field.

Never a 500: an error storing answers 503 (Shopify retries), anything unexpected is logged and 503.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gecko_pipeline import ops_db, signing
from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.http_limits import BodyTooLarge, read_limited
from gecko_pipeline.orders import inbox as order_inbox
from gecko_pipeline.stores.shopify import inbox

log = logging.getLogger("gecko_pipeline.stores.shopify.webhooks")

WEBHOOK_PATH = "/shopify/{channel}/webhooks"
HMAC_HEADER = "x-shopify-hmac-sha256"
# A Shopify order body is a few KB, some hundred KB with hundreds of lines; far more is not an order.
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_HEADER_LENGTH = 200


def webhook_path(channel: str) -> str:
    """The path a channel's subscriptions point at: `https://<host>` + this."""
    return WEBHOOK_PATH.replace("{channel}", channel)


def _answer(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, **extra}, status_code=status)


def shopify_webhook_routes(
    ops_path: Path,
    channels: Sequence[ChannelConfig],
    secret: Callable[[str], str | None],
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> list[Route]:
    """The route for every `kind: shopify` channel in `channels`. `secret(variable_name)` gives the value
    of a variable a channel names (`app_secret_env`); the caller reads the environment, not this."""
    by_name = {c.name: c for c in channels if c.kind == "shopify" and c.shopify is not None}
    secrets = {name: secret(c.shopify.app_secret_env) for name, c in by_name.items()}  # type: ignore[union-attr]
    for name, value in secrets.items():
        if not value:
            log.warning(
                "shopify channel %s: %s is not set; its webhooks are answered 503",
                name,
                by_name[name].shopify.app_secret_env,  # type: ignore[union-attr]
            )
    with closing(ops_db.connect(ops_path)) as con:
        inbox.ensure_schema(con)

    def store(delivery: inbox.Delivery, payload: Any) -> inbox.Stored:
        with closing(ops_db.connect(ops_path)) as con:
            return inbox.store_delivery(con, delivery, payload)

    async def receive(request: Request) -> JSONResponse:
        try:
            return await _receive(request)
        except Exception:  # noqa: BLE001 - never a 500: Shopify retries a 503
            log.exception("shopify webhook: unexpected error")
            return _answer(503, "could not take the delivery; retry later")

    async def _receive(request: Request) -> JSONResponse:
        name = request.path_params["channel"]
        channel = by_name.get(name)
        if channel is None or channel.shopify is None:
            return _answer(404, f"no kind: shopify channel {name!r}")
        app_secret = secrets[name]
        if not app_secret:
            return _answer(503, f"channel {name!r} has no app secret: set {channel.shopify.app_secret_env}")
        try:
            body = await read_limited(request, max_body_bytes)
        except BodyTooLarge as exc:
            return _answer(413, str(exc))
        if not signing.verify(app_secret, body, request.headers.get(HMAC_HEADER)):
            return _answer(401, "missing or bad X-Shopify-Hmac-Sha256")
        headers = request.headers
        domain = (headers.get("x-shopify-shop-domain") or "").strip().lower()
        if domain and domain != channel.shopify.shop:
            return _answer(
                403, f"delivery from {domain[:MAX_HEADER_LENGTH]}, channel {name!r} is {channel.shopify.shop}"
            )
        webhook_id = (headers.get("x-shopify-webhook-id") or "").strip()
        topic = (headers.get("x-shopify-topic") or "").strip().lower()
        if not webhook_id or len(webhook_id) > MAX_HEADER_LENGTH:
            return _answer(400, "missing or malformed X-Shopify-Webhook-Id")
        if not topic or len(topic) > MAX_HEADER_LENGTH:
            return _answer(400, "missing or malformed X-Shopify-Topic")
        if topic not in inbox.ORDER_TOPICS:
            return _answer(200, f"topic {topic} is not taken here; ignored", topic=topic)
        try:
            text = body.decode("utf-8")
            payload = order_inbox.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("shopify webhook %s (%s) refused: %s", webhook_id, topic, exc)
            return _answer(400, f"body is not acceptable JSON: {exc}")
        delivery = inbox.Delivery(
            channel=name,
            topic=topic,
            webhook_id=webhook_id,
            body=text,
            shop_domain=domain or None,
            api_version=_header(headers.get("x-shopify-api-version")),
            event_id=_header(headers.get("x-shopify-event-id")),
            triggered_at=_header(headers.get("x-shopify-triggered-at")),
        )
        try:
            stored = await run_in_threadpool(store, delivery, payload)
        except sqlite3.Error as exc:
            log.error("shopify webhook %s (%s): could not store: %s", webhook_id, topic, exc)
            return _answer(503, "could not store the delivery; retry later")
        return _answer(
            200,
            "duplicate" if stored.duplicate else "stored",
            topic=topic,
            inbox_id=stored.inbox_id,
        )

    return [Route(WEBHOOK_PATH, receive, methods=["POST"], name="shopify_webhooks")]


def _header(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:MAX_HEADER_LENGTH] or None
