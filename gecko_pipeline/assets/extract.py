"""Extract assets: the merchant's account, table by table, into warehouse.duckdb.

One asset per API stream; a multi-asset where one request feeds several tables (products with their
variants, variant locations and prices; fulfillments with their line items). The sync mode comes from
the run tag `gecko_pipeline/sync_mode` (`incremental`, the default, or `full`); a stream without a
cursor gets a full sync. Every step writes warehouse.duckdb, so all run in the `duckdb_writer` pool.
"""

from collections.abc import Iterator, Sequence
from datetime import timedelta

import dagster as dg
from dagster import AssetExecutionContext

from gecko_pipeline.api import GeckoApiError
from gecko_pipeline.api.resource import GeckoApiResource
from gecko_pipeline.assets.catalog import catalog_labels
from gecko_pipeline.warehouse.counts import table_row_counts
from gecko_pipeline.warehouse.resource import WarehouseResource
from gecko_pipeline.warehouse.state import read_state
from gecko_pipeline.warehouse.sync import SyncResult, sync_all

# The run tag the sync jobs set (gecko_pipeline/jobs.py imports it from here).
SYNC_MODE_TAG = "gecko_pipeline/sync_mode"
SYNC_MODES = ("incremental", "full")
POOL = "duckdb_writer"
KINDS = {"duckdb", "python"}


def sync_mode(context: AssetExecutionContext) -> str:
    mode = context.run.tags.get(SYNC_MODE_TAG, "incremental")
    if mode not in SYNC_MODES:
        raise dg.Failure(f"run tag {SYNC_MODE_TAG}={mode!r}: use one of {', '.join(SYNC_MODES)}")
    return mode


def run_streams(
    context: AssetExecutionContext,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
    streams: Sequence[str],
    tables: Sequence[str] = (),
) -> tuple[SyncResult, dict[str, int]]:
    """Sync the streams in order into the warehouse, then count the rows each of `tables` holds in all.

    401/402 stop the run with what to fix.
    """
    full = sync_mode(context) == "full"
    total = SyncResult(",".join(streams), "full" if full else "incremental")
    try:
        with gecko_api.get_client() as client, warehouse.connect() as con:
            results = sync_all(
                client,
                con,
                full=full,
                streams=streams,
                overlap=timedelta(seconds=warehouse.incremental_overlap_seconds),
                progress=context.log.info,
            )
            cursors = {name: read_state(con, name).cursor for name in streams}
            rows = table_row_counts(con, tables)
        for result in results.values():
            total.merge(result)
        # A stream without a cursor yet gets a full sync even in an incremental run.
        modes = {result.mode for result in results.values()}
        total.mode = modes.pop() if len(modes) == 1 else "mixed"
        total.cursor = cursors.get(streams[0])
        total.cursors = {name: c.isoformat() if c else None for name, c in cursors.items()}
    except GeckoApiError as error:
        if error.status in (401, 402):
            # The client's message says what to fix (the token, or the lapsed subscription).
            raise dg.Failure(description=str(error), allow_retries=False) from error
        raise
    return total, rows


def table_metadata(result: SyncResult, table: str, rows: int) -> dict[str, object]:
    """Numbers Dagster plots across materializations; `dagster/row_count` fills the Catalog's column."""
    stats = result.tables.get(table)
    metadata: dict[str, object] = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "sync_mode": result.mode,
        "rows_inserted": stats.inserted if stats else 0,
        "rows_updated": stats.updated if stats else 0,
        "records": stats.records if stats else 0,
        "load_issues": (stats.issues + stats.rejected) if stats else 0,
        "rejected_records": stats.rejected if stats else 0,
        "requests": result.requests,
        "pages": result.pages,
        "duration_s": round(result.duration_s, 3),
        "cursor": result.cursor.isoformat() if result.cursor else None,
    }
    if len(result.cursors) > 1:
        metadata["cursors"] = result.cursors
    if stats and stats.removed:
        metadata["rows_removed"] = stats.removed
    if table in result.vanished:
        metadata["rows_vanished"] = result.vanished[table]
    return metadata


def _spec(table: str, group: str, description: str, deps: Sequence[str] = ()) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=table,
        kinds=KINDS,
        description=description,
        deps=[dg.AssetKey(d) for d in deps],
        **catalog_labels(group),
    )


def extract_asset(
    tables: Sequence[tuple[str, str]], streams: Sequence[str], group: str, deps: Sequence[str] = ()
) -> dg.AssetsDefinition:
    """An asset (or multi-asset) that runs `streams` and reports on `tables` (name, description)."""
    specs = [_spec(name, group, description, deps) for name, description in tables]

    @dg.multi_asset(name=f"extract_{tables[0][0]}", specs=specs, pool=POOL)
    def _extract(
        context: AssetExecutionContext, gecko_api: GeckoApiResource, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        names = [name for name, _description in tables]
        result, rows = run_streams(context, gecko_api, warehouse, streams, names)
        for name in names:
            yield dg.MaterializeResult(asset_key=name, metadata=table_metadata(result, name, rows[name]))

    return _extract


_API = "Synced from the inventory API"

EXTRACT_ASSETS: list[dg.AssetsDefinition] = [
    extract_asset(
        [
            (
                "account",
                f"The merchant's account (GET /accounts/current): default price list, "
                f"primary location, currency. {_API}.",
            )
        ],
        ["account"],
        "inventory",
    ),
    extract_asset(
        [("locations", f"Warehouses (stock locations), archived ones included. {_API}.")],
        ["locations"],
        "inventory",
    ),
    extract_asset(
        [("currencies", f"Currencies and exchange rates, archived ones included. {_API}.")],
        ["currencies"],
        "inventory",
    ),
    extract_asset(
        [
            (
                "price_lists",
                f"Price lists: the built-in buy/wholesale/retail (string ids) and custom ones. {_API}.",
            )
        ],
        ["price_lists"],
        "inventory",
    ),
    extract_asset(
        [("tax_types", f"Tax types with their effective rate. {_API}.")], ["tax_types"], "inventory"
    ),
    extract_asset(
        [
            (
                "products",
                f"Products of every status (active, disabled, archived). {_API} with "
                "include=variants on a full sync.",
            ),
            (
                "variants",
                "Variants of every status with stock totals, prices and flags; a full sync gets them "
                "side-loaded with their products, an incremental one by updated_at_min.",
            ),
            (
                "variant_locations",
                "Stock per variant and location (on hand, committed, incoming, available), "
                "from each variant's locations[]; replaced whenever its variant is loaded.",
            ),
            (
                "variant_prices",
                "A variant's price in each price list (price_list_id is a string), from its "
                "variant_prices[]; replaced whenever its variant is loaded.",
            ),
        ],
        ["products", "variants"],
        "inventory",
        deps=["locations", "price_lists"],
    ),
    extract_asset([("companies", f"Customers and suppliers, every status. {_API}.")], ["companies"], "sales"),
    extract_asset(
        [("addresses", f"Company addresses, archived ones included. {_API}.")],
        ["addresses"],
        "sales",
        deps=["companies"],
    ),
    extract_asset(
        [("orders", f"Sales orders of every status (draft to fulfilled, void, deleted). {_API}.")],
        ["orders"],
        "sales",
        deps=["companies", "addresses"],
    ),
    extract_asset(
        [
            (
                "order_line_items",
                "Order lines, freeform shipping lines included, fetched on their own "
                "endpoint by updated_at_min (not one request per order).",
            )
        ],
        ["order_line_items"],
        "sales",
        deps=["orders", "variants"],
    ),
    extract_asset(
        [
            ("fulfillments", f"Shipments (packed, fulfilled, void, deleted). {_API}."),
            ("fulfillment_line_items", "Lines of each shipment, side-loaded with the fulfillments."),
        ],
        ["fulfillments"],
        "sales",
        deps=["orders", "order_line_items"],
    ),
    extract_asset(
        [
            ("fulfillment_returns", f"Customer returns (returning, received, void, deleted). {_API}."),
            ("fulfillment_return_line_items", "Lines of each return, side-loaded with the returns."),
        ],
        ["fulfillment_returns"],
        "sales",
        deps=["orders", "order_line_items"],
    ),
]
