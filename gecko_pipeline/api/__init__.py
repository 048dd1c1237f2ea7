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

__all__ = [
    "AuthenticationError",
    "ClientStats",
    "ForbiddenError",
    "GeckoApiError",
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
