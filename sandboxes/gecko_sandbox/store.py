"""In-memory records of the sandbox account, with cached wire JSON and cached list queries.

Every record is kept as its wire dict (decimals as strings). Its serialized bytes are cached until it
changes, and the sorted id list of each distinct list query is cached until anything changes, so
paging through a large resource costs a slice and a join, not a scan and a sort per page.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gecko_sandbox.clock import Clock

Key = int | str
Record = dict[str, Any]


# One shared encoder (json.dumps with options builds a new one per call); records hold no cycles.
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def dumps(value: object) -> bytes:
    return _ENCODER.encode(value).encode()


@dataclass
class FilterSpec:
    """One index filter: query parameter -> record field. kind: "value" (compare as text), "tags"
    (any of the record's tags), or a callable deriving the value from (store, record)."""

    field: str
    kind: str = "value"
    derive: Callable[[Store, Record], object] | None = None


@dataclass
class Table:
    name: str  # plural, the collection root key and URL segment
    singular: str
    hidden_statuses: frozenset[str] = frozenset()  # left out unless the status filter asks for them
    filters: dict[str, FilterSpec] = field(default_factory=dict)
    meta_total: bool = False  # index carries the historical "meta": {"total": n}
    fixed_order: bool = False  # listed in insertion order whatever `order` says (price lists)
    cache_json: bool = True  # off only to measure the benchmark's baseline
    records: dict[Key, Record] = field(default_factory=dict)
    _json: dict[Key, bytes] = field(default_factory=dict)
    next_id: int = 1

    def add(self, record: Record) -> Record:
        if "id" not in record:
            record = {"id": self.next_id, **record}
        key = record["id"]
        if isinstance(key, int) and key >= self.next_id:
            self.next_id = key + 1
        self.records[key] = record
        self._json.pop(key, None)
        return record

    def get(self, key: Key) -> Record | None:
        return self.records.get(key)

    def invalidate(self, key: Key) -> None:
        self._json.pop(key, None)

    def remove(self, key: Key) -> Record | None:
        self._json.pop(key, None)
        return self.records.pop(key, None)

    def json(self, key: Key) -> bytes:
        cached = self._json.get(key)
        if cached is None:
            cached = dumps(self.records[key])
            if self.cache_json:
                self._json[key] = cached
        return cached

    def lookup(self, raw: str) -> Record | None:
        """A record by its id as it appears in a URL (price lists have string ids)."""
        if raw.isdigit():
            return self.records.get(int(raw))
        return self.records.get(raw)


@dataclass(frozen=True)
class ListQuery:
    ids: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    filters: tuple[tuple[str, frozenset[str]], ...] = ()
    updated_at_min: str | None = None
    updated_at_max: str | None = None
    created_at_min: str | None = None
    created_at_max: str | None = None
    order_field: str = "id"
    descending: bool = True


class Store:
    """All tables of one account, the clock and a cache of list results (valid until any change)."""

    QUERY_CACHE_SIZE = 64

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.tables: dict[str, Table] = {}
        self.version = 0
        self._queries: OrderedDict[tuple[str, ListQuery], tuple[int, list[Key]]] = OrderedDict()
        self.listeners: list[Callable[[str, str, Record], None]] = []  # (event, table, record)
        self.caching = True
        self.warmed = False

    async def warm(self, chunk: int = 200) -> int:
        """Serialize every record ahead of time, yielding to requests between chunks, so the first
        full sync finds its pages ready. Returns how many records it serialized."""
        done = 0
        for table in list(self.tables.values()):
            for key in list(table.records):
                if not self.caching:
                    return done
                if key in table.records and key not in table._json:
                    table.json(key)
                    done += 1
                    if done % chunk == 0:
                        await asyncio.sleep(0)
        self.warmed = True
        return done

    def set_caching(self, enabled: bool) -> None:
        """Drop every cached JSON and query result; with False, cache nothing (benchmark baseline)."""
        self.caching = enabled
        self._queries.clear()
        for table in self.tables.values():
            table.cache_json = enabled
            table._json.clear()

    def table(self, name: str) -> Table:
        return self.tables[name]

    def register(self, table: Table) -> Table:
        self.tables[table.name] = table
        return table

    # --- changes -------------------------------------------------------------------------------
    def changed(self, table: Table, record: Record, *, touch: bool = True) -> None:
        """A record changed: new updated_at (strictly increasing), drop its cached JSON and queries."""
        if touch and "updated_at" in record:
            record["updated_at"] = self.clock.now()
        table.invalidate(record["id"])
        self.version += 1

    def insert(self, table: Table, record: Record) -> Record:
        now = self.clock.now()
        for stamp in ("created_at", "updated_at"):
            if record.get(stamp) is None:
                record[stamp] = now
        stored = table.add(record)
        self.version += 1
        return stored

    def purge(self, table: Table, key: Key) -> Record | None:
        self.version += 1
        return table.remove(key)

    def emit(self, event: str, table: str, record: Record) -> None:
        for listener in self.listeners:
            listener(event, table, record)

    # --- queries -------------------------------------------------------------------------------
    def select(self, table: Table, query: ListQuery) -> list[Key]:
        cache_key = (table.name, query)
        hit = self._queries.get(cache_key)
        if hit is not None and hit[0] == self.version:
            self._queries.move_to_end(cache_key)
            return hit[1]
        keys = list(self._scan(table, query))
        if table.fixed_order:
            pass
        elif query.order_field != "id":
            seq = {key: i for i, key in enumerate(keys)}
            keys.sort(key=lambda k: (table.records[k][query.order_field] or "", seq[k]))
        if query.descending and not table.fixed_order:
            keys.reverse()
        if self.caching:
            self._queries[cache_key] = (self.version, keys)
            if len(self._queries) > self.QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return keys

    def _scan(self, table: Table, query: ListQuery) -> Iterator[Key]:
        """Matching keys in insertion (= id) order."""
        checks = self._checks(table, query)
        if query.ids is not None:
            # Direct lookups (ids batches are small); integer ids sort like insertion order.
            found = [key for key in map(_as_key, query.ids) if key in table.records]
            found.sort(key=lambda k: (isinstance(k, str), k if isinstance(k, int) else 0, str(k)))
            candidates: Iterable[tuple[Key, Record]] = ((k, table.records[k]) for k in found)
        else:
            candidates = table.records.items()
        for key, record in candidates:
            if all(check(record) for check in checks):
                yield key

    def _checks(self, table: Table, query: ListQuery) -> list[Callable[[Record], bool]]:
        checks: list[Callable[[Record], bool]] = []
        if query.statuses is not None:
            wanted = query.statuses
            checks.append(lambda r: r.get("status") in wanted)
        elif table.hidden_statuses:
            hidden = table.hidden_statuses
            checks.append(lambda r: r.get("status") not in hidden)
        for name, bound, above in (
            ("updated_at", query.updated_at_min, True),
            ("updated_at", query.updated_at_max, False),
            ("created_at", query.created_at_min, True),
            ("created_at", query.created_at_max, False),
        ):
            if bound is not None:
                checks.append(_bound_check(name, bound, above))
        for param, values in query.filters:
            checks.append(self._filter_check(table.filters[param], values))
        return checks

    def _filter_check(self, spec: FilterSpec, values: frozenset[str]) -> Callable[[Record], bool]:
        if spec.derive is not None:
            derive = spec.derive
            return lambda r: _text(derive(self, r)) in values
        name = spec.field
        if spec.kind == "tags":
            return lambda r: bool(values.intersection(_tags(r.get(name))))
        return lambda r: _text(r.get(name)) in values


def _bound_check(name: str, bound: str, above: bool) -> Callable[[Record], bool]:
    if above:
        return lambda r: (r.get(name) or "") >= bound
    return lambda r: (r.get(name) or "") <= bound


def _as_key(raw: str) -> Key:
    return int(raw) if raw.isdigit() else raw


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tags(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # products carry tags as a comma-separated string
        return [t.strip() for t in value.split(",") if t.strip()]
    return [str(t) for t in value]  # type: ignore[union-attr]
