"""Pushes channel orders into the inventory system: validate, map, create once, follow up.

Creation is exactly-once by construction (shared/design.md section 6):
1. the ledger commits an intent (a fresh Idempotency-Key) before POST /orders;
2. the POST carries that key and the channel key in reference_number;
3. the answer is committed as the outcome. A crash or a lost answer leaves an intent without an
   outcome: only then is `GET /orders?reference_number=...` asked before posting again (the normal
   path spends no lookup), and the retried POST reuses the key, which the API deduplicates for 24 h.
Follow-ups are the actions the channel state calls for that the ledger has not done yet, in order
(pay or invoice, pack when packed, fulfil with tracking when shipped, void, fulfillment returns), each with its own key and
recorded as done at once, so none is sent twice.

Test hook (documented in docs/orders.md): when the environment variable GECKO_ORDERS_CRASH_AFTER_POST
holds an order's reference (or `*`), the process exits abruptly (os._exit) right after POST /orders
returns and before the ledger records it: the "killed between POST and ledger write" case.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from gecko_pipeline.api import GeckoApiError, GeckoClient, ValidationError
from gecko_pipeline.api.errors import AuthenticationError, PaymentRequiredError
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.mapping import (
    Catalog,
    ChannelTarget,
    NotSellable,
    UnknownSkus,
    learn_from_created,
    map_order,
)
from gecko_pipeline.orders.model import ChannelOrder, OrderInvalid, Shipment, parse_order

CRASH_HOOK_ENV = "GECKO_ORDERS_CRASH_AFTER_POST"
KEY_PREFIX = "gecko-pipeline"

log = logging.getLogger("gecko_pipeline.orders")


@dataclass(frozen=True)
class PushOptions:
    unknown_sku_wait: timedelta = timedelta(hours=1)  # then an order with an unknown SKU is quarantined
    retry_delay: timedelta = timedelta(minutes=1)  # before a failed order is tried again
    max_attempts: int = 8  # failures before an order is quarantined for a person to look at


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
    stale: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


@dataclass(frozen=True)
class Action:
    key: str  # unique within the order: pay, invoice, pack, fulfil, void, ship:<id>, return:<id>
    kind: str
    shipment: Shipment | None = None
    return_lines: tuple[tuple[str, Decimal], ...] = ()
    notes: str | None = None


def planned_actions(order: ChannelOrder) -> list[Action]:
    """The follow-ups the channel state calls for, in the order they must happen."""
    shipments = order.shipments
    if order.cancelled and not shipments:
        return [Action("void", "void")]  # an unshipped cancelled order is voided; it is not paid
    actions = [Action("invoice", "invoice") if order.financial_status == "pending" else Action("pay", "pay")]
    if len(shipments) == 1 and _ships_everything(order, shipments[0]):
        # The common case uses the order actions: pack while the channel says packed, fulfil once shipped
        # (fulfil ships a packed fulfillment, or creates a fulfilled one: no pack needed before it).
        shipment = shipments[0]
        actions.append(
            Action("pack", "pack", shipment)
            if shipment.status == "packed"
            else Action("fulfil", "fulfil", shipment)
        )
    else:
        # Partial shipments are sent line by line once shipped (a packed partial waits for its carrier).
        actions += [Action(f"ship:{s.shipment_id}", "ship", s) for s in shipments if s.status == "shipped"]
    actions += [
        Action(
            f"return:{r.return_id}",
            "return",
            return_lines=tuple((x.sku, x.quantity) for x in r.lines),
            notes=r.notes,
        )
        for r in order.returns
    ]
    return actions


def _ships_everything(order: ChannelOrder, shipment: Shipment) -> bool:
    shipped: dict[str, Decimal] = {}
    for item in shipment.lines:
        shipped[item.sku] = shipped.get(item.sku, Decimal(0)) + item.quantity
    return all(shipped.get(line.sku, Decimal(0)) >= order.ordered_quantity(line.sku) for line in order.lines)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


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
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        catalog_error: str | None = None,
    ) -> None:
        self.client = client
        self.con = con
        self.catalog = catalog
        self.targets = dict(targets)
        self.options = options or PushOptions()
        self.log = logger or log
        self.catalog_error = catalog_error
        self.stats = PushStats()
        inbox.ensure_schema(con)
        ledger.ensure_schema(con)

    # --- intake side: validate inbox rows into the ledger --------------------------------------------

    def accept_inbox(self, rows: Iterable[inbox.InboxRow]) -> list[ledger.LedgerRow]:
        """Validates inbox rows; a bad one is quarantined (the rest go on), a good one becomes the
        order's latest state in the ledger. Returns the ledger rows to push, once per order."""
        keys: dict[tuple[str, str], None] = {}
        for row in rows:
            self.stats.received += 1
            ref = f"inbox #{row.id}"
            try:
                payload = inbox.loads(row.payload)
            except ValueError as exc:
                self._quarantine_raw(row, "(body)", f"order {ref}: is not JSON ({exc})")
                continue
            try:
                order = parse_order(
                    payload, known_channels=self.targets, default_channel=row.channel, fallback_ref=ref
                )
            except OrderInvalid as exc:
                self._quarantine_raw(row, exc.field, str(exc), payload=payload)
                continue
            ledger.accept(
                self.con,
                channel=order.channel,
                channel_order_id=order.channel_order_id,
                reference=order.key,
                payload=row.payload,
                channel_updated_at=order.updated_at,
                inbox_id=row.id,
            )
            inbox.mark_handled(self.con, row.id)
            keys[(order.channel, order.channel_order_id)] = None
        found = [ledger.get(self.con, channel, order_id) for channel, order_id in keys]
        return [r for r in found if r is not None]

    def _quarantine_raw(self, row: inbox.InboxRow, field_name: str, reason: str, payload: Any = None) -> None:
        self.stats.quarantined += 1
        order_id = None
        if isinstance(payload, dict) and payload.get("channel_order_id") is not None:
            order_id = str(payload["channel_order_id"])
        channel = (
            payload.get("channel")
            if isinstance(payload, dict) and isinstance(payload.get("channel"), str)
            else row.channel
        )
        inbox.quarantine(
            self.con,
            inbox_id=row.id,
            channel=channel,
            channel_order_id=order_id,
            payload=row.payload,
            field=field_name,
            reason=reason,
        )
        inbox.mark_handled(self.con, row.id)
        self.log.warning("quarantined %s", reason)

    # --- push side ----------------------------------------------------------------------------------

    def push_all(self, rows: Iterable[ledger.LedgerRow]) -> PushStats:
        for row in rows:
            try:
                self.push(row)
            except (AuthenticationError, PaymentRequiredError):
                raise  # nothing else can work either: fail the run with the API's message
            except Exception as exc:  # noqa: BLE001 - one order's failure never stops the batch
                self._failed(row, exc)
        return self.stats

    def push(self, row: ledger.LedgerRow) -> None:
        try:
            order = parse_order(
                inbox.loads(row.payload),
                known_channels=self.targets,
                default_channel=row.channel,
                fallback_ref=row.reference,
            )
        except OrderInvalid as exc:  # e.g. the channel was removed from the channel file since
            self._quarantine_order(row, exc.field, str(exc))
            return
        if row.order_id is None and not self._create_once(row, order):
            return
        self._follow_up(row, order)

    def _create_once(self, row: ledger.LedgerRow, order: ChannelOrder) -> bool:
        if row.intent_at is not None and self._recover(row):
            return True  # a previous attempt created it; its answer was lost
        if self.catalog is None:
            self._wait(row, f"the catalog is not available: {self.catalog_error}", field_name="lines")
            return False
        target = self.targets[order.channel]
        try:
            mapped = map_order(order, target, self.catalog, self.con, row.reference)
        except UnknownSkus as exc:
            index = next(i for i, line in enumerate(order.lines) if line.sku in exc.skus)
            self._wait(
                row,
                f"unknown SKU {exc}: not in the catalog (waiting for the next catalog sync)",
                field_name=f"lines[{index}].sku",
            )
            return False
        except NotSellable as exc:
            index = next(i for i, line in enumerate(order.lines) if line.sku in exc.skus)
            self._quarantine_order(
                row,
                f"lines[{index}].sku",
                f"order {row.reference}: field lines[{index}].sku: "
                f"SKU {exc} is not sellable in the inventory system (make it sellable, then replay)",
            )
            return False
        if mapped.currency_missing:
            self._ensure_currency(order.currency)
        if not self._claim(row):
            return False
        try:
            answer = self.client.post("/orders", mapped.body, idempotency_key=row.create_key)
        except ValidationError as exc:
            # A definitive refusal: nothing was created, so the next attempt (after a fix) takes a new key.
            ledger.update(self.con, row, create_key=None, intent_at=None)
            field_name = next(iter(exc.errors), "order")
            self._quarantine_order(
                row, f"(api) {field_name}", f"order {row.reference}: the API refused it: {exc}"
            )
            return False
        except GeckoApiError:
            # The answer was lost (5xx after retries, dropped connection): the order may exist.
            if self._recover(row):
                return True
            raise
        if os.environ.get(CRASH_HOOK_ENV) in (row.reference, "*"):
            os._exit(86)  # test hook: die between the POST and the ledger write
        created = answer.get("order") or {}
        with transaction(self.con):
            self._record_created(row, created)
            learn_from_created(self.con, mapped, created, order.currency)
        self.stats.created += 1
        self.log.info("created %s as sales order %s (id %s)", row.reference, row.order_number, row.order_id)
        return True

    def _claim(self, row: ledger.LedgerRow) -> bool:
        """Writes the create intent, unless another run wrote one (or created the order) since this run
        read the row: compare-and-set in one transaction, so two runs never post the same order twice."""
        with transaction(self.con):
            fresh = ledger.get(self.con, row.channel, row.channel_order_id)
            if fresh is None or fresh.order_id is not None or fresh.intent_at != row.intent_at:
                self.log.info("%s is being created by another run; leaving it", row.reference)
                return False
            key = row.create_key or f"{KEY_PREFIX}:{row.reference}:create:{uuid.uuid4().hex[:12]}"
            ledger.write(self.con, row, create_key=key, intent_at=_iso(_now()), attempts=row.attempts + 1)
        return True

    def _recover(self, row: ledger.LedgerRow) -> bool:
        """Looks the order up by reference_number (only ever after an intent without an outcome)."""
        self.stats.lookups += 1
        found = self.client.get("/orders", {"reference_number": row.reference}).get("orders") or []
        matches = sorted(
            (o for o in found if o.get("reference_number") == row.reference), key=lambda o: o["id"]
        )
        if not matches:
            return False
        if len(matches) > 1:
            self.log.warning(
                "%s has %d sales orders with its reference; keeping %s",
                row.reference,
                len(matches),
                matches[0]["id"],
            )
        with transaction(self.con):
            self._record_created(row, matches[0])
        self.stats.created += 1
        self.log.info("recovered %s: sales order %s already existed", row.reference, matches[0].get("id"))
        return True

    def _record_created(self, row: ledger.LedgerRow, created: Mapping[str, Any]) -> None:
        ledger.write(
            self.con,
            row,
            order_id=int(created["id"]),
            order_number=created.get("order_number"),
            intent_at=None,
            state="created",
            created_at=_iso(_now()),
            last_error=None,
            waiting_since=None,
            next_attempt_at=None,
            failures=0,
        )
        inbox.resolve_quarantine(self.con, row.channel, row.channel_order_id)

    def _ensure_currency(self, iso: str) -> None:
        """The API matches currency_iso against the account's currencies: create a missing one first."""
        answer = self.client.post(
            "/currencies",
            {"currency": {"iso": iso, "name": iso}},
            idempotency_key=f"{KEY_PREFIX}:currency:{iso}",
        )
        currency_id = (answer.get("currency") or {}).get("id")
        if isinstance(currency_id, int):
            with transaction(self.con):
                ledger.learn(self.con, "currency", iso, currency_id)
        self.log.info("created currency %s", iso)

    def _wait(self, row: ledger.LedgerRow, reason: str, field_name: str) -> None:
        now = _now()
        since = _parse_iso(row.waiting_since) or now
        if now - since >= self.options.unknown_sku_wait:
            waited = int((now - since).total_seconds())
            self._quarantine_order(
                row,
                field_name,
                f"order {row.reference}: field {field_name}: {reason}; gave up after waiting {waited} s",
            )
            return
        ledger.update(self.con, row, state="waiting", waiting_since=_iso(since), last_error=reason)
        self.stats.waiting += 1

    def _quarantine_order(self, row: ledger.LedgerRow, field_name: str, reason: str) -> None:
        self.stats.quarantined += 1
        inbox.quarantine(
            self.con,
            inbox_id=row.inbox_id,
            channel=row.channel,
            channel_order_id=row.channel_order_id,
            payload=row.payload,
            field=field_name,
            reason=reason,
        )
        ledger.update(self.con, row, state="quarantined", last_error=reason)
        self.log.warning("quarantined %s", reason)

    def _failed(self, row: ledger.LedgerRow, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        self.stats.errors.append(f"{row.reference}: {message}")
        if row.failures + 1 >= self.options.max_attempts:
            self._quarantine_order(
                row,
                "(push)",
                f"order {row.reference}: failed {row.failures + 1} times; last error: {message}",
            )
            return
        self.stats.failed += 1
        ledger.update(
            self.con,
            row,
            state="failed",
            last_error=message,
            failures=row.failures + 1,
            next_attempt_at=_iso(_now() + self.options.retry_delay),
        )
        self.log.error("order %s failed (failure %d): %s", row.reference, row.failures, message)

    # --- follow-ups ---------------------------------------------------------------------------------

    def _follow_up(self, row: ledger.LedgerRow, order: ChannelOrder) -> None:
        done = row.done
        for action in planned_actions(order):
            if action.key in done:
                continue
            if action.kind in ("ship", "return") and row.line_items is None:
                self._load_line_items(row, order)
            ledger.update(self.con, row, action_intent=action.key, attempts=row.attempts + 1)
            self._send(row, order, action)
            done.append(action.key)
            ledger.update(self.con, row, actions_done=inbox.dumps(done), action_intent=None, last_error=None)
            self.stats.actions += 1
        if row.state != "done":
            ledger.update(self.con, row, state="done", last_error=None, next_attempt_at=None, failures=0)
            self.stats.completed += 1

    def _send(self, row: ledger.LedgerRow, order: ChannelOrder, action: Action) -> None:
        key = f"{KEY_PREFIX}:{row.reference}:{action.key}"
        order_id = row.order_id
        try:
            if action.kind in ("invoice", "pay", "void"):
                self.client.post(f"/orders/{order_id}/actions/{action.kind}", {}, idempotency_key=key)
            elif action.kind in ("pack", "fulfil"):
                self.client.post(
                    f"/orders/{order_id}/actions/{action.kind}",
                    {"fulfillment": _tracking(action.shipment)},
                    idempotency_key=key,
                )
            elif action.kind == "ship":
                assert action.shipment is not None
                lines = self._allocate(row, [(x.sku, x.quantity) for x in action.shipment.lines], "shipment")
                body = {
                    "order_id": order_id,
                    "status": "fulfilled",
                    "fulfillment_line_items": lines,
                    **_tracking(action.shipment),
                }
                self.client.post("/fulfillments", {"fulfillment": body}, idempotency_key=key)
            elif action.kind == "return":
                lines = self._allocate(row, list(action.return_lines), "return")
                body = {
                    "order_id": order_id,
                    "location_id": self.targets[order.channel].stock_location_id,
                    "fulfillment_return_line_items": lines,
                }
                if action.notes:
                    body["notes"] = action.notes
                self.client.post("/fulfillment_returns", {"fulfillment_return": body}, idempotency_key=key)
            else:  # pragma: no cover - planned_actions makes only the kinds above
                raise ValueError(f"unknown action {action.kind}")
        except GeckoApiError as exc:
            # A refusal (422: done before, beyond the key's lifetime?) or a lost answer (5xx, network):
            # the order's statuses tell whether the action took effect.
            if isinstance(exc, AuthenticationError | PaymentRequiredError) or not self._already_applied(
                row, action
            ):
                raise

    def _already_applied(self, row: ledger.LedgerRow, action: Action) -> bool:
        if row.action_intent != action.key or action.kind not in _APPLIED:
            return False
        self.stats.lookups += 1
        current = self.client.get(f"/orders/{row.order_id}").get("order") or {}
        return _APPLIED[action.kind](current)

    def _load_line_items(self, row: ledger.LedgerRow, order: ChannelOrder) -> None:
        """sku -> order line item ids of the sales order (for shipments and returns by line)."""
        assert self.catalog is not None
        variants = self.catalog.variant_ids(line.sku for line in order.lines)
        by_variant: dict[int, list[int]] = {}
        for page in self.client.iter_pages("/order_line_items", {"order_id": row.order_id}):
            for item in sorted(page.records, key=lambda r: r["id"]):
                if item.get("variant_id") is not None:
                    by_variant.setdefault(int(item["variant_id"]), []).append(int(item["id"]))
        mapping = {sku: by_variant.get(vid, []) for sku, vid in variants.items()}
        quantities = {sku: str(order.ordered_quantity(sku)) for sku in mapping}
        ledger.update(self.con, row, line_items=inbox.dumps({"ids": mapping, "quantities": quantities}))

    def _allocate(
        self, row: ledger.LedgerRow, items: list[tuple[str, Decimal]], what: str
    ) -> list[dict[str, Any]]:
        known = (row.line_item_map or {}).get("ids", {})
        lines = []
        for sku, quantity in items:
            ids = known.get(sku) or []
            if not ids:
                raise LookupError(f"{what} line {sku!r} has no line on sales order {row.order_id}")
            # One line per SKU is the norm; a SKU on several lines is taken from its first line.
            lines.append({"order_line_item_id": ids[0], "quantity": str(quantity)})
        return lines


def _tracking(shipment: Shipment | None) -> dict[str, Any]:
    if shipment is None:
        return {}
    values = {
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "tracking_company": shipment.tracking_company,
    }
    return {k: v for k, v in values.items() if v}


_APPLIED: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "invoice": lambda o: (
        o.get("invoice_status") in ("invoiced", "partial") or o.get("payment_status") == "paid"
    ),
    "pay": lambda o: o.get("payment_status") == "paid",
    "pack": lambda o: o.get("packed_status") == "packed" or o.get("fulfillment_status") == "shipped",
    "fulfil": lambda o: o.get("fulfillment_status") == "shipped",
    "void": lambda o: o.get("status") == "void",
}
