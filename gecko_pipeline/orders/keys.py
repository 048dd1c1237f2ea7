"""Idempotency-Key values for the API writes of a channel order, safe to send by construction.

A key is built from the order's reference (`channel:channel_order_id`) and what the write is
(`create:<nonce>`, `pay`, `ship:<shipment id>`, ...). Channel ids may hold any Unicode (an emoji, full-
width digits): the reference_number in the JSON body carries that text as it is, but an HTTP header
value must be printable ASCII (httpx refuses anything else with UnicodeEncodeError). So a key that is
not short printable ASCII is replaced by a digest of its full text: still one key per write, still the
same key for the same write on every retry, and readable keys stay as they were for ordinary ids.
"""

from __future__ import annotations

import hashlib
import re

KEY_PREFIX = "gecko-pipeline"
MAX_KEY_LENGTH = 200
_SENDABLE = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}")  # printable ASCII, no spaces (servers strip them)


def idempotency_key(*parts: str) -> str:
    """`gecko-pipeline:<parts joined by ':'>`, or `gecko-pipeline:sha256:<hex>` of that text when it
    could not travel in a header as it is."""
    text = ":".join((KEY_PREFIX, *parts))
    if _SENDABLE.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{KEY_PREFIX}:sha256:{digest}"
