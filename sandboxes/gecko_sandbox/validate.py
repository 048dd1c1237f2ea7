"""Request-body checks that answer the API's way: 400 for a missing root key, 422 with
{"errors": {field: [message]}} naming the field (and, inside lists, the item: order_line_items[2].quantity)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from gecko_sandbox import domain
from gecko_sandbox.errors import ApiError, bad_request, validation
from gecko_sandbox.store import Record, Table

# The range of the API's decimal columns as the sandbox models them: 12 digits before the point.
# Anything larger is refused with a 422 before a write, never accepted and then failed on (a 500).
DECIMAL_LIMIT = Decimal(10) ** 12


def root_object(raw: bytes, root: str) -> dict[str, Any]:
    """The `{"<root>": {...}}` body's inner object."""
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise bad_request(f"Malformed JSON body: {exc}") from exc
    if not isinstance(data, dict) or root not in data or data[root] is None:
        raise bad_request(f"Required parameter missing: {root}")
    if not isinstance(data[root], dict):
        raise bad_request(f"Parameter {root} must be an object")
    return data[root]


def optional_object(raw: bytes, root: str) -> dict[str, Any]:
    """Action bodies are optional: `{"<root>": {...}}`, `{}` or nothing."""
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"Malformed JSON body: {exc}") from exc
    inner = data.get(root) if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else {}


class Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def check(self) -> None:
        if self.errors:
            raise validation(self.errors)

    def required(self, data: dict[str, Any], field: str, name: str | None = None) -> Any:
        value = data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.add(name or field, "can't be blank")
            return None
        return value

    def one_of(
        self,
        data: dict[str, Any],
        field: str,
        allowed: frozenset[str] | tuple[str, ...],
        name: str | None = None,
    ) -> None:
        value = data.get(field)
        if value is not None and value not in allowed:
            self.add(name or field, f"is not included in the list ({', '.join(sorted(allowed))})")

    def decimal(
        self, data: dict[str, Any], field: str, name: str | None = None, *, positive: bool = False
    ) -> Decimal | None:
        """A decimal field (string or number) if present; the API's own string for it is kept by the caller."""
        if data.get(field) is None:
            return None
        value = domain.decimal_of(data[field], name or field, self.errors)
        if (name or field) in self.errors:
            return value
        if abs(value) >= DECIMAL_LIMIT:
            self.add(name or field, "is out of range (at most 12 digits before the decimal point)")
        elif positive and value <= 0:
            self.add(name or field, "must be greater than 0")
        return value

    def reference(
        self, data: dict[str, Any], field: str, table: Table, name: str | None = None
    ) -> Record | None:
        """An integer foreign key that must point at an existing record."""
        value = data.get(field)
        if value is None or value == "":
            return None
        try:
            key = int(value)
        except (TypeError, ValueError):
            self.add(name or field, "is not a number")
            return None
        record = table.get(key)
        if record is None:
            self.add(name or field, "does not exist")
        return record


def permitted(data: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """Strong parameters: fields the API does not accept are ignored, as Rails does."""
    return {k: v for k, v in data.items() if k in allowed}


def as_text(value: object) -> str | None:
    """Numbers sent as JSON numbers are stored as the API sends them back: strings."""
    if value is None:
        return None
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def not_found_error(message: str) -> ApiError:
    return ApiError(404, message)
