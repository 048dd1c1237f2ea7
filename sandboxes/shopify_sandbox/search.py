"""Shopify's search syntax for the `query:` argument: `field:value`, comparators `:<`, `:<=`, `:>`, `:>=`,
quoted values, whitespace or `AND` for and, `OR`, `NOT` / a leading `-`, parentheses, a trailing `*` for
a prefix. Unknown fields match everything and are reported in `extensions.search` (as Shopify does)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from shopify_sandbox.wire import gid_kind, parse_gid, parse_time

Predicate = Callable[[Any], bool]
# kind: "time" | "int" | "text" | "list" (record value is a list of strings) | "bool"
FieldSpec = tuple[str, Callable[[Any], Any]]

TOKEN = re.compile(
    r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<term>-?[A-Za-z_][\w.]*:(?:<=|>=|<|>)?(?:'[^']*'|"[^"]*"|[^\s()]*))"""
    r"""|(?P<word>'[^']*'|"[^"]*"|[^\s()]+))"""
)


@dataclass
class Search:
    predicate: Predicate
    warnings: list[dict[str, str]] = field(default_factory=list)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None:
        return False
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    return bool(left == right)


class _Parser:
    def __init__(
        self, text: str, fields: dict[str, FieldSpec], default: Callable[[Any], str], tz: ZoneInfo
    ) -> None:
        self.tokens: list[tuple[str, str]] = []
        for match in TOKEN.finditer(text):
            kind = match.lastgroup or "word"
            self.tokens.append((kind, match.group(kind)))
        self.pos = 0
        self.fields = fields
        self.default = default
        self.tz = tz
        self.warnings: list[dict[str, str]] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Predicate:
        result = self.or_expr()
        return result

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while (tok := self.peek()) is not None and tok == ("word", "OR"):
            self.pos += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def and_expr(self) -> Predicate:
        parts: list[Predicate] = []
        while (tok := self.peek()) is not None and tok[0] != "rp" and tok != ("word", "OR"):
            if tok == ("word", "AND"):
                self.pos += 1
                continue
            parts.append(self.unary())
        if not parts:
            return lambda r: True
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def unary(self) -> Predicate:
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if (kind, text) == ("word", "NOT"):
            inner = self.unary()
            return lambda r: not inner(r)
        if kind == "lp":
            inner = self.or_expr()
            if (tok := self.peek()) is not None and tok[0] == "rp":
                self.pos += 1
            return inner
        if kind == "rp":
            return lambda r: True
        if kind == "term":
            return self.term(text)
        needle = _unquote(text).lower()
        return lambda r: needle in self.default(r).lower()

    def term(self, text: str) -> Predicate:
        negate = text.startswith("-")
        if negate:
            text = text[1:]
        name, _, rest = text.partition(":")
        op = ""
        for candidate in ("<=", ">=", "<", ">"):
            if rest.startswith(candidate):
                op, rest = candidate, rest[len(candidate) :]
                break
        value = _unquote(rest)
        spec = self.fields.get(name.lower())
        if spec is None:
            self.warnings.append({"field": name, "message": "Invalid search field for this query."})
            return lambda r: True
        predicate = self.field_predicate(name, spec, op, value)
        return (lambda r: not predicate(r)) if negate else predicate

    def field_predicate(self, name: str, spec: FieldSpec, op: str, value: str) -> Predicate:
        kind, get = spec
        if kind == "time":
            moment = parse_time(value, self.tz)
            if moment is None:
                self.warnings.append(
                    {"field": name, "message": f"Input `{value}` is not an accepted format."}
                )
                return lambda r: True
            if not op and len(value) == 10:  # a bare date: that whole day in the shop's zone
                return lambda r: moment <= get(r) < moment + 86400
            return lambda r: _compare(op, get(r), moment)
        if kind == "int":
            number = parse_gid(value) if gid_kind(value) else (int(value) if value.isdigit() else None)
            if number is None:
                self.warnings.append(
                    {"field": name, "message": f"Input `{value}` is not an accepted format."}
                )
                return lambda r: True
            return lambda r: _compare(op, get(r), number)
        if kind == "bool":
            wanted = value.lower() == "true"
            return lambda r: bool(get(r)) == wanted
        if kind == "status" and value.lower() == "any":
            return lambda r: True
        options = [v.strip().lower() for v in value.split(",")] if kind != "text" else [value.lower()]

        def matches(candidate: Any) -> bool:
            if candidate is None:
                return False
            text = str(candidate).lower()
            return any(text.startswith(o[:-1]) if o.endswith("*") else text == o for o in options)

        if kind == "list":
            return lambda r: any(matches(v) for v in get(r))
        return lambda r: matches(get(r))


def compile_search(
    text: str | None, fields: dict[str, FieldSpec], default: Callable[[Any], str], tz: ZoneInfo
) -> Search | None:
    if not text or not text.strip():
        return None
    parser = _Parser(text, fields, default, tz)
    return Search(parser.parse(), parser.warnings)
