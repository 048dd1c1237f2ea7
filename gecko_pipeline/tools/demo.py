"""`gecko-pipeline demo` (what `make run` runs): the main job end to end on the embedded sandbox.

Starts the sandbox (unless GECKO_API_URL points at a real account), runs the incremental sync job
(a full sync the first time) into GECKO_DATA_DIR, shows rows per table and each channel's listings and
feed, then stops what it started. Runs land in the Dagster instance under DAGSTER_HOME, so `make dev`
shows them afterwards.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import dagster as dg
import duckdb

from gecko_pipeline.channels.stock import listing_summary
from gecko_pipeline.config import SANDBOX_HOST, SANDBOX_PORT, Settings, export, load_settings
from gecko_pipeline.definitions import definitions_with
from gecko_pipeline.defs.resources import build_resources
from gecko_pipeline.defs.runs import reap_dead_runs
from gecko_pipeline.tools import shopify_demo
from gecko_pipeline.tools.daemon import launch
from gecko_pipeline.tools.orders_demo import run_order_demo
from gecko_pipeline.tools.processes import Services, gecko_command, port_in_use
from gecko_pipeline.tools.runs import CONSOLE_INFO_RUN_CONFIG
from gecko_pipeline.tools.webhooks_demo import demonstrate as demonstrate_webhooks

DEMO_SCALE = 2000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the main job on the embedded sandbox and show what it did"
    )
    parser.add_argument("--scale", type=int, default=DEMO_SCALE, help="variants in the sandbox account")
    parser.set_defaults(func=run_demo)


def _instance() -> dg.DagsterInstance:
    try:
        return dg.DagsterInstance.get()
    except dg.DagsterInvariantViolationError:
        # No DAGSTER_HOME: runs are not kept, but the demo still works.
        return dg.DagsterInstance.ephemeral()


def _heading(text: str) -> None:
    print(f"\n== {text}")


def show_tables(published: Path) -> None:
    _heading(f"Rows per table in {published}")
    con = duckdb.connect(str(published), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        for table in tables:
            # Identifiers come from the file's own catalogue, not from input.
            (count,) = con.execute(f'SELECT count(*) FROM "{table}"').fetchone() or (0,)  # noqa: S608
            print(f"  {table:32s} {count:>10,}")
    finally:
        con.close()


def show_channels(settings: Settings) -> None:
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        _heading("Channel listings")
        summary = listing_summary(con)
        if summary:
            names = list(summary[0])
            print("  " + "  ".join(f"{n:>14}" for n in names))
            for row in summary:
                print("  " + "  ".join(f"{row[n]!s:>14}" for n in names))
    finally:
        con.close()
    for feed in sorted(settings.feeds_dir.glob("*/listings.csv")):
        _heading(f"Feed {feed} (first rows)")
        with feed.open() as handle:
            for _, line in zip(range(6), handle, strict=False):
                print("  " + line.rstrip())


def show_published_orders(published: Path) -> None:
    con = duckdb.connect(str(published), read_only=True)
    try:
        (synced,) = con.execute("SELECT count(*) FROM channel_order_sync").fetchone() or (0,)
        (orders,) = con.execute(
            "SELECT count(*) FROM orders WHERE id IN (SELECT order_id FROM channel_order_sync)"
        ).fetchone() or (0,)
    finally:
        con.close()
    print(f"  channel orders in channel_order_sync: {synced}; their sales orders in `orders`: {orders}")


def run_job(defs: dg.Definitions, instance: dg.DagsterInstance, name: str) -> dg.ExecuteInProcessResult:
    started = time.monotonic()
    result = launch(defs, instance, name, dg.RunRequest(), CONSOLE_INFO_RUN_CONFIG)
    print(
        f"{name}: {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.1f} s "
        f"(run {result.run_id})"
    )
    return result


def run_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    # On the embedded sandboxes (and the packaged channel file) the demo adds a Shopify store channel.
    with_store = settings.uses_sandbox and settings.channels_file is None
    if with_store:
        if port_in_use(SANDBOX_HOST, shopify_demo.SHOPIFY_PORT):
            print(f"Port {shopify_demo.SHOPIFY_PORT} is taken: stop whatever runs there and retry.")
            return 2
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        shop_url = f"http://{SANDBOX_HOST}:{shopify_demo.SHOPIFY_PORT}"
        settings = export(shopify_demo.environment(settings.data_dir, shop_url))
    # One line per HTTP request is the client's job (DEBUG); httpx's and alembic's own INFO lines are noise here.
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Services() as services:
        if settings.uses_sandbox:
            if port_in_use(SANDBOX_HOST, SANDBOX_PORT):
                print(f"Port {SANDBOX_PORT} is taken: stop whatever runs there (a `make dev`?) and retry.")
                return 2
            _heading(f"Starting the API sandbox on {settings.api_url} ({args.scale:,} variants)")
            services.start(
                "sandbox",
                gecko_command(
                    "sandbox", "--host", SANDBOX_HOST, "--port", str(SANDBOX_PORT), "--scale", str(args.scale)
                ),
                ready_url=f"{settings.api_url}/_sandbox/stats",
                log_path=settings.data_dir / "sandbox.log",
            )
        else:
            _heading(f"Using the account at {settings.api_url}")
        if with_store:
            _heading(f"Starting the Shopify sandbox on {shop_url} (channel `shopify`)")
            services.start(
                "shopify-sandbox",
                shopify_demo.sandbox_command(),
                ready_url=f"{shop_url}/_sandbox/health",
                log_path=settings.data_dir / "shopify-sandbox.log",
            )

        defs = definitions_with(build_resources(settings))

        instance = _instance()
        for dead in reap_dead_runs(instance, by="gecko-pipeline demo"):  # e.g. a demo killed last time
            print(dead.line())
        _heading("Incremental sync (a full sync the first time)")
        run_job(defs, instance, "incremental_sync_job")
        show_tables(settings.published_path)
        show_channels(settings)

        _heading("Channel orders become sales orders")
        run_order_demo(settings, defs, instance)

        if settings.uses_sandbox:  # the stock move is made through the sandbox's control plane
            _heading("A stock move reaches the channel feed through a webhook, without a full sync")
            demonstrate_webhooks(settings, defs, instance)

        if with_store:
            _heading("Shopify store orders become sales orders (webhooks, inbox sensor, order push job)")
            store = shopify_demo.ShopifyDemo(settings, defs, instance)
            orders = store.run()
            _heading(
                "Stock, shipments and products reach the Shopify store (webhook refresh, import, publish)"
            )
            store.outbound(orders)

        # Under the daemon, publish_sensor republishes after pushes and refreshes (at most once a
        # minute); the demo ends now, so it runs that publish itself.
        _heading("Republishing published.duckdb for analysts (what publish_sensor does)")
        run_job(defs, instance, "publish_job")
        show_published_orders(settings.published_path)
    print(
        f"\nDone. Files are under {settings.data_dir.resolve()}; analysts open "
        f"{settings.published_path.resolve()} (see README, 'For analysts')."
    )
    return 0
