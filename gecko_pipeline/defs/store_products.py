"""Products in and out of the Shopify stores (gecko_pipeline/stores/shopify: product_import.py,
product_publish.py), in the `stores` group.

One subsettable multi-asset, `shopify_store_products`, with per `kind: shopify` channel of the channel
file (read when the code location loads):

| asset | what a materialization does | in which jobs |
|---|---|---|
| `shopify_<channel>_import` | onboarding: reads the store's catalogue, links each store variant by SKU or creates it in the inventory system exactly once (a dry run that lists what would be done unless the run config says `dry_run: false`) | none: materialize it from the UI, or `gecko-pipeline shopify-import-products` |
| `shopify_<channel>_publish` (channels with `publish_new_products: true`) | new inventory products and variants created in the store, linked, given their stock; archived ones archived there | the sync jobs; the webhook refresh (`product.create`, `variant.create`) |

Tags: `gecko_pipeline/store_products` = `import` or `publish`; the sync jobs leave the import out by it
(defs/schedules.py), the webhook refresh selects the publish by it (defs/webhooks.py). The links asset's
counts by `linked_by` and its one-store-variant-per-variant check are on `shopify_<channel>_links`
(defs/stores.py). The store clients come from the `shopify_shops` resource.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.channels.stock import as_resolved
from gecko_pipeline.defs.labels import POOL, catalog_labels
from gecko_pipeline.defs.resources import ChannelConfigResource, GeckoApiResource, WarehouseResource
from gecko_pipeline.defs.stores import asset_key, with_stores
from gecko_pipeline.stores.shopify.links import links_by_kind
from gecko_pipeline.stores.shopify.product_import import (
    ImportResult,
    import_products,
    ledger_counts,
    problem_items,
)
from gecko_pipeline.stores.shopify.product_publish import PublishResult, publish_products
from gecko_pipeline.stores.shopify.shops import ShopifyShops, shopify_channels

GROUP = "stores"
LABELS = catalog_labels(GROUP)
OP_NAME = "shopify_store_products"
TAG = "gecko_pipeline/store_products"
KINDS = {"shopify", "duckdb"}
IMPORT_CHECK = "import_refused_nothing"
PUBLISH_CHECK = "publish_refused_nothing"


class StoreProductsConfig(dg.Config):
    dry_run: bool = Field(
        default=True,
        description="Import: list what would be created and linked; nothing is written to the inventory system "
        'or the links. On by default, so that "Materialize all" in the UI never creates products by '
        "accident: set it to false for the import itself.",
    )
    variant_ids: list[int] | None = Field(
        default=None,
        description="Publish: consider only these inventory variants (the webhook refresh); None: all.",
    )


def import_key(channel: str) -> dg.AssetKey:
    return asset_key(channel, "import")


def publish_key(channel: str) -> dg.AssetKey:
    return asset_key(channel, "publish")


IMPORT_DESCRIPTION = """Shopify channel {name!r}, onboarding: the store's catalogue (one bulk operation) into the
inventory system. Each store variant is linked to the inventory variant with its SKU, or its product and
variants are created (name, options, SKU, barcode, weight, price in the channel's price list) exactly once
(import ledger shopify_import_ledger, Idempotency-Key, look-up before a re-post) and linked as `created`.
No SKU, a SKU twice in the store, a SKU on several inventory variants, an archived store product and a
422 from the inventory system are reported per item. Not in any job: materialize it; by default it is a dry
run that only lists (run config `dry_run: false` imports)."""

PUBLISH_DESCRIPTION = """Shopify channel {name!r}: new inventory products and variants (created after publishing
was turned on) created in the store with productSet (new variants of a published product with
productVariantsBulkCreate), linked as `published`, given their stock at the mapped locations; a published
product archived in the inventory system is archived in the store. Exactly once (shopify_publish_ledger,
look-up by SKU and handle after a crash)."""


def build_store_product_assets(channels: Sequence[ChannelConfig]) -> dg.AssetsDefinition:
    specs: list[dg.AssetSpec] = []
    checks: list[dg.AssetCheckSpec] = []
    for channel in channels:
        assert channel.shopify is not None
        name = channel.name
        specs.append(
            dg.AssetSpec(
                import_key(name),
                deps=[asset_key(name, "links"), "variants", "products"],
                description=IMPORT_DESCRIPTION.format(name=name),
                kinds=KINDS,
                group_name=LABELS["group_name"],
                owners=LABELS["owners"],
                tags={**LABELS["tags"], TAG: "import"},
            )
        )
        checks.append(
            dg.AssetCheckSpec(
                IMPORT_CHECK,
                asset=import_key(name),
                description="The inventory system refused no product or variant of the import (warns with the "
                "reasons).",
                blocking=False,
            )
        )
        if channel.shopify.publish_new_products:
            specs.append(
                dg.AssetSpec(
                    publish_key(name),
                    deps=[asset_key(name, "links"), "channel_listings", "channel_stock_levels"],
                    description=PUBLISH_DESCRIPTION.format(name=name),
                    kinds=KINDS,
                    group_name=LABELS["group_name"],
                    owners=LABELS["owners"],
                    tags={**LABELS["tags"], TAG: "publish"},
                )
            )
            checks.append(
                dg.AssetCheckSpec(
                    PUBLISH_CHECK,
                    asset=publish_key(name),
                    description="Every new inventory variant in scope was published (none refused by the store, "
                    "left without a price, an unambiguous SKU or within the store's limits).",
                    blocking=False,
                )
            )
    names = [c.name for c in channels]

    @dg.multi_asset(
        name=OP_NAME,
        specs=specs,
        check_specs=checks,
        pool=POOL,
        can_subset=True,
        description="Shopify channels: the catalogue import (onboarding) and the publish of new products, per "
        "channel (the selected parts only).",
    )
    def shopify_store_products(
        context: dg.AssetExecutionContext,
        config: StoreProductsConfig,
        warehouse: WarehouseResource,
        channel_config: ChannelConfigResource,
        gecko_api: GeckoApiResource,
        shopify_shops: dg.ResourceParam[ShopifyShops],
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from _run(context, config, warehouse, channel_config, gecko_api, shopify_shops, names)

    return shopify_store_products


def _run(
    context: dg.AssetExecutionContext,
    config: StoreProductsConfig,
    warehouse: WarehouseResource,
    channel_config: ChannelConfigResource,
    gecko_api: GeckoApiResource,
    shops: ShopifyShops,
    names: Sequence[str],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    selected = set(context.selected_asset_keys)
    selected_checks = {(k.asset_key, k.name) for k in context.selected_asset_check_keys}
    configured = {c.name: c for c in shopify_channels(channel_config.load())}
    failures: list[str] = []
    with warehouse.connect() as con:
        for name in names:
            wants_import, wants_publish = import_key(name) in selected, publish_key(name) in selected
            if not (wants_import or wants_publish):
                continue
            if name not in configured:
                failures.append(f"{name}: no longer a kind: shopify channel of {channel_config.path}")
                continue
            try:
                (channel,) = as_resolved(con, [configured[name]])
                with shops.client(configured[name]) as client:
                    if wants_import:
                        with gecko_api.get_client() as gecko:
                            result = import_products(client, gecko, con, channel, dry_run=config.dry_run)
                        context.log.info(_import_line(result))
                        yield dg.MaterializeResult(
                            asset_key=import_key(name), metadata=import_metadata(con, result)
                        )
                        if (import_key(name), IMPORT_CHECK) in selected_checks:
                            yield _import_check(result, import_key(name))
                    if wants_publish:
                        published = publish_products(client, con, channel, variant_ids=config.variant_ids)
                        context.log.info(_publish_line(published))
                        yield dg.MaterializeResult(
                            asset_key=publish_key(name), metadata=publish_metadata(con, published)
                        )
                        if (publish_key(name), PUBLISH_CHECK) in selected_checks:
                            yield _publish_check(published, publish_key(name))
            except Exception as exc:  # the other channels still go; the step fails at the end
                context.log.error(f"Shopify channel {name}: {type(exc).__name__}: {exc}")
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
    if failures:
        raise dg.Failure(description="Shopify products step failed for " + "; ".join(failures))


def _import_line(result: ImportResult) -> str:
    verb = "would create" if result.dry_run else "created"
    return (
        f"{result.channel}: {result.store_variants} store variants; {result.linked_by_sku} linked by SKU, "
        f"{result.already_linked} linked before; {verb} {result.products_to_create} products and "
        f"{result.variants_to_create} variants; {result.problem_total} problems"
    )


def _publish_line(result: PublishResult) -> str:
    if not result.enabled:
        return f"{result.channel}: publish_new_products is off"
    return (
        f"{result.channel}: {result.candidates} new variants; {result.products_published} products and "
        f"{result.variants_published} variants published, {result.recovered} recovered, {result.unpublished} "
        f"archived, {result.republished} back on sale; {result.problem_total} problems"
    )


def _md(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def import_metadata(con: Any, result: ImportResult) -> dict[str, Any]:
    sample = [
        {k: row[k] for k in ("store_variant_id", "sku", "title", "action", "detail")}
        for row in problem_items(result, limit=20)
    ]
    planned = [
        {"store_variant_id": i.store_variant_id, "sku": i.sku, "title": i.title, "action": i.action}
        for i in result.items
        if i.action in ("create", "created")
    ][:20]
    links = links_by_kind(con, result.channel)
    return {
        "dry run": dg.MetadataValue.bool(result.dry_run),
        "store products": dg.MetadataValue.int(result.store_products),
        "store variants": dg.MetadataValue.int(result.store_variants),
        "linked by sku": dg.MetadataValue.int(result.linked_by_sku),
        "linked before": dg.MetadataValue.int(result.already_linked),
        "products to create": dg.MetadataValue.int(result.products_to_create),
        "variants to create": dg.MetadataValue.int(result.variants_to_create),
        "products created": dg.MetadataValue.int(result.products_created),
        "variants created": dg.MetadataValue.int(result.variants_created),
        "recovered after a lost answer": dg.MetadataValue.int(result.recovered),
        "create requests": dg.MetadataValue.int(result.posts),
        "problems": dg.MetadataValue.int(result.problem_total),
        **{f"problem {k}": dg.MetadataValue.int(v) for k, v in result.problems.items()},
        **{f"links {k}": dg.MetadataValue.int(v) for k, v in links.items()},
        **{f"ledger {k}": dg.MetadataValue.int(v) for k, v in ledger_counts(con, result.channel).items()},
        "inventory API requests": dg.MetadataValue.int(result.gecko_requests),
        "shopify requests": dg.MetadataValue.int(result.shopify_requests),
        "shopify cost points": dg.MetadataValue.float(float(result.shopify_cost)),
        "seconds": dg.MetadataValue.float(result.seconds),
        "problem sample": dg.MetadataValue.md(_md(sample)),
        "creates (sample)": dg.MetadataValue.md(_md(planned)),
    }


def publish_metadata(con: Any, result: PublishResult) -> dict[str, Any]:
    problems = [
        {"variant_id": i.variant_id, "sku": i.sku, "problem": i.action, "detail": i.detail}
        for i in result.items
        if i.action in result.problems
    ][:20]
    return {
        "enabled": dg.MetadataValue.bool(result.enabled),
        "baseline set now": dg.MetadataValue.bool(result.baseline_set),
        "new variants": dg.MetadataValue.int(result.candidates),
        "products published": dg.MetadataValue.int(result.products_published),
        "variants published": dg.MetadataValue.int(result.variants_published),
        "recovered after a lost answer": dg.MetadataValue.int(result.recovered),
        "archived in the store": dg.MetadataValue.int(result.unpublished),
        "back on sale": dg.MetadataValue.int(result.republished),
        "stock levels sent": dg.MetadataValue.int(result.stock.sent if result.stock else 0),
        "mutations": dg.MetadataValue.int(result.mutations + (result.stock.mutations if result.stock else 0)),
        "problems": dg.MetadataValue.int(result.problem_total),
        **{f"problem {k}": dg.MetadataValue.int(v) for k, v in result.problems.items()},
        **{f"links {k}": dg.MetadataValue.int(v) for k, v in links_by_kind(con, result.channel).items()},
        "requests": dg.MetadataValue.int(result.requests),
        "cost points": dg.MetadataValue.float(float(result.cost_actual)),
        "seconds": dg.MetadataValue.float(result.seconds),
        "problem sample": dg.MetadataValue.md(_md(problems)),
    }


def _import_check(result: ImportResult, key: dg.AssetKey) -> dg.AssetCheckResult:
    refused = result.problems.get("refused", 0)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=IMPORT_CHECK,
        passed=refused == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{refused} store variants refused by the inventory system (see the problem sample)"
        if refused
        else "the inventory system refused nothing",
        metadata={
            "failures": dg.MetadataValue.int(refused),
            "sample": dg.MetadataValue.json(
                [r for r in problem_items(result) if r["action"] == "refused"][:10]
            ),
        },
    )


def _publish_check(result: PublishResult, key: dg.AssetKey) -> dg.AssetCheckResult:
    failures = result.problem_total
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=PUBLISH_CHECK,
        passed=failures == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{failures} new variants not published (see the problem sample)"
        if failures
        else "every new variant in scope is in the store",
        metadata={
            "failures": dg.MetadataValue.int(failures),
            "sample": dg.MetadataValue.json(
                [
                    {"variant_id": i.variant_id, "problem": i.action, "detail": i.detail}
                    for i in result.items
                    if i.action in result.problems
                ][:10]
            ),
        },
    )


@dg.definitions
def store_product_definitions() -> dg.Definitions:
    return with_stores(lambda channels: [build_store_product_assets(channels)])
