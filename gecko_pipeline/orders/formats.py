"""Inbox rows in a store's own shape, translated into the canonical order when the push accepts them.

A store adapter (gecko_pipeline/stores/...) stores what the store sent exactly as it came, with a
`format` marker (`order_inbox.format`, e.g. `shopify.rest-order`), and the push translates it here, at
the one place every order passes: so a payload that cannot be translated is quarantined with a reason
naming the store's field, kept as it came, and `quarantine replay` translates it again (after a fix of
the mapping or the channel file). The canonical order stays the one internal contract: the ledger
keeps the translated order, never the store's shape.

The part before the first `.` of a format names its translator, imported only when such a row comes
(orders/ never imports a store adapter at import time).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.orders.inbox import InboxRow
from gecko_pipeline.orders.model import OrderInvalid

# A translator: (inbox row, its parsed payload, the row's channel config or None) -> the canonical order
# as a JSON-ready mapping, or None when the row carries no order state of its own (it is marked handled
# and changes nothing). It raises OrderInvalid naming the store's field when it cannot translate.
Translator = Callable[[InboxRow, Any, ChannelConfig | None], Mapping[str, Any] | None]

TRANSLATORS = {
    "shopify": "gecko_pipeline.stores.shopify.inbox:to_canonical",
}


@cache
def translator(family: str) -> Translator | None:
    target = TRANSLATORS.get(family)
    if target is None:
        return None
    module, _, name = target.partition(":")
    translate: Translator = getattr(importlib.import_module(module), name)
    return translate


def translate(row: InboxRow, payload: Any, channels: Mapping[str, ChannelConfig]) -> Any:
    """The canonical order of an inbox row: the payload itself for a canonical row, else its store
    format's translation (None: nothing to accept). Raises OrderInvalid for an unknown format."""
    if not row.format:
        return payload
    found = translator(row.format.split(".", 1)[0])
    if found is None:
        raise OrderInvalid(f"inbox #{row.id}", "(format)", f"unknown inbox format {row.format!r}", "format")
    channel = channels.get(row.channel) if row.channel is not None else None
    return found(row, payload, channel)
