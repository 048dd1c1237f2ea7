"""Cursor pagination over sorted (key, id) lists: `first/after`, `last/before`, `reverse`, at most 250 a
page, `pageInfo`, and both `edges { cursor node }` and `nodes`. Cursors are opaque base64 JSON."""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLError

MAX_PAGE = 250
Key = tuple[Any, int]


def encode_cursor(key: Key) -> str:
    return base64.b64encode(json.dumps({"last_id": key[1], "last_value": key[0]}).encode()).decode()


def decode_cursor(cursor: str) -> Key:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return (data["last_value"], int(data["last_id"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


def page_size(args: dict[str, Any], *, unlimited: bool = False) -> tuple[int | None, int | None]:
    first, last = args.get("first"), args.get("last")
    if unlimited:
        return None, None
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    for name, value in (("first", first), ("last", last)):
        if value is not None and (value < 0 or value > MAX_PAGE):
            raise GraphQLError(
                f"The '{name}' argument must be between 0 and {MAX_PAGE}.", extensions={"code": "BAD_REQUEST"}
            )
    return first, last


def connection(
    asc: Sequence[Key],
    args: dict[str, Any],
    load: Callable[[int], Any],
    *,
    unlimited: bool = False,
) -> dict[str, Any]:
    """One page of `asc` (ascending (key, id) pairs) as a connection; `load(id)` gives the node."""
    first, last = page_size(args, unlimited=unlimited)
    after = decode_cursor(args["after"]) if args.get("after") else None
    before = decode_cursor(args["before"]) if args.get("before") else None
    n = len(asc)
    if not args.get("reverse"):
        start = bisect.bisect_right(asc, after) if after else 0  # type: ignore[arg-type]
        end = bisect.bisect_left(asc, before) if before else n  # type: ignore[arg-type]
        window = list(range(start, max(start, end)))
        outside_before, outside_after = start > 0, end < n
    else:
        end = bisect.bisect_left(asc, after) if after else n  # type: ignore[arg-type]
        start = bisect.bisect_right(asc, before) if before else 0  # type: ignore[arg-type]
        window = list(range(max(start, end) - 1, start - 1, -1)) if end > start else []
        outside_before, outside_after = end < n, start > 0
    chosen = window
    if first is not None:
        chosen = chosen[:first]
    if last is not None:
        chosen = chosen[-last:] if last else []
    has_next = outside_after or (bool(chosen) and chosen[-1] != window[-1]) or (not chosen and bool(window))
    has_prev = outside_before or (bool(chosen) and chosen[0] != window[0])
    edges = [{"cursor": encode_cursor(asc[i]), "node": load(asc[i][1])} for i in chosen]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def plain(items: list[Any], args: dict[str, Any], *, unlimited: bool = False) -> dict[str, Any]:
    """A connection over a short, already ordered child list (keys are positions)."""
    asc = [(i, i) for i in range(len(items))]
    return connection(asc, args, lambda i: items[i], unlimited=unlimited)
