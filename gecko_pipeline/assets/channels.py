"""Dagster assets of the channels group: channel stock, listings, feeds, and their checks.

`channel_listings` and `channel_stock_levels` come from one SQL pass (a multi-asset); `channel_feeds`
writes each channel's files and the changes since its last feed. Every step writes warehouse.duckdb,
so all of them (checks included: DuckDB locks the file for any other process) run in the
`duckdb_writer` pool.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import AssetCheckExecutionContext, AssetExecutionContext  # real classes: Dagster inspects them

from gecko_pipeline.assets.catalog import catalog_labels
from gecko_pipeline.channels import checks
from gecko_pipeline.channels.feeds import write_feeds
from gecko_pipeline.channels.resource import ChannelConfigResource
from gecko_pipeline.channels.stock import compute_channel_stock, listing_summary, lowest_stock_preview
from gecko_pipeline.warehouse.counts import table_row_counts
from gecko_pipeline.warehouse.resource import WarehouseResource

LABELS = catalog_labels("channels")
POOL = "duckdb_writer"

# The extract tables the rule reads (asset keys = table names).
STOCK_INPUTS = [
    "account",
    "locations",
    "currencies",
    "price_lists",
    "products",
    "variants",
    "variant_locations",
    "variant_prices",
]

LISTINGS_DESCRIPTION = """One row per channel and variant: SKU, published quantity (null when stock is
untracked), inventory policy (deny / continue), price and currency from the channel's price list, and
the reason for the quantity (in_stock, buffer, capped, backorder, out_of_stock, untracked,
not_sellable). Computed in DuckDB SQL from the channel file (GECKO_CHANNELS_FILE) and the warehouse."""

STOCK_LEVELS_DESCRIPTION = """For channels that take stock per location (per_location: true) only: one row
per channel, variant and channel location: on hand, committed, available (on hand - committed, a null
committed counts 0) and the location's share of the channel's published quantity, handed out in the
channel's location priority order. A channel without per-location stock publishes one total (its
channel_listings row) and has no rows here."""

FEEDS_DESCRIPTION = """Per channel, under <GECKO_DATA_DIR>/feeds/<channel>/: listings.csv and
listings.json (what a store importer reads: always current, replaced atomically; only the rows that
moved are re-rendered and spliced in) and changes-latest.json (plus a timestamped copy when something
moved): only the listings whose published fields changed since the last feed."""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "channel_listings",
            deps=STOCK_INPUTS,
            description=LISTINGS_DESCRIPTION,
            kinds={"duckdb", "sql"},
            **LABELS,
        ),
        dg.AssetSpec(
            "channel_stock_levels",
            deps=STOCK_INPUTS,
            description=STOCK_LEVELS_DESCRIPTION,
            kinds={"duckdb", "sql"},
            **LABELS,
        ),
    ],
    name="channel_stock",
    description="Recomputes channel listings and per-location channel stock in one SQL pass.",
    pool=POOL,
)
def channel_stock(
    context: AssetExecutionContext, warehouse: WarehouseResource, channel_config: ChannelConfigResource
) -> Iterator[dg.MaterializeResult]:
    channels = channel_config.load()
    with warehouse.connect() as con:
        result = compute_channel_stock(con, channels)
        summary = listing_summary(con)
        preview = lowest_stock_preview(con)
        rows = table_row_counts(con, ["channel_listings", "channel_stock_levels"])
    context.log.info(
        f"channel stock for {', '.join(result['channels'])}: {result['variants_recomputed']} variants recomputed, "
        f"{result['listings_changed']} listings and {result['stock_levels_changed']} stock levels changed "
        f"in {result['seconds']} s"
    )
    totals = {
        key: sum(int(row[key]) for row in summary)
        for key in ("listed", "out_of_stock", "backordered", "missing_prices", "untracked", "capped")
    }
    per_channel: dict[str, Any] = {}
    for row in summary:
        for key in ("listed", "out_of_stock", "backordered", "missing_prices"):
            per_channel[f"{row['channel']} {key.replace('_', ' ')}"] = dg.MetadataValue.int(int(row[key]))
    yield dg.MaterializeResult(
        asset_key="channel_listings",
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows["channel_listings"]),
            "rows changed": dg.MetadataValue.int(result["listings_changed"]),
            "channels": dg.MetadataValue.int(len(result["channels"])),
            "listed": dg.MetadataValue.int(totals["listed"]),
            "out of stock": dg.MetadataValue.int(totals["out_of_stock"]),
            "backordered": dg.MetadataValue.int(totals["backordered"]),
            "missing prices": dg.MetadataValue.int(totals["missing_prices"]),
            "untracked": dg.MetadataValue.int(totals["untracked"]),
            "capped by max_online": dg.MetadataValue.int(totals["capped"]),
            **per_channel,
            "per channel": dg.MetadataValue.md(_summary_markdown(summary)),
            "lowest stock": dg.MetadataValue.md(preview),
            "duckdb seconds": dg.MetadataValue.float(float(result["seconds"])),
            "channel file": dg.MetadataValue.path(str(channel_config.path)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="channel_stock_levels",
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows["channel_stock_levels"]),
            "rows changed": dg.MetadataValue.int(result["stock_levels_changed"]),
            "duckdb seconds": dg.MetadataValue.float(float(result["seconds"])),
        },
    )


def _summary_markdown(summary: list[dict[str, Any]]) -> str:
    header = (
        "| channel | listed | out of stock | backordered | untracked | capped | missing prices | not listed |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r['channel']} | {r['listed']} | {r['out_of_stock']} | {r['backordered']} | {r['untracked']} | "
        f"{r['capped']} | {r['missing_prices']} | {r['not_listed']} |"
        for r in summary
    ]
    return "\n".join([header, *lines])


@dg.asset(
    key="channel_feeds",
    deps=["channel_listings", "channel_stock_levels"],
    description=FEEDS_DESCRIPTION,
    kinds={"csv", "json", "duckdb"},
    pool=POOL,
    **LABELS,
)
def channel_feeds(
    context: AssetExecutionContext, warehouse: WarehouseResource, channel_config: ChannelConfigResource
) -> dg.MaterializeResult:
    channels = channel_config.load()
    feeds_dir = channel_config.feeds_path(warehouse.warehouse_path)
    with warehouse.connect() as con:
        result = write_feeds(con, channels, feeds_dir)
    metadata: dict[str, Any] = {
        "feeds folder": dg.MetadataValue.path(str(feeds_dir)),
        "rows": dg.MetadataValue.int(sum(c["rows"] for c in result["channels"].values())),
        "changes": dg.MetadataValue.int(sum(c["changes"] for c in result["channels"].values())),
    }
    for name, counts in result["channels"].items():
        context.log.info(
            f"feed {name}: {counts['rows']} rows, {counts['changes']} changes "
            f"({counts['added']} added, {counts['updated']} updated, {counts['removed']} removed); "
            f"files {counts['mode']}: {counts['why']}"
        )
        metadata[f"{name} rows"] = dg.MetadataValue.int(counts["rows"])
        metadata[f"{name} changes"] = dg.MetadataValue.int(counts["changes"])
    return dg.MaterializeResult(metadata=metadata)


# check name -> (asset, the query, severity). Descriptions come from the query's outcome.
CHECKS = {
    "no_negative_quantity": ("channel_listings", checks.no_negative_quantity, dg.AssetCheckSeverity.ERROR),
    "quantity_within_max_online": ("channel_listings", checks.within_max_online, dg.AssetCheckSeverity.ERROR),
    # Sandbox and real accounts have variants without a price in some lists: flag them, do not fail.
    "prices_present": ("channel_listings", checks.prices_present, dg.AssetCheckSeverity.WARN),
    "keys_unique": ("channel_listings", checks.keys_unique, dg.AssetCheckSeverity.ERROR),
    # The API does not enforce unique SKUs: flag what an importer would trip over, do not block the feed.
    "skus_usable": ("channel_listings", checks.skus_usable, dg.AssetCheckSeverity.WARN),
    "location_shares_add_up": ("channel_stock_levels", checks.shares_add_up, dg.AssetCheckSeverity.ERROR),
}


def outcome_result(
    outcome: checks.CheckOutcome, severity: dg.AssetCheckSeverity, **keys: Any
) -> dg.AssetCheckResult:
    """A check's outcome as Dagster shows it: how many failed and a few of them."""
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={
            "failures": dg.MetadataValue.int(outcome.failures),
            "sample": dg.MetadataValue.json(outcome.sample),
        },
        **keys,
    )


@dg.multi_asset_check(
    specs=[
        # A broken invariant blocks what comes after (the feeds): a store never gets a bad quantity.
        dg.AssetCheckSpec(
            name,
            asset=asset,
            description=checks.DESCRIPTIONS[fn.__name__],
            blocking=severity == dg.AssetCheckSeverity.ERROR,
        )
        for name, (asset, fn, severity) in CHECKS.items()
    ],
    name="channel_checks",
    description="Checks of channel listings and per-location channel stock.",
    can_subset=True,
    pool=POOL,
)
def channel_checks(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    selected = {key.name for key in context.selected_asset_check_keys}
    with warehouse.connect() as con:
        for name, (asset, fn, severity) in CHECKS.items():
            if name not in selected:
                continue
            yield outcome_result(fn(con), severity, check_name=name, asset_key=asset)


@dg.asset_check(
    asset=channel_feeds,
    name="feeds_match_listings",
    description=checks.DESCRIPTIONS["feeds_match_listings"],
    blocking=False,
    pool=POOL,  # it opens warehouse.duckdb
)
def feeds_match_listings(
    warehouse: WarehouseResource, channel_config: ChannelConfigResource
) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        outcome = checks.feeds_match_listings(con, channel_config.feeds_path(warehouse.warehouse_path))
    return outcome_result(outcome, dg.AssetCheckSeverity.ERROR)


CHANNEL_ASSETS = [channel_stock, channel_feeds]
CHANNEL_CHECKS = [channel_checks, feeds_match_listings]
