"""Base64(HMAC-SHA256(secret, raw body)): how the inventory API (X-Gecko-Signature) and Shopify
(X-Shopify-Hmac-Sha256) sign webhook deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """44 characters with `=` padding, no newline."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a signature over the raw body."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(
        sign(secret, body).encode("ascii"), signature.strip().encode("ascii", "replace")
    )
