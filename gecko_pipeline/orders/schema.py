"""The published JSON Schema of the canonical channel order, enforced with `jsonschema` (Draft 2020-12).

The schema is the contract: what it accepts the pipeline accepts, what it refuses is refused, and the
refusal names the JSON path of the field (`lines[2].quantity`). Formats are asserted with our own
checkers (not whichever optional packages happen to be installed), so the result never depends on
the machine: `date-time` is RFC 3339 with a time zone, `date` is YYYY-MM-DD, `email` is local@domain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match, relevance

SCHEMA_PATH = Path(__file__).with_name("channel_order.schema.json")

# RFC 3339 section 5.6 date-time: T (either case), seconds, optional fraction, Z or an offset.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_TYPE_NAMES = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "object": "an object",
    "array": "a list",
    "boolean": "true or false",
    "null": "null",
}


@cache
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 date-time (its offset honoured) or a date (midnight UTC); None when it is neither."""
    try:
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        if _DATE_TIME.fullmatch(text):
            return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:  # 2026-13-45, 25:00, ...
        return None
    return None


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or (_DATE_TIME.fullmatch(value) and parse_timestamp(value)) is not None


def _is_date(value: object) -> bool:
    return not isinstance(value, str) or (_DATE.fullmatch(value) and parse_timestamp(value)) is not None


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())  # only ours: nothing depends on optional packages
    checker.checks("date-time")(_is_date_time)
    checker.checks("date")(_is_date)
    checker.checks("email")(_is_email)
    return checker


@cache
def validator() -> Draft202012Validator:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=format_checker())


def json_path(parts: Iterable[str | int]) -> str:
    """deque(['lines', 2, 'quantity']) -> 'lines[2].quantity'."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(order)"


def error_path(error: ValidationError) -> str:
    """The field an error is about; a missing required property is named itself, not its parent."""
    parts: list[str | int] = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            parts.append(missing[0])
    return json_path(parts)


def error_paths(payload: Any) -> set[str]:
    """Every field path the schema's errors point at, inside anyOf branches too (tests compare
    refusals against it)."""
    paths: set[str] = set()
    stack = list(validator().iter_errors(payload))
    while stack:
        error = stack.pop()
        paths.add(error_path(error))
        stack.extend(error.context or ())
    return paths


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:45]}... ({len(text)} characters)"


def _message(error: ValidationError) -> str:
    kind, value = error.validator, error.instance
    if kind == "required":
        return "is missing"
    if kind == "type":
        wanted = error.validator_value
        types = [wanted] if isinstance(wanted, str) else list(wanted)
        return f"must be {' or '.join(_TYPE_NAMES.get(t, t) for t in types)} (got {_shown(value)})"
    if kind == "enum" and len(error.validator_value) <= 8:  # long lists (currencies) are described
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        return f"must be one of {allowed} (got {_shown(value)})"
    if kind == "minItems":
        return f"must list at least {error.validator_value} item(s)"
    hint = error.schema.get("description") if isinstance(error.schema, dict) else None
    if hint:
        return f"is not valid (got {_shown(value)}): expected {hint}"
    return error.message if len(error.message) <= 200 else f"{error.message[:200]}..."


def first_problem(payload: Any) -> tuple[str, str] | None:
    """(field path, message) of the most relevant schema violation, or None when the order conforms."""
    errors = list(validator().iter_errors(payload))
    if not errors:
        return None
    # A plain error (a type, a pattern) says more than an anyOf that failed because of it elsewhere.
    plain = [e for e in errors if e.validator not in ("anyOf", "oneOf")]
    top = max(plain or errors, key=relevance)
    described = isinstance(top.schema, dict) and "description" in top.schema
    # A described anyOf ("a name, an e-mail or a company_code", "a date-time or a date") explains
    # itself better than whichever branch best_match would descend into.
    error = top if top.validator == "anyOf" and described else best_match([top])
    return error_path(error), _message(error)
