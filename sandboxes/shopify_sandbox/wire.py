"""Wire formats shared by GraphQL and REST: global ids, timestamps, money strings, HMAC signatures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
ZERO = Decimal("0")

# Number ranges per resource, modelled on real shops: 13-14 digit ids, and inventory item ids above 2**53
# (as Shopify's own inventory_levels/update sample), so a client that parses ids as floats breaks here.
ID_BASE = {
    "Shop": 48_000_000_000,
    "Location": 71_000_000_000,
    "Product": 8_100_000_000_000,
    "ProductOption": 10_200_000_000_000,
    "ProductOptionValue": 10_300_000_000_000,
    "ProductVariant": 44_100_000_000_000,
    "InventoryItem": 271_878_346_596_884_000,
    "Customer": 7_400_000_000_000,
    "Company": 2_100_000_000,
    "CompanyLocation": 2_200_000_000,
    "MailingAddress": 9_100_000_000_000,
    "Order": 5_900_000_000_000,
    "LineItem": 14_700_000_000_000,
    "ShippingLine": 4_800_000_000_000,
    "FulfillmentOrder": 6_800_000_000_000,
    "FulfillmentOrderLineItem": 14_900_000_000_000,
    "Fulfillment": 5_300_000_000_000,
    "FulfillmentLineItem": 12_100_000_000_000,
    "Refund": 920_000_000_000,
    "RefundLineItem": 560_000_000_000,
    "OrderTransaction": 7_100_000_000_000,
    "InventoryAdjustmentGroup": 33_000_000_000_000,
    "WebhookSubscription": 1_500_000_000_000,
    "BulkOperation": 4_039_184_154_000,
    "Job": 620_000_000_000,
}


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: object, kind: str | None = None) -> int | None:
    """The number in `gid://shopify/Kind/123` (also `...?inventory_item_id=..`); None when not that kind."""
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        return None
    rest = value[len("gid://shopify/") :].split("?", 1)[0]
    parts = rest.split("/")
    if len(parts) != 2 or (kind is not None and parts[0] != kind) or not parts[1].isdigit():
        return None
    return int(parts[1])


def ident(value: object, kind: str) -> int | None:
    """A record number given as an int, a numeric string or a GID of `kind` (control-plane bodies)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value) if value.isdigit() else parse_gid(value, kind)
    return None


def gid_kind(value: str) -> str | None:
    if not value.startswith("gid://shopify/"):
        return None
    parts = value[len("gid://shopify/") :].split("?", 1)[0].split("/")
    return parts[0] if len(parts) == 2 else None


def level_gid(location_id: int, item_id: int) -> str:
    """InventoryLevel's composite id, as Shopify's: the location number plus the item as a query."""
    return f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}"


def parse_level_gid(value: str) -> tuple[int, int] | None:
    if not value.startswith("gid://shopify/InventoryLevel/") or "?inventory_item_id=" not in value:
        return None
    head, item = value[len("gid://shopify/InventoryLevel/") :].split("?inventory_item_id=", 1)
    if not head.isdigit() or not item.isdigit():
        return None
    return int(head), int(item)


# --- time: whole seconds since the epoch internally (Shopify shows second precision) ---------------------
def utc_iso(ts: int | None) -> str | None:
    """GraphQL DateTime: UTC with a Z."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shop_iso(ts: int | None, tz: ZoneInfo) -> str | None:
    """REST / webhook time: the shop's offset, e.g. 2025-01-02T11:31:26-05:00."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def triggered_at(moment: float) -> str:
    """X-Shopify-Triggered-At: microseconds and a Z, as 2025-07-10T16:15:47.000000Z."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str, tz: ZoneInfo) -> float | None:
    """A search value: ISO-8601 with or without time and offset. Dates and naive times are in the shop's zone."""
    text = text.strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def day_start(ts: int, tz: ZoneInfo) -> int:
    moment = datetime.fromtimestamp(ts, tz)
    return int(
        (moment - timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)).timestamp()
    )


# --- money ---------------------------------------------------------------------------------------------
def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """A Money input (string or number) as a Decimal; floats go through str() so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{field}: not a monetary value: {value!r}")
    try:
        result = Decimal(str(value).strip())
    except ArithmeticError as exc:
        raise ValueError(f"{field}: not a monetary value: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"{field}: not a monetary value: {value!r}")
    return result


def money2(value: Decimal) -> str:
    """The `Money` scalar and REST amounts: two decimals ("199.00")."""
    return f"{cents(value):.2f}"


def decimal_str(value: Decimal) -> str:
    """The `Decimal` scalar (MoneyV2.amount): no trailing zeros beyond one decimal ("199.0", "3.34")."""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def rate_str(value: Decimal) -> float:
    """Tax rates: JSON numbers (0.06) in REST and GraphQL alike."""
    return float(value)


# --- signatures ----------------------------------------------------------------------------------------
