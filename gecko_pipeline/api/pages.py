"""One page of a list answer, and the pagination arithmetic from `X-Pagination`.

The page keeps the raw body: the warehouse hands it straight to DuckDB's JSON reader, so on the fast
path no record is parsed in Python. `records` and `sideloads` parse the body lazily, once, on first use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

META_KEY = "meta"  # "historical and should not be relied on" (gecko-api.md 1.1): never a sideload


def root_key(path: str) -> str:
    """The list's root key: the path's last segment (`/variants` -> `variants`)."""
    segment = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return segment.removesuffix(".json")


def loads(content: bytes) -> Any:
    # Decimals, never floats: the few numbers the API sends unquoted keep their exact value.
    return json.loads(content, parse_float=Decimal)


@dataclass(frozen=True)
class Pagination:
    """The `X-Pagination` header: totals for the query and where this page sits."""

    total_records: int
    total_pages: int
    last_page: bool
    out_of_bounds: bool
    offset: int

    @classmethod
    def from_header(cls, value: str | None) -> Pagination | None:
        if not value:
            return None
        try:
            data = json.loads(value)
            return cls(
                total_records=int(data["total_records"]),
                total_pages=int(data["total_pages"]),
                last_page=bool(data.get("last_page")),
                out_of_bounds=bool(data.get("out_of_bounds")),
                offset=int(data.get("offset") or 0),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def records_on_page(self, limit: int) -> int:
        if self.out_of_bounds:
            return 0
        return max(min(limit, self.total_records - self.offset), 0)


@dataclass(eq=False)
class Page:
    """A page of `GET /<resource>`: `records` under the root key, other plural keys as `sideloads`."""

    resource: str
    page: int
    total_pages: int
    total_records: int
    body: bytes = field(repr=False)
    record_count: int = 0
    is_last: bool = True

    @cached_property
    def data(self) -> dict[str, Any]:
        parsed = loads(self.body) if self.body else {}
        return parsed if isinstance(parsed, dict) else {}

    @property
    def records(self) -> list[dict[str, Any]]:
        found = self.data.get(self.resource) or []
        return [found] if isinstance(found, dict) else found  # a single-record answer reads as one row

    @property
    def sideloads(self) -> dict[str, list[dict[str, Any]]]:
        return {
            key: value
            for key, value in self.data.items()
            if key not in (self.resource, META_KEY) and isinstance(value, list)
        }

    @classmethod
    def from_answer(
        cls, resource: str, page: int, limit: int, body: bytes, pagination: Pagination | None
    ) -> Page:
        if pagination is None:
            # No header: count by parsing, and stop on a short page.
            tmp = cls(resource, page, page, 0, body)
            count = len(tmp.records)
            tmp.record_count, tmp.is_last = count, count < limit or count == 0
            tmp.total_pages = page if tmp.is_last else page + 1
            tmp.total_records = (page - 1) * limit + count
            return tmp
        count = pagination.records_on_page(limit)
        last = pagination.last_page or pagination.out_of_bounds or count < limit or count == 0
        return cls(resource, page, pagination.total_pages, pagination.total_records, body, count, last)
