"""Client for the TradeGecko / QuickBooks Commerce API: auth, pacing, retries, pagination, errors."""

from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.api.errors import (
    AuthenticationError,
    ForbiddenError,
    GeckoApiError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
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
    "NotFoundError",
    "Page",
    "Pagination",
    "PaymentRequiredError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
]
