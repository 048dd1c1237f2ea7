"""`gecko-pipeline shopify-import-orders`: onboard a Shopify store's order history."""

from __future__ import annotations

import argparse

from gecko_pipeline import ops_db
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.config import load_settings
from gecko_pipeline.stores.shopify.backfill import backfill_orders
from gecko_pipeline.stores.shopify.connect import shopify_channels, shopify_client


def _import_orders(args: argparse.Namespace) -> int:
    settings = load_settings()
    channels = {c.name: c for c in shopify_channels(load_channels(settings.channels_file))}
    if args.channel not in channels:
        known = ", ".join(sorted(channels)) or "none"
        print(f"no kind: shopify channel {args.channel!r} in the channel file (Shopify channels: {known})")
        return 2
    con = ops_db.connect(settings.ops_path)
    try:
        with shopify_client(channels[args.channel], settings) as client:
            result = backfill_orders(client, con, channels[args.channel], since=args.since)
    finally:
        con.close()
    print(
        f"{args.channel}: {result.stored} order(s) stored in the inbox from {result.orders_read} read "
        f"({result.requests} requests, {result.cost_actual:g} cost points, {result.throttled} throttled); "
        f"watermark {result.watermark.updated_at}. order_inbox_sensor pushes them as sales orders."
    )
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
