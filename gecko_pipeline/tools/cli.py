"""The `gecko-pipeline` command.

Each part of the system registers its own sub-commands: a module listed in COMMAND_MODULES defines
`register(subparsers)`, adding parsers whose `func` default takes the parsed arguments and returns an
exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from gecko_pipeline.stores.shopify.shops import ShopifyNotConfigured

COMMAND_MODULES = [
    "gecko_pipeline.tools.demo",
    "gecko_pipeline.tools.dev",
    "gecko_pipeline.tools.orders_cli",
    "gecko_pipeline.tools.shopify_cli",
    "gecko_pipeline.tools.webhooks_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gecko-pipeline",
        description="Sales-channel integration for the TradeGecko / QuickBooks Commerce inventory API.",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    _register_sandbox(subparsers)
    return parser


def _register_sandbox(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`gecko-pipeline sandbox` serves the inventory API sandbox, which ships apart from the product
    (package gecko-sandboxes, installed by the Makefile): without it, the command says how to get it."""
    try:
        from gecko_sandbox.cli import register  # noqa: PLC0415 - optional, not part of the product
    except ImportError:
        parser = subparsers.add_parser("sandbox", help="serve the local API sandbox (needs gecko-sandboxes)")
        parser.set_defaults(func=_sandbox_missing)
        return
    register(subparsers)


def _sandbox_missing(_args: argparse.Namespace) -> int:
    print("the API sandbox is not installed: pip install -e ./sandboxes (make install does)", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except ShopifyNotConfigured as exc:  # a missing token or address: say which, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
