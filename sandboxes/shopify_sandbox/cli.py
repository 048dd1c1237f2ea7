"""`shopify-sandbox`: serve the Shopify Admin API sandbox until SIGTERM / Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from shopify_sandbox.config import DEFAULT_API_VERSION, FaultConfig, ShopifySandboxConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="shopify-sandbox",
        description="Serve a seeded, deterministic Shopify Admin GraphQL API sandbox. Prints 'shopify sandbox serving "
        "at URL' once it listens (--port 0 picks a free port), logs one line per request, stops on SIGTERM / Ctrl-C.",
    )
    defaults = ShopifySandboxConfig()
    p.add_argument("--host", default=defaults.host)
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--shop", default=defaults.shop, help="shop handle: SHOP.myshopify.com")
    p.add_argument("--token", default=defaults.token, help="the X-Shopify-Access-Token it accepts")
    p.add_argument("--app-secret", default=defaults.app_secret, help="signs webhook deliveries")
    p.add_argument("--client-id", default=defaults.client_id)
    p.add_argument("--api-version", default=DEFAULT_API_VERSION)
    p.add_argument("--shop-currency", default=defaults.shop_currency, help="the shop's currency (ISO 4217)")
    p.add_argument("--scale", type=int, default=defaults.scale, help="number of variants")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument(
        "--orders", type=int, default=None, help="number of orders (default scale // 10, 12..5000)"
    )
    p.add_argument("--locations", type=int, default=defaults.locations)
    p.add_argument("--bucket-size", type=float, default=defaults.bucket_size)
    p.add_argument("--restore-rate", type=float, default=defaults.restore_rate)
    p.add_argument("--webhook-retry-base-delay", type=float, default=defaults.webhook_retry_base_delay)
    p.add_argument("--webhook-max-retries", type=int, default=defaults.webhook_max_retries)
    p.add_argument("--fault-error-rate", type=float, default=0.0)
    p.add_argument("--fault-latency-ms", type=float, default=0.0)
    p.add_argument("--fault-drop-rate", type=float, default=0.0)
    p.add_argument("--fault-throttle-rate", type=float, default=0.0)
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return p


def config_from_args(args: argparse.Namespace) -> ShopifySandboxConfig:
    return ShopifySandboxConfig(
        host=args.host,
        port=args.port,
        shop=args.shop,
        token=args.token,
        app_secret=args.app_secret,
        client_id=args.client_id,
        api_version=args.api_version,
        shop_currency=args.shop_currency,
        scale=args.scale,
        seed=args.seed,
        orders=args.orders,
        locations=args.locations,
        bucket_size=args.bucket_size,
        restore_rate=args.restore_rate,
        webhook_retry_base_delay=args.webhook_retry_base_delay,
        webhook_max_retries=args.webhook_max_retries,
        faults=FaultConfig(
            error_rate=args.fault_error_rate,
            latency_ms=args.fault_latency_ms,
            drop_rate=args.fault_drop_rate,
            throttle_rate=args.fault_throttle_rate,
        ),
        log_requests=not args.quiet,
    )


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """uvicorn handles SIGTERM (graceful shutdown), then raises it again with the previous handler: this
    one, so the process ends with status 0 instead of being killed."""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _after_shutdown)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    from shopify_sandbox.server import serve_forever  # keeps --help fast

    try:
        serve_forever(config_from_args(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
