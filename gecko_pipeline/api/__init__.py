"""Client for the TradeGecko / QuickBooks Commerce API: auth, pacing, retries, pagination, errors."""

from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.api.errors import (
    AuthenticationError,
    ForbiddenError,
    GeckoApiError,
    HeaderEncodingError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    RateLimitWaitTimeout,
    ServerError,
    TransportError,
    ValidationError,
)
from gecko_pipeline.api.pages import Page, Pagination
from gecko_pipeline.api.stats import ClientStats

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gecko_pipeline.api.resource import GeckoApiResource


def __getattr__(name: str) -> object:
    # The Dagster resource loads dagster; code that only needs the client (sandbox tools, benchmarks)
    # does not pay for that import.
    if name == "GeckoApiResource":
        from gecko_pipeline.api.resource import GeckoApiResource

        return GeckoApiResource
    raise AttributeError(name)


__all__ = [
    "AuthenticationError",
    "ClientStats",
    "ForbiddenError",
    "GeckoApiError",
    "GeckoApiResource",
    "GeckoClient",
    "HeaderEncodingError",
    "NotFoundError",
    "Page",
    "Pagination",
    "PaymentRequiredError",
    "RateLimitError",
    "RateLimitWaitTimeout",
    "ServerError",
    "TransportError",
    "ValidationError",
]
