"""Stock arithmetic on a variant's `locations[]`, and the totals and legacy fields derived from it.

Invariants kept here and nowhere else: per location available = stock_on_hand - committed (null
committed counts 0); the variant's stock_on_hand / committed_stock / available_stock are sums over its
locations; the legacy `stock_levels` / `committed_stock_levels` hashes mirror the locations.
"""

from __future__ import annotations

from decimal import Decimal

from gecko_sandbox.store import Record

ZERO = Decimal(0)


def fmt(value: Decimal) -> str:
    """Decimal -> wire string without exponent ("10", "-5.0", "2.5")."""
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0") else text


def dec(value: object) -> Decimal:
    return ZERO if value in (None, "") else Decimal(str(value))


def location_entry(location_id: int, on_hand: str = "0", committed: str | None = None) -> Record:
    entry: Record = {
        "location_id": location_id,
        "stock_on_hand": on_hand,
        "committed": committed,
        "incoming": None,
        "available": "0",
        "bin_location": None,
        "reorder_point": None,
    }
    return entry


def recompute(variant: Record) -> None:
    on_hand_total = committed_total = ZERO
    levels: dict[str, str] = {}
    committed_levels: dict[str, str] = {}
    for entry in variant["locations"]:
        on_hand = dec(entry["stock_on_hand"])
        committed = dec(entry["committed"])
        entry["available"] = fmt(on_hand - committed)
        on_hand_total += on_hand
        committed_total += committed
        levels[str(entry["location_id"])] = fmt(on_hand)
        if entry["committed"] is not None:
            committed_levels[str(entry["location_id"])] = fmt(committed)
    variant["stock_on_hand"] = fmt(on_hand_total)
    variant["committed_stock"] = fmt(committed_total)
    variant["available_stock"] = fmt(on_hand_total - committed_total)
    variant["stock_levels"] = levels
    variant["committed_stock_levels"] = committed_levels


def entry_for(variant: Record, location_id: int) -> Record:
    """The variant's entry at a location, added (stock 0) when it has no history there yet."""
    for entry in variant["locations"]:
        if entry["location_id"] == location_id:
            return entry
    entry = location_entry(location_id)
    variant["locations"].append(entry)
    variant["locations"].sort(key=lambda e: e["location_id"])
    return entry


def adjust(variant: Record, location_id: int, on_hand: Decimal = ZERO, committed: Decimal = ZERO) -> bool:
    """Add deltas at one location; True when anything changed."""
    if not on_hand and not committed:
        return False
    entry = entry_for(variant, location_id)
    if on_hand:
        entry["stock_on_hand"] = fmt(dec(entry["stock_on_hand"]) + on_hand)
    if committed:
        entry["committed"] = fmt(dec(entry["committed"]) + committed)
    recompute(variant)
    return True
