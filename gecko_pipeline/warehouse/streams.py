"""What to ask the API for each table, with the fewest requests.

A stream is one paged list of the API feeding one table (and the tables its sideloads and nested lists
feed). Soft-deleted records come in the same stream, from a second listing that asks for the statuses
the API hides by default (see `Stream.listings`). In a full sync, products come with `include=variants`, which feeds the
variants (and their locations and prices) without a request of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gecko_pipeline.warehouse.schema import TABLES


@dataclass(frozen=True)
class Stream:
    name: str  # also the key of its row in sync_state
    table: str  # the table of the list's root key
    sideloads: tuple[str, ...] = ()  # other top-level keys of the answer, each loaded into its table
    incremental: bool = True  # filterable by updated_at_min
    full_params: dict[str, str] = field(default_factory=dict)  # extra query for a full sync
    full_sideloads: tuple[str, ...] = ()  # sideloads that come only with full_params
    single: bool = False  # one record (GET /accounts/current), not a list
    # A list the pipeline cannot do without. Any other list that the API answers 404 for (some accounts
    # or API versions lack e.g. /price_lists) is skipped with a warning and the sync goes on.
    core: bool = False

    @property
    def path(self) -> str:
        return "/accounts/current" if self.single else f"/{self.table}"

    def listings(self, full: bool) -> list[dict[str, str]]:
        """The query of each listing the stream reads, in order. Ascending id order: records added during
        a sync land after the pages already read, and an edit never moves a record, so offsets stay
        stable while the sync runs. Two listings where the API hides soft-deleted records by default:
        the default one (which also brings any status the API added that we do not know yet, so such a
        record is stored and reported rather than silently missed) and one for the hidden statuses."""
        params = {"order": "id asc", **(self.full_params if full else {})}
        hidden = TABLES[self.table].hidden_statuses
        if not hidden:
            return [params]
        return [params, {**params, "status": ",".join(hidden)}]

    def tables(self, full: bool) -> list[str]:
        """Tables this stream writes, main table first (child tables follow their parent)."""
        return [self.table, *self.sideloads, *(self.full_sideloads if full else ())]


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in [
        Stream("account", "account", incremental=False, single=True, core=True),
        Stream("locations", "locations"),
        Stream("currencies", "currencies"),
        Stream("price_lists", "price_lists", incremental=False),
        Stream("tax_types", "tax_types", incremental=False),
        Stream(
            "products",
            "products",
            full_params={"include": "variants"},
            full_sideloads=("variants",),
            core=True,
        ),
        Stream("variants", "variants", core=True),
        Stream("companies", "companies"),
        Stream("addresses", "addresses"),
        Stream("orders", "orders", core=True),
        Stream("order_line_items", "order_line_items", core=True),
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
