"""Settings of one sandbox instance: who may call it, how much data it seeds, its limits and faults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class FaultConfig:
    """Injected failures, all off by default. Rates are shares of API requests (0..1)."""

    error_rate: float = 0.0  # 500/503 answers before anything happens (sometimes a non-JSON body)
    burst_429_rate: float = 0.0  # chance that a request starts a burst of 429 answers
    burst_429_length: int = 3  # how many consecutive 429s a burst lasts
    latency_ms: float = 0.0  # added to every API answer
    drop_rate: float = 0.0  # close the connection after sending part of the body
    error_after_write_rate: float = 0.0  # POST performed, then answered 500
    # With error_after_write_rate: the Idempotency-Key is not recorded either (a server that fails
    # between its write and its bookkeeping), so a blind re-POST with the same key writes again.
    error_after_write_forgets_key: bool = False

    def update(self, values: dict[str, object]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault setting {name!r}; known: {sorted(known)}")
            current = getattr(self, name)
            setattr(self, name, type(current)(value))  # type: ignore[call-arg]

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# The embedded sandbox's well-known address and demo credentials (gecko_pipeline's config defaults to
# the same values; a test holds the two sides to it).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_TOKEN = "sandbox-token"
DEFAULT_APP_SECRET = "sandbox-app-secret"


def _default_locations(scale: int) -> int:
    # ~5 locations for small accounts, growing to 10 for the largest.
    return 5 + min(5, scale // 20000)


@dataclass
class SandboxConfig:
    host: str = DEFAULT_HOST
    port: int = 0  # 0: an ephemeral port (the CLI defaults to DEFAULT_PORT)
    token: str = field(default=DEFAULT_TOKEN, repr=False)
    app_secret: str = field(default=DEFAULT_APP_SECRET, repr=False)
    scale: int = 200  # number of variants seeded
    seed: int = 1
    orders: int | None = None  # default scale // 2
    locations: int | None = None  # default ~5, growing with scale up to 10
    rate_limit_quota: int = 300
    rate_limit_window: float = 300.0  # seconds; windows are aligned to epoch multiples of it
    faults: FaultConfig = field(default_factory=FaultConfig)
    oauth_client_id: str = "sandbox-client-id"
    # A real OAuth app has one secret for both token requests and webhook signatures: None = app_secret.
    oauth_client_secret: str | None = field(default=None, repr=False)
    oauth_refresh_token: str = field(default="sandbox-refresh-token", repr=False)
    access_token_ttl: float = 7200.0
    webhook_retry_base_delay: float = 2.0  # seconds; attempt n waits base * 4**(n-1)
    webhook_max_attempts: int = 5
    webhook_timeout: float = 10.0
    log_requests: bool = False  # one access-log line per request (the CLI turns it on)
    # Lists whose GET (index and show) answers 404, as `/price_lists` may on the real API (gecko-api.md
    # 6.4, open question 5), e.g. ("price_lists",).
    unavailable_lists: tuple[str, ...] = ()
    # False: `/price_lists` lists only the account's custom lists, not the built-in buy/wholesale/retail.
    list_builtin_price_lists: bool = True

    @property
    def client_secret(self) -> str:
        return self.app_secret if self.oauth_client_secret is None else self.oauth_client_secret

    @property
    def order_count(self) -> int:
        return self.scale // 2 if self.orders is None else self.orders

    @property
    def location_count(self) -> int:
        return _default_locations(self.scale) if self.locations is None else self.locations
