"""What the units of one push pass share: the API client, the ops.sqlite connection, the catalogue,
the channels, the log, the pass's counters, and the seams a caller (the test suite) may hook into."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.orders.ledger import LedgerRow
from gecko_pipeline.orders.mapping import Catalog, ChannelTarget

Logger = logging.Logger | logging.LoggerAdapter[Any]


@dataclass
class PushStats:
    received: int = 0
    created: int = 0
    actions: int = 0
    completed: int = 0
    waiting: int = 0
    quarantined: int = 0
    failed: int = 0
    lookups: int = 0
    amended: int = 0
    held: int = 0
    stale: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


@dataclass(frozen=True)
class PushHooks:
    """Seams for whoever runs a push (production passes none). `after_create_post` is called right
    after POST /orders answered and before the ledger records the outcome: the test suite kills a
    real process there to prove a rerun creates no second order."""

    after_create_post: Callable[[LedgerRow], None] | None = None


@dataclass
class PushContext:
    client: GeckoClient
    con: sqlite3.Connection
    catalog: Catalog | None  # None: published.duckdb is missing; orders wait for it
    catalog_error: str | None
    targets: dict[str, ChannelTarget]
    log: Logger
    stats: PushStats = field(default_factory=PushStats)
    hooks: PushHooks = field(default_factory=PushHooks)
    channels: dict[str, ChannelConfig] = field(default_factory=dict)  # what a store row's translation reads
