"""The Shopify commands: `gecko-pipeline shopify-import-orders` (onboard a store's order history);
`shopify-import-products` (its catalogue, linked by SKU or created in the inventory system) and
`shopify-publish-products` (new inventory products out to the store now); `shopify-fulfilments
list|retry` and `shopify-voids list|cancel|dismiss` (what a person does with fulfilments the push left for
them and with sales orders voided while their store order is open; docs/shopify.md, "Fulfilments out")."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from gecko_pipeline import ops_db
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import ChannelConfig, ResolvedChannel, load_channels
from gecko_pipeline.channels.stock import as_resolved
from gecko_pipeline.config import Settings, load_settings
from gecko_pipeline.stores.shopify import fulfilment_ledger as fl
from gecko_pipeline.stores.shopify.backfill import backfill_orders
from gecko_pipeline.stores.shopify.errors import ShopifyError
from gecko_pipeline.stores.shopify.fulfilments import (
    CANCEL_REASONS,
    CancelRequest,
    cancel_store_order,
    dismiss_void,
)
from gecko_pipeline.stores.shopify.product_import import import_products, problem_items
from gecko_pipeline.stores.shopify.product_publish import publish_products
from gecko_pipeline.stores.shopify.shops import ShopifyShops, shopify_channels, shopify_client
from gecko_pipeline.warehouse import db

NEEDS_A_PERSON = ("attention", "failed", "waiting", "sending")


def _import_orders(args: argparse.Namespace) -> int:
    settings = load_settings()
    channel = _channel(args.channel, settings)
    if channel is None:
        return 2
    con = ops_db.connect(settings.ops_path)
    try:
        with shopify_client(channel, settings) as client:
            result = backfill_orders(client, con, channel, since=args.since)
    finally:
        con.close()
    print(
        f"{args.channel}: {result.stored} order(s) stored in the inbox from {result.orders_read} read "
        f"({result.requests} requests, {result.cost_actual:g} cost points, {result.throttled} throttled); "
        f"watermark {result.watermark.updated_at}. order_inbox_sensor pushes them as sales orders."
    )
    return 0


def _channel(name: str, settings: Settings) -> ChannelConfig | None:
    """The `kind: shopify` channel of that name, or None after saying which ones there are."""
    channels = {c.name: c for c in shopify_channels(load_channels(settings.channels_file))}
    if name not in channels:
        known = ", ".join(sorted(channels)) or "none"
        print(
            f"error: no kind: shopify channel {name!r} in the channel file (Shopify channels: {known})",
            file=sys.stderr,
        )
        return None
    return channels[name]


@contextmanager
def _warehouse_with(
    channel: ChannelConfig, settings: Settings
) -> Iterator[tuple[duckdb.DuckDBPyConnection, ResolvedChannel]]:
    """The warehouse and the channel resolved against it, closed when the block ends. The warehouse allows
    one writing process: run the products commands while no sync step holds it."""
    con = db.connect(settings.warehouse_path)
    try:
        (resolved,) = as_resolved(con, [channel])
        yield con, resolved
    finally:
        con.close()


def _import_products(args: argparse.Namespace) -> int:
    settings = load_settings()
    channel = _channel(args.channel, settings)
    if channel is None:
        return 2
    with (
        _warehouse_with(channel, settings) as (con, resolved),
        shopify_client(channel, settings) as client,
        GeckoClient.from_settings(settings) as gecko,
    ):
        result = import_products(client, gecko, con, resolved, dry_run=args.dry_run)
    verb = "would create" if result.dry_run else "created"
    made = (
        (result.products_to_create, result.variants_to_create)
        if result.dry_run
        else (result.products_created, result.variants_created)
    )
    print(
        f"{args.channel}: {result.store_variants} store variants in {result.store_products} products; "
        f"{result.linked_by_sku} linked by SKU, {result.already_linked} linked before; {verb} {made[0]} products "
        f"and {made[1]} variants; {result.recovered} found after an interrupted run; "
        f"{result.problem_total} problems ({result.gecko_requests} inventory API requests, "
        f"{result.shopify_requests} Shopify requests, {float(result.shopify_cost):g} cost points, {result.seconds} s)"
    )
    if args.dry_run:
        for item in result.items:
            if item.action == "create":
                print(f"  create  {item.sku}  ({item.title}; store variant {item.store_variant_id})")
            elif item.action == "linked_by_sku":
                print(
                    f"  link    {item.sku}  -> inventory variant {item.variant_id} ({item.store_variant_id})"
                )
    for row in problem_items(result):
        print(
            f"  {row['action']}  {row['sku'] or '-'}  ({row['title']}; {row['store_variant_id']}): {row['detail']}"
        )
    return 0


def _publish_products(args: argparse.Namespace) -> int:
    settings = load_settings()
    channel = _channel(args.channel, settings)
    if channel is None:
        return 2
    with _warehouse_with(channel, settings) as (con, resolved), shopify_client(channel, settings) as client:
        result = publish_products(client, con, resolved)
    if not result.enabled:
        print(f"{args.channel}: publish_new_products is not true in the channel file: nothing published")
        return 0
    print(
        f"{args.channel}: {result.candidates} new variants; {result.products_published} products and "
        f"{result.variants_published} variants published, {result.recovered} found after an interrupted run, "
        f"{result.unpublished} archived, {result.republished} back on sale; {result.problem_total} problems"
        + (
            " (baseline recorded now: only products created from now on are published)"
            if result.baseline_set
            else ""
        )
    )
    for item in result.items:
        if item.action in result.problems:
            print(f"  {item.action}  {item.sku}  (variant {item.variant_id}): {item.detail}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "shopify-import-orders",
        help="import a Shopify channel's orders updated since a date into the order inbox",
        description="Reads the store's orders updated since --since (or its watermark) into ops.sqlite; "
        "order_inbox_sensor then makes each one a sales order exactly once, as with webhooks.",
    )
    parser.add_argument("--channel", required=True, help="the kind: shopify channel's name")
    parser.add_argument(
        "--since", default=None, help="ISO date or time, e.g. 2026-09-01 (default: the watermark)"
    )
    parser.set_defaults(func=_import_orders)

    fulfilments = subparsers.add_parser(
        "shopify-fulfilments", help="fulfilments of Shopify orders the push left for a person"
    )
    actions = fulfilments.add_subparsers(dest="fulfilments_command", required=True)
    listing = actions.add_parser("list", help="fulfilments needing attention, failing or waiting")
    listing.add_argument("--all", action="store_true", help="every fulfilment the ledger holds")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(func=_list_fulfilments)
    retry = actions.add_parser("retry", help="plan and send a fulfilment again on the next pass")
    retry.add_argument("fulfillment_id", type=int, help="the inventory fulfillment id")
    retry.set_defaults(func=_retry)

    voids = subparsers.add_parser(
        "shopify-voids", help="sales orders voided in the inventory system while their store order is open"
    )
    void_actions = voids.add_subparsers(dest="voids_command", required=True)
    void_list = void_actions.add_parser("list", help="flagged store orders")
    void_list.add_argument("--all", action="store_true", help="also cancelled, dismissed and resolved ones")
    void_list.set_defaults(func=_list_voids)
    cancel = void_actions.add_parser("cancel", help="cancel the store order in Shopify (once)")
    cancel.add_argument("channel")
    cancel.add_argument("order_id", help="the Shopify order id")
    cancel.add_argument("--reason", default="OTHER", choices=CANCEL_REASONS)
    cancel.add_argument("--refund", action="store_true", help="refund the payment to its original method")
    cancel.add_argument(
        "--no-restock", action="store_true", help="do not put the units back in Shopify stock"
    )
    cancel.add_argument("--notify-customer", action="store_true", help="Shopify e-mails the customer")
    cancel.add_argument("--note", default=None, help="staff note on the cancellation")
    cancel.set_defaults(func=_cancel)
    dismiss = void_actions.add_parser("dismiss", help="keep the store order as it is")
    dismiss.add_argument("channel")
    dismiss.add_argument("order_id", help="the Shopify order id")
    dismiss.add_argument("--note", default=None)
    dismiss.set_defaults(func=_dismiss)

    products = subparsers.add_parser(
        "shopify-import-products",
        help="import a Shopify channel's catalogue: link each store variant by SKU or create it in the inventory system",
        description="Onboarding a store: reads its catalogue, links every store variant to the inventory variant "
        "with its SKU, or creates the product and its variants in the inventory system exactly once; no SKU, "
        "a SKU twice in the store and refusals are listed. Needs an extract in the warehouse (run it while no "
        "sync holds warehouse.duckdb).",
    )
    products.add_argument("--channel", required=True, help="the kind: shopify channel's name")
    products.add_argument(
        "--dry-run", action="store_true", help="list what would be created and linked, write nothing"
    )
    products.set_defaults(func=_import_products)
    publish = subparsers.add_parser(
        "shopify-publish-products",
        help="publish a Shopify channel's new inventory products now (publish_new_products: true)",
        description="What the sync's publish asset does, at once: new inventory products and variants created "
        "in the store, linked and stocked; archived ones archived in the store.",
    )
    publish.add_argument("--channel", required=True, help="the kind: shopify channel's name")
    publish.set_defaults(func=_publish_products)


@contextmanager
def _ledger() -> Iterator[sqlite3.Connection]:
    """ops.sqlite with the fulfilment ledger's tables, closed when the block ends."""
    con = ops_db.connect(load_settings().ops_path)
    try:
        fl.ensure_schema(con)
        yield con
    finally:
        con.close()


def _list_fulfilments(args: argparse.Namespace) -> int:
    with _ledger() as con:
        rows = fl.all_rows(con, None if args.all else NEEDS_A_PERSON)
    for row in rows:
        if args.json:
            print(json.dumps(row.__dict__))
        else:
            why = row.reason or row.last_error or ""
            print(
                f"{row.fulfillment_id:<10} {row.state:<14} {row.channel}:{row.channel_order_id}"
                f" -> {row.shopify_fulfillment_id or '-'}  {why}"
            )
    if not args.json:
        print(f"{len(rows)} fulfilment(s)." + ("" if rows else " Nothing to look at."))
    return 0


def _retry(args: argparse.Namespace) -> int:
    try:
        with _ledger() as con:
            fl.reopen(con, args.fulfillment_id)
    except (KeyError, fl.IllegalTransition) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"fulfilment {args.fulfillment_id} is pending again: the next pass plans and sends it.")
    return 0


def _list_voids(args: argparse.Namespace) -> int:
    with _ledger() as con:
        rows = fl.voids(con, None if args.all else ("flagged", "cancelling"))
    for row in rows:
        print(f"{row.channel}:{row.channel_order_id:<16} {row.state:<11} {row.flagged_at}\n    {row.reason}")
    print(f"{len(rows)} store order(s)." + ("" if rows else " Nothing to look at."))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    settings = load_settings()
    channel = _channel(args.channel, settings)
    if channel is None:
        return 1
    request = CancelRequest(
        reason=args.reason,
        refund=args.refund,
        restock=not args.no_restock,
        notify_customer=args.notify_customer,
        staff_note=args.note,
    )
    con = ops_db.connect(settings.ops_path)
    try:
        with ShopifyShops.from_settings(settings).client(channel) as client:
            cancel_store_order(client, con, channel.name, args.order_id, request)
    except (KeyError, ShopifyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(f"store order {args.channel}:{args.order_id} is cancelled in Shopify.")
    return 0


def _dismiss(args: argparse.Namespace) -> int:
    try:
        with _ledger() as con:
            dismiss_void(con, args.channel, args.order_id, args.note)
    except KeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"store order {args.channel}:{args.order_id} stays as it is (flag dismissed).")
    return 0
