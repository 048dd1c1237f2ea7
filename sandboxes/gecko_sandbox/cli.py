"""`gecko-sandbox` (also `gecko-pipeline sandbox`): serve the API sandbox until SIGTERM / Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from gecko_sandbox.config import (
    DEFAULT_APP_SECRET,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_TOKEN,
    FaultConfig,
    SandboxConfig,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve the local TradeGecko API sandbox",
        description="Serve a seeded, deterministic TradeGecko API sandbox. Prints 'sandbox serving at URL' "
        "once it listens (use --port 0 for a free port), logs one line per request, stops on SIGTERM / Ctrl-C.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token it accepts")
    parser.add_argument("--app-secret", default=DEFAULT_APP_SECRET, help="signs webhook deliveries")
    parser.add_argument("--scale", type=int, default=200, help="number of variants (10 to 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--orders", type=int, default=None, help="number of orders (default scale // 2)")
    parser.add_argument("--locations", type=int, default=None, help="number of locations (default 5-10)")
    parser.add_argument("--rate-limit-quota", type=int, default=300)
    parser.add_argument("--rate-limit-window", type=float, default=300.0, help="seconds")
    parser.add_argument("--fault-error-rate", type=float, default=0.0)
    parser.add_argument("--fault-429-burst-rate", type=float, default=0.0)
    parser.add_argument("--fault-latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-drop-rate", type=float, default=0.0)
    parser.add_argument("--fault-error-after-write-rate", type=float, default=0.0)
    parser.add_argument("--oauth-client-id", default="sandbox-client-id")
    parser.add_argument("--oauth-refresh-token", default="sandbox-refresh-token")
    parser.add_argument("--access-token-ttl", type=float, default=7200.0)
    parser.add_argument("--webhook-retry-base-delay", type=float, default=2.0)
    parser.add_argument(
        "--unavailable-list",
        action="append",
        default=[],
        metavar="LIST",
        help="answer 404 for GET /LIST, as /price_lists may on the real API (repeatable)",
    )
    parser.add_argument(
        "--custom-price-lists-only",
        action="store_true",
        help="/price_lists lists the custom lists only, not the built-in buy/wholesale/retail",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        app_secret=args.app_secret,
        scale=args.scale,
        seed=args.seed,
        orders=args.orders,
        locations=args.locations,
        rate_limit_quota=args.rate_limit_quota,
        rate_limit_window=args.rate_limit_window,
        faults=FaultConfig(
            error_rate=args.fault_error_rate,
            burst_429_rate=args.fault_429_burst_rate,
            latency_ms=args.fault_latency_ms,
            drop_rate=args.fault_drop_rate,
            error_after_write_rate=args.fault_error_after_write_rate,
        ),
        oauth_client_id=args.oauth_client_id,
        oauth_refresh_token=args.oauth_refresh_token,
        access_token_ttl=args.access_token_ttl,
        webhook_retry_base_delay=args.webhook_retry_base_delay,
        log_requests=not args.quiet,
        unavailable_lists=tuple(args.unavailable_list),
        list_builtin_price_lists=not args.custom_price_lists_only,
    )


def run(args: argparse.Namespace) -> int:
    from gecko_sandbox.server import serve_forever  # noqa: PLC0415 - keeps `--help` fast

    try:
        serve_forever(config_from_args(args))
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """`gecko-sandbox ...`: the same flags as `gecko-pipeline sandbox`."""
    parser = argparse.ArgumentParser(prog="gecko-sandbox")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sandbox", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))
