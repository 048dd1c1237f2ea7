"""The state of one running sandbox: seeded store, limiter, stats, faults, tokens and switches."""

from __future__ import annotations

import copy
import random
import secrets
import time
from dataclasses import dataclass, field

from gecko_sandbox.config import SandboxConfig
from gecko_sandbox.errors import ApiError
from gecko_sandbox.idempotency import IdempotencyCache
from gecko_sandbox.ratelimit import RateLimiter
from gecko_sandbox.seed import seed_store
from gecko_sandbox.stats import Stats
from gecko_sandbox.store import Store


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = seed_store(config, Store())
        self.limiter = RateLimiter(config.rate_limit_quota, config.rate_limit_window)
        self.stats = Stats()
        self.faults = copy.deepcopy(config.faults)
        self.fault_rng = random.Random(config.seed * 7919 + 1)
        self.burst_left = 0
        self.payment_required = False
        self.base_url = ""  # set by the server once the port is known; used in webhook resource_url
        # OAuth: access tokens issued by refresh -> expiry (epoch s); the one valid refresh token.
        self.issued_tokens: dict[str, float] = {}
        self.refresh_token = config.oauth_refresh_token
        # Idempotency keys are scoped to the app and account: every token of this sandbox (the static
        # one and refreshed OAuth ones) shares them, so a retry after a token refresh is still a replay.
        self.idempotency = IdempotencyCache()

    def authenticate(self, authorization: str | None) -> str:
        """The bearer token of a request, or 401 in the API's shape."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Missing access token: send 'Authorization: Bearer <token>'")
        if secrets.compare_digest(token, self.config.token):
            return token
        expiry = self.issued_tokens.get(token)
        if expiry is None:
            raise ApiError(401, "The access token is invalid")
        if expiry <= time.time():
            raise ApiError(401, "The access token expired")
        return token
