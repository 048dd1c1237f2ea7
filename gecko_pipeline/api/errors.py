"""Typed errors for the inventory API, built from its error bodies (gecko-api.md section 5).

The API answers errors in three shapes: `{"type", "message"}` (4xx), `{"error", "error_description"}`
(OAuth) and `{"errors": {field: [messages]}}` (422 validation); 5xx bodies may be plain text. Every
error keeps the status, method and path so `str()` reads like `422 POST /orders: company_id can't be
blank`. Messages never hold a token: the client redacts its secrets before building one.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

_TEXT_LIMIT = 200  # non-JSON 5xx pages can be whole HTML documents


class GeckoApiError(Exception):
    """An API call failed. `status` is None when no HTTP answer arrived (network failure)."""

    no_status_label = "network error"  # what `str()` shows in place of a status when there is none

    def __init__(
        self,
        status: int | None,
        method: str,
        path: str,
        message: str = "",
        errors: dict[str, list[str]] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        self.errors = errors or {}
        self.request_id = request_id
        super().__init__(self._render())

    @property
    def detail(self) -> str:
        if self.errors:
            # Rails style: "base" messages read on their own, others as "<field> <message>".
            parts = [
                msg if field == "base" else f"{field} {msg}"
                for field, msgs in self.errors.items()
                for msg in msgs
            ]
            return "; ".join(parts)
        return self.message

    def _render(self) -> str:
        status = self.no_status_label if self.status is None else str(self.status)
        detail = self.detail
        return (
            f"{status} {self.method} {self.path}: {detail}"
            if detail
            else f"{status} {self.method} {self.path}"
        )


class AuthenticationError(GeckoApiError):
    """401: the access token (or the OAuth refresh) was refused."""


class PaymentRequiredError(GeckoApiError):
    """402: the account's subscription has lapsed."""


class ForbiddenError(GeckoApiError):
    """403: not available with the token's permissions."""


class NotFoundError(GeckoApiError):
    """404: no such record or path."""


class ValidationError(GeckoApiError):
    """422 (and 400): the request was invalid; `errors` maps field to messages."""


class RateLimitError(GeckoApiError):
    """429 after the client waited for the window to reset as often as it is allowed to."""


class ServerError(GeckoApiError):
    """5xx after the retries allowed for the request (a POST without Idempotency-Key gets none)."""


class TransportError(GeckoApiError):
    """No HTTP answer: connection refused, timeout or a dropped connection.

    `may_have_reached_server` is True when the request could have been applied (e.g. a read timeout
    after the body was sent): a POST without Idempotency-Key is then of unknown outcome.
    """

    def __init__(self, method: str, path: str, message: str, *, may_have_reached_server: bool) -> None:
        self.may_have_reached_server = may_have_reached_server
        super().__init__(None, method, path, message)


class HeaderEncodingError(GeckoApiError):
    """A header value cannot go on the wire (HTTP allows printable ASCII only): the request was not
    sent, and repeating it cannot help. `header` names the header; its value is never shown."""

    no_status_label = "not sent"

    def __init__(self, method: str, path: str, header: str, detail: str) -> None:
        self.header = header
        super().__init__(None, method, path, f"header {header} cannot be sent: {detail}")


class RateLimitWaitTimeout(GeckoApiError):
    """The client waited longer than `max_rate_limit_wait_seconds` for rate-limit budget: a window that
    did not reset, answers that never came back, or a Retry-After beyond the limit."""

    no_status_label = "rate-limit wait"

    def __init__(self, method: str, path: str, waited: float, waiting_for: str, max_wait: float) -> None:
        self.waited = waited
        self.waiting_for = waiting_for
        super().__init__(
            None,
            method,
            path,
            f"gave up after waiting {waited:.1f}s (max_rate_limit_wait_seconds={max_wait:g}) for {waiting_for}",
        )


_BY_STATUS: dict[int, type[GeckoApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitError,
}

# What the user should do, appended to the API's own words.
_HINTS: dict[type[GeckoApiError], str] = {
    PaymentRequiredError: "the account's subscription has lapsed; renew it to use the API",
}


def _parse_body(content: bytes) -> tuple[str, dict[str, list[str]]]:
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = " ".join(content.decode("utf-8", "replace").split())
        return (text[:_TEXT_LIMIT] + "..." if len(text) > _TEXT_LIMIT else text), {}
    errors: dict[str, list[str]] = {}
    raw_errors = body.get("errors")
    if isinstance(raw_errors, dict):
        for field, msgs in raw_errors.items():
            errors[str(field)] = [str(m) for m in msgs] if isinstance(msgs, list) else [str(msgs)]
    elif isinstance(raw_errors, list):
        errors["base"] = [str(m) for m in raw_errors]
    message = (
        body.get("message") or body.get("error_description") or body.get("error") or body.get("type") or ""
    )
    return str(message), errors


def error_from_response(
    response: httpx.Response,
    method: str,
    path: str,
    *,
    auth_hint: str = "",
    redact: Callable[[str], str] = lambda s: s,
) -> GeckoApiError:
    """The typed error for an HTTP error answer."""
    status = response.status_code
    message, errors = _parse_body(response.content)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else GeckoApiError)
    hint = auth_hint if cls is AuthenticationError else _HINTS.get(cls, "")
    if hint:
        message = f"{message} ({hint})" if message else hint
    errors = {field: [redact(m) for m in msgs] for field, msgs in errors.items()}
    return cls(status, method, path, redact(message), errors, response.headers.get("x-request-id"))
