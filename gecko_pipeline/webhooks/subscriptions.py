"""Ensures the API sends us the events we need: list the app's webhooks, create only the missing ones.

Idempotent: a second run finds every (event, address) pair and creates nothing. Each create carries an
Idempotency-Key derived from the pair, so a retried POST cannot create a twin either.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.webhooks.events import DEFAULT_EVENTS, normalise_event

log = logging.getLogger("gecko_pipeline.webhooks")


def _idempotency_key(event: str, address: str) -> str:
    digest = hashlib.sha256(f"{event}\n{address}".encode()).hexdigest()[:32]
    return f"gecko-pipeline-webhook-{digest}"


def list_subscriptions(client: GeckoClient) -> list[dict[str, Any]]:
    return [record for page in client.iter_pages("/webhooks") for record in page.records]


def ensure_subscriptions(
    client: GeckoClient, address: str, events: Iterable[str] = DEFAULT_EVENTS
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(existing, created): the webhook records already subscribed for `address`, and those created now."""
    wanted: list[str] = []
    for name in events:
        event = normalise_event(name)
        if event is None:
            raise ValueError(f"{name!r} is not an API event name (noun.action, e.g. variant.create)")
        if event not in wanted:
            wanted.append(event)
    existing = [
        hook
        for hook in list_subscriptions(client)
        if hook.get("address") == address and normalise_event(hook.get("event")) in wanted
    ]
    have = {normalise_event(hook.get("event")) for hook in existing}
    created = []
    for event in wanted:
        if event in have:
            continue
        body = client.post(
            "/webhooks",
            {"webhook": {"address": address, "event": event}},
            idempotency_key=_idempotency_key(event, address),
        )
        created.append(body.get("webhook", body))
        log.info("subscribed %s -> %s", event, address)
    return existing, created
