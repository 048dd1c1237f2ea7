"""The Shopify webhook route over real HTTP (a gateway on 127.0.0.1): the signature, the shop, the headers,
hostile bodies, duplicates, storage before the answer, never a 500; and what the push makes of a body of
an unexpected shape: quarantined naming the Shopify field, kept as it came, replayable."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette

from gecko_pipeline import ops_db, signing
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import parse_channels
from gecko_pipeline.config import load_settings
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.runner import RetryPolicy, run_push
from gecko_pipeline.stores.shopify.webhooks import shopify_webhook_routes, webhook_path
from gecko_pipeline.tools.background import GatewayHandle, create_gateway_app
from gecko_pipeline_tests.shopify_fixtures import order_fixture_path

SECRET = "shpss_route_secret"
CHANNELS = """
channels:
  - name: webstore
  - name: shop
    kind: shopify
    shop: acme.myshopify.com
    access_token_env: ROUTE_TOKEN
    app_secret_env: ROUTE_SECRET
  - name: nosecret
    kind: shopify
    shop: other.myshopify.com
    access_token_env: OTHER_TOKEN
    app_secret_env: OTHER_SECRET
"""


def fixture_order() -> dict[str, Any]:
    return json.loads(order_fixture_path().read_text())


class Route:
    def __init__(self, url: str, ops_path: Path) -> None:
        self.url = url
        self.ops_path = ops_path
        self.http = httpx.Client(timeout=30)

    def post(
        self,
        body: bytes | dict[str, Any] | list[Any],
        *,
        topic: str = "orders/create",
        webhook_id: str | None = "w-1",
        signature: str | None = None,
        channel: str = "shop",
        domain: str = "acme.myshopify.com",
        sign: bool = True,
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": domain,
        }
        if webhook_id is not None:
            headers["X-Shopify-Webhook-Id"] = webhook_id
        if sign:
            headers["X-Shopify-Hmac-Sha256"] = signature or signing.sign(SECRET, raw)
        headers["X-Shopify-API-Version"] = "2026-10"
        return self.http.post(self.url + webhook_path(channel), content=raw, headers=headers)

    def counts(self) -> tuple[int, int]:
        with closing(ops_db.connect(self.ops_path)) as con:
            rows = con.execute("SELECT count(*) FROM order_inbox").fetchone()[0]
            deliveries = con.execute("SELECT count(*) FROM shopify_webhooks").fetchone()[0]
        return rows, deliveries


@pytest.fixture
def route(tmp_path: Path) -> Iterator[Route]:
    channels = parse_channels(yaml.safe_load(CHANNELS))
    ops_path = tmp_path / "ops.sqlite"
    app = Starlette(
        routes=shopify_webhook_routes(
            ops_path, channels, {"ROUTE_SECRET": SECRET}.get, max_body_bytes=256 * 1024
        )
    )
    gateway = GatewayHandle(app)
    yield Route(gateway.url, ops_path)
    gateway.stop()


def test_a_forged_or_missing_signature_is_refused_and_stored_nowhere(route: Route) -> None:
    order = fixture_order()
    assert (
        route.post(order, signature=signing.sign("not-the-secret", json.dumps(order).encode())).status_code
        == 401
    )
    assert route.post(order, sign=False).status_code == 401
    assert route.post(order, signature="garbage").status_code == 401
    assert route.counts() == (0, 0)
    assert route.post(order).status_code == 200
    assert route.counts() == (1, 1)


def test_channels_shops_headers_and_topics(route: Route) -> None:
    order = fixture_order()
    assert route.post(order, channel="unknown").status_code == 404
    assert route.post(order, channel="webstore").status_code == 404  # not a kind: shopify channel
    answer = route.post(order, channel="nosecret")
    assert answer.status_code == 503 and "OTHER_SECRET" in answer.json()["message"]
    assert route.post(order, domain="evil.myshopify.com").status_code == 403
    assert route.post(order, webhook_id=None).status_code == 400
    assert route.post(order, topic="").status_code == 400
    ignored = route.post({"id": 1}, topic="products/update")
    assert ignored.status_code == 200 and "ignored" in ignored.json()["message"]
    assert route.counts() == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000 + b"]" * 10_000,  # nesting far past the limit
        b'{"id": 1, "note": "\\ud800"}',  # a lone surrogate
        b'{"id": 1, "total_price": NaN}',
        b'{"id": 1, "id": 2}',  # which id?
        b"\xff\xfe not text",
        b"not json",
    ],
)
def test_hostile_bodies_get_4xx_and_are_not_stored(route: Route, body: bytes) -> None:
    answer = route.post(body)
    assert answer.status_code == 400, answer.text
    assert route.counts() == (0, 0)


def test_a_body_over_the_limit_is_413_declared_or_streamed(route: Route) -> None:
    huge = b'{"id": 1, "note": "' + b"x" * 300_000 + b'"}'
    assert route.post(huge).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 10_000

    streamed = route.http.post(
        route.url + webhook_path("shop"),
        content=chunks(),
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": "w-9",
            "X-Shopify-Hmac-Sha256": "x",
        },
    )
    assert streamed.status_code == 413
    assert route.counts() == (0, 0)


def test_duplicates_by_webhook_id_and_by_business_key_store_once(route: Route) -> None:
    order = fixture_order()
    first = route.post(order, webhook_id="w-1")
    assert first.json()["message"] == "stored"
    again = route.post(order, webhook_id="w-1")  # Shopify's retry: same id, same bytes
    assert again.json()["message"] == "duplicate" and again.json()["inbox_id"] == first.json()["inbox_id"]
    other = route.post(order, webhook_id="w-2")  # a second subscription's copy of the same news
    assert other.json()["message"] == "duplicate"
    assert route.counts() == (1, 2)
    newer = copy.deepcopy(order)
    newer["updated_at"] = "2025-01-02T11:40:00-05:00"
    assert route.post(newer, webhook_id="w-3").json()["message"] == "stored"
    paid = route.post(order, webhook_id="w-4", topic="orders/paid")  # another topic: its own row
    assert paid.json()["message"] == "stored"
    assert route.counts() == (3, 4)
    with closing(ops_db.connect(route.ops_path)) as con:
        row = con.execute(
            "SELECT topic, api_version, shop_domain, duplicate_of FROM shopify_webhooks WHERE webhook_id = 'w-2'"
        ).fetchone()
        stored = con.execute(
            "SELECT source, format, channel_order_id FROM order_inbox ORDER BY id"
        ).fetchall()
    assert tuple(row) == ("orders/create", "2026-10", "acme.myshopify.com", "w-1")
    assert tuple(stored[0]) == ("shopify-webhook:orders/create", "shopify.rest-order", "450789469")


def test_storage_failing_is_a_503_never_a_500(route: Route) -> None:
    route.ops_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{route.ops_path}{suffix}").unlink(missing_ok=True)
    route.ops_path.mkdir()  # the inbox cannot be opened now
    try:
        answer = route.post(fixture_order())
        assert answer.status_code == 503
    finally:
        shutil.rmtree(route.ops_path)


def push(ops_path: Path, tmp_path: Path, **kwargs: Any) -> Any:
    channels = parse_channels(yaml.safe_load(CHANNELS))
    with (
        closing(ops_db.connect(ops_path)) as con,
        GeckoClient("http://127.0.0.1:9", token="unused") as client,
    ):
        last = inbox.last_inbox_id(con)
        return run_push(
            client,
            con,
            tmp_path / "no-catalogue.duckdb",  # none yet: valid orders wait for it
            channels,
            first_inbox_id=kwargs.pop("first", 1),
            last_inbox_id=last,
            policy=RetryPolicy(3600, 0, 3600),
        )


def test_a_body_of_an_unexpected_shape_is_stored_then_quarantined_naming_the_shopify_field(
    route: Route, tmp_path: Path
) -> None:
    bad_money = fixture_order()
    bad_money["line_items"][2]["price_set"]["shop_money"]["amount"] = "twelve"
    long_sku = fixture_order()
    long_sku["id"] = 450789470
    long_sku["line_items"][0]["sku"] = None  # a custom item: lines shift by one
    long_sku["line_items"][1]["sku"] = "S" * 300
    not_an_order = {"hello": "world"}
    for n, body in enumerate((bad_money, long_sku, not_an_order, [1, 2])):
        assert route.post(body, webhook_id=f"w-{n}").status_code == 200
    stats = push(route.ops_path, tmp_path)
    assert stats.quarantined == 4
    with closing(ops_db.connect(route.ops_path)) as con:
        entries = {q.inbox_id: q for q in inbox.list_quarantine(con)}
    reasons = [entries[i] for i in sorted(entries)]
    assert reasons[0].field == "line_items[2].price_set.shop_money.amount"
    assert "twelve" in reasons[0].reason and reasons[0].channel_order_id == "450789469"
    assert reasons[1].field == "line_items[1].sku" and "canonical field lines[0].sku" in reasons[1].reason
    assert reasons[2].field == "id" and reasons[3].field == "(body)"
    assert all(q.format == "shopify.rest-order" for q in reasons)
    assert json.loads(reasons[0].payload) == bad_money  # kept as it came

    # Replayed with the amount fixed, the same raw shape goes through the translation again.
    fixed = fixture_order()
    with closing(ops_db.connect(route.ops_path)) as con:
        new_id = inbox.replay(con, reasons[0].id, json.dumps(fixed))
        ledger.ensure_schema(con)
    push(route.ops_path, tmp_path, first=new_id)
    with closing(ops_db.connect(route.ops_path)) as con:
        row = ledger.get(con, "shop", "450789469")
    assert row is not None and row.state == "waiting"  # translated, valid: waiting for a catalogue
    assert json.loads(row.payload)["lines"][0]["sku"] == "IPOD2008RED"  # the ledger keeps the canonical order


def test_the_gateway_serves_the_route_for_shopify_channels(tmp_path: Path) -> None:
    channels_file = tmp_path / "channels.yaml"
    channels_file.write_text(CHANNELS)
    # The app secret comes from the variable the channel names, read once into the settings.
    settings = load_settings(
        {
            "GECKO_DATA_DIR": str(tmp_path / "data"),
            "GECKO_CHANNELS_FILE": str(channels_file),
            "ROUTE_SECRET": SECRET,
        }
    )
    gateway = GatewayHandle(create_gateway_app(settings))
    try:
        route = Route(gateway.url, settings.ops_path)
        assert "/shopify/{channel}/webhooks" in httpx.get(gateway.url + "/").json()["routes"]
        assert route.post(fixture_order()).status_code == 200
        assert route.counts() == (1, 1)
    finally:
        gateway.stop()
