"""The webhook receiver: a small ASGI endpoint that verifies, deduplicates and stores deliveries.

It answers within milliseconds (the API allows 10 s): it only checks the signature and writes one row
to ops.sqlite (WAL) before answering 2xx; it never opens the warehouse. The sensor does the rest.

Answers: 200 stored (or already stored: a retried delivery), 401 bad or missing X-Gecko-Signature,
400 no X-Gecko-Delivery or a stale timestamp (a replay), 413 body over the limit. A signed delivery
whose payload we cannot use is stored as `invalid` with the problem and answered 200, since any other
status would make the API retry it for 3 days and then delete the subscription.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gecko_pipeline.config import Settings
from gecko_pipeline.http_limits import BodyTooLarge, read_limited
from gecko_pipeline.signing import verify
from gecko_pipeline.webhooks import store
from gecko_pipeline.webhooks.events import normalise_event, resource_of
from gecko_pipeline.webhooks.writer import EventWriter

log = logging.getLogger("gecko_pipeline.webhooks")

RECEIVER_PATH = "/webhooks"
DEFAULT_MAX_BODY_BYTES = Settings.webhook_max_body_bytes
# The API retries a failed delivery for up to 3 days, and a retry carries the event's original
# timestamp; a tolerance under 3 days would refuse legitimate late retries (after a receiver outage),
# so the default is 3 days plus one day of margin. Replays inside the window are harmless: delivery ids
# are never stored twice, and an event only makes us re-read the record from the API, never trust it.
DEFAULT_TOLERANCE_SECONDS = Settings.webhook_tolerance_seconds
# A sender clock slightly ahead of ours is not an attack.
FUTURE_SKEW_SECONDS = 300


@dataclass(frozen=True)
class ReceiverLimits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverLimits:
        """GECKO_WEBHOOK_MAX_BODY_BYTES and GECKO_WEBHOOK_TOLERANCE_SECONDS, through the settings."""
        return cls(
            max_body_bytes=settings.webhook_max_body_bytes,
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )


class StaleDelivery(ValueError):
    pass


def _as_int(value: Any) -> int | None:
    # bool is an int in Python, never an id or a timestamp
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_delivery(delivery_id: str, body: bytes, *, now: float, tolerance_seconds: int) -> store.NewEvent:
    """The event to store for a signed body. Raises StaleDelivery for a timestamp out of the window."""
    text = body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(text)
    except ValueError as exc:
        return _invalid(delivery_id, text, f"body is not JSON: {exc}")
    if not isinstance(payload, dict):
        return _invalid(delivery_id, text, "body is not a JSON object")
    timestamp = _as_int(payload.get("timestamp"))
    if timestamp is not None and not (now - tolerance_seconds <= timestamp <= now + FUTURE_SKEW_SECONDS):
        raise StaleDelivery(f"timestamp {timestamp} is outside the accepted window ({tolerance_seconds} s)")
    raw_event = payload.get("event")
    event = normalise_event(raw_event)
    object_id = _as_int(payload.get("object_id"))
    problems = []
    if event is None:
        problems.append(f"field 'event': {raw_event!r} is not an API event name")
    if object_id is None:
        problems.append(f"field 'object_id': {payload.get('object_id')!r} is not an id")
    if timestamp is None:
        problems.append(f"field 'timestamp': {payload.get('timestamp')!r} is not epoch seconds")
    resource = resource_of(event)
    status = store.INVALID if problems else (store.PENDING if resource else store.IGNORED)
    return store.NewEvent(
        delivery_id=delivery_id,
        body=text,
        event=event,
        raw_event=raw_event if isinstance(raw_event, str) else None,
        resource=resource if not problems else None,
        object_id=object_id,
        event_timestamp=timestamp,
        status=status,
        problem="; ".join(problems) or None,
    )


def _invalid(delivery_id: str, text: str, problem: str) -> store.NewEvent:
    return store.NewEvent(delivery_id, text, None, None, None, None, None, store.INVALID, problem)


def _answer(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, **extra}, status_code=status)


def receiver_routes(settings: Settings, limits: ReceiverLimits | None = None) -> list[Route]:
    """The receiver's routes (POST /webhooks), storing into settings.ops_path."""
    limits = limits or ReceiverLimits.from_settings(settings)
    writer = EventWriter(settings.ops_path)
    secret = settings.webhook_secret or ""
    if not secret:
        log.warning("no webhook secret (GECKO_CLIENT_SECRET): every delivery will be refused with 401")

    async def receive(request: Request) -> JSONResponse:
        try:
            body = await read_limited(request, limits.max_body_bytes)
        except BodyTooLarge as exc:
            return _answer(413, str(exc))
        if not verify(secret, body, request.headers.get("x-gecko-signature")):
            return _answer(401, "bad or missing X-Gecko-Signature")
        delivery_id = (request.headers.get("x-gecko-delivery") or "").strip()
        if not delivery_id or len(delivery_id) > 200:
            return _answer(400, "missing or malformed X-Gecko-Delivery")
        try:
            event = parse_delivery(
                delivery_id, body, now=time.time(), tolerance_seconds=limits.tolerance_seconds
            )
        except StaleDelivery as exc:
            log.warning("refused delivery %s: %s", delivery_id, exc)
            return _answer(400, f"stale delivery: {exc}")
        try:
            stored = await writer.insert(event)
        except Exception:  # noqa: BLE001 (logged by the writer) — not stored: the API will retry
            return _answer(503, "could not store the delivery; retry later")
        if event.status == store.INVALID:
            log.warning("delivery %s stored as invalid: %s", delivery_id, event.problem)
        return _answer(200, "stored" if stored else "duplicate", delivery=delivery_id, event=event.event)

    return [Route(RECEIVER_PATH, receive, methods=["POST"], name="gecko_webhooks")]
