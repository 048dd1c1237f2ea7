"""Typed errors of the Shopify Admin GraphQL API (docs: shared/shopify-api.md sections 1-2).

Shopify answers in three layers: an HTTP status (401 / 402 / 403 / 423 / 429 / 5xx, body
`{"errors": "<text>"}`), top-level GraphQL `errors[]` in an HTTP 200 (syntax, ACCESS_DENIED,
THROTTLED, MAX_COST_EXCEEDED), and a mutation's `userErrors[]` (a business refusal naming the input
field). Each becomes its own class here, with a message that says what to fix. No message ever holds
the access token: the client redacts it before building one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ShopifyError(Exception):
    """A Shopify API call failed. `status` is the HTTP status (None: no answer arrived)."""

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None) -> None:
        self.status = status
        self.request_id = request_id
        suffix = f" (request {request_id})" if request_id else ""
        super().__init__(f"{message}{suffix}")


class ShopifyHttpError(ShopifyError):
    """A non-2xx answer that no retry fixed (5xx after retries, 404, 400, ...)."""


class ShopifyAuthError(ShopifyHttpError):
    """401: the access token is missing, wrong, revoked, or the app was uninstalled."""


class ShopifyPaymentRequired(ShopifyHttpError):
    """402: the shop is frozen (an unpaid Shopify bill)."""


class ShopifyForbidden(ShopifyHttpError):
    """403: refused, generally an access scope the app lacks."""


class ShopifyShopLocked(ShopifyHttpError):
    """423: the shop is locked (repeatedly over API limits, or a fraud risk)."""


class ShopifyNotFound(ShopifyHttpError):
    """404: no such shop, path or API version."""


class ShopifyTransportError(ShopifyError):
    """No answer: connection refused or dropped, timeout. `may_have_reached_server` says whether a
    mutation may have run (a connect error never reached it)."""

    def __init__(self, message: str, *, may_have_reached_server: bool) -> None:
        self.may_have_reached_server = may_have_reached_server
        super().__init__(message)


class ShopifyGraphQLError(ShopifyError):
    """Top-level `errors[]` in a 200 answer: syntax, an unknown field, ACCESS_DENIED, ... `errors` is
    the list as Shopify sent it; `codes` the `extensions.code` values."""

    def __init__(self, errors: Sequence[Mapping[str, Any]], *, request_id: str | None = None) -> None:
        self.errors = list(errors)
        self.codes = [str((e.get("extensions") or {}).get("code") or "") for e in self.errors]
        super().__init__(describe_errors(self.errors), status=200, request_id=request_id)


class ShopifyAccessDenied(ShopifyGraphQLError):
    """ACCESS_DENIED: a field needs an access scope the app was not granted."""


class ShopifyQueryCostExceeded(ShopifyGraphQLError):
    """MAX_COST_EXCEEDED: one query asks for more than the single-query cap (1,000 points): lower the
    nested `first` arguments or use a bulk operation."""


class ShopifyUserError(ShopifyError):
    """A mutation's `userErrors[]`: Shopify refused the change. `field` is the first error's input
    path joined with dots (e.g. `input.quantities.1.changeFromQuantity`), `code` its code."""

    def __init__(
        self, mutation: str, user_errors: Sequence[Mapping[str, Any]], *, request_id: str | None = None
    ) -> None:
        self.mutation = mutation
        self.user_errors = list(user_errors)
        first = self.user_errors[0] if self.user_errors else {}
        path = first.get("field") or []
        self.field = ".".join(str(p) for p in path) if isinstance(path, list) else str(path)
        self.code = first.get("code")
        parts = []
        for error in self.user_errors[:5]:
            where = error.get("field")
            where_text = ".".join(str(p) for p in where) if isinstance(where, list) else str(where or "")
            code = f" [{error['code']}]" if error.get("code") else ""
            parts.append(f"{where_text or '(input)'}: {error.get('message')}{code}")
        more = f" (+{len(self.user_errors) - 5} more)" if len(self.user_errors) > 5 else ""
        super().__init__(f"{mutation} refused: {'; '.join(parts)}{more}", status=200, request_id=request_id)


class ShopifyWaitExceeded(ShopifyError):
    """The call would wait (pacing, THROTTLED answers, Retry-After, retries) longer than the client's
    `max_wait_seconds`: raised instead of hanging."""


class ShopifyBulkOperationError(ShopifyError):
    """A bulk operation could not start, failed, was cancelled or expired."""


def describe_errors(errors: Sequence[Mapping[str, Any]], limit: int = 3) -> str:
    """`message [CODE] at path` for the first few GraphQL errors."""
    parts = []
    for error in errors[:limit]:
        code = (error.get("extensions") or {}).get("code")
        path = error.get("path")
        text = str(error.get("message") or "(no message)")
        if code:
            text += f" [{code}]"
        if path:
            text += f" at {'.'.join(str(p) for p in path)}"
        parts.append(text)
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return "GraphQL error: " + "; ".join(parts) + more
