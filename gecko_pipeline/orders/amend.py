"""A re-sent channel order whose lines changed after its sales order was created.

The ledger keeps the lines the sales order was last brought in step with (`lines_sent`, channel terms:
SKU, quantity, unit price, discount, tax rate, and the shipping / fee / discount lines). When a new
state differs, the sales order is changed to match while the API allows it (draft or active, unpaid,
nothing packed or shipped); otherwise the order is held for a person, with every difference listed.

`LineSet`, `plan` and `locked_reason` are pure: they compare line sets, describe the difference and
plan the API changes (which lines to update, append and delete) from the sales order's current lines,
so the plan is right however often it is retried (an append whose answer was lost is not appended
again). `Amender` is the unit of the push that asks the API and applies the plan, or holds the order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gecko_pipeline.api import NotFoundError, ValidationError
from gecko_pipeline.orders import ledger
from gecko_pipeline.orders.context import PushContext
from gecko_pipeline.orders.keys import idempotency_key
from gecko_pipeline.orders.mapping import line_items
from gecko_pipeline.orders.model import ChannelOrder
from gecko_pipeline.orders.policy import Policy

# (sku, quantity, unit_price, discount_percent, tax_rate) and (kind, label, amount, tax_rate)
ProductLine = tuple[str, Decimal, Decimal, Decimal | None, Decimal | None]
ExtraLine = tuple[str, str, Decimal, Decimal | None]
_PRODUCT_FIELDS = ("quantity", "unit_price", "discount_percent", "tax_rate")
_EXTRA_FIELDS = ("amount", "tax_rate")
# The fields of an API order line that the pipeline sets (decimals, compared by value).
_API_FIELDS = ("quantity", "price", "discount", "tax_rate_override")


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@dataclass(frozen=True)
class LineSet:
    """What a channel order asks to be on its sales order, comparable by value ("2" == "2.0")."""

    products: tuple[ProductLine, ...]
    extras: tuple[ExtraLine, ...]

    @classmethod
    def of(cls, order: ChannelOrder) -> LineSet:
        return cls(
            tuple((x.sku, x.quantity, x.unit_price, x.discount_percent, x.tax_rate) for x in order.lines),
            tuple((x.kind, x.label, x.amount, x.tax_rate) for x in order.extra_lines),
        )

    @classmethod
    def from_json(cls, text: str) -> LineSet:
        data = json.loads(text)
        return cls(
            tuple((p[0], Decimal(p[1]), Decimal(p[2]), _dec(p[3]), _dec(p[4])) for p in data["products"]),
            tuple((e[0], e[1], Decimal(e[2]), _dec(e[3])) for e in data["extras"]),
        )

    def to_json(self) -> str:
        products = [[p[0], *(_text(v) for v in p[1:])] for p in self.products]
        extras = [[e[0], e[1], *(_text(v) for v in e[2:])] for e in self.extras]
        return json.dumps({"products": products, "extras": extras}, ensure_ascii=False, separators=(",", ":"))

    def differences(self, new: LineSet) -> list[str]:
        """Each change in channel terms, e.g. `SKU A-1: quantity 2 -> 7`, `shipping 'Courier': added`."""
        out = _compare(self.products, new.products, lambda p: f"SKU {p[0]}", _PRODUCT_FIELDS, "quantity")
        out += _compare(self.extras, new.extras, lambda e: f"{e[0]} {e[1]!r}", _EXTRA_FIELDS, "amount")
        return out


def _compare(
    old: Sequence[tuple[Any, ...]],
    new: Sequence[tuple[Any, ...]],
    name: Any,
    fields: tuple[str, ...],
    first: str,
) -> list[str]:
    """Lines are paired by name (SKU, or kind and label) in order, so a reordering is no change."""
    width = len(old[0]) if old else len(new[0]) if new else 0
    values_at = width - len(fields)  # where the compared values start in each tuple
    out: list[str] = []
    for label in dict.fromkeys(name(x) for x in (*old, *new)):
        olds = [x for x in old if name(x) == label]
        news = [x for x in new if name(x) == label]
        for i in range(max(len(olds), len(news))):
            before = olds[i] if i < len(olds) else None
            after = news[i] if i < len(news) else None
            if before is not None and after is not None:
                changed = [
                    f"{f} {_text(a)} -> {_text(b)}"
                    for f, a, b in zip(fields, before[values_at:], after[values_at:], strict=True)
                    if a != b
                ]
                if changed:
                    out.append(f"{label}: {', '.join(changed)}")
            elif after is not None:
                out.append(f"{label}: added ({first} {_text(after[values_at])})")
            elif before is not None:
                out.append(f"{label}: removed (was {first} {_text(before[values_at])})")
    return out


def locked_reason(sales_order: Mapping[str, Any]) -> str | None:
    """Why the API will not let the pipeline change this sales order's lines, or None when it will."""
    status = sales_order.get("status")
    if status not in ("draft", "active"):
        return f"it is {status}"
    if sales_order.get("payment_status") not in (None, "unpaid"):
        return "it is paid"
    if sales_order.get("packed_status") not in (None, "unpacked") or sales_order.get(
        "fulfillment_status"
    ) not in (None, "unshipped"):
        return "it is packed or shipped"
    return None


@dataclass
class LinePlan:
    """The API changes that bring a sales order's lines to what the channel asks."""

    updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # line id, new values
    additions: list[dict[str, Any]] = field(default_factory=list)  # line bodies to append
    removals: list[Mapping[str, Any]] = field(default_factory=list)  # API lines to delete

    @property
    def empty(self) -> bool:
        return not (self.updates or self.additions or self.removals)

    def locked_reason(self) -> str | None:
        invoiced = [line for line in self.removals if line.get("invoice_line_item_ids")]
        return "a line it would remove is invoiced" if invoiced else None


def _key(line: Mapping[str, Any]) -> tuple[Any, ...]:
    if line.get("freeform") or line.get("variant_id") is None:
        return ("freeform", line.get("line_type"), line.get("label"))
    return ("variant", int(line["variant_id"]))


def _values(line: Mapping[str, Any]) -> tuple[Decimal | None, ...]:
    values = [_dec(line.get(name)) for name in _API_FIELDS]
    values[2] = values[2] or Decimal(0)  # no discount is a discount of 0
    return tuple(values)


def plan(desired: Iterable[Mapping[str, Any]], current: Iterable[Mapping[str, Any]]) -> LinePlan:
    """Pairs wanted lines with the sales order's lines (by variant, or line type and label, in order)."""
    result = LinePlan()
    remaining: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for line in sorted(current, key=lambda x: (x.get("position") or 0, x["id"])):
        remaining.setdefault(_key(line), []).append(line)
    for wanted in desired:
        candidates = remaining.get(_key(wanted)) or []
        if not candidates:
            result.additions.append(dict(wanted))
            continue
        line = candidates.pop(0)
        if _values(line) != _values(wanted):
            result.updates.append((int(line["id"]), {name: wanted.get(name) for name in _API_FIELDS}))
    result.removals = [line for lines in remaining.values() for line in lines]
    return result


class Amender:
    """Keeps a created sales order's lines in step with the channel's, or holds the order."""

    def __init__(self, ctx: PushContext, policy: Policy) -> None:
        self.ctx = ctx
        self.policy = policy

    def run(self, row: ledger.LedgerRow, order: ChannelOrder) -> bool:
        """True when the sales order's lines match the channel's (after changing them if they did not
        and the API allows it); False when the order waits or is held for a person."""
        wanted = LineSet.of(order)
        if row.lines_sent is None:  # a row from before lines were recorded, or a replayed hold
            ledger.note(self.ctx.con, row, lines_sent=wanted.to_json())
            return True
        sent = LineSet.from_json(row.lines_sent)
        if sent == wanted:
            return True  # the normal path: no request spent
        if self.ctx.catalog is None:
            self.policy.wait(row, f"the catalog is not available: {self.ctx.catalog_error}", "lines")
            return False
        self.ctx.stats.lookups += 1
        reason = locked_reason(self.ctx.client.get(f"/orders/{row.order_id}").get("order") or {})
        if reason is None:
            plan = self._plan(row, order)
            if plan is None:
                return False  # waiting for a SKU
            reason = plan.locked_reason() or self._apply(row, plan)
        changes = sent.differences(wanted)
        if reason is not None:
            self._hold(row, reason, changes)
            return False
        ledger.note(self.ctx.con, row, lines_sent=wanted.to_json(), line_items=None)
        self.ctx.stats.amended += 1
        self.ctx.log.info("%s: sales order %s changed to match: %s", row.reference, row.order_number, changes)
        return True

    def _plan(self, row: ledger.LedgerRow, order: ChannelOrder) -> LinePlan | None:
        """The changes from the sales order's current lines; None when a new SKU makes the order wait."""
        assert self.ctx.catalog is not None
        variants = self.ctx.catalog.variant_ids(line.sku for line in order.lines)
        unknown = [i for i, line in enumerate(order.lines) if line.sku not in variants]
        if unknown:
            sku = order.lines[unknown[0]].sku
            self.policy.wait(row, f"unknown SKU {sku!r}: not in the catalog", f"lines[{unknown[0]}].sku")
            return None
        current = [
            item
            for page in self.ctx.client.iter_pages("/order_line_items", {"order_id": row.order_id})
            for item in page.records
        ]
        return plan(line_items(order, variants), current)

    def _apply(self, row: ledger.LedgerRow, changes: LinePlan) -> str | None:
        """Sends the plan; the API's refusal (its own rules) as a reason to hold, else None. A retry
        plans again from the order's lines, so nothing is applied twice; the keys name the channel
        state (its inbox id), so a later state's identical change is not taken for a replay of this."""
        version = f"amend{row.inbox_id}"
        client = self.ctx.client
        try:
            for line_id, values in changes.updates:
                client.put(
                    f"/order_line_items/{line_id}",
                    {"order_line_item": values},
                    idempotency_key=idempotency_key(row.reference, version, str(line_id), json.dumps(values)),
                )
            if changes.additions:
                client.put(
                    f"/orders/{row.order_id}",
                    {"order": {"order_line_items": changes.additions}},
                    idempotency_key=idempotency_key(row.reference, version, json.dumps(changes.additions)),
                )
            for line in changes.removals:
                try:
                    client.delete(f"/order_line_items/{line['id']}")
                except NotFoundError:
                    pass  # deleted by an earlier try whose answer was lost
        except ValidationError as exc:
            return f"the API refused the change ({exc})"
        return None

    def _hold(self, row: ledger.LedgerRow, reason: str, changes: list[str]) -> None:
        message = (
            f"order {row.reference}: field lines: changed after sales order "
            f"{row.order_number or row.order_id} was created, and {reason}, so the pipeline cannot change "
            f"it: {'; '.join(changes)}. Change the sales order by hand (or accept the difference), then "
            "replay this entry: the pipeline takes the channel's lines as done and goes on with the "
            "follow-ups"
        )
        self.policy.hold(row, "lines", message)
