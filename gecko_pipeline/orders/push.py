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

import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from gecko_pipeline.api import GeckoClient, ValidationError
from gecko_pipeline.api.errors import (
    AuthenticationError,
    NotFoundError,
    PaymentRequiredError,
)
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import amend, inbox, ledger
from gecko_pipeline.orders.keys import idempotency_key
from gecko_pipeline.orders.lookup_first import post_looking_first
from gecko_pipeline.orders.mapping import (
    Catalog,
    ChannelTarget,
    NotSellable,
    UnknownSkus,
    learn_from_created,
    line_items,
    map_order,
)
from gecko_pipeline.orders.model import ChannelOrder, OrderInvalid, Shipment, SkuQuantity, parse_order

CRASH_HOOK_ENV = "GECKO_ORDERS_CRASH_AFTER_POST"

log = logging.getLogger("gecko_pipeline.orders")

# A shipment or a return as the API holds it: sorted (order line item id, quantity) pairs, tracking.
Shape = tuple[tuple[tuple[int, Decimal], ...], str | None]


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
    amended: int = 0
    held: int = 0
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
            before = ledger.get(self.con, order.channel, order.channel_order_id)
            taken = ledger.accept(
                self.con,
                channel=order.channel,
                channel_order_id=order.channel_order_id,
                reference=order.key,
                payload=row.payload,
                channel_updated_at=order.updated_at,
                inbox_id=row.id,
            )
            if taken and before is not None and before.state == "held" and row.source.startswith("replay:"):
                # A person replayed an order held for changed lines: they brought the sales order in
                # line by hand (or accept the difference), so its lines count as sent from now on.
                current = ledger.get(self.con, order.channel, order.channel_order_id)
                if current is not None:
                    ledger.update(self.con, current, lines_sent=None)
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
        if not self._lines_in_step(row, order):
            return
        self._follow_up(row, order)

    def _create_once(self, row: ledger.LedgerRow, order: ChannelOrder) -> bool:
        if row.intent_at is not None and self._recover(row, order):
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
            if not target.create_missing_currencies:
                self._wait(
                    row,
                    f"currency {order.currency} is not a currency of the account: add it there (or set "
                    f"create_missing_currencies: true for channel {order.channel} in the channel file)",
                    field_name="currency",
                )
                return False
            self._ensure_currency(order.currency)
        if not self._claim(row):
            return False
        answer = self._post_once(row, order, mapped.body)
        if answer is None:
            return row.order_id is not None  # found by the lookup (True), or refused and quarantined
        if os.environ.get(CRASH_HOOK_ENV) in (row.reference, "*"):
            os._exit(86)  # test hook: die between the POST and the ledger write
        created = answer.get("order") or {}
        with transaction(self.con):
            self._record_created(row, created, order)
            learn_from_created(self.con, mapped, created, order.currency)
        self.stats.created += 1
        self.log.info("created %s as sales order %s (id %s)", row.reference, row.order_number, row.order_id)
        return True

    def _post_once(
        self, row: ledger.LedgerRow, order: ChannelOrder, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """POST /orders under the intent's key, never blindly again: after a 5xx or a lost answer the
        order is looked up by reference_number first. Returns the answer, or None when the lookup
        found the order (recorded) or the API refused it (quarantined)."""
        try:
            return post_looking_first(
                self.client, "/orders", body, row.create_key or "", lambda: self._recover(row, order)
            )
        except ValidationError as exc:
            # A definitive refusal: nothing was created, so the next attempt (after a fix) takes a new key.
            ledger.update(self.con, row, create_key=None, intent_at=None)
            field_name = next(iter(exc.errors), "order")
            self._quarantine_order(
                row, f"(api) {field_name}", f"order {row.reference}: the API refused it: {exc}"
            )
            return None

    def _claim(self, row: ledger.LedgerRow) -> bool:
        """Writes the create intent, unless another run wrote one (or created the order) since this run
        read the row: compare-and-set in one transaction, so two runs never post the same order twice."""
        with transaction(self.con):
            fresh = ledger.get(self.con, row.channel, row.channel_order_id)
            if fresh is None or fresh.order_id is not None or fresh.intent_at != row.intent_at:
                self.log.info("%s is being created by another run; leaving it", row.reference)
                return False
            key = row.create_key or idempotency_key(row.reference, "create", uuid.uuid4().hex[:12])
            ledger.write(self.con, row, create_key=key, intent_at=_iso(_now()), attempts=row.attempts + 1)
        return True

    def _recover(self, row: ledger.LedgerRow, order: ChannelOrder) -> bool:
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
            self._record_created(row, matches[0], order)
        self.stats.created += 1
        self.log.info("recovered %s: sales order %s already existed", row.reference, matches[0].get("id"))
        return True

    def _record_created(self, row: ledger.LedgerRow, created: Mapping[str, Any], order: ChannelOrder) -> None:
        ledger.write(
            self.con,
            row,
            lines_sent=amend.LineSet.of(order).to_json(),
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
            idempotency_key=idempotency_key("currency", iso),
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
        self._set_aside(row, field_name, reason, "quarantined")

    def _set_aside(self, row: ledger.LedgerRow, field_name: str, reason: str, state: str) -> None:
        """Keeps the order where a person sees it (`quarantine list`), in `state` until replayed."""
        inbox.quarantine(
            self.con,
            inbox_id=row.inbox_id,
            channel=row.channel,
            channel_order_id=row.channel_order_id,
            payload=row.payload,
            field=field_name,
            reason=reason,
        )
        ledger.update(self.con, row, state=state, last_error=reason, next_attempt_at=None)
        self.log.warning("%s: %s", state, reason)

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

    # --- lines changed after the sales order was created ----------------------------------------------

    def _lines_in_step(self, row: ledger.LedgerRow, order: ChannelOrder) -> bool:
        """True when the sales order's lines match the channel's (after changing them if they did not
        and the API allows it); False when the order waits or is held for a person."""
        wanted = amend.LineSet.of(order)
        if row.lines_sent is None:  # a row from before lines were recorded, or a replayed hold
            ledger.update(self.con, row, lines_sent=wanted.to_json())
            return True
        sent = amend.LineSet.from_json(row.lines_sent)
        if sent == wanted:
            return True  # the normal path: no request spent
        changes = sent.differences(wanted)
        if self.catalog is None:
            self._wait(row, f"the catalog is not available: {self.catalog_error}", field_name="lines")
            return False
        self.stats.lookups += 1
        sales_order = self.client.get(f"/orders/{row.order_id}").get("order") or {}
        reason = amend.locked_reason(sales_order)
        plan = None
        if reason is None:
            variants = self.catalog.variant_ids(line.sku for line in order.lines)
            unknown = [line.sku for line in order.lines if line.sku not in variants]
            if unknown:
                index = next(i for i, line in enumerate(order.lines) if line.sku in unknown)
                self._wait(row, f"unknown SKU {unknown[0]!r}: not in the catalog", f"lines[{index}].sku")
                return False
            current = [
                item
                for page in self.client.iter_pages("/order_line_items", {"order_id": row.order_id})
                for item in page.records
            ]
            plan = amend.plan(line_items(order, variants), current)
            reason = plan.locked_reason()
        if reason is None and plan is not None:
            try:
                self._apply(row, plan)
            except ValidationError as exc:  # the API's own rules (e.g. changed meanwhile)
                reason = f"the API refused the change ({exc})"
        if reason is not None:
            self._hold(row, reason, changes)
            return False
        ledger.update(self.con, row, lines_sent=wanted.to_json(), line_items=None)
        self.stats.amended += 1
        self.log.info("%s: sales order %s changed to match: %s", row.reference, row.order_number, changes)
        return True

    def _apply(self, row: ledger.LedgerRow, plan: amend.LinePlan) -> None:
        """Sends the plan. A retry plans again from the order's lines, so nothing is applied twice; the
        keys name the channel state (its inbox id), so a later state's identical change is not taken
        for a replay of this one."""
        version = f"amend{row.inbox_id}"
        for line_id, values in plan.updates:
            self.client.put(
                f"/order_line_items/{line_id}",
                {"order_line_item": values},
                idempotency_key=idempotency_key(row.reference, version, str(line_id), json.dumps(values)),
            )
        if plan.additions:
            self.client.put(
                f"/orders/{row.order_id}",
                {"order": {"order_line_items": plan.additions}},
                idempotency_key=idempotency_key(row.reference, version, json.dumps(plan.additions)),
            )
        for line in plan.removals:
            try:
                self.client.delete(f"/order_line_items/{line['id']}")
            except NotFoundError:
                pass  # deleted by an earlier try whose answer was lost

    def _hold(self, row: ledger.LedgerRow, reason: str, changes: list[str]) -> None:
        """Keeps the order for a person: its lines changed but its sales order can no longer follow."""
        message = (
            f"order {row.reference}: field lines: changed after sales order {row.order_number or row.order_id} "
            f"was created, and {reason}, so the pipeline cannot change it: {'; '.join(changes)}. "
            "Change the sales order by hand (or accept the difference), then replay this entry: "
            "the pipeline takes the channel's lines as done and goes on with the follow-ups"
        )
        self.stats.held += 1
        self._set_aside(row, "lines", message, "held")

    # --- follow-ups ---------------------------------------------------------------------------------

    def _follow_up(self, row: ledger.LedgerRow, order: ChannelOrder) -> None:
        done = row.done
        for action in planned_actions(order):
            if action.key in done:
                continue
            if action.kind in ("ship", "return") and row.line_items is None:
                self._load_line_items(row, order)
            # An intent without an outcome: an earlier run sent it and lost the answer (or died).
            # Look before sending again, as for the create.
            if not (row.action_intent == action.key and self._already_applied(row, order, action)):
                ledger.update(self.con, row, action_intent=action.key, attempts=row.attempts + 1)
                self._send(row, order, action)
            done.append(action.key)
            ledger.update(self.con, row, actions_done=inbox.dumps(done), action_intent=None, last_error=None)
            self.stats.actions += 1
        if row.state != "done":
            with transaction(self.con):
                ledger.write(self.con, row, state="done", last_error=None, next_attempt_at=None, failures=0)
                # A problem it had (held, failing, waiting) is over: its open entries are resolved.
                inbox.resolve_quarantine(self.con, row.channel, row.channel_order_id)
            self.stats.completed += 1

    def _send(self, row: ledger.LedgerRow, order: ChannelOrder, action: Action) -> None:
        """One follow-up write. A lost answer or a refusal ("already paid") is checked against the
        order's state before anything is sent again (lookup_first.py)."""
        order_id = row.order_id
        path: str
        body: dict[str, Any]
        if action.kind in ("invoice", "pay", "void"):
            path, body = f"/orders/{order_id}/actions/{action.kind}", {}
        elif action.kind in ("pack", "fulfil"):
            path, body = (
                f"/orders/{order_id}/actions/{action.kind}",
                {"fulfillment": _tracking(action.shipment)},
            )
        elif action.kind == "ship":
            assert action.shipment is not None
            lines = self._allocate(row, [(x.sku, x.quantity) for x in action.shipment.lines], "shipment")
            path = "/fulfillments"
            body = {
                "fulfillment": {
                    "order_id": order_id,
                    "status": "fulfilled",
                    "fulfillment_line_items": lines,
                    **_tracking(action.shipment),
                }
            }
        elif action.kind == "return":
            fields: dict[str, Any] = {
                "order_id": order_id,
                "location_id": self.targets[order.channel].stock_location_id,
                "fulfillment_return_line_items": self._allocate(row, list(action.return_lines), "return"),
            }
            if action.notes:
                fields["notes"] = action.notes
            path, body = "/fulfillment_returns", {"fulfillment_return": fields}
        else:  # pragma: no cover - planned_actions makes only the kinds above
            raise ValueError(f"unknown action {action.kind}")
        post_looking_first(
            self.client,
            path,
            body,
            idempotency_key(row.reference, action.key),
            lambda: self._already_applied(row, order, action),
            refusal_may_mean_applied=True,
        )

    def _already_applied(self, row: ledger.LedgerRow, order: ChannelOrder, action: Action) -> bool:
        """Whether the action took effect: from the order's statuses, or for a shipment or a return
        from the records the order has (more of that shape than actions of that shape done)."""
        self.stats.lookups += 1
        if action.kind in _APPLIED:
            current = self.client.get(f"/orders/{row.order_id}").get("order") or {}
            return _APPLIED[action.kind](current)
        shapes = {
            **{
                f"ship:{s.shipment_id}": self._shape(row, s.lines, s.tracking_number) for s in order.shipments
            },
            **{f"return:{r.return_id}": self._shape(row, r.lines, None) for r in order.returns},
        }
        wanted = shapes[action.key]
        done_alike = sum(1 for key, shape in shapes.items() if shape == wanted and key in row.done)
        if action.kind == "ship":
            found = self._shapes_on_api(row, "/fulfillments", "fulfillment_line_items", "fulfillment_id")
        else:
            found = self._shapes_on_api(
                row, "/fulfillment_returns", "fulfillment_return_line_items", "fulfillment_return_id"
            )
        return found.count(wanted) > done_alike

    def _shape(self, row: ledger.LedgerRow, items: Iterable[SkuQuantity], tracking: str | None) -> Shape:
        """What a shipment or return looks like on the API: its (order line, quantity) pairs, tracking."""
        lines = self._allocate(row, [(x.sku, x.quantity) for x in items], "line")
        return tuple(sorted((x["order_line_item_id"], Decimal(x["quantity"])) for x in lines)), tracking

    def _shapes_on_api(self, row: ledger.LedgerRow, path: str, children: str, parent: str) -> list[Shape]:
        """The shapes of the order's live fulfillments (or returns), from the index and its sideload."""
        shapes = []
        for page in self.client.iter_pages(path, {"order_id": row.order_id}):
            items: dict[int, list[tuple[int, Decimal]]] = {}
            for item in page.sideloads.get(children, []):
                items.setdefault(int(item[parent]), []).append(
                    (int(item["order_line_item_id"]), Decimal(str(item["quantity"])))
                )
            for record in page.records:
                if record.get("status") not in ("void", "deleted"):
                    tracking = record.get("tracking_number") if path == "/fulfillments" else None
                    shapes.append((tuple(sorted(items.get(int(record["id"]), []))), tracking or None))
        return shapes

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
