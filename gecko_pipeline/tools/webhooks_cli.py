"""`gecko-pipeline gateway` (webhook receiver + order intake) and `gecko-pipeline subscribe`."""

from __future__ import annotations

import argparse
import logging

from gecko_pipeline.config import GATEWAY_PORT, Settings, load_settings
from gecko_pipeline.webhooks.events import DEFAULT_EVENTS
from gecko_pipeline.webhooks.receiver import RECEIVER_PATH

log = logging.getLogger("gecko_pipeline.webhooks")


def _gateway(args: argparse.Namespace) -> int:
    from gecko_pipeline.gateway import serve

    settings = load_settings()
    log.info(
        "gateway on http://%s:%d (webhooks: POST /webhooks); events go to %s",
        args.host,
        args.port,
        settings.ops_path,
    )
    serve(settings, args.host, args.port)
    return 0


def _subscribe(args: argparse.Namespace) -> int:
    from gecko_pipeline.api import GeckoClient
    from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

    events = [e.strip() for e in args.events.split(",") if e.strip()] if args.events else list(DEFAULT_EVENTS)
    settings = load_settings()
    with GeckoClient.from_settings(settings) as client:
        existing, created = ensure_subscriptions(client, args.address, events)
    print(f"{len(existing)} subscription(s) already there, {len(created)} created for {args.address}")
    for hook in created:
        print(f"  created #{hook.get('id')} {hook.get('event')}")
    subscribe_stores(settings, args.address)
    return 0


def subscribe_stores(settings: Settings, address: str) -> None:
    """Each Shopify channel's order webhooks, to the same gateway: <base>/shopify/<channel>/webhooks."""
    from gecko_pipeline.channels.config import load_channels
    from gecko_pipeline.stores.shopify import subscribe_shopify, webhook_path
    from gecko_pipeline.stores.shopify.connect import shopify_channels, shopify_client

    base = address.removesuffix(RECEIVER_PATH).rstrip("/")
    for channel in shopify_channels(load_channels(settings.channels_file)):
        target = base + webhook_path(channel.name)
        with shopify_client(channel, settings) as client:
            result = subscribe_shopify(client, target)
        print(
            f"{channel.name}: {len(result.existing)} Shopify subscription(s) already there, {len(result.created)} created for {target}"
        )


def _replay(args: argparse.Namespace) -> int:
    from gecko_pipeline import ops_db
    from gecko_pipeline.webhooks import store

    con = ops_db.connect(load_settings().ops_path)
    try:
        store.ensure_schema(con)
        if args.list:
            for row in con.execute(
                "SELECT id, event, object_id, run_id, problem FROM webhook_events "
                "WHERE status = ? ORDER BY id",
                (store.FAILED,),
            ):
                print(f"#{row['id']} {row['event']} {row['object_id']} run {row['run_id']}: {row['problem']}")
            return 0
        created = store.replay_failed(con, args.ids or None)
    finally:
        con.close()
    print(f"{len(created)} failed event(s) queued again; webhook_event_sensor picks them up on its next tick")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    gateway = subparsers.add_parser(
        "gateway",
        help="serve the webhook receiver and the order intake (one ASGI server)",
        description="Receives the API's webhooks at POST /webhooks (signed with GECKO_CLIENT_SECRET) "
        "and channel orders at POST /channels/<channel>/orders; both are stored in "
        "<GECKO_DATA_DIR>/ops.sqlite.",
    )
    gateway.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    gateway.add_argument("--port", type=int, default=GATEWAY_PORT, help=f"port (default {GATEWAY_PORT})")
    gateway.set_defaults(func=_gateway)

    subscribe = subparsers.add_parser(
        "subscribe",
        help="ensure the API's webhook subscriptions exist for a public receiver URL",
        description="Lists the app's webhooks and creates only the missing ones: running it twice changes nothing.",
    )
    subscribe.add_argument(
        "--address", required=True, help="public URL of the receiver, e.g. https://example.com/webhooks"
    )
    subscribe.add_argument(
        "--events",
        default=None,
        help="comma-separated event names (default: every event the pipeline acts on)",
    )
    subscribe.set_defaults(func=_subscribe)

    replay = subparsers.add_parser(
        "webhook-replay",
        help="list failed webhook events, or send them through the sensor again",
        description="Events whose refresh run failed are kept in ops.sqlite with the error; this queues "
        "them again (all, or the given row ids).",
    )
    replay.add_argument("ids", nargs="*", type=int, help="webhook_events row ids (default: every failed one)")
    replay.add_argument("--list", action="store_true", help="only list the failed events and their errors")
    replay.set_defaults(func=_replay)
