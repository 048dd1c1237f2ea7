"""Webhook event names: the ones we subscribe to, normalisation (plural -> singular), and which
warehouse resource each one refreshes.

gecko-api.md 8.3: the docs' example payload says `fulfillments.create` while subscriptions are named
`fulfillment.create`; which form deliveries carry is unconfirmed, so both are accepted.
"""

from __future__ import annotations

# Singular API noun -> its plural (the API resource, which is also the warehouse table name).
NOUNS: dict[str, str] = {
    "account": "accounts",
    "address": "addresses",
    "channel": "channels",
    "company": "companies",
    "contact": "contacts",
    "document_theme": "document_themes",
    "fulfillment": "fulfillments",
    "fulfillment_return": "fulfillment_returns",
    "image": "images",
    "invoice": "invoices",
    "location": "locations",
    "order": "orders",
    "payment": "payments",
    "procurement": "procurements",
    "product": "products",
    "purchase_order": "purchase_orders",
    "stock_adjustment": "stock_adjustments",
    "stock_transfer": "stock_transfers",
    "variant": "variants",
}
_SINGULAR = {plural: singular for singular, plural in NOUNS.items()}

# The events we subscribe to (GitHub issue 5) and the warehouse resource each one refreshes by id.
SUBSCRIBED_EVENTS: dict[str, str] = {
    "product.create": "products",
    "variant.create": "variants",
    "variant.stock_level_update": "variants",
    "order.create": "orders",
    "order.finalized": "orders",
    "order.fulfilled": "orders",
    "fulfillment.create": "fulfillments",
    "fulfillment.fulfilled": "fulfillments",
    "fulfillment_return.create": "fulfillment_returns",
    "fulfillment_return.received": "fulfillment_returns",
    "company.create": "companies",
    "company.update": "companies",
    "address.create": "addresses",
    "address.update": "addresses",
    "location.create": "locations",
    "location.update": "locations",
}
DEFAULT_EVENTS: tuple[str, ...] = tuple(SUBSCRIBED_EVENTS)

# Refresh order: parents before children, so a new variant's product (or an order's company) is there first.
REFRESH_ORDER: tuple[str, ...] = (
    "locations",
    "products",
    "variants",
    "companies",
    "addresses",
    "orders",
    "fulfillments",
    "fulfillment_returns",
)


def normalise_event(name: object) -> str | None:
    """`"fulfillments.create"` -> `"fulfillment.create"`; a singular name is returned as is (lower-cased).

    None when the value is not an event name of the API's form `noun.action`."""
    if not isinstance(name, str):
        return None
    noun, dot, action = name.strip().lower().rpartition(".")
    if not dot or not noun or not action:
        return None
    noun = _SINGULAR.get(noun, noun)
    return f"{noun}.{action}" if noun in NOUNS else None


def resource_of(event: str | None) -> str | None:
    """The warehouse resource an event refreshes, or None when the pipeline does not act on it."""
    return SUBSCRIBED_EVENTS.get(event) if event else None
