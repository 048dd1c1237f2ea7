"""The world of the Shopify order tests: the inventory sandbox with an extracted + published catalogue
(orders_world.py), a Shopify sandbox subscribed to a test gateway that serves the Shopify webhook
route, and helpers to play the shopper and the merchant (the Shopify sandbox's control plane), wait for
webhooks, push, and look at the result. Both sandboxes' control planes are the ground truth.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from orders_world import CHANNEL_FILE, QUIET, World, open_world
from shopify_sandbox import ShopifySandboxConfig, ShopifySandboxHandle, run_shopify_sandbox
from starlette.applications import Starlette

from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.context import PushStats
from gecko_pipeline.orders.runner import RetryPolicy, run_push
from gecko_pipeline.stores.shopify import ShopifyClient, subscribe_shopify, webhook_path
from gecko_pipeline.stores.shopify.webhooks import shopify_webhook_routes
from gecko_pipeline.tools.background import GatewayHandle

SHOP = "gecko-sandbox"
QUIET_SHOP = "quiet-sandbox"  # a second shop without webhooks: the backfill's own
TOKEN_ENV, SECRET_ENV = "TEST_SHOPIFY_ACCESS_TOKEN", "TEST_SHOPIFY_APP_SECRET"
SHOPIFY_CHANNEL_FILE = (
    CHANNEL_FILE
    + f"""
  - name: shopify
    kind: shopify
    shop: {SHOP}.myshopify.com
    access_token_env: {TOKEN_ENV}
    app_secret_env: {SECRET_ENV}
    price_list: retail
    order_tags: [shopify]
    locations:
      71000000001: Primary Location
  - name: quiet
    kind: shopify
    shop: {QUIET_SHOP}.myshopify.com
    access_token_env: TEST_QUIET_ACCESS_TOKEN
    app_secret_env: TEST_QUIET_APP_SECRET
    price_list: retail
"""
)
FINAL = {"delivered", "failed", "removed"}


class ShopWorld:
    """One Shopify sandbox (its channel, its gateway) beside the shared inventory world."""

    def __init__(self, world: World, shop: ShopifySandboxHandle, channel: str, pushed: list[int]) -> None:
        self.world = world
        self.shop = shop
        self.channel = channel
        self.config = next(c for c in world.channels if c.name == channel)
        self.http = httpx.Client(base_url=f"{shop.url}/_sandbox", timeout=30)
        self._pushed = pushed  # [the last inbox id pushed], shared by the shops of one world

    @property
    def pushed(self) -> int:
        return self._pushed[0]

    @pushed.setter
    def pushed(self, value: int) -> None:
        self._pushed[0] = value

    def client(self, **kwargs: Any) -> ShopifyClient:
        assert self.config.shopify is not None
        return ShopifyClient.for_channel(
            self.config.shopify, self.shop.token, base_url=self.shop.url, **kwargs
        )

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def place(self, skus: list[str], **spec: Any) -> dict[str, Any]:
        """A shopper checks out these SKUs (quantities 1, 2, 1, ...) as one order; returns the REST order."""
        email = spec.pop("email", "ava.tan@example.com")
        body: dict[str, Any] = {
            "line_items": [{"sku": sku, "quantity": 1 + i % 2} for i, sku in enumerate(skus)],
            "customer": {"email": email, "first_name": "Ava", "last_name": "Tan", "phone": "+1 555 0100"},
            "shipping_address": {
                "first_name": "Ava",
                "last_name": "Tan",
                "address1": "20 Main St",
                "city": "Boston",
                "province": "Massachusetts",
                "province_code": "MA",
                "zip": "02108",
                "country": "United States",
                "country_code": "US",
            },
            "tax_lines": [{"title": "State tax", "rate": "0.0625"}],
            "financial_status": "paid",
        }
        body.update(spec)
        return self.control("POST", "/orders", body)["order"]  # type: ignore[no-any-return]

    def deliveries(self, topic: str | None = None) -> list[dict[str, Any]]:
        query = f"?topic={topic}" if topic else ""
        return self.control("GET", f"/webhook_deliveries{query}")["webhook_deliveries"]  # type: ignore[no-any-return]

    def settle(self, timeout: float = 10.0) -> None:
        """Waits until every webhook delivery that is not held has been answered (or given up)."""
        deadline = time.monotonic() + timeout
        while True:
            open_ = [d for d in self.deliveries() if d["state"] not in FINAL | {"held"}]
            if not open_ or time.monotonic() > deadline:
                assert not open_, f"{len(open_)} deliveries still pending"
                return
            time.sleep(0.05)

    def push(self, *, retry: bool = False, policy: RetryPolicy = QUIET, hooks: Any = None) -> PushStats:
        """Pushes every inbox row not pushed yet (and, with `retry`, what the ledger has due)."""
        con = self.world.ops()
        try:
            last = inbox.last_inbox_id(con)
            first, self.pushed = self.pushed + 1, max(last, self.pushed)
            with self.world.client() as client:
                return run_push(
                    client,
                    con,
                    self.world.warehouse.published_path,
                    self.world.channels,
                    first_inbox_id=first if last >= first else 0,
                    last_inbox_id=last if last >= first else 0,
                    retry_pending=retry,
                    policy=policy,
                    hooks=hooks,
                )
        finally:
            con.close()

    def sales_orders(self, order_id: Any) -> list[dict[str, Any]]:
        return self.world.orders_with(f"{self.channel}:{order_id}")

    def ledger_row(self, order_id: Any) -> ledger.LedgerRow:
        return self.world.ledger_row(self.channel, str(order_id))

    def common_skus(self) -> list[str]:
        """SKUs both the shop and the inventory catalogue sell (sellable, active), sorted."""
        products = self.control("GET", "/dump/products")["products"]
        ours = {v["sku"] for p in products if p["status"] == "active" for v in p["variants"] if v.get("sku")}
        return sorted(ours & set(self.world.variant_ids()))

    def close(self) -> None:
        self.http.close()


def open_shopify_world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, ShopWorld, ShopWorld]]:
    """The body of a module-scoped fixture: (inventory world, subscribed shop, quiet shop)."""
    for world in open_world(tmp_path_factory, SHOPIFY_CHANNEL_FILE):
        fast = {"webhook_retry_base_delay": 0.05, "webhook_retry_factor": 1.0, "scale": 40}
        with (
            run_shopify_sandbox(
                ShopifySandboxConfig(shop=SHOP, app_secret="shpss_test_secret", **fast)
            ) as shop,
            run_shopify_sandbox(ShopifySandboxConfig(shop=QUIET_SHOP, seed=2, **fast)) as quiet_shop,
        ):
            secrets = {SECRET_ENV: shop.app_secret, "TEST_QUIET_APP_SECRET": quiet_shop.app_secret}
            app = Starlette(routes=shopify_webhook_routes(world.ops_path, world.channels, secrets.get))
            gateway = GatewayHandle(app)
            pushed = [0]
            main = ShopWorld(world, shop, "shopify", pushed)
            quiet = ShopWorld(world, quiet_shop, "quiet", pushed)
            with main.client() as client:
                subscribe_shopify(client, gateway.url + webhook_path("shopify"))
            try:
                yield world, main, quiet
            finally:
                gateway.stop()
                main.close()
                quiet.close()
