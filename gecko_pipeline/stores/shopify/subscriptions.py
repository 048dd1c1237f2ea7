"""Ensuring a shop's webhook subscriptions: list what exists, create only what is missing (as Shopify's
own library does), so running it again changes nothing. Subscriptions made in the shop admin are
invisible to the API and are not touched.

Version difference: from 2025-04 a subscription's address is `uri` (input and output); 2025-01 takes
`callbackUrl` and answers it under `endpoint { ... on WebhookHttpEndpoint { callbackUrl } }`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.inbox import ORDER_TOPICS as TAKEN

# What the order adapter takes (the webhook route stores these topics).
ORDER_TOPICS = tuple(TAKEN)


def topic_enum(topic: str) -> str:
    """`orders/create` -> `ORDERS_CREATE` (Shopify: the REST topic upper-cased, `/` -> `_`)."""
    return topic.strip().upper().replace("/", "_")


def uses_uri(api_version: str) -> bool:
    """Whether this version names a subscription's address `uri` (2025-04 on) rather than `callbackUrl`."""
    return api_version == "unstable" or api_version >= "2025-04"


@dataclass
class SubscriptionResult:
    created: list[str] = field(default_factory=list)  # topic enums created now
    existing: list[str] = field(default_factory=list)  # already subscribed to this address
    ids: dict[str, str] = field(default_factory=dict)  # topic enum -> subscription GID


def subscribe_shopify(
    client: ShopifyClient, address: str, topics: Iterable[str] = ORDER_TOPICS
) -> SubscriptionResult:
    """Makes sure each topic (REST `orders/create` or enum `ORDERS_CREATE`) has a JSON subscription to
    `address` (e.g. `https://<host>/shopify/<channel>/webhooks`); creates only the missing ones.
    Raises ShopifyUserError when Shopify refuses one (an address it does not accept, ...)."""
    wanted = list(dict.fromkeys(topic_enum(t) if "/" in t else t.strip().upper() for t in topics))
    uri = uses_uri(client.api_version)
    address_field = "uri" if uri else "endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } }"
    listing = (
        "query($after: String, $topics: [WebhookSubscriptionTopic!]) { "
        "webhookSubscriptions(first: 100, after: $after, topics: $topics) { "
        f"pageInfo {{ hasNextPage endCursor }} nodes {{ id topic {address_field} }} }} }}"
    )
    result = SubscriptionResult()
    for node in client.paginate(listing, {"topics": wanted}, path=("webhookSubscriptions",)):
        target = node.get("uri") if uri else (node.get("endpoint") or {}).get("callbackUrl")
        topic = str(node.get("topic"))
        if target == address and topic in wanted and topic not in result.ids:
            result.existing.append(topic)
            result.ids[topic] = str(node["id"])
    input_field = "uri" if uri else "callbackUrl"
    create = (
        "mutation($topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!) { "
        "webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) { "
        "webhookSubscription { id topic } userErrors { field message } } }"
    )
    for topic in wanted:
        if topic in result.ids:
            continue
        payload = client.mutate(
            create,
            {"topic": topic, "subscription": {input_field: address, "format": "JSON"}},
            root="webhookSubscriptionCreate",
        )
        result.created.append(topic)
        result.ids[topic] = str((payload.get("webhookSubscription") or {}).get("id"))
    return result
