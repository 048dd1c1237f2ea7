"""A demo sales channel: realistic channel orders over the sandbox's catalogue.

New and returning customers, a few unknown SKUs, and every state a channel reports: pending, paid,
shipped with tracking, partly shipped, cancelled and returned. Orders are sent signed to the intake
endpoint (`send_orders`) or written to the drop folder (`drop_orders`), so the whole intake path runs.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx

from gecko_pipeline import ops_db, signing
from gecko_pipeline.channels.config import ChannelConfig, load_channels, resolve_channels
from gecko_pipeline.config import Settings
from gecko_pipeline.orders import ledger
from gecko_pipeline.orders.inbox import dumps, ensure_schema, last_inbox_id, list_quarantine
from gecko_pipeline.orders.intake import SIGNATURE_HEADER, drop_folder
from gecko_pipeline.tools.daemon import launch, run_requests, tick
from gecko_pipeline.tools.runs import CONSOLE_INFO_RUN_CONFIG

FIRST_NAMES = ["Ava", "Noah", "Mia", "Leo", "Isla", "Kai", "Zoe", "Eli", "Ruby", "Finn", "Maya", "Theo"]
LAST_NAMES = ["Tan", "Ngata", "Smith", "Okafor", "Silva", "Kowalski", "Lee", "Haddad", "Novak", "Brown"]
STREETS = ["Tennyson St", "Queen St", "Ponsonby Rd", "Dominion Rd", "Karangahape Rd", "Jervois Rd"]
CITIES = [("Auckland", "NZ"), ("Wellington", "NZ"), ("Sydney", "AU"), ("Singapore", "SG")]
CARRIERS = ["NZ Post", "DHL", "CourierPost", "Aramex"]


def _catalog(
    published: Path, channels: Sequence[ChannelConfig]
) -> tuple[list[tuple[str, Decimal]], list[dict[str, Any]], dict[str, str]]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        variants = [
            (str(sku), Decimal(str(price)) if price is not None else Decimal("10"))
            for sku, price in con.execute(
                "SELECT sku, CAST(retail_price AS VARCHAR) FROM variants WHERE status = 'active' "
                "AND coalesce(sellable, true) AND sku IS NOT NULL AND sku <> '' ORDER BY id LIMIT 300"
            ).fetchall()
        ]
        customers = [
            {
                "name": name,
                "email": email,
                "type": "business" if kind == "business" else "consumer",
                **({"company_code": code} if code else {}),
            }
            for name, email, kind, code in con.execute(
                "SELECT name, email, company_type, company_code FROM companies WHERE email IS NOT NULL "
                "AND company_type IN ('business', 'consumer') AND coalesce(status, 'active') = 'active' "
                "ORDER BY id LIMIT 40"
            ).fetchall()
        ]
        currencies = {r.name: r.currency or "NZD" for r in resolve_channels(con, list(channels))}
    finally:
        con.close()
    if not variants:
        raise RuntimeError(f"{published} has no sellable variants: run a sync first")
    return variants, customers, currencies


def make_orders(
    published: Path,
    channels: Sequence[ChannelConfig],
    count: int,
    *,
    seed: int | None = None,
    prefix: str | None = None,
) -> list[dict[str, Any]]:
    """`count` canonical orders spread over the channels, in a realistic mix of customers and states."""
    rng = random.Random(seed)
    variants, customers, currencies = _catalog(published, channels)
    prefix = prefix or datetime.now(timezone.utc).strftime("D%H%M%S")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    orders = []
    for n in range(1, count + 1):
        channel = channels[(n - 1) % len(channels)].name
        if customers and rng.random() < 0.3:
            customer = dict(rng.choice(customers))  # a returning customer, known to the inventory system
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            customer = {
                "name": f"{first} {last}",
                "email": f"{first}.{last}.{prefix}{n}@example.com".lower(),
                "type": "consumer",
            }
        city, country = rng.choice(CITIES)
        address = {
            "first_name": customer["name"].split()[0],
            "last_name": customer["name"].split()[-1],
            "address1": f"{rng.randint(1, 300)} {rng.choice(STREETS)}",
            "city": city,
            "country_code": country,
        }
        lines = []
        for sku, price in rng.sample(variants, k=min(len(variants), rng.randint(1, 3))):
            lines.append({"sku": sku, "quantity": str(rng.randint(1, 3)), "unit_price": str(price)})
        if rng.random() < 0.08:
            lines.append(
                {"sku": f"NEW-{prefix}-{n}", "quantity": "1", "unit_price": "19.90"}
            )  # not in the catalogue yet
        order: dict[str, Any] = {
            "channel": channel,
            "channel_order_id": f"{prefix}-{n}",
            "order_name": f"#{prefix}-{n}",
            "placed_at": (now - timedelta(minutes=count - n)).isoformat().replace("+00:00", "Z"),
            "currency": currencies.get(channel, "NZD"),
            "customer": customer,
            "shipping_address": address,
            "lines": lines,
            "shipping_lines": [{"label": "Standard shipping", "amount": "7.50"}],
            "tags": ["demo"],
            "financial_status": "paid",
        }
        roll = rng.random()
        if roll < 0.2:
            order["financial_status"] = "pending"
        elif roll < 0.5:
            order["shipments"] = [_shipment(rng, "s1", lines)]
        elif roll < 0.6:
            order["shipments"] = [_shipment(rng, "s1", lines[:1])]  # partly shipped
        elif roll < 0.7:
            order["cancelled"], order["financial_status"] = True, "refunded"
        elif roll < 0.8:
            order["shipments"] = [_shipment(rng, "s1", lines)]
            order["returns"] = [
                {
                    "return_id": "r1",
                    "lines": [{"sku": lines[0]["sku"], "quantity": "1"}],
                    "notes": "Wrong size",
                }
            ]
        if rng.random() < 0.15:
            order["discount_lines"] = [{"label": "WELCOME10", "amount": "5.00"}]
        orders.append(order)
    return orders


def _shipment(rng: random.Random, shipment_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    carrier = rng.choice(CARRIERS)
    number = f"{carrier[:2].upper()}{rng.randint(10**8, 10**9 - 1)}"
    return {
        "shipment_id": shipment_id,
        "lines": [{"sku": x["sku"], "quantity": x["quantity"]} for x in lines],
        "tracking_number": number,
        "tracking_company": carrier,
        "tracking_url": f"https://track.example.com/{number}",
    }


def send_orders(url: str, channel: str, secret: str, orders: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """POSTs a batch to the intake endpoint, signed with the channel's secret."""
    body = dumps(list(orders)).encode()
    response = httpx.post(
        f"{url.rstrip('/')}/channels/{channel}/orders",
        content=body,
        timeout=30.0,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signing.sign(secret, body)},
    )
    response.raise_for_status()
    return response.json()


def drop_orders(folder: Path, orders: Sequence[dict[str, Any]], name: str) -> Path:
    """Writes an NDJSON file into the drop folder atomically (temp name, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.ndjson"
    temp = folder / f".{name}.ndjson.part"
    temp.write_text("".join(dumps(order) + "\n" for order in orders), encoding="utf-8")
    os.replace(temp, target)
    return target


def newer_states(orders: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The channel moves on: pending orders get paid and shipped (what a second delivery looks like)."""
    later = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    moved: list[dict[str, Any]] = []
    for order in orders:
        if len(moved) >= count:
            break
        if order.get("cancelled") or order.get("shipments"):
            continue
        rng = random.Random(order["channel_order_id"])
        moved.append(
            {
                **order,
                "financial_status": "paid",
                "updated_at": later,
                "shipments": [_shipment(rng, "s1", order["lines"])],
            }
        )
    return moved


def run_order_demo(
    settings: Settings, defs: dg.Definitions, instance: dg.DagsterInstance, count: int = 16
) -> None:
    """`make run`'s order step: demo orders into the drop folder, order_push_job over them, then a
    second delivery with newer states, and what became of each order."""
    # The canonical-JSON channels; a store channel's orders come from its store (shopify_demo.py).
    channels = [c for c in load_channels(settings.channels_file) if c.kind == "feed"]
    orders = make_orders(settings.published_path, channels, count)
    con = ops_db.connect(settings.ops_path)
    try:
        ensure_schema(con)
        cursor: str | None = json.dumps({"inbox": last_inbox_id(con)})
    finally:
        con.close()
    for wave, batch in (("new orders", orders), ("newer states", newer_states(orders, max(2, count // 4)))):
        path = drop_orders(
            drop_folder(settings.data_dir), batch, f"demo-{wave.replace(' ', '-')}-{int(time.time())}"
        )
        print(f"\n== Demo channel: {len(batch)} {wave} dropped as {path.name}; order_inbox_sensor ticks")
        result = tick(defs, instance, "order_inbox_sensor", cursor)
        cursor = result.cursor if isinstance(result, dg.SensorResult) else cursor
        for request in run_requests(result):
            run = launch(defs, instance, "order_push_job", request, CONSOLE_INFO_RUN_CONFIG)
            [pushed] = run.asset_materializations_for_node("channel_orders_pushed")
            figures = {k: v.value for k, v in pushed.metadata.items() if k != "errors"}
            print(f"order_push_job: {'succeeded' if run.success else 'FAILED'}: {figures}")
    con = ops_db.connect(settings.ops_path)
    try:
        rows = [
            r
            for r in ledger.all_rows(con)
            if r.channel_order_id.startswith(orders[0]["channel_order_id"].split("-")[0])
        ]
        print("\n== What became of the demo orders")
        for r in rows:
            print(
                f"  {r.reference:24s} -> {r.order_number or '-':8s} {r.state:11s} {', '.join(r.done) or '-'}"
            )
            if r.last_error and r.state != "done":
                print(f"      why: {r.last_error}")  # whole: a reason cut short tells a person nothing
        print(f"  quarantined (gecko-pipeline quarantine list): {len(list_quarantine(con))}")
    finally:
        con.close()
