"""The channels group: channel listings, per-location channel stock and the feed files, as one step.

The stock rule runs as one SQL pass (gecko_pipeline/channels/stock.py); the step then checks the
invariants a store relies on and writes the feeds only when they hold, so a store never gets a bad
quantity. With `variant_ids` in the run config (the webhook refresh) only those variants are recomputed
and only their feed rows change. Every output and check is the same whichever way it ran.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.channels import checks
from gecko_pipeline.channels.feeds import write_feeds
from gecko_pipeline.channels.stock import compute_channel_stock, listing_summary, lowest_stock_preview
from gecko_pipeline.defs.labels import POOL, catalog_labels
from gecko_pipeline.defs.resources import ChannelConfigResource, WarehouseResource

LABELS = catalog_labels("channels")
CHANNEL_KEYS = [
    dg.AssetKey("channel_listings"),
    dg.AssetKey("channel_stock_levels"),
    dg.AssetKey("channel_feeds"),
]

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

# check name -> (asset, the query, severity). A failed ERROR check stops the feeds being written.
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
FEED_CHECK = "feeds_match_listings"


class ChannelScopeConfig(dg.Config):
    variant_ids: list[int] | None = Field(
        default=None, description="Recompute only these variants' rows (the webhook refresh); None: all."
    )
    full_feed: bool = Field(
        default=False,
        description="Rewrite every feed file from all rows instead of splicing in the rows that moved "
        "(the files are the same bytes either way; for an operator who wants them rebuilt).",
    )


def outcome_result(
    outcome: checks.CheckOutcome, severity: dg.AssetCheckSeverity, check_name: str, asset_key: str
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
        check_name=check_name,
        asset_key=asset_key,
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


def listings_metadata(
    result: dict[str, Any], summary: list[dict[str, Any]], preview: str, channel_file: str
) -> dict[str, Any]:
    totals = {
        key: sum(int(row[key]) for row in summary)
        for key in ("listed", "out_of_stock", "backordered", "missing_prices", "untracked", "capped")
    }
    per_channel: dict[str, Any] = {}
    for row in summary:
        for key in ("listed", "out_of_stock", "backordered", "missing_prices"):
            per_channel[f"{row['channel']} {key.replace('_', ' ')}"] = dg.MetadataValue.int(int(row[key]))
    return {
        "dagster/row_count": dg.MetadataValue.int(result["listings_rows_total"]),
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
        "rows recomputed": dg.MetadataValue.int(result["listings_rows"]),
        "rows changed": dg.MetadataValue.int(result["listings_changed"]),
        "variants recomputed": dg.MetadataValue.text(str(result["variants_recomputed"])),
        "duckdb seconds": dg.MetadataValue.float(float(result["seconds"])),
        "channel file": dg.MetadataValue.path(channel_file),
    }


@dg.multi_asset(
    name="channels",
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
        dg.AssetSpec(
            "channel_feeds",
            deps=["channel_listings", "channel_stock_levels"],
            description=FEEDS_DESCRIPTION,
            kinds={"csv", "json", "duckdb"},
            **LABELS,
        ),
    ],
    check_specs=[
        *(
            dg.AssetCheckSpec(name, asset=asset, description=checks.DESCRIPTIONS[fn.__name__], blocking=False)
            for name, (asset, fn, _severity) in CHECKS.items()
        ),
        dg.AssetCheckSpec(
            FEED_CHECK, asset="channel_feeds", description=checks.DESCRIPTIONS[FEED_CHECK], blocking=False
        ),
    ],
    pool=POOL,
    # All three assets are made together; a run may also select the checks alone.
    can_subset=True,
    description="Recomputes channel listings and per-location channel stock in one SQL pass, checks them, "
    "then writes each channel's feed files.",
)
def channels(
    context: dg.AssetExecutionContext,
    config: ChannelScopeConfig,
    warehouse: WarehouseResource,
    channel_config: ChannelConfigResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    selected_checks = {key.name for key in context.selected_asset_check_keys}
    if not context.selected_asset_keys:
        # Checks alone (re-checked from the UI): of the tables and files as they are.
        yield from _checks_alone(warehouse, channel_config, selected_checks)
        return
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    configured = channel_config.load()
    with warehouse.connect() as con:
        result = compute_channel_stock(con, configured, config.variant_ids)
        totals = con.execute(
            "SELECT (SELECT count(*) FROM channel_listings), (SELECT count(*) FROM channel_stock_levels)"
        ).fetchone() or (0, 0)
        result["listings_rows_total"], result["stock_level_rows_total"] = int(totals[0]), int(totals[1])
        summary = listing_summary(con)
        preview = lowest_stock_preview(con)
        # The invariants a store relies on are checked before any feed is written, selected or not.
        outcomes = {name: (asset, fn(con), severity) for name, (asset, fn, severity) in CHECKS.items()}
        broken = [n for n, (_, o, s) in outcomes.items() if s == dg.AssetCheckSeverity.ERROR and not o.passed]
        write = "channel_feeds" in selected and not broken
        feeds = (
            write_feeds(con, configured, channel_config.feeds_path, full=config.full_feed) if write else None
        )
        feed_outcome = checks.feeds_match_listings(con, channel_config.feeds_path)
    scope = "all variants" if config.variant_ids is None else f"{len(config.variant_ids)} variants"
    context.log.info(
        f"channel stock for {scope} of {', '.join(result['channels'])}: {result['variants_recomputed']} variants "
        f"recomputed, {result['listings_changed']} listings and {result['stock_levels_changed']} stock levels "
        f"changed in {result['seconds']} s"
    )
    if "channel_listings" in selected:
        yield dg.MaterializeResult(
            asset_key="channel_listings",
            metadata=listings_metadata(result, summary, preview, str(channel_config.path)),
        )
    if "channel_stock_levels" in selected:
        yield dg.MaterializeResult(
            asset_key="channel_stock_levels",
            metadata={
                "dagster/row_count": dg.MetadataValue.int(result["stock_level_rows_total"]),
                "rows recomputed": dg.MetadataValue.int(result["stock_level_rows"]),
                "rows changed": dg.MetadataValue.int(result["stock_levels_changed"]),
                "duckdb seconds": dg.MetadataValue.float(float(result["seconds"])),
            },
        )
    for name, (asset, outcome, severity) in outcomes.items():
        if name in selected_checks:
            yield outcome_result(outcome, severity, name, asset)
    if "channel_feeds" not in selected:
        if FEED_CHECK in selected_checks:
            yield outcome_result(feed_outcome, dg.AssetCheckSeverity.ERROR, FEED_CHECK, "channel_feeds")
        return
    if feeds is None:
        raise dg.Failure(
            description=f"feeds not written: checks {', '.join(broken)} failed (see the channel_listings checks)"
        )
    feed_metadata: dict[str, Any] = {
        "feeds folder": dg.MetadataValue.path(str(channel_config.feeds_path)),
        "rows": dg.MetadataValue.int(sum(c["rows"] for c in feeds["channels"].values())),
        "changes": dg.MetadataValue.int(sum(c["changes"] for c in feeds["channels"].values())),
    }
    for name, counts in feeds["channels"].items():
        context.log.info(
            f"feed {name}: {counts['rows']} rows, {counts['changes']} changes "
            f"({counts['added']} added, {counts['updated']} updated, {counts['removed']} removed); "
            f"files {counts['mode']}: {counts['why']}"
        )
        feed_metadata[f"{name} rows"] = dg.MetadataValue.int(counts["rows"])
        feed_metadata[f"{name} changes"] = dg.MetadataValue.int(counts["changes"])
    yield dg.MaterializeResult(asset_key="channel_feeds", metadata=feed_metadata)
    if FEED_CHECK in selected_checks:
        yield outcome_result(feed_outcome, dg.AssetCheckSeverity.ERROR, FEED_CHECK, "channel_feeds")


def _checks_alone(
    warehouse: WarehouseResource, channel_config: ChannelConfigResource, selected: set[str]
) -> Iterator[dg.AssetCheckResult]:
    with warehouse.connect() as con:
        for name, (asset, fn, severity) in CHECKS.items():
            if name in selected:
                yield outcome_result(fn(con), severity, name, asset)
        if FEED_CHECK in selected:
            outcome = checks.feeds_match_listings(con, channel_config.feeds_path)
            yield outcome_result(outcome, dg.AssetCheckSeverity.ERROR, FEED_CHECK, "channel_feeds")
