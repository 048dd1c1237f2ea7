"""Pushes channel orders into the inventory system: validate, create once, keep the lines in step,
follow up. This module only orchestrates; each step is its own unit:

- accept: inbox rows are validated (model.py) into the ledger, or quarantined;
- create_once.py: the sales order is created exactly once (intent, POST, lookup after a lost answer);
- amend.py: a newer channel state with other lines changes the sales order, or holds the order;
- follow_ups.py: the actions the channel state calls for, each once;
- policy.py: wait, quarantine, hold and retry timing.

Every change of an order's state goes through the ledger's state machine (states.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Mapping

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.api.errors import AuthenticationError, PaymentRequiredError
from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.orders import formats, inbox, ledger
from gecko_pipeline.orders.amend import Amender
from gecko_pipeline.orders.context import Logger, PushContext, PushHooks, PushStats
from gecko_pipeline.orders.create_once import CreateOnce
from gecko_pipeline.orders.follow_ups import FollowUps
from gecko_pipeline.orders.mapping import Catalog, ChannelTarget
from gecko_pipeline.orders.model import ChannelOrder, OrderInvalid, parse_order
from gecko_pipeline.orders.policy import Policy, PushOptions
from gecko_pipeline.orders.states import OPEN_STATES

log = logging.getLogger("gecko_pipeline.orders")


class OrderPusher:
    """One push pass over a batch of orders; owns nothing but borrows the client, the ops connection and
    the catalogue. Every order is handled on its own: an error in one never stops the others."""

    def __init__(
        self,
        client: GeckoClient,
        con: sqlite3.Connection,
        catalog: Catalog | None,
        targets: Mapping[str, ChannelTarget],
        options: PushOptions | None = None,
        logger: Logger | None = None,
        catalog_error: str | None = None,
        hooks: PushHooks | None = None,
        channels: Mapping[str, ChannelConfig] | None = None,
    ) -> None:
        inbox.ensure_schema(con)
        ledger.ensure_schema(con)
        self.ctx = PushContext(
            client=client,
            con=con,
            catalog=catalog,
            catalog_error=catalog_error,
            targets=dict(targets),
            log=logger or log,
            hooks=hooks or PushHooks(),
            channels=dict(channels or {}),
        )
        self.policy = Policy(self.ctx, options or PushOptions())
        self.create_once = CreateOnce(self.ctx, self.policy)
        self.amender = Amender(self.ctx, self.policy)
        self.follow_ups = FollowUps(self.ctx)
        # Orders this pass validated, by the inbox row of the state: push() need not validate again.
        self._validated: dict[int, ChannelOrder] = {}

    @property
    def stats(self) -> PushStats:
        return self.ctx.stats

    def accept_inbox(self, rows: Iterable[inbox.InboxRow]) -> list[ledger.LedgerRow]:
        """Validates inbox rows; a bad one is quarantined (the rest go on), a good one becomes the
        order's latest state in the ledger. A row in a store's own shape is translated first
        (formats.py); the ledger keeps the canonical order. Returns the orders with work left, once
        per order."""
        con = self.ctx.con
        keys: dict[tuple[str, str], None] = {}
        for row in rows:
            self.stats.received += 1
            ref = f"inbox #{row.id}"
            try:
                payload = inbox.loads(row.payload)
            except ValueError as exc:
                self.policy.quarantine_inbox_row(row, "(body)", f"order {ref}: is not JSON ({exc})")
                continue
            try:
                canonical = formats.translate(row, payload, self.ctx.channels)
                if canonical is None:  # a store notice without an order state of its own
                    inbox.mark_handled(con, row.id)
                    continue
                order = parse_order(
                    canonical, known_channels=self.ctx.targets, default_channel=row.channel, fallback_ref=ref
                )
            except OrderInvalid as exc:
                self.policy.quarantine_inbox_row(row, exc.field, str(exc), payload=payload)
                continue
            ledger.accept(
                con,
                channel=order.channel,
                channel_order_id=order.channel_order_id,
                reference=order.key,
                payload=row.payload if row.format is None else inbox.dumps(canonical),
                channel_updated_at=order.updated_at,
                inbox_id=row.id,
                replayed=row.source.startswith("replay:"),
            )
            inbox.mark_handled(con, row.id)
            self._validated[row.id] = order
            keys[(order.channel, order.channel_order_id)] = None
        found = [ledger.get(con, channel, order_id) for channel, order_id in keys]
        # An older state that was not taken leaves its order as it was: done, held, quarantined.
        return [r for r in found if r is not None and r.state in OPEN_STATES]

    def push_all(self, rows: Iterable[ledger.LedgerRow]) -> PushStats:
        for row in rows:
            try:
                self.push(row)
            except (AuthenticationError, PaymentRequiredError):
                raise  # nothing else can work either: fail the run with the API's message
            except Exception as exc:  # noqa: BLE001 - one order's failure never stops the batch
                self.policy.fail(row, exc)
        return self.stats

    def push(self, row: ledger.LedgerRow) -> None:
        order = self._validated.get(row.inbox_id)
        if order is None:  # a retry: the state was validated by an earlier pass, the setup may differ
            try:
                order = parse_order(
                    inbox.loads(row.payload),
                    known_channels=self.ctx.targets,
                    default_channel=row.channel,
                    fallback_ref=row.reference,
                )
            except OrderInvalid as exc:  # e.g. the channel was removed from the channel file since
                self.policy.quarantine(row, exc.field, str(exc))
                return
        if row.order_id is None and not self.create_once.run(row, order):
            return
        if not self.amender.run(row, order):
            return
        self.follow_ups.run(row, order)
