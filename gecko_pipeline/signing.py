"""HMAC-SHA256 body signatures, base64-encoded: the API's webhook signature (X-Gecko-Signature) and the
same scheme for channel order intake. One implementation, used by the sandbox (to sign), the webhook
receiver and the intake (to verify)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """Base64(HMAC-SHA256(secret, body)): 44 characters with `=` padding, no newline."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a signature over the raw request body."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(
        sign(secret, body).encode("ascii"), signature.strip().encode("ascii", "replace")
    )
