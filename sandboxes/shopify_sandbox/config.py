"""Settings of one Shopify sandbox: who may call it, which API version it speaks, how much it seeds, its
cost bucket, webhook timing and injected faults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# The newest stable version the stored shopify.dev pages cover (README: "API version").
DEFAULT_API_VERSION = "2026-10"
SUPPORTED_VERSIONS = ("2025-01", "2025-04", "2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10")


@dataclass
class FaultConfig:
    """Injected failures on GraphQL requests, all off by default. Rates are shares of requests (0..1)."""

    error_rate: float = 0.0  # 500 or 503 before anything runs (half of them with an HTML body)
    latency_ms: float = 0.0  # added before every GraphQL answer
    drop_rate: float = 0.0  # headers and half the body sent, then the connection is closed
    throttle_rate: float = 0.0  # answer THROTTLED although the bucket could pay
    forced_throttles: int = 0  # the next N GraphQL requests answer THROTTLED

    def update(self, values: dict[str, object]) -> None:
        known = {f.name for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault setting {name!r}; known: {sorted(known)}")
            setattr(self, name, type(getattr(self, name))(value))  # type: ignore[call-arg]

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class ShopifySandboxConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = an ephemeral port
    shop: str = "gecko-sandbox"  # the shop's handle: {shop}.myshopify.com
    token: str = field(default="shpat_sandbox_token", repr=False)
    app_secret: str = field(default="shpss_sandbox_app_secret", repr=False)  # signs webhooks
    client_id: str = "sandbox-client-id"  # for the client-credentials token endpoint
    api_version: str = DEFAULT_API_VERSION
    scale: int = 200  # number of variants seeded
    seed: int = 1
    orders: int | None = None  # default scale // 10, at least 12, at most 5,000
    locations: int = 3
    shop_currency: str = "USD"
    shop_timezone: str = "America/New_York"  # REST / webhook times carry this offset
    # Cost bucket (Standard plan: 100 points/s, observed bucket 2,000).
    bucket_size: float = 2000.0
    restore_rate: float = 100.0
    max_query_cost: int = 1000
    # Webhooks: attempt n+1 waits base * factor**(n-1); 8 retries at base 60 s span ~4.25 h as Shopify's 4 h.
    webhook_max_retries: int = 8
    webhook_retry_base_delay: float = 60.0
    webhook_retry_factor: float = 2.0
    webhook_timeout: float = 5.0
    webhook_connect_timeout: float = 1.0
    webhook_failures_before_removal: int = 8  # consecutive failed attempts, then the subscription is deleted
    bulk_poll_chunk: int = 250  # root objects executed between two yields of a running bulk operation
    idempotency_ttl: float = 24 * 3600.0
    read_all_orders: bool = (
        True  # False: orders processed more than 60 days ago are invisible, as without the scope
    )
    faults: FaultConfig = field(default_factory=FaultConfig)
    log_requests: bool = False  # one access-log line per request (the CLI turns it on)

    @property
    def order_count(self) -> int:
        return max(12, min(self.scale // 10, 5000)) if self.orders is None else self.orders

    @property
    def shop_domain(self) -> str:
        return f"{self.shop}.myshopify.com"

    def at_least(self, version: str) -> bool:
        """Whether the configured API version is `version` or later (YYYY-MM strings sort in time order)."""
        return self.api_version >= version
