"""Index requests: query parameters -> ListQuery, pagination headers, and the response body."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from gecko_sandbox.clock import parse_to_iso
from gecko_sandbox.errors import bad_request
from gecko_sandbox.store import Key, ListQuery, Table, dumps

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
ORDER_FIELDS = ("id", "created_at", "updated_at")
STATUS_ALIASES = {"companies": ("company_status",)}


def param_values(params: QueryParams, name: str) -> list[str]:
    """Every value of a parameter: `x=a`, `x[]=a&x[]=b` and `x=a,b`; blank values are ignored."""
    out: list[str] = []
    for raw in params.getlist(name) + params.getlist(f"{name}[]"):
        out.extend(part.strip() for part in raw.split(","))
    return [value for value in out if value]


def _single(params: QueryParams, name: str) -> str | None:
    values = param_values(params, name)
    return values[-1] if values else None


def _time_bound(params: QueryParams, name: str) -> str | None:
    value = _single(params, name)
    if value is None:
        return None
    try:
        return parse_to_iso(value)
    except ValueError as exc:
        raise bad_request(f"Invalid value for {name}: {value!r} (use ISO-8601 or a date)") from exc


def parse_query(table: Table, params: QueryParams) -> ListQuery:
    ids = param_values(params, "ids")
    statuses = param_values(params, "status")
    for alias in STATUS_ALIASES.get(table.name, ()):
        statuses += param_values(params, alias)
    filters = []
    for name in sorted(table.filters):
        values = param_values(params, name)
        if values:
            filters.append((name, frozenset(values)))
    order_field, descending = "id", True
    order = _single(params, "order")
    if order:
        parts = order.replace("+", " ").split()
        if (
            parts[0] not in ORDER_FIELDS
            or len(parts) > 2
            or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc"))
        ):
            raise bad_request(f"Invalid order {order!r}: use <{'|'.join(ORDER_FIELDS)}> [asc|desc]")
        order_field = parts[0]
        descending = len(parts) == 2 and parts[1].lower() == "desc"
    return ListQuery(
        ids=frozenset(ids) if ids else None,
        statuses=frozenset(statuses) if statuses else None,
        filters=tuple(filters),
        updated_at_min=_time_bound(params, "updated_at_min"),
        updated_at_max=_time_bound(params, "updated_at_max"),
        created_at_min=_time_bound(params, "created_at_min"),
        created_at_max=_time_bound(params, "created_at_max"),
        order_field=order_field,
        descending=descending,
    )


def _int_param(params: QueryParams, name: str, default: int) -> int:
    value = _single(params, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f"Invalid value for {name}: {value!r} (an integer)") from exc


@dataclass
class PageSlice:
    keys: list[Key]
    total: int
    limit: int
    page: int

    @property
    def total_pages(self) -> int:
        return 1 if self.limit == 0 else max(1, math.ceil(self.total / self.limit))

    def pagination(self) -> dict[str, object]:
        return {
            "total_records": self.total,
            "total_pages": self.total_pages,
            "first_page": self.page == 1,
            "last_page": self.page >= self.total_pages,
            "out_of_bounds": self.page > self.total_pages,
            "offset": (self.page - 1) * self.limit,
        }


def paginate(keys: list[Key], params: QueryParams) -> PageSlice:
    limit = _int_param(params, "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise bad_request(f"limit must be {MAX_LIMIT} or less (got {limit})")
    if limit < 0:
        raise bad_request(f"limit must not be negative (got {limit})")
    page = _int_param(params, "page", 1)
    if page < 1:
        raise bad_request(f"page starts at 1 (got {page})")
    start = (page - 1) * limit
    return PageSlice(keys[start : start + limit] if limit else [], len(keys), limit, page)


def page_headers(base_url: str, params: QueryParams, page: PageSlice) -> dict[str, str]:
    """X-Pagination (compact JSON) and an RFC 5988 Link header: next/last, and prev/first after page 1."""
    others = [(k, v) for k, v in params.multi_items() if k not in ("page", "limit")]

    def url(n: int) -> str:
        return f"{base_url}?{urlencode([*others, ('limit', str(page.limit)), ('page', str(n))])}"

    links = []
    if page.page > 1:
        links.append(f'<{url(1)}>; rel="first"')
        links.append(f'<{url(min(page.page - 1, page.total_pages))}>; rel="prev"')
    if page.page < page.total_pages:
        links.append(f'<{url(page.page + 1)}>; rel="next"')
    links.append(f'<{url(page.total_pages)}>; rel="last"')
    return {"X-Pagination": dumps(page.pagination()).decode(), "Link": ", ".join(links)}


def render_collection(
    root: str,
    items: Iterable[bytes],
    sideloads: dict[str, list[bytes]] | None = None,
    total: int | None = None,
) -> bytes:
    parts = [b'{"', root.encode(), b'":[', b",".join(items), b"]"]
    for name, records in (sideloads or {}).items():
        parts += [b',"', name.encode(), b'":[', b",".join(records), b"]"]
    if total is not None:
        parts.append(b',"meta":{"total":%d}' % total)
    parts.append(b"}")
    return b"".join(parts)


def render_single(root: str, item: bytes, sideloads: dict[str, list[bytes]] | None = None) -> bytes:
    parts = [b'{"', root.encode(), b'":', item]
    for name, records in (sideloads or {}).items():
        parts += [b',"', name.encode(), b'":[', b",".join(records), b"]"]
    parts.append(b"}")
    return b"".join(parts)
