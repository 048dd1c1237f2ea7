"""What to ask the API for each table, with the fewest requests.

A stream is one paged list of the API feeding one table (and the tables its sideloads and nested lists
feed). Soft-deleted records come in the same stream by asking for every status at once (comma list),
not in a second stream. In a full sync, products come with `include=variants`, which feeds the
variants (and their locations and prices) without a request of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVE_ARCHIVED = ("active", "archived")
# Every status each resource has (gecko-api.md section 7), asked for explicitly.
STATUSES: dict[str, tuple[str, ...]] = {
    "currencies": ACTIVE_ARCHIVED,
    "locations": ACTIVE_ARCHIVED,
    "tax_types": ACTIVE_ARCHIVED,
    "addresses": ACTIVE_ARCHIVED,
    "variants": ACTIVE_ARCHIVED,
    "products": ("active", "disabled", "archived"),
    "companies": ("active", "disabled", "archived"),
    "orders": ("draft", "active", "finalized", "fulfilled", "void", "deleted"),
    "fulfillments": ("packed", "fulfilled", "void", "deleted"),
    "fulfillment_returns": ("returning", "received", "void", "deleted"),
}


@dataclass(frozen=True)
class Stream:
    name: str  # also the key of its row in sync_state
    table: str  # the table of the list's root key
    sideloads: tuple[str, ...] = ()  # other top-level keys of the answer, each loaded into its table
    incremental: bool = True  # filterable by updated_at_min
    full_params: dict[str, str] = field(default_factory=dict)  # extra query for a full sync
    full_sideloads: tuple[str, ...] = ()  # sideloads that come only with full_params
    single: bool = False  # one record (GET /accounts/current), not a list

    @property
    def path(self) -> str:
        return "/accounts/current" if self.single else f"/{self.table}"

    @property
    def statuses(self) -> tuple[str, ...] | None:
        return STATUSES.get(self.table)

    def params(self, full: bool) -> dict[str, str]:
        # Ascending id order: records added during a sync land after the pages already read, and an
        # edit never moves a record, so offsets stay stable while the sync runs.
        params = {"order": "id asc"}
        if self.statuses:
            params["status"] = ",".join(self.statuses)
        if full:
            params.update(self.full_params)
        return params

    def tables(self, full: bool) -> list[str]:
        """Tables this stream writes, main table first (child tables follow their parent)."""
        return [self.table, *self.sideloads, *(self.full_sideloads if full else ())]


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in [
        Stream("account", "account", incremental=False, single=True),
        Stream("locations", "locations"),
        Stream("currencies", "currencies"),
        Stream("price_lists", "price_lists", incremental=False),
        Stream("tax_types", "tax_types", incremental=False),
        Stream("products", "products", full_params={"include": "variants"}, full_sideloads=("variants",)),
        Stream("variants", "variants"),
        Stream("companies", "companies"),
        Stream("addresses", "addresses"),
        Stream("orders", "orders"),
        Stream("order_line_items", "order_line_items"),
        Stream("fulfillments", "fulfillments", sideloads=("fulfillment_line_items",)),
        Stream("fulfillment_returns", "fulfillment_returns", sideloads=("fulfillment_return_line_items",)),
    ]
}


def _stream_of_table() -> dict[str, str]:
    """Which stream refreshes a table's records by id: its own list, else the list that side-loads it."""
    out = {s.table: s.name for s in STREAMS.values() if not s.single}
    for stream in STREAMS.values():
        for table in stream.sideloads:
            out.setdefault(table, stream.name)
    return out


STREAM_OF_TABLE: dict[str, str] = _stream_of_table()
