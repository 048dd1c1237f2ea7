"""The follow-ups of a created sales order: exactly the actions the channel state calls for that the
ledger has not done, in order (pay or invoice, pack when packed, fulfil with tracking when shipped, one
fulfillment per partial shipment, void, one fulfillment return per return), each with its own
Idempotency-Key and recorded as done at once, so none is sent twice.

Like the create, a follow-up is never posted blindly again: when its answer is lost, it is refused
("already paid"), or a run died after sending it (an intent without an outcome), the order's statuses,
or for a shipment or a return the records the order has, decide whether it took effect first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.context import PushContext
from gecko_pipeline.orders.keys import idempotency_key
from gecko_pipeline.orders.lookup_first import post_looking_first
from gecko_pipeline.orders.model import ChannelOrder, Shipment, SkuQuantity
from gecko_pipeline.orders.states import OrderAction, OrderState, after


class FollowUpKind(str, Enum):
    INVOICE = "invoice"
    PAY = "pay"
    PACK = "pack"
    FULFIL = "fulfil"
    SHIP = "ship"  # one partial shipment: POST /fulfillments
    RETURN = "return"  # POST /fulfillment_returns
    VOID = "void"

    def __str__(self) -> str:
        return self.value


K = FollowUpKind
ORDER_ACTIONS = frozenset({K.INVOICE, K.PAY, K.PACK, K.FULFIL, K.VOID})  # POST /orders/{id}/actions/...


@dataclass(frozen=True)
class FollowUp:
    key: str  # unique within the order (stored in actions_done): pay, fulfil, ship:<id>, return:<id>
    kind: FollowUpKind
    shipment: Shipment | None = None
    return_lines: tuple[SkuQuantity, ...] = ()
    notes: str | None = None


def planned_actions(order: ChannelOrder) -> list[FollowUp]:
    """The follow-ups the channel state calls for, in the order they must happen."""
    shipments = order.shipments
    if order.cancelled and not shipments:
        return [FollowUp("void", K.VOID)]  # an unshipped cancelled order is voided; it is not paid
    paying = K.INVOICE if order.financial_status == "pending" else K.PAY
    actions = [FollowUp(paying.value, paying)]
    if len(shipments) == 1 and _ships_everything(order, shipments[0]):
        # The common case uses the order actions: pack while the channel says packed, fulfil once shipped
        # (fulfil ships a packed fulfillment, or creates a fulfilled one: no pack needed before it).
        shipment = shipments[0]
        kind = K.PACK if shipment.status == "packed" else K.FULFIL
        actions.append(FollowUp(kind.value, kind, shipment))
    else:
        # Partial shipments are sent line by line once shipped (a packed partial waits for its carrier).
        actions += [FollowUp(f"ship:{s.shipment_id}", K.SHIP, s) for s in shipments if s.status == "shipped"]
    actions += [
        FollowUp(f"return:{r.return_id}", K.RETURN, return_lines=r.lines, notes=r.notes)
        for r in order.returns
    ]
    return actions


def _ships_everything(order: ChannelOrder, shipment: Shipment) -> bool:
    shipped: dict[str, Decimal] = {}
    for item in shipment.lines:
        shipped[item.sku] = shipped.get(item.sku, Decimal(0)) + item.quantity
    return all(shipped.get(line.sku, Decimal(0)) >= order.ordered_quantity(line.sku) for line in order.lines)


def _tracking(shipment: Shipment | None) -> dict[str, Any]:
    if shipment is None:
        return {}
    values = {
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "tracking_company": shipment.tracking_company,
    }
    return {k: v for k, v in values.items() if v}


# Whether an order action took effect, read from the sales order's statuses.
_APPLIED: dict[FollowUpKind, Callable[[Mapping[str, Any]], bool]] = {
    K.INVOICE: lambda o: (
        o.get("invoice_status") in ("invoiced", "partial") or o.get("payment_status") == "paid"
    ),
    K.PAY: lambda o: o.get("payment_status") == "paid",
    K.PACK: lambda o: o.get("packed_status") == "packed" or o.get("fulfillment_status") == "shipped",
    K.FULFIL: lambda o: o.get("fulfillment_status") == "shipped",
    K.VOID: lambda o: o.get("status") == "void",
}

# A shipment or a return as the API holds it: sorted (order line item id, quantity) pairs, tracking.
Shape = tuple[tuple[tuple[int, Decimal], ...], str | None]


class FollowUps:
    def __init__(self, ctx: PushContext) -> None:
        self.ctx = ctx

    def run(self, row: ledger.LedgerRow, order: ChannelOrder) -> None:
        """Sends what is left, then the order is done (COMPLETE)."""
        done = row.done
        for action in planned_actions(order):
            if action.key in done:
                continue
            if action.kind in (K.SHIP, K.RETURN) and row.line_items is None:
                self._load_line_items(row, order)
            # An intent without an outcome: an earlier run sent it and lost the answer (or died). A store
            # channel also reports the shipments the pipeline sent it from the inventory system
            # (stores/shopify/fulfilments.py): a shipment the sales order already has is not made twice.
            looks_first = row.action_intent == action.key or (
                action.kind == K.SHIP and self._store_channel(order.channel)
            )
            if not (looks_first and self._already_applied(row, order, action)):
                ledger.note(self.ctx.con, row, action_intent=action.key, attempts=row.attempts + 1)
                self._send(row, order, action)
            done.append(action.key)
            ledger.note(
                self.ctx.con, row, actions_done=inbox.dumps(done), action_intent=None, last_error=None
            )
            self.ctx.stats.actions += 1
        if row.state != OrderState.DONE:
            with transaction(self.ctx.con):
                ledger.transition(
                    self.ctx.con,
                    row,
                    after(row.state, OrderAction.COMPLETE),
                    last_error=None,
                    next_attempt_at=None,
                    failures=0,
                )
                # A problem it had (held, failing, waiting) is over: its open entries are resolved.
                inbox.resolve_quarantine(self.ctx.con, row.channel, row.channel_order_id)
            self.ctx.stats.completed += 1

    def _store_channel(self, channel: str) -> bool:
        """A store (any kind but `feed`) is sent the inventory's fulfilments, so its shipments may echo them."""
        config = self.ctx.channels.get(channel)
        return config is not None and config.kind != "feed"

    def _send(self, row: ledger.LedgerRow, order: ChannelOrder, action: FollowUp) -> None:
        order_id = row.order_id
        if action.kind in ORDER_ACTIONS:
            body: dict[str, Any] = (
                {"fulfillment": _tracking(action.shipment)} if action.kind in (K.PACK, K.FULFIL) else {}
            )
            path = f"/orders/{order_id}/actions/{action.kind}"
        elif action.kind == K.SHIP:
            assert action.shipment is not None
            path = "/fulfillments"
            body = {
                "fulfillment": {
                    "order_id": order_id,
                    "status": "fulfilled",
                    "fulfillment_line_items": self._allocate(row, action.shipment.lines, "shipment"),
                    **_tracking(action.shipment),
                }
            }
        else:
            fields: dict[str, Any] = {
                "order_id": order_id,
                "location_id": self.ctx.targets[order.channel].stock_location_id,
                "fulfillment_return_line_items": self._allocate(row, action.return_lines, "return"),
            }
            if action.notes:
                fields["notes"] = action.notes
            path, body = "/fulfillment_returns", {"fulfillment_return": fields}
        post_looking_first(
            self.ctx.client,
            path,
            body,
            idempotency_key(row.reference, action.key),
            lambda: self._already_applied(row, order, action),
            refusal_may_mean_applied=True,
        )

    def _already_applied(self, row: ledger.LedgerRow, order: ChannelOrder, action: FollowUp) -> bool:
        """Whether the action took effect: from the order's statuses, or for a shipment or a return
        from the records the order has (more of that shape than actions of that shape done)."""
        self.ctx.stats.lookups += 1
        if action.kind in _APPLIED:
            current = self.ctx.client.get(f"/orders/{row.order_id}").get("order") or {}
            return _APPLIED[action.kind](current)
        shapes = {
            **{
                f"ship:{s.shipment_id}": self._shape(row, s.lines, s.tracking_number) for s in order.shipments
            },
            **{f"return:{r.return_id}": self._shape(row, r.lines, None) for r in order.returns},
        }
        wanted = shapes[action.key]
        done_alike = sum(1 for key, shape in shapes.items() if shape == wanted and key in row.done)
        if action.kind == K.SHIP:
            found = self._shapes_on_api(row, "/fulfillments", "fulfillment_line_items", "fulfillment_id")
        else:
            found = self._shapes_on_api(
                row, "/fulfillment_returns", "fulfillment_return_line_items", "fulfillment_return_id"
            )
        return found.count(wanted) > done_alike

    def _shape(self, row: ledger.LedgerRow, items: Iterable[SkuQuantity], tracking: str | None) -> Shape:
        """What a shipment or return looks like on the API: its (order line, quantity) pairs, tracking."""
        lines = self._allocate(row, items, "line")
        return tuple(sorted((x["order_line_item_id"], Decimal(x["quantity"])) for x in lines)), tracking

    def _shapes_on_api(self, row: ledger.LedgerRow, path: str, children: str, parent: str) -> list[Shape]:
        """The shapes of the order's live fulfillments (or returns), from the index and its sideload."""
        shapes = []
        for page in self.ctx.client.iter_pages(path, {"order_id": row.order_id}):
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
        if self.ctx.catalog is None:
            raise LookupError(f"the catalog is not available: {self.ctx.catalog_error}")
        variants = self.ctx.catalog.variant_ids(line.sku for line in order.lines)
        by_variant: dict[int, list[int]] = {}
        for page in self.ctx.client.iter_pages("/order_line_items", {"order_id": row.order_id}):
            for item in sorted(page.records, key=lambda r: r["id"]):
                if item.get("variant_id") is not None:
                    by_variant.setdefault(int(item["variant_id"]), []).append(int(item["id"]))
        mapping = {sku: by_variant.get(vid, []) for sku, vid in variants.items()}
        quantities = {sku: str(order.ordered_quantity(sku)) for sku in mapping}
        ledger.note(self.ctx.con, row, line_items=inbox.dumps({"ids": mapping, "quantities": quantities}))

    def _allocate(
        self, row: ledger.LedgerRow, items: Iterable[SkuQuantity], what: str
    ) -> list[dict[str, Any]]:
        ids = (row.line_item_map or {}).get("ids")
        known: dict[str, list[int]] = ids if isinstance(ids, dict) else {}
        lines = []
        for item in items:
            ids = known.get(item.sku) or []
            if not ids:
                raise LookupError(f"{what} line {item.sku!r} has no line on sales order {row.order_id}")
            # One line per SKU is the norm; a SKU on several lines is taken from its first line.
            lines.append({"order_line_item_id": ids[0], "quantity": str(item.quantity)})
        return lines
