"""The stores group: each Shopify channel's catalogue and links, its stock drift, and the push of its stock
and prices (gecko_pipeline/stores/shopify: catalogue.py, links.py, drift.py, stock_push.py,
price_push.py).

One subsettable multi-asset, `shopify_stores`, with three assets per `kind: shopify` channel of the
channel file (read when the code location loads):

| asset | what a materialization does |
|---|---|
| `shopify_<channel>_links` | reads the store catalogue (bulk for a large store) into `shopify_catalogue` / `shopify_inventory_levels`, links store variants to inventory variants by SKU in `channel_product_links` |
| `shopify_<channel>_drift` | reads the store's stock levels and lists where they differ from our last push (`shopify_stock_drift`) |
| `shopify_<channel>_stock` | sends the changed prices / inventory policies / tracked flags, then the changed stock levels |

Selected together (the sync jobs) they run in that order in one step, and a catalogue read just made
serves the drift check too (no second read). The webhook refresh selects only the `_stock` assets with
`variant_ids`, so a stock move costs one targeted push. The shops' clients come from the `shopify_shops`
resource (each token read from the variable its channel's `access_token_env` names, never shown in the UI).
"""

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import dagster as dg
from pydantic import Field

from gecko_pipeline.channels.config import ChannelConfig, ChannelConfigError, load_channels
from gecko_pipeline.channels.stock import as_resolved
from gecko_pipeline.config import Settings, load_settings
from gecko_pipeline.defs.labels import POOL, catalog_labels
from gecko_pipeline.stores.shopify.catalogue import channel_targets, shop_facts
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.drift import DriftReport, check_drift, ensure_drift_table
from gecko_pipeline.stores.shopify.links import double_links, links_by_kind, problem_sample, refresh_catalogue
from gecko_pipeline.stores.shopify.price_push import VariantPushResult, push_variant_fields
from gecko_pipeline.stores.shopify.shops import ShopifyShops, shopify_channels
from gecko_pipeline.stores.shopify.stock_push import MAX_ENTRIES, StockPushResult, plan_stock, push_stock

log = logging.getLogger("gecko_pipeline.defs.stores")

GROUP = "stores"
LABELS = catalog_labels(GROUP)
STORE_OP = "shopify_stores"
# The stock push assets carry this tag: the webhook refresh job selects them by it.
PUSH_TAG = "gecko_pipeline/store_push"
PARTS = ("links", "drift", "stock")
KINDS = {"shopify", "duckdb"}
LINKS_CHECK = "one_store_variant_per_variant"
DRIFT_CHECK = "store_matches_last_push"
STOCK_CHECK = "store_levels_in_sync"


class StoreRunConfig(dg.Config):
    variant_ids: list[int] | None = Field(
        default=None, description="Push only these inventory variants (the webhook refresh); None: all."
    )
    full: bool = Field(
        default=False,
        description="Full stock push: re-read every level from the store first and write every one that "
        "differs, whatever was pushed before.",
    )
    read_mode: str = Field(
        default="auto",
        description="How catalogue and level reads run: auto (bulk above 500 variants), bulk or pages.",
    )


# --- naming ------------------------------------------------------------------------------------------


def safe_name(channel: str) -> str:
    return channel.replace("-", "_")


def asset_key(channel: str, part: str) -> dg.AssetKey:
    return dg.AssetKey(f"shopify_{safe_name(channel)}_{part}")


def store_channels(settings: Settings) -> list[ChannelConfig]:
    """The `kind: shopify` channels of the channel file the settings name (none if it cannot be read:
    the channels step fails on it at run time with the reason)."""
    try:
        found = shopify_channels(load_channels(settings.channels_file))
    except ChannelConfigError as exc:
        log.warning("no Shopify store assets: %s", exc)
        return []
    names: dict[str, str] = {}
    for channel in found:
        clash = names.setdefault(safe_name(channel.name), channel.name)
        if clash != channel.name:
            raise ChannelConfigError(
                f"channels {clash!r} and {channel.name!r} give the same asset names; rename one"
            )
    return found


def push_keys(channels: Sequence[ChannelConfig]) -> list[dg.AssetKey]:
    """The stock push asset of each Shopify channel (what the webhook refresh adds to its selection)."""
    return [asset_key(c.name, "stock") for c in channels]


def publish_keys(channels: Sequence[ChannelConfig]) -> list[dg.AssetKey]:
    """The publish asset of each channel that publishes new products (defs/store_products.py)."""
    return [asset_key(c.name, "publish") for c in channels if c.shopify and c.shopify.publish_new_products]


class StoreRefresh(NamedTuple):
    """What a webhook refresh adds for the stores: each channel's stock push and the publish of new
    products (when variants moved), and the fulfilments push (when fulfillments were re-read); empty
    without Shopify channels."""

    stock: tuple[dg.AssetKey, ...] = ()
    publish: tuple[dg.AssetKey, ...] = ()
    fulfilments: bool = False


NO_STORES = StoreRefresh()


def store_refresh(channels: Sequence[ChannelConfig]) -> StoreRefresh:
    return StoreRefresh(
        stock=tuple(push_keys(channels)), publish=tuple(publish_keys(channels)), fulfilments=bool(channels)
    )


# --- the assets ----------------------------------------------------------------------------------------

LINKS_DESCRIPTION = """Shopify channel {name!r}: the store catalogue (products, variants, inventory items with
`tracked`, `available` at the channel's Shopify locations) read into shopify_catalogue and
shopify_inventory_levels (a bulk operation for stores above 500 variants), and channel_product_links:
which store variant is which inventory variant (by SKU; problems: no SKU, SKU twice in the store, unknown
SKU, SKU on several inventory variants)."""

DRIFT_DESCRIPTION = """Shopify channel {name!r}: the store's stock levels read back and compared with what
we last pushed; every SKU and location where the store holds something else (an edit in the Shopify admin)
is listed in shopify_stock_drift. The next stock push repairs them (compare-and-set against the store's
actual value)."""

STOCK_DESCRIPTION = """Shopify channel {name!r}: prices, inventory policies and tracked flags that changed
(productVariantsBulkUpdate per product; a missing price is never sent), then the stock levels that changed
(inventorySetQuantities, 250 a call, compare-and-set with re-read and retry on a stale value, idempotency keys
from the batch content), paced by the shop's cost bucket. The webhook refresh pushes just the moved variants."""


def build_store_assets(channels: Sequence[ChannelConfig]) -> dg.AssetsDefinition:
    """The `shopify_stores` multi-asset over these Shopify channels."""
    names = [c.name for c in channels]
    specs: list[dg.AssetSpec] = []
    checks: list[dg.AssetCheckSpec] = []
    for name in names:
        links, drift, stock = (asset_key(name, part) for part in PARTS)
        specs += [
            dg.AssetSpec(
                links,
                deps=["variants", "products"],
                description=LINKS_DESCRIPTION.format(name=name),
                kinds=KINDS,
                **LABELS,
            ),
            dg.AssetSpec(
                drift, deps=[links], description=DRIFT_DESCRIPTION.format(name=name), kinds=KINDS, **LABELS
            ),
            dg.AssetSpec(
                stock,
                deps=["channel_listings", "channel_stock_levels", links, drift],
                description=STOCK_DESCRIPTION.format(name=name),
                kinds=KINDS,
                group_name=LABELS["group_name"],
                owners=LABELS["owners"],
                tags={**LABELS["tags"], PUSH_TAG: "stock"},
            ),
        ]
        checks += [
            dg.AssetCheckSpec(
                LINKS_CHECK,
                asset=links,
                description="No inventory variant is linked to two store variants of the channel.",
                blocking=False,
            ),
            dg.AssetCheckSpec(
                DRIFT_CHECK,
                asset=drift,
                description="The store holds what we last pushed at every linked item and location (warns on drift).",
                blocking=False,
            ),
            dg.AssetCheckSpec(
                STOCK_CHECK,
                asset=stock,
                description="After the push every linked level holds its target as far as we know (none refused "
                "or left stale).",
                blocking=False,
            ),
        ]

    @dg.multi_asset(
        name=STORE_OP,
        specs=specs,
        check_specs=checks,
        pool=POOL,
        can_subset=True,
        required_resource_keys={"warehouse", "channel_config", "shopify_shops"},
        description="Shopify channels: catalogue and links, drift, and the stock and price push, per channel "
        "in that order (the selected parts only).",
    )
    def shopify_stores(
        context: dg.AssetExecutionContext, config: StoreRunConfig
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from _run(context, config, names)

    return shopify_stores


def _run(
    context: dg.AssetExecutionContext, config: StoreRunConfig, names: Sequence[str]
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    selected = set(context.selected_asset_keys)
    selected_checks = {(k.asset_key, k.name) for k in context.selected_asset_check_keys}
    warehouse, channel_config = context.resources.warehouse, context.resources.channel_config
    shops: ShopifyShops = context.resources.shopify_shops
    configured = shopify_channels(channel_config.load())
    by_name = {c.name: c for c in configured}
    failures: list[str] = []
    with warehouse.connect() as con:
        resolved = {c.name: c for c in as_resolved(con, configured)}
        for name in names:
            keys = {part: asset_key(name, part) for part in PARTS}
            parts = [p for p in PARTS if keys[p] in selected]
            alone = [p for p in PARTS if keys[p] not in selected and (keys[p], _check(p)) in selected_checks]
            if not parts and not alone:
                continue
            channel = resolved.get(name)
            if channel is None:
                failures.append(f"{name}: no longer a kind: shopify channel of {channel_config.path}")
                continue
            for part in alone:  # checks re-run from the UI: of the tables as they are
                yield _check_alone(con, channel, part, keys[part])
            if not parts:
                continue
            try:
                with shops.client(by_name[name]) as client:
                    yield from _channel(context, con, client, channel, parts, keys, config, selected_checks)
            except Exception as exc:  # the other channels still go; the step fails at the end
                context.log.error(f"Shopify channel {name}: {type(exc).__name__}: {exc}")
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
    if failures:
        raise dg.Failure(description="Shopify store step failed for " + "; ".join(failures))


def _check(part: str) -> str:
    return {"links": LINKS_CHECK, "drift": DRIFT_CHECK, "stock": STOCK_CHECK}[part]


def _channel(
    context: dg.AssetExecutionContext,
    con: Any,
    client: ShopifyClient,
    channel: Any,
    parts: list[str],
    keys: dict[str, dg.AssetKey],
    config: StoreRunConfig,
    selected_checks: set[tuple[dg.AssetKey, str]],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    read = None
    if "links" in parts:
        read, counts = refresh_catalogue(client, con, channel, mode=config.read_mode)
        context.log.info(
            f"{channel.name}: {read.variants} store variants read ({read.mode}, {read.seconds} s); "
            f"{counts.linked_by_sku} linked by SKU, {counts.problem_total} problems"
        )
        problems = counts.problems or {}
        yield dg.MaterializeResult(
            asset_key=keys["links"],
            metadata={
                "dagster/row_count": dg.MetadataValue.int(counts.store_variants),
                "store variants": dg.MetadataValue.int(read.variants),
                "linked by sku": dg.MetadataValue.int(counts.linked_by_sku),
                "linked other ways": dg.MetadataValue.int(counts.linked_other),
                # How each link was made: by SKU, created by the import, published (store_products.py).
                **{
                    f"linked by {kind}": dg.MetadataValue.int(n)
                    for kind, n in links_by_kind(con, channel.name).items()
                    if kind not in ("sku", "problem")
                },
                "problems": dg.MetadataValue.int(counts.problem_total),
                **{f"problem {k}": dg.MetadataValue.int(v) for k, v in problems.items()},
                "new links": dg.MetadataValue.int(counts.new),
                "changed links": dg.MetadataValue.int(counts.changed),
                "removed links": dg.MetadataValue.int(counts.removed),
                "read mode": dg.MetadataValue.text(read.mode),
                "read seconds": dg.MetadataValue.float(read.seconds),
                "requests": dg.MetadataValue.int(read.requests),
                "cost points": dg.MetadataValue.float(read.cost_actual),
                "problem sample": dg.MetadataValue.md(_markdown(problem_sample(con, channel.name))),
            },
        )
        if (keys["links"], LINKS_CHECK) in selected_checks:
            yield _links_check(con, channel.name, keys["links"])
    if "drift" in parts:
        report = check_drift(client, con, channel, mode=config.read_mode, read=read)
        context.log.info(
            f"{channel.name}: {report.drifted} of {report.compared} pushed levels drifted "
            f"({report.drifted_skus} SKUs)"
        )
        yield dg.MaterializeResult(asset_key=keys["drift"], metadata=_drift_metadata(report))
        if (keys["drift"], DRIFT_CHECK) in selected_checks:
            yield _drift_check(report, keys["drift"])
    if "stock" in parts:
        fields = push_variant_fields(client, con, channel, variant_ids=config.variant_ids)
        stock = push_stock(client, con, channel, variant_ids=config.variant_ids, full=config.full)
        for message in [*fields.errors, *stock.errors][:20]:
            context.log.warning(f"{channel.name}: {message}")
        context.log.info(
            f"{channel.name}: {stock.sent} levels sent in {stock.mutations} mutations ({stock.unchanged} unchanged, "
            f"{stock.stale_retried} stale retried); {fields.prices_sent} prices sent, "
            f"{fields.prices_skipped_missing} missing prices skipped"
        )
        yield dg.MaterializeResult(
            asset_key=keys["stock"], metadata=_stock_metadata(fields, stock, config.variant_ids)
        )
        if (keys["stock"], STOCK_CHECK) in selected_checks:
            yield _stock_check(con, channel, keys["stock"], stock, config.variant_ids)


def _markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _drift_metadata(report: DriftReport) -> dict[str, Any]:
    return {
        "levels compared": dg.MetadataValue.int(report.compared),
        "drifted levels": dg.MetadataValue.int(report.drifted),
        "drifted skus": dg.MetadataValue.int(report.drifted_skus),
        "not stocked any more": dg.MetadataValue.int(report.missing),
        **{f"drifted at {loc}": dg.MetadataValue.int(n) for loc, n in report.by_location.items()},
        "read mode": dg.MetadataValue.text(report.read_mode or ""),
        "read seconds": dg.MetadataValue.float(report.read_seconds),
        "requests": dg.MetadataValue.int(report.requests),
        "cost points": dg.MetadataValue.float(report.cost_actual),
        "drift sample": dg.MetadataValue.md(_markdown(report.sample)),
    }


def _stock_metadata(
    fields: VariantPushResult, stock: StockPushResult, variant_ids: list[int] | None
) -> dict[str, Any]:
    return {
        "scope": dg.MetadataValue.text(
            "all variants" if variant_ids is None else f"{len(variant_ids)} variants"
        ),
        "full": dg.MetadataValue.bool(stock.full),
        "levels in scope": dg.MetadataValue.int(stock.levels),
        "sent": dg.MetadataValue.int(stock.sent),
        "skipped unchanged": dg.MetadataValue.int(stock.unchanged),
        "stale compares retried": dg.MetadataValue.int(stock.stale_retried),
        "stale unresolved": dg.MetadataValue.int(stock.stale_unresolved),
        "activated": dg.MetadataValue.int(stock.activated),
        "rejected": dg.MetadataValue.int(stock.rejected + fields.rejected),
        "untracked": dg.MetadataValue.int(stock.untracked),
        "prices sent": dg.MetadataValue.int(fields.prices_sent),
        "prices skipped (missing)": dg.MetadataValue.int(fields.prices_skipped_missing),
        "prices skipped (currency)": dg.MetadataValue.int(fields.prices_skipped_currency),
        "prices unchanged": dg.MetadataValue.int(fields.prices_unchanged),
        "policies sent": dg.MetadataValue.int(fields.policies_sent),
        "tracked flags sent": dg.MetadataValue.int(fields.tracked_sent),
        "mutations": dg.MetadataValue.int(stock.mutations + fields.mutations),
        "stock mutations": dg.MetadataValue.int(stock.mutations),
        "stock mutation floor": dg.MetadataValue.int(math.ceil(stock.sent / MAX_ENTRIES)),
        "variant mutations": dg.MetadataValue.int(fields.mutations),
        "requests": dg.MetadataValue.int(stock.requests + fields.requests),
        "cost points": dg.MetadataValue.float(stock.cost_actual + fields.cost_actual),
        "seconds": dg.MetadataValue.float(round(stock.seconds + fields.seconds, 3)),
    }


def _links_check(con: Any, channel: str, key: dg.AssetKey) -> dg.AssetCheckResult:
    doubles = double_links(con, channel)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=LINKS_CHECK,
        passed=not doubles,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(doubles)} inventory variants are linked to more than one store variant"
        if doubles
        else "every inventory variant has at most one store variant",
        metadata={
            "failures": dg.MetadataValue.int(len(doubles)),
            "sample": dg.MetadataValue.json(doubles[:10]),
        },
    )


def _drift_check(report: DriftReport, key: dg.AssetKey) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=DRIFT_CHECK,
        passed=report.drifted == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{report.drifted} levels ({report.drifted_skus} SKUs) differ from our last push; the next push "
        "repairs them"
        if report.drifted
        else f"all {report.compared} pushed levels hold what we pushed",
        metadata={
            "failures": dg.MetadataValue.int(report.drifted),
            "sample": dg.MetadataValue.json(report.sample[:10]),
        },
    )


def _out_of_sync(con: Any, channel: Any, variant_ids: list[int] | None = None) -> int:
    """Linked levels (of `variant_ids`, else all) whose target differs from what the store holds as far as
    we know."""
    _currency, primary = shop_facts(con, channel.name)
    plan_stock(con, channel, channel_targets(channel, primary), variant_ids)
    try:
        (count,) = con.execute(
            "SELECT count(*) FROM _stock_plan WHERE tracked AND belief IS DISTINCT FROM quantity"
        ).fetchone() or (0,)
    finally:
        for temp in ("_stock_plan", "_stock_targets", "_stock_scope"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    return int(count)


def _stock_check(
    con: Any,
    channel: Any,
    key: dg.AssetKey,
    stock: StockPushResult | None,
    variant_ids: list[int] | None = None,
) -> dg.AssetCheckResult:
    # A targeted push (the webhook path) is checked on its variants: the whole channel costs a plan of
    # every linked level (about 0.5 s at 100,000 variants x 5 locations); a sync's push checks them all.
    behind = _out_of_sync(con, channel, variant_ids)
    problems = (stock.rejected + stock.stale_unresolved) if stock else 0
    scope = (
        "linked levels" if variant_ids is None else f"linked levels of the {len(variant_ids)} variants pushed"
    )
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=STOCK_CHECK,
        passed=behind == 0 and problems == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{behind} {scope} differ from their target as far as we know"
        + (f"; {problems} entries refused or left stale by the push" if problems else ""),
        metadata={
            "failures": dg.MetadataValue.int(behind),
            "refused or stale": dg.MetadataValue.int(problems),
            "sample": dg.MetadataValue.json((stock.errors if stock else [])[:10]),
        },
    )


def _check_alone(con: Any, channel: Any, part: str, key: dg.AssetKey) -> dg.AssetCheckResult:
    if part == "links":
        return _links_check(con, channel.name, key)
    if part == "stock":
        return _stock_check(con, channel, key, None)
    ensure_drift_table(con)
    rows = con.execute(
        "SELECT count(*), count(DISTINCT coalesce(sku, store_inventory_item_id)) FROM shopify_stock_drift "
        "WHERE channel = $1",
        [channel.name],
    ).fetchone() or (0, 0)
    report = DriftReport(channel=channel.name, drifted=int(rows[0]), drifted_skus=int(rows[1]))
    return _drift_check(report, key)


def with_stores(build: Callable[[list[ChannelConfig]], list[dg.AssetsDefinition]]) -> dg.Definitions:
    """The assets `build` makes for the channel file's Shopify channels; none when it has none (a
    deployment without stores shows no store assets and its syncs run no store steps). The channel file
    is read when the code location loads."""
    channels = store_channels(load_settings())
    return dg.Definitions(assets=build(channels)) if channels else dg.Definitions()


@dg.definitions
def store_definitions() -> dg.Definitions:
    return with_stores(lambda channels: [build_store_assets(channels)])
