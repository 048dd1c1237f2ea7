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

COMMAND_MODULES = [
    "gecko_pipeline.sandbox.cli",
    "gecko_pipeline.demo",
    "gecko_pipeline.dev",
    "gecko_pipeline.orders.cli",
    "gecko_pipeline.webhooks.cli",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
