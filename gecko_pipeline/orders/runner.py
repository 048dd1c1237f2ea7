"""One push pass, outside Dagster: what the order push job's op, the tests, the benchmark and the demo
all run. Opens the catalogue (published.duckdb), resolves the channels against it, and pushes either a
range of inbox rows or the orders due for a retry."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import ChannelConfig, resolve_channels
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.mapping import Catalog, CatalogMissing, ChannelTarget
from gecko_pipeline.orders.push import OrderPusher, PushOptions, PushStats

# Environment knobs (seconds), read by the sensor and the job alike so they agree.
ENV_UNKNOWN_SKU_WAIT = "GECKO_ORDERS_UNKNOWN_SKU_WAIT_SECONDS"
ENV_RETRY_DELAY = "GECKO_ORDERS_RETRY_DELAY_SECONDS"
ENV_STALE_AFTER = "GECKO_ORDERS_STALE_AFTER_SECONDS"


@dataclass(frozen=True)
class RetryPolicy:
    unknown_sku_wait_seconds: float = 3600.0  # an order with an unknown SKU is quarantined after this
    retry_delay_seconds: float = 60.0  # a failed order is retried after this
    stale_after_seconds: float = 300.0  # work left untouched this long (a crashed run) is picked up again

    @classmethod
    def from_env(cls) -> RetryPolicy:
        def number(name: str, default: float) -> float:
            value = os.environ.get(name)
            return float(value) if value not in (None, "") else default

        return cls(
            unknown_sku_wait_seconds=number(ENV_UNKNOWN_SKU_WAIT, cls.unknown_sku_wait_seconds),
            retry_delay_seconds=number(ENV_RETRY_DELAY, cls.retry_delay_seconds),
            stale_after_seconds=number(ENV_STALE_AFTER, cls.stale_after_seconds),
        )

    def push_options(self) -> PushOptions:
        return PushOptions(
            unknown_sku_wait=timedelta(seconds=self.unknown_sku_wait_seconds),
            retry_delay=timedelta(seconds=self.retry_delay_seconds),
        )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def due_for_retry(
    con: sqlite3.Connection, policy: RetryPolicy, catalog_mtime: float | None, now: datetime | None = None
) -> list[ledger.LedgerRow]:
    """Ledger rows a retry pass should push now: failed ones whose delay is over, waiting ones when the
    catalogue changed since they last tried (or their wait is over), and work a crashed run left."""
    ledger.ensure_schema(con)
    now = now or datetime.now(timezone.utc)
    due = []
    for row in ledger.rows_to_push(con):
        touched = _moment(row.updated_at) or now
        if row.state == "failed":
            ready = (_moment(row.next_attempt_at) or now) <= now
        elif row.state == "waiting":
            since = _moment(row.waiting_since) or now
            ready = (catalog_mtime is not None and catalog_mtime > touched.timestamp()) or (
                now - since >= timedelta(seconds=policy.unknown_sku_wait_seconds)
            )
        else:  # received / created: a run is on it, unless it has been left for too long
            ready = now - touched >= timedelta(seconds=policy.stale_after_seconds)
        if ready:
            due.append(row)
    return due


def stale_cutoff(policy: RetryPolicy, now: datetime | None = None) -> str:
    moment = (now or datetime.now(timezone.utc)) - timedelta(seconds=policy.stale_after_seconds)
    return moment.isoformat(timespec="milliseconds")


def catalog_mtime(published_path: Path) -> float | None:
    try:
        return Path(published_path).stat().st_mtime
    except FileNotFoundError:
        return None


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
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> PushStats:
    """Pushes inbox rows first..last (validating them into the ledger) and, with `retry_pending`, the
    ledger's orders due for a retry."""
    policy = policy or RetryPolicy.from_env()
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
