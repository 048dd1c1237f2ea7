"""One push pass, outside Dagster: what the order push job's op, the tests, the benchmark and the demo
all run. Opens the catalogue (published.duckdb), resolves the channels against it, and pushes either a
range of inbox rows or the orders due for a retry."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import ChannelConfig, resolve_channels
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.context import Logger, PushHooks, PushStats
from gecko_pipeline.orders.mapping import Catalog, CatalogMissing, ChannelTarget
from gecko_pipeline.orders.policy import RetryPolicy, catalog_mtime, due_for_retry, stale_cutoff
from gecko_pipeline.orders.push import OrderPusher

__all__ = ["RetryPolicy", "channel_targets", "run_push"]


def channel_targets(catalog: Catalog | None, channels: Sequence[ChannelConfig]) -> dict[str, ChannelTarget]:
    """Each channel's price list and stock location, resolved against the catalogue. Without one, the
    names alone (every order then waits for the catalogue)."""
    if catalog is None:
        return {
            c.name: ChannelTarget(c.name, c.price_list or "", 0, c.order_tags, c.create_missing_currencies)
            for c in channels
        }
    return {
        r.name: ChannelTarget(
            r.name,
            r.price_list_id,
            r.stock_location_id,
            r.config.order_tags,
            r.config.create_missing_currencies,
        )
        for r in resolve_channels(catalog.con, channels)
    }


def run_push(
    client: GeckoClient,
    con: sqlite3.Connection,
    published_path: Path,
    channels: Sequence[ChannelConfig],
    *,
    first_inbox_id: int = 0,
    last_inbox_id: int = 0,
    retry_pending: bool = False,
    policy: RetryPolicy | None = None,
    logger: Logger | None = None,
    hooks: PushHooks | None = None,
) -> PushStats:
    """Pushes inbox rows first..last (validating them into the ledger) and, with `retry_pending`, the
    ledger's orders due for a retry. `hooks`: seams for the test suite (none in production)."""
    policy = policy or RetryPolicy()
    inbox.ensure_schema(con)
    ledger.ensure_schema(con)
    try:
        catalog: Catalog | None = Catalog(published_path)
        error = None
    except CatalogMissing as exc:
        catalog, error = None, str(exc)
    try:
        pusher = OrderPusher(
            client,
            con,
            catalog,
            channel_targets(catalog, channels),
            policy.push_options(),
            logger,
            catalog_error=error,
            hooks=hooks,
            channels={c.name: c for c in channels},
        )
        rows: dict[str, ledger.LedgerRow] = {}
        if last_inbox_id >= first_inbox_id > 0:
            for row in pusher.accept_inbox(inbox.read_inbox(con, first_inbox_id, last_inbox_id)):
                rows[row.reference] = row
        if retry_pending:
            for row in pusher.accept_inbox(inbox.unhandled(con, stale_cutoff(policy))):
                rows[row.reference] = row
            for row in due_for_retry(con, policy, catalog_mtime(published_path)):
                rows.setdefault(row.reference, row)
        return pusher.push_all(rows.values())
    finally:
        if catalog is not None:
            catalog.close()
