"""`gecko-pipeline intake`, `quarantine list|replay`, `demo-orders`: the order side of the command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import uvicorn

from gecko_pipeline import ops_db
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.config import GATEWAY_PORT, SANDBOX_HOST, load_settings
from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.intake import channel_secret, drop_folder, intake_app


def register(subparsers: argparse._SubParsersAction) -> None:
    intake = subparsers.add_parser(
        "intake", help="serve the channel order intake (POST /channels/{channel}/orders)"
    )
    intake.add_argument("--host", default=SANDBOX_HOST)
    intake.add_argument("--port", type=int, default=GATEWAY_PORT)
    intake.add_argument("--max-body-bytes", type=int, default=None, help="refuse bodies above this size")
    intake.set_defaults(func=_serve)

    quarantine = subparsers.add_parser("quarantine", help="list or replay quarantined channel orders")
    actions = quarantine.add_subparsers(dest="quarantine_command", required=True)
    listing = actions.add_parser("list", help="open quarantined orders with their reasons")
    listing.add_argument("--all", action="store_true", help="also replayed, superseded and resolved ones")
    listing.add_argument("--json", action="store_true", help="print JSON lines (with payloads)")
    listing.set_defaults(func=_list)
    replay = actions.add_parser("replay", help="send a quarantined order back through the inbox")
    replay.add_argument("id", type=int, help="the quarantine id from `quarantine list`")
    replay.add_argument("--payload", type=Path, help="a corrected copy of the order (JSON file)")
    replay.set_defaults(func=_replay)

    demo = subparsers.add_parser("demo-orders", help="place realistic demo channel orders")
    demo.add_argument("--count", type=int, default=20)
    demo.add_argument("--seed", type=int, default=None)
    demo.add_argument("--url", default=None, help="intake URL (default: write them to the drop folder)")
    demo.set_defaults(func=_demo)


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    kwargs = {"max_body_bytes": args.max_body_bytes} if args.max_body_bytes else {}
    print(
        f"order intake on http://{args.host}:{args.port}/channels/{{channel}}/orders "
        f"(inbox: {settings.ops_path})",
        flush=True,
    )
    uvicorn.run(intake_app(settings, **kwargs), host=args.host, port=args.port, log_level="info")
    return 0


def _list(args: argparse.Namespace) -> int:
    con = ops_db.connect(load_settings().ops_path)
    try:
        inbox.ensure_schema(con)
        statuses = ("open", "replayed", "superseded", "resolved") if args.all else ("open",)
        rows = inbox.list_quarantine(con, statuses)
    finally:
        con.close()
    for row in rows:
        if args.json:
            print(json.dumps(row.__dict__))
        else:
            name = f"{row.channel or '?'}:{row.channel_order_id or '?'}"
            print(f"#{row.id:<5} {row.status:<10} {row.quarantined_at}  {name}\n       {row.reason}")
    if not args.json:
        print(f"{len(rows)} quarantined order(s)." + ("" if rows else " Nothing to look at."))
    return 0


def _replay(args: argparse.Namespace) -> int:
    payload = args.payload.read_text(encoding="utf-8") if args.payload else None
    con = ops_db.connect(load_settings().ops_path)
    try:
        inbox.ensure_schema(con)
        inbox_id = inbox.replay(con, args.id, payload)
    except inbox.ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(
        f"quarantined order #{args.id} is back in the inbox as #{inbox_id}; order_inbox_sensor picks it up."
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from gecko_pipeline.tools.orders_demo import drop_orders, make_orders, send_orders

    settings = load_settings()
    channels = load_channels(settings.channels_file)
    orders = make_orders(settings.published_path, channels, args.count, seed=args.seed)
    if args.url:
        for channel in channels:
            batch = [o for o in orders if o["channel"] == channel.name]
            secret = channel_secret(channel, settings)
            if batch and secret:
                answer = send_orders(args.url, channel.name, secret, batch)
                print(f"{channel.name}: {answer['accepted']} order(s) accepted by {args.url}")
            elif batch:
                print(f"{channel.name}: no intake secret ({channel.order_secret_env} is not set); skipped")
    else:
        path = drop_orders(drop_folder(settings.data_dir), orders, f"demo-{int(time.time())}")
        print(f"{len(orders)} order(s) written to {path}; order_inbox_sensor picks them up.")
    return 0
