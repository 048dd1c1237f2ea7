"""Creating a channel order's sales order exactly once (shared/design.md section 6).

1. The ledger commits an intent (a fresh Idempotency-Key, `intent_at`) before POST /orders, by
   compare-and-set, so two runs never post the same order.
2. The POST carries that key and the channel key in reference_number; the client does not retry it.
3. The answer is committed as the outcome (CREATE). An intent without an outcome means "a POST may have
   happened" (a crash, a 5xx, a lost answer): only then is `GET /orders?reference_number=...` asked
   before posting again with the same key (lookup_first.py), so the normal path spends no lookup.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from gecko_pipeline.api import ValidationError
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import amend, inbox, ledger
from gecko_pipeline.orders.context import PushContext
from gecko_pipeline.orders.keys import idempotency_key
from gecko_pipeline.orders.lookup_first import post_looking_first
from gecko_pipeline.orders.mapping import MappedOrder, NotSellable, UnknownSkus, learn_from_created, map_order
from gecko_pipeline.orders.model import ChannelOrder
from gecko_pipeline.orders.policy import Policy, iso, now
from gecko_pipeline.orders.states import OrderAction, after


class CreateOnce:
    def __init__(self, ctx: PushContext, policy: Policy) -> None:
        self.ctx = ctx
        self.policy = policy

    def run(self, row: ledger.LedgerRow, order: ChannelOrder) -> bool:
        """True once the sales order exists and is recorded; False when the order waits, is set aside,
        or another run is creating it."""
        if row.intent_at is not None and self._recover(row, order):
            return True  # a previous attempt created it; its answer was lost
        mapped = self._map(row, order)
        if mapped is None or not self._claim(row):
            return False
        answer = self._post(row, order, mapped.body)
        if answer is None:
            return row.order_id is not None  # found by the lookup (True), or refused and quarantined
        if self.ctx.hooks.after_create_post is not None:
            self.ctx.hooks.after_create_post(row)  # the test suite's seam: between the POST and the record
        created = answer.get("order") or {}
        with transaction(self.ctx.con):
            self._record_created(row, created, order)
            learn_from_created(self.ctx.con, mapped, created, order.currency)
        self.ctx.log.info(
            "created %s as sales order %s (id %s)", row.reference, row.order_number, row.order_id
        )
        return True

    def _map(self, row: ledger.LedgerRow, order: ChannelOrder) -> MappedOrder | None:
        """The POST body, or None when the order has to wait or be set aside first."""
        if self.ctx.catalog is None:
            self.policy.wait(row, f"the catalog is not available: {self.ctx.catalog_error}", "lines")
            return None
        target = self.ctx.targets[order.channel]
        try:
            mapped = map_order(order, target, self.ctx.catalog, self.ctx.con, row.reference)
        except UnknownSkus as exc:
            index = next(i for i, line in enumerate(order.lines) if line.sku in exc.skus)
            self.policy.wait(
                row,
                f"unknown SKU {exc}: not in the catalog (waiting for the next catalog sync)",
                f"lines[{index}].sku",
            )
            return None
        except NotSellable as exc:
            index = next(i for i, line in enumerate(order.lines) if line.sku in exc.skus)
            self.policy.quarantine(
                row,
                f"lines[{index}].sku",
                f"order {row.reference}: field lines[{index}].sku: "
                f"SKU {exc} is not sellable in the inventory system (make it sellable, then replay)",
            )
            return None
        if mapped.currency_missing:
            if not target.create_missing_currencies:
                self.policy.wait(
                    row,
                    f"currency {order.currency} is not a currency of the account: add it there (or set "
                    f"create_missing_currencies: true for channel {order.channel} in the channel file)",
                    "currency",
                )
                return None
            self._ensure_currency(order.currency)
        return mapped

    def _claim(self, row: ledger.LedgerRow) -> bool:
        """Writes the create intent, unless another run wrote one (or created the order) since this run
        read the row: compare-and-set in one transaction, so two runs never post the same order twice."""
        with transaction(self.ctx.con):
            fresh = ledger.get(self.ctx.con, row.channel, row.channel_order_id)
            if fresh is None or fresh.order_id is not None or fresh.intent_at != row.intent_at:
                self.ctx.log.info("%s is being created by another run; leaving it", row.reference)
                return False
            key = row.create_key or idempotency_key(row.reference, "create", uuid.uuid4().hex[:12])
            ledger.note(self.ctx.con, row, create_key=key, intent_at=iso(now()), attempts=row.attempts + 1)
        return True

    def _post(
        self, row: ledger.LedgerRow, order: ChannelOrder, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """POST /orders under the intent's key, never blindly again. Returns the answer, or None when
        the lookup found the order (recorded) or the API refused it (quarantined)."""
        try:
            return post_looking_first(
                self.ctx.client, "/orders", body, row.create_key or "", lambda: self._recover(row, order)
            )
        except ValidationError as exc:
            # A definitive refusal: nothing was created, so the next attempt (after a fix) takes a new key.
            ledger.note(self.ctx.con, row, create_key=None, intent_at=None)
            field_name = next(iter(exc.errors), "order")
            self.policy.quarantine(
                row, f"(api) {field_name}", f"order {row.reference}: the API refused it: {exc}"
            )
            return None

    def _recover(self, row: ledger.LedgerRow, order: ChannelOrder) -> bool:
        """Looks the order up by reference_number (only ever after an intent without an outcome)."""
        self.ctx.stats.lookups += 1
        found = self.ctx.client.get("/orders", {"reference_number": row.reference}).get("orders") or []
        matches = sorted(
            (o for o in found if o.get("reference_number") == row.reference), key=lambda o: o["id"]
        )
        if not matches:
            return False
        if len(matches) > 1:
            self.ctx.log.warning(
                "%s has %d sales orders with its reference; keeping %s",
                row.reference,
                len(matches),
                matches[0]["id"],
            )
        with transaction(self.ctx.con):
            self._record_created(row, matches[0], order)
        self.ctx.log.info("recovered %s: sales order %s already existed", row.reference, matches[0].get("id"))
        return True

    def _record_created(self, row: ledger.LedgerRow, created: Mapping[str, Any], order: ChannelOrder) -> None:
        """The outcome, in the caller's transaction: the order is CREATED and its lines are as sent."""
        ledger.transition(
            self.ctx.con,
            row,
            after(row.state, OrderAction.CREATE),
            lines_sent=amend.LineSet.of(order).to_json(),
            order_id=int(created["id"]),
            order_number=created.get("order_number"),
            intent_at=None,
            created_at=iso(now()),
            last_error=None,
            waiting_since=None,
            next_attempt_at=None,
            failures=0,
        )
        inbox.resolve_quarantine(self.ctx.con, row.channel, row.channel_order_id)
        self.ctx.stats.created += 1

    def _ensure_currency(self, currency: str) -> None:
        """The API matches currency_iso against the account's currencies: create a missing one first
        (only for channels whose file allows it)."""
        answer = self.ctx.client.post(
            "/currencies",
            {"currency": {"iso": currency, "name": currency}},
            idempotency_key=idempotency_key("currency", currency),
        )
        currency_id = (answer.get("currency") or {}).get("id")
        if isinstance(currency_id, int):
            with transaction(self.ctx.con):
                ledger.learn(self.ctx.con, "currency", currency, currency_id)
        self.ctx.log.info("created currency %s", currency)
