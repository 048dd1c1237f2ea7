"""When an order waits, is set aside for a person, or is tried again: the timing (from the settings,
shared by the sensor and the job) and the moves that carry it out through the state machine.

- wait: a SKU the catalogue does not know yet, a currency the account lacks, no catalogue at all. The
  order waits for the next catalog sync, at most `unknown_sku_wait`; then it is quarantined.
- quarantine: the order cannot be pushed as it is; a person fixes the record or the setup and replays.
- hold: its lines changed after the sales order could no longer follow; a person decides.
- fail: an error; retried after `retry_delay`, quarantined after `max_attempts` failures in a row.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.context import PushContext
from gecko_pipeline.orders.states import OrderAction, OrderState, after

if TYPE_CHECKING:
    from gecko_pipeline.config import Settings

# Environment knobs (seconds), read by the sensor and the job alike so they agree.


@dataclass(frozen=True)
class PushOptions:
    unknown_sku_wait: timedelta = timedelta(hours=1)  # then an order with an unknown SKU is quarantined
    retry_delay: timedelta = timedelta(minutes=1)  # before a failed order is tried again
    max_attempts: int = 8  # failures before an order is quarantined for a person to look at


@dataclass(frozen=True)
class RetryPolicy:
    unknown_sku_wait_seconds: float = 3600.0  # an order with an unknown SKU is quarantined after this
    retry_delay_seconds: float = 60.0  # a failed order is retried after this
    stale_after_seconds: float = 300.0  # work left untouched this long (a crashed run) is picked up again

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            unknown_sku_wait_seconds=settings.orders_unknown_sku_wait_seconds,
            retry_delay_seconds=settings.orders_retry_delay_seconds,
            stale_after_seconds=settings.orders_stale_after_seconds,
        )

    def push_options(self) -> PushOptions:
        return PushOptions(
            unknown_sku_wait=timedelta(seconds=self.unknown_sku_wait_seconds),
            retry_delay=timedelta(seconds=self.retry_delay_seconds),
        )


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def due_for_retry(
    con: sqlite3.Connection, policy: RetryPolicy, catalog_mtime: float | None, at: datetime | None = None
) -> list[ledger.LedgerRow]:
    """Ledger rows a retry pass should push now: failed ones whose delay is over, waiting ones when the
    catalogue changed since they last tried (or their wait is over), and work a crashed run left."""
    ledger.ensure_schema(con)
    at = at or now()
    due = []
    for row in ledger.rows_to_push(con):
        touched = _moment(row.updated_at) or at
        if row.state == OrderState.FAILED:
            ready = (_moment(row.next_attempt_at) or at) <= at
        elif row.state == OrderState.WAITING:
            since = _moment(row.waiting_since) or at
            ready = (catalog_mtime is not None and catalog_mtime > touched.timestamp()) or (
                at - since >= timedelta(seconds=policy.unknown_sku_wait_seconds)
            )
        else:  # received / created: a run is on it, unless it has been left for too long
            ready = at - touched >= timedelta(seconds=policy.stale_after_seconds)
        if ready:
            due.append(row)
    return due


def stale_cutoff(policy: RetryPolicy, at: datetime | None = None) -> str:
    return iso((at or now()) - timedelta(seconds=policy.stale_after_seconds))


def catalog_mtime(published_path: Path) -> float | None:
    try:
        return Path(published_path).stat().st_mtime
    except FileNotFoundError:
        return None


class Policy:
    """Carries out wait / quarantine / hold / fail for the orders of one push pass."""

    def __init__(self, ctx: PushContext, options: PushOptions) -> None:
        self.ctx = ctx
        self.options = options

    def wait(self, row: ledger.LedgerRow, reason: str, field_name: str) -> None:
        started = _moment(row.waiting_since) or now()
        waited = now() - started
        if waited >= self.options.unknown_sku_wait:
            self.quarantine(
                row,
                field_name,
                f"order {row.reference}: field {field_name}: {reason}; "
                f"gave up after waiting {int(waited.total_seconds())} s",
            )
            return
        ledger.transition(
            self.ctx.con,
            row,
            after(row.state, OrderAction.WAIT),
            waiting_since=iso(started),
            last_error=reason,
        )
        self.ctx.stats.waiting += 1

    def quarantine(self, row: ledger.LedgerRow, field_name: str, reason: str) -> None:
        self.ctx.stats.quarantined += 1
        self._set_aside(row, field_name, reason, OrderAction.QUARANTINE)

    def hold(self, row: ledger.LedgerRow, field_name: str, reason: str) -> None:
        self.ctx.stats.held += 1
        self._set_aside(row, field_name, reason, OrderAction.HOLD)

    def fail(self, row: ledger.LedgerRow, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        self.ctx.stats.errors.append(f"{row.reference}: {message}")
        failures = row.failures + 1
        if failures >= self.options.max_attempts:
            self.quarantine(
                row, "(push)", f"order {row.reference}: failed {failures} times; last error: {message}"
            )
            return
        self.ctx.stats.failed += 1
        ledger.transition(
            self.ctx.con,
            row,
            after(row.state, OrderAction.FAIL),
            last_error=message,
            failures=failures,
            next_attempt_at=iso(now() + self.options.retry_delay),
        )
        self.ctx.log.error("order %s failed (failure %d): %s", row.reference, failures, message)

    def quarantine_inbox_row(
        self, row: inbox.InboxRow, field_name: str, reason: str, payload: Any = None
    ) -> None:
        """An inbox row that never became an order (not JSON, or invalid): kept with its reason."""
        self.ctx.stats.quarantined += 1
        parsed = payload if isinstance(payload, dict) and row.format is None else {}
        order_id = parsed.get("channel_order_id", row.channel_order_id)
        channel = parsed.get("channel")
        inbox.quarantine(
            self.ctx.con,
            inbox_id=row.id,
            channel=channel if isinstance(channel, str) else row.channel,
            channel_order_id=None if order_id is None else str(order_id),
            payload=row.payload,
            field=field_name,
            reason=reason,
            format=row.format,
        )
        inbox.mark_handled(self.ctx.con, row.id)
        self.ctx.log.warning("quarantined %s", reason)

    def _set_aside(self, row: ledger.LedgerRow, field_name: str, reason: str, action: OrderAction) -> None:
        """Keeps the order where a person sees it (`quarantine list`) until it is replayed."""
        inbox.quarantine(
            self.ctx.con,
            inbox_id=row.inbox_id,
            channel=row.channel,
            channel_order_id=row.channel_order_id,
            payload=row.payload,
            field=field_name,
            reason=reason,
        )
        target = after(row.state, action)
        ledger.transition(self.ctx.con, row, target, last_error=reason, next_attempt_at=None)
        self.ctx.log.warning("%s: %s", target, reason)
