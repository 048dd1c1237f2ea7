"""The webhook round trip, shown by `make run` (gecko-pipeline demo) after the first sync: a stock move in
the sandbox reaches a channel feed through the gateway, the sensor and the targeted refresh job, without
a full sync."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb
import httpx

from gecko_pipeline import ops_db
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.config import Settings
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.daemon import launch, run_requests, tick
from gecko_pipeline.tools.runs import CONSOLE_INFO_RUN_CONFIG
from gecko_pipeline.webhooks import store
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

JOB = "webhook_refresh_job"


def last_event_id(settings: Settings) -> int:
    con = ops_db.connect(settings.ops_path)
    try:
        store.ensure_schema(con)
        (last,) = con.execute("SELECT coalesce(max(id), 0) FROM webhook_events").fetchone()
        return int(last)
    finally:
        con.close()


def refresh_after(
    settings: Settings,
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    cursor: int,
    events: int = 1,
    timeout: float = 30.0,
) -> dg.ExecuteInProcessResult:
    """Waits for `events` webhook events after event #cursor to be stored by the gateway, then does what
    the daemon would: one webhook_event_sensor tick and the refresh run it asks for."""
    deadline = time.monotonic() + timeout
    while last_event_id(settings) < cursor + events:
        if time.monotonic() > deadline:
            raise RuntimeError("no webhook arrived; see GET /_sandbox/webhook_deliveries")
        time.sleep(0.05)
    result = tick(defs, instance, "webhook_event_sensor", cursor=json.dumps({"after": cursor}))
    [request] = run_requests(result)
    return launch(defs, instance, JOB, request, CONSOLE_INFO_RUN_CONFIG)


def _pick_listing(settings: Settings) -> tuple[str, int, int, str | None]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        row = con.execute(
            # Stocked at the channel's first location (channel_stock_levels has rows only for
            # channels that take stock per location, so ask the stock records).
            """SELECT l.channel, l.variant_id, s.location_id, l.sku FROM channel_listings l
               JOIN channel_locations cl ON cl.channel = l.channel AND cl.priority = 1
               JOIN variant_locations s ON s.variant_id = l.variant_id AND s.location_id = cl.location_id
               WHERE l.listed AND l.reason = 'in_stock'
               ORDER BY l.channel, l.variant_id LIMIT 1"""
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise RuntimeError("no listed variant with stock to move")
    return str(row[0]), int(row[1]), int(row[2]), row[3]


def _feed_quantity(settings: Settings, channel: str, variant_id: int) -> str | None:
    rows = json.loads((settings.feeds_dir / channel / "listings.json").read_text(encoding="utf-8"))
    return next((str(r.get("quantity")) for r in rows if r.get("variant_id") == variant_id), None)


def demonstrate(
    settings: Settings,
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    out: Callable[[str], None] = print,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Gateway up, subscriptions ensured, one stock move, one sensor tick and one targeted run; prints
    what moved and what it cost. Needs the sandbox (its control plane makes the stock move)."""
    with run_gateway(settings) as gateway, httpx.Client(base_url=settings.api_url, timeout=30) as control:
        with GeckoClient.from_settings(settings) as client:
            existing, created = ensure_subscriptions(client, gateway.webhook_url)
        out(
            f"  gateway at {gateway.webhook_url}: {len(created)} subscriptions created, {len(existing)} there"
        )
        cursor = last_event_id(settings)
        channel, variant_id, location_id, sku = _pick_listing(settings)
        before = _feed_quantity(settings, channel, variant_id)
        control.post("/_sandbox/stats/reset").raise_for_status()
        control.post(
            "/_sandbox/activity/stock_move",
            json={"variant_id": variant_id, "location_id": location_id, "quantity": "-3"},
        ).raise_for_status()
        out(f"  stock move in the sandbox: variant {variant_id} ({sku}) -3 at location {location_id}")
        run = refresh_after(settings, defs, instance, cursor, timeout=timeout)
        out("  webhook received, verified and stored in ops.sqlite")
        requests = {k: v for k, v in control.get("/_sandbox/stats").json()["by_route"].items() if v}
    after = _feed_quantity(settings, channel, variant_id)
    changes = json.loads((settings.feeds_dir / channel / "changes-latest.json").read_text(encoding="utf-8"))
    out(f"  {JOB} run {run.run_id}: API requests {requests}")
    out(f"  feed {channel}/listings.json, variant {variant_id}: quantity {before} -> {after}")
    out(
        f"  {channel}/changes-latest.json lists {changes.get('count')} change(s): "
        + ", ".join(f"{c.get('variant_id')} -> {c.get('quantity')}" for c in changes.get("changes", []))
    )
    moved = before is not None and after is not None and Decimal(after) != Decimal(before)
    return {"variant_id": variant_id, "before": before, "after": after, "requests": requests, "moved": moved}
