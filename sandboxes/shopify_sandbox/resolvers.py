"""GraphQL field resolvers for the query side: records are the sources, a few views (InventoryItem,
InventoryLevel, money bags) are made on demand. Fields without a resolver here read the record
attribute of the same name in snake_case."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema

from shopify_sandbox import orders as order_math
from shopify_sandbox import pagination
from shopify_sandbox.records import (
    ALL_QUANTITY_NAMES,
    BulkOperation,
    Company,
    Customer,
    DiscountApplication,
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLine,
    LineItem,
    Location,
    Order,
    Pair,
    Product,
    ProductOption,
    Refund,
    RefundLine,
    ShippingLine,
    Shop,
    TaxLine,
    Transaction,
    Variant,
    WebhookSubscription,
)
from shopify_sandbox.search import FieldSpec, compile_search
from shopify_sandbox.store import Store
from shopify_sandbox.wire import (
    decimal_str,
    gid,
    gid_kind,
    level_gid,
    money2,
    parse_gid,
    parse_level_gid,
    utc_iso,
)

SIXTY_DAYS = 60 * 86400


@dataclass
class Context:
    """Per request: the store, whether this runs inside a bulk operation, search warnings to report."""

    store: Store
    bulk: bool = False
    bulk_after: str | None = None
    bulk_first: int = 250
    bulk_end_cursor: str | None = None
    bulk_has_next: bool = False
    search: list[dict[str, Any]] = field(default_factory=list)
    mutation_state: dict[str, Any] = field(default_factory=dict)


# --- views -----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class ItemView:
    variant: Variant


@dataclass(slots=True)
class LevelView:
    variant: Variant
    location_id: int


@dataclass(slots=True)
class CompanyLocationView:
    company: Company


@dataclass(slots=True)
class PurchasingCompanyView:
    company: Company


@dataclass(slots=True)
class MoneyV2:
    amount: Decimal
    currency_code: str


@dataclass(slots=True)
class Percentage:
    percentage: float


@dataclass(slots=True)
class AllocationView:
    amount: Pair
    application: DiscountApplication
    order: Order


@dataclass(slots=True)
class OptionValueView:
    id: int
    name: str
    has_variants: bool


TYPE_OF: dict[type, str] = {
    Shop: "Shop",
    Location: "Location",
    Product: "Product",
    Variant: "ProductVariant",
    ItemView: "InventoryItem",
    LevelView: "InventoryLevel",
    Customer: "Customer",
    PurchasingCompanyView: "PurchasingCompany",
    CompanyLocationView: "CompanyLocation",
    Order: "Order",
    LineItem: "LineItem",
    FulfillmentOrder: "FulfillmentOrder",
    FulfillmentOrderLine: "FulfillmentOrderLineItem",
    Fulfillment: "Fulfillment",
    Refund: "Refund",
    Transaction: "OrderTransaction",
    WebhookSubscription: "WebhookSubscription",
    BulkOperation: "BulkOperation",
    MoneyV2: "MoneyV2",
    Percentage: "PricingPercentageValue",
    ProductOption: "ProductOption",
    Company: "Company",
}
DISCOUNT_TYPES = {
    "discount_code": "DiscountCodeApplication",
    "manual": "ManualDiscountApplication",
    "automatic": "AutomaticDiscountApplication",
}


def resolve_type(value: Any, info: GraphQLResolveInfo, abstract: Any) -> str | None:
    if isinstance(value, DiscountApplication):
        return DISCOUNT_TYPES[value.kind]
    if isinstance(value, dict) and "callbackUrl" in value:
        return "WebhookHttpEndpoint"
    return TYPE_OF.get(type(value))


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_snake_cache: dict[str, str] = {}


def default_resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    resolver = RESOLVERS.get(info.parent_type.name, {}).get(info.field_name)
    if resolver is not None:
        return resolver(source, info, **args)
    if isinstance(source, dict):
        return source.get(info.field_name)
    name = _snake_cache.get(info.field_name)
    if name is None:
        name = _snake_cache[info.field_name] = _SNAKE.sub("_", info.field_name).lower()
    return getattr(source, name, None)


def ctx(info: GraphQLResolveInfo) -> Context:
    return info.context  # type: ignore[no-any-return]


def store_of(info: GraphQLResolveInfo) -> Store:
    return ctx(info).store


# --- scalars -----------------------------------------------------------------------------------------
def install_scalars(schema: GraphQLSchema) -> None:
    def serialize_time(value: Any) -> Any:
        return utc_iso(value) if isinstance(value, int) else value

    def serialize_money(value: Any) -> Any:
        return money2(value) if isinstance(value, Decimal) else value

    def serialize_decimal(value: Any) -> Any:
        return decimal_str(value) if isinstance(value, Decimal) else value

    def serialize_u64(value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    def as_text(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise GraphQLError(f"Expected a string, got {value!r}")
        return str(value)

    for name, serializer in (
        ("DateTime", serialize_time),
        ("Money", serialize_money),
        ("Decimal", serialize_decimal),
        ("UnsignedInt64", serialize_u64),
    ):
        scalar = schema.type_map[name]
        scalar.serialize = serializer  # type: ignore[attr-defined]
    for name in ("Money", "Decimal"):
        scalar = schema.type_map[name]
        scalar.parse_value = as_text  # type: ignore[attr-defined]


# --- top-level lists (sorted (key, id) pairs, cached per store version) -------------------------------
class ListCache:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.entries: OrderedDict[
            tuple[Any, ...], tuple[int, list[tuple[Any, int]], list[dict[str, str]]]
        ] = OrderedDict()

    def get(
        self,
        store: Store,
        key: tuple[Any, ...],
        build: Callable[[], tuple[list[tuple[Any, int]], list[dict[str, str]]]],
    ) -> tuple[list[tuple[Any, int]], list[dict[str, str]]]:
        hit = self.entries.get(key)
        if hit is not None and hit[0] == store.version:
            self.entries.move_to_end(key)
            return hit[1], hit[2]
        asc, warnings = build()
        self.entries[key] = (store.version, asc, warnings)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return asc, warnings


def _time_fields(created: Callable[[Any], int], updated: Callable[[Any], int]) -> dict[str, FieldSpec]:
    return {"created_at": ("time", created), "updated_at": ("time", updated)}


def product_search(store: Store) -> dict[str, FieldSpec]:
    return {
        "id": ("int", lambda p: p.id),
        "title": ("text", lambda p: p.title),
        "handle": ("keyword", lambda p: p.handle),
        "status": ("keyword", lambda p: p.status),
        "vendor": ("keyword", lambda p: p.vendor),
        "product_type": ("keyword", lambda p: p.product_type),
        "tag": ("list", lambda p: p.tags),
        "sku": ("list", lambda p: [store.variants[v].sku for v in p.variant_ids if store.variants[v].sku]),
        "barcode": (
            "list",
            lambda p: [store.variants[v].barcode for v in p.variant_ids if store.variants[v].barcode],
        ),
        "published_at": ("time", lambda p: p.published_at),
        **_time_fields(lambda p: p.created_at, lambda p: p.updated_at),
    }


def variant_search(store: Store) -> dict[str, FieldSpec]:
    return {
        "id": ("int", lambda v: v.id),
        "sku": ("keyword", lambda v: v.sku),
        "barcode": ("keyword", lambda v: v.barcode),
        "title": ("text", lambda v: v.title),
        "product_id": ("int", lambda v: v.product_id),
        "product_status": ("keyword", lambda v: store.products[v.product_id].status),
        "inventory_quantity": ("int", lambda v: v.inventory_quantity),
        "taxable": ("bool", lambda v: v.taxable),
        **_time_fields(lambda v: v.created_at, lambda v: v.updated_at),
    }


def order_search(store: Store) -> dict[str, FieldSpec]:
    def status(o: Order) -> str:
        return "cancelled" if o.cancelled_at else "closed" if o.closed_at else "open"

    return {
        "id": ("int", lambda o: o.id),
        "name": ("keyword", lambda o: o.name),
        "email": ("keyword", lambda o: o.email),
        "status": ("status", status),
        "financial_status": ("keyword", lambda o: order_math.financial_status(store, o)),
        "fulfillment_status": ("keyword", lambda o: order_math.fulfillment_status(o) or "unshipped"),
        "sku": ("list", lambda o: [li.sku for li in o.line_items if li.sku]),
        "tag": ("list", lambda o: o.tags),
        "test": ("bool", lambda o: o.test),
        "customer_id": ("int", lambda o: o.customer_id),
        "processed_at": ("time", lambda o: o.processed_at),
        **_time_fields(lambda o: o.created_at, lambda o: o.updated_at),
    }


def item_search(store: Store) -> dict[str, FieldSpec]:
    return {
        "id": ("int", lambda v: v.item_id),
        "sku": ("keyword", lambda v: v.sku),
        **_time_fields(lambda v: v.created_at, lambda v: v.item_updated_at),
    }


SORTS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "products": {
        "CREATED_AT": lambda p: p.created_at,
        "UPDATED_AT": lambda p: p.updated_at,
        "TITLE": lambda p: p.title.lower(),
        "VENDOR": lambda p: p.vendor.lower(),
        "PRODUCT_TYPE": lambda p: p.product_type.lower(),
        "PUBLISHED_AT": lambda p: p.published_at or 0,
    },
    "variants": {
        "SKU": lambda v: v.sku or "",
        "TITLE": lambda v: v.title.lower(),
        "FULL_TITLE": lambda v: v.title.lower(),
        "NAME": lambda v: v.title.lower(),
        "POSITION": lambda v: v.position,
        "INVENTORY_QUANTITY": lambda v: v.inventory_quantity,
    },
    "orders": {
        "CREATED_AT": lambda o: o.created_at,
        "UPDATED_AT": lambda o: o.updated_at,
        "PROCESSED_AT": lambda o: o.processed_at,
        "ORDER_NUMBER": lambda o: o.number,
    },
    "items": {},
    "locations": {"NAME": lambda loc: loc.name.lower()},
}


def _resource(
    store: Store, resource: str
) -> tuple[dict[int, Any], dict[str, FieldSpec] | None, Callable[[Any], str]]:
    if resource == "products":
        return store.products, product_search(store), lambda p: p.title
    if resource == "variants":
        return store.variants, variant_search(store), lambda v: f"{v.title} {v.sku or ''}"
    if resource == "orders":
        return store.orders, order_search(store), lambda o: f"{o.name} {o.email or ''}"
    if resource == "items":
        return {v.item_id: v for v in store.variants.values()}, item_search(store), lambda v: v.sku or ""
    return (
        store.locations,
        {"name": ("text", lambda loc: loc.name), "id": ("int", lambda loc: loc.id)},
        lambda loc: loc.name,
    )


def top_connection(
    info: GraphQLResolveInfo, resource: str, args: dict[str, Any], load: Callable[[int], Any], *, root: str
) -> dict[str, Any]:
    context = ctx(info)
    store = context.store
    sort = args.get("sortKey") or "ID"
    query = args.get("query")
    extra: tuple[Any, ...] = ()
    cutoff: int | None = None
    if resource == "orders" and not store.config.read_all_orders:
        cutoff = store.now() - SIXTY_DAYS  # without read_all_orders only the last 60 days are visible
        extra = (store.now() // 3600,)  # the window moves; an hour's granularity is plenty
    inactive_too = resource != "locations" or bool(args.get("includeInactive"))
    extra = (*extra, inactive_too)

    def build() -> tuple[list[tuple[Any, int]], list[dict[str, str]]]:
        records, fields, default = _resource(store, resource)
        compiled = compile_search(query, fields or {}, default, store.tz)
        keyfn = SORTS[resource].get(sort)
        out = []
        for rid, record in records.items():
            if compiled is not None and not compiled.predicate(record):
                continue
            if cutoff is not None and record.processed_at < cutoff:
                continue
            if not inactive_too and not record.is_active:
                continue
            out.append((keyfn(record) if keyfn else rid, rid))
        out.sort()
        return out, (compiled.warnings if compiled else [])

    lists = store.caches.setdefault(
        "lists", ListCache()
    )  # per shop: two sandboxes in one process never share
    asc, warnings = lists.get(store, (resource, query, sort, *extra), build)
    if warnings:
        context.search.append({"path": [root], "query": query, "warnings": warnings})
    if context.bulk and info.path.prev is None:
        page = pagination.connection(asc, {"first": context.bulk_first, "after": context.bulk_after}, load)
        context.bulk_end_cursor = page["pageInfo"]["endCursor"]
        context.bulk_has_next = page["pageInfo"]["hasNextPage"]
        return page
    return pagination.connection(asc, args, load, unlimited=context.bulk)


def child_connection(info: GraphQLResolveInfo, items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
    return pagination.plain(items, args, unlimited=ctx(info).bulk)


# --- money -----------------------------------------------------------------------------------------------
def bag(pair: Pair, order: Order) -> dict[str, Any]:
    return {
        "shopMoney": MoneyV2(pair.shop, order.currency),
        "presentmentMoney": MoneyV2(pair.pres, order.presentment_currency),
    }


# --- node lookup -----------------------------------------------------------------------------------------
def lookup(store: Store, ident: str) -> Any:
    kind = gid_kind(ident) if isinstance(ident, str) else None
    if kind == "InventoryLevel":
        parsed = parse_level_gid(ident)
        if parsed is None:
            return None
        variant = store.variant_by_item(parsed[1])
        return LevelView(variant, parsed[0]) if variant and parsed[0] in variant.levels else None
    number = parse_gid(ident, kind) if kind else None
    if number is None or kind is None:
        return None
    if kind == "InventoryItem":
        variant = store.variant_by_item(number)
        return ItemView(variant) if variant else None
    table: dict[str, dict[int, Any]] = {
        "Shop": {store.shop.id: store.shop},
        "Location": store.locations,
        "Product": store.products,
        "ProductVariant": store.variants,
        "Order": store.orders,
        "LineItem": store.line_items,
        "Customer": store.customers,
        "FulfillmentOrder": store.fulfillment_orders,
        "Fulfillment": store.fulfillments,
        "Refund": store.refunds,
        "WebhookSubscription": store.webhooks,
        "BulkOperation": store.bulk_operations,
        "Company": store.companies,
    }
    records: dict[int, Any] | None = table.get(kind)
    return records.get(number) if records is not None else None


def _typed(store: Store, ident: str, kind: str) -> Any:
    value = lookup(store, ident) if gid_kind(ident) == kind else None
    return value


# --- resolvers by type -----------------------------------------------------------------------------------
Resolver = Callable[..., Any]


def _ids(kind: str, attr: str = "id") -> dict[str, Resolver]:
    return {
        "id": lambda s, i, **a: gid(kind, getattr(s, attr)),
        "legacyResourceId": lambda s, i, **a: getattr(s, attr),
    }


def _quantities(s: LevelView, info: GraphQLResolveInfo, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        if name not in ALL_QUANTITY_NAMES:
            raise GraphQLError(
                f"Invalid quantity name: {name!r}. Valid names: {', '.join(ALL_QUANTITY_NAMES)}"
            )
        out.append(
            {
                "id": f"gid://shopify/InventoryQuantity/{s.location_id}?inventory_item_id={s.variant.item_id}&name={name}",
                "name": name,
                "quantity": s.variant.quantity(s.location_id, name),
                "updatedAt": s.variant.level_updated.get(s.location_id, s.variant.item_updated_at),
            }
        )
    return out


def _levels(info: GraphQLResolveInfo, variant: Variant, args: dict[str, Any]) -> dict[str, Any]:
    return child_connection(info, [LevelView(variant, loc) for loc in sorted(variant.levels)], args)


def _order_discounted_unit(li: LineItem) -> Pair:
    if li.quantity == 0:
        return li.price
    d = li.discount
    return Pair(li.price.shop - d.shop / li.quantity, li.price.pres - d.pres / li.quantity)


def _order_of(info: GraphQLResolveInfo, order_id: int) -> Order:
    return store_of(info).orders[order_id]


def _pct(value: Decimal) -> float:
    return float(value)


def _address(a: Any) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "id": gid("MailingAddress", abs(hash((a.address1, a.zip, a.last_name))) % 10**12),
        "firstName": a.first_name,
        "lastName": a.last_name,
        "name": a.name or None,
        "company": a.company,
        "address1": a.address1,
        "address2": a.address2,
        "city": a.city,
        "province": a.province,
        "provinceCode": a.province_code,
        "zip": a.zip,
        "country": a.country,
        "countryCodeV2": a.country_code,
        "phone": a.phone,
        "latitude": a.latitude,
        "longitude": a.longitude,
        "formatted": [x for x in (a.address1, a.address2, a.city, a.zip, a.country) if x],
    }


def _tax(order: Order) -> Callable[[TaxLine], dict[str, Any]]:
    return lambda t: {
        "title": t.title,
        "rate": float(t.rate),
        "ratePercentage": float(t.rate * 100),
        "priceSet": bag(t.price, order),
        "channelLiable": t.channel_liable,
    }


def _order_tax_lines(s: Order, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    aggregated: dict[tuple[str, Decimal], Pair] = {}
    for t in [t for li in s.line_items for t in li.tax_lines] + [
        t for sl in s.shipping_lines for t in sl.tax_lines
    ]:
        aggregated[(t.title, t.rate)] = (
            aggregated.get((t.title, t.rate), Pair(Decimal(0), Decimal(0))) + t.price
        )
    return [_tax(s)(TaxLine(title, rate, price)) for (title, rate), price in aggregated.items()]


def _figures(s: Order, info: GraphQLResolveInfo) -> order_math.Figures:
    cache = ctx(info).mutation_state.setdefault("figures", {})
    key = (s.id, store_of(info).version)
    if key not in cache:
        cache[key] = order_math.figures(store_of(info), s)
    return cache[key]  # type: ignore[no-any-return]


def _fig(name: str) -> Resolver:
    return lambda s, i, **a: bag(getattr(_figures(s, i), name), s)


def _fo_connection(s: Order, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return child_connection(info, [store.fulfillment_orders[f] for f in s.fulfillment_order_ids], args)


def _line_variant(s: LineItem, info: GraphQLResolveInfo, **a: Any) -> Variant | None:
    return store_of(info).variants.get(s.variant_id) if s.variant_id else None


def _line_product(s: LineItem, info: GraphQLResolveInfo, **a: Any) -> Product | None:
    return store_of(info).products.get(s.product_id) if s.product_id else None


def _allocations(order: Order, li_allocs: list[tuple[int, Pair]]) -> list[dict[str, Any]]:
    return [
        {"allocatedAmountSet": bag(amount, order), "discountApplication": order.discounts[index]}
        for index, amount in li_allocs
    ]


def _line_item_resolvers() -> dict[str, Resolver]:
    def order(info: GraphQLResolveInfo, s: LineItem) -> Order:
        return _order_of(info, s.order_id)

    return {
        **_ids("LineItem"),
        "name": lambda s, i, **a: f"{s.title} - {s.variant_title}" if s.variant_title else s.title,
        "unfulfilledQuantity": lambda s, i, **a: s.fulfillable,
        "refundableQuantity": lambda s, i, **a: s.current_quantity,
        "variant": _line_variant,
        "product": _line_product,
        "isGiftCard": lambda s, i, **a: False,
        "originalUnitPriceSet": lambda s, i, **a: bag(s.price, order(i, s)),
        "discountedUnitPriceSet": lambda s, i, **a: bag(_order_discounted_unit(s), order(i, s)),
        "originalTotalSet": lambda s, i, **a: bag(
            Pair(s.price.shop * s.quantity, s.price.pres * s.quantity), order(i, s)
        ),
        "discountedTotalSet": lambda s, i, **a: bag(
            Pair(s.price.shop * s.quantity, s.price.pres * s.quantity) - s.discount, order(i, s)
        ),
        "totalDiscountSet": lambda s, i, **a: bag(s.discount, order(i, s)),
        "discountAllocations": lambda s, i, **a: _allocations(order(i, s), s.discount_allocations),
        "taxLines": lambda s, i, **a: [_tax(order(i, s))(t) for t in s.tax_lines][: a.get("first") or None],
        "customAttributes": lambda s, i, **a: [
            {"key": p.get("name"), "value": p.get("value")} for p in s.properties
        ],
    }


def _discount_resolvers(code: bool = False) -> dict[str, Resolver]:
    base: dict[str, Resolver] = {
        "allocationMethod": lambda s, i, **a: s.allocation_method.upper(),
        "targetSelection": lambda s, i, **a: s.target_selection.upper(),
        "targetType": lambda s, i, **a: s.target_type.upper(),
        "value": lambda s, i, **a: (
            Percentage(float(s.value))
            if s.value_type == "percentage"
            else MoneyV2(s.value, store_of(i).shop.currency)
        ),
    }
    return base


def _shipping_line(order: Order) -> Callable[[ShippingLine], dict[str, Any]]:
    return lambda s: {
        "id": gid("ShippingLine", s.id),
        "title": s.title,
        "code": s.code,
        "source": s.source,
        "carrierIdentifier": None,
        "custom": s.source != "shopify",
        "isRemoved": s.refunded,
        "originalPriceSet": bag(s.price, order),
        "discountedPriceSet": bag(s.price, order),
        "taxLines": [_tax(order)(t) for t in s.tax_lines],
        "discountAllocations": [],
    }


def _refund_line(order: Order, store: Store) -> Callable[[RefundLine], dict[str, Any]]:
    return lambda r: {
        "id": gid("RefundLineItem", r.id),
        "quantity": r.quantity,
        "restockType": r.restock_type.upper(),
        "restocked": r.restock_type in ("cancel", "return"),
        "location": store.locations.get(r.location_id) if r.location_id else None,
        "lineItem": store.line_items[r.line_item_id],
        "priceSet": bag(store.line_items[r.line_item_id].price, order),
        "subtotalSet": bag(r.subtotal, order),
        "totalTaxSet": bag(r.total_tax, order),
    }


def _purchasing_entity(s: Order, info: GraphQLResolveInfo, **a: Any) -> Any:
    store = store_of(info)
    if s.company_id is not None:
        return PurchasingCompanyView(store.companies[s.company_id])
    return store.customers.get(s.customer_id) if s.customer_id else None


def _webhook_uri(s: WebhookSubscription, info: GraphQLResolveInfo, **a: Any) -> str:
    return s.uri


def _bulk_url(s: BulkOperation, info: GraphQLResolveInfo, **a: Any) -> str | None:
    if s.status != "COMPLETED" or s.data is None or not s.data:
        return None
    return f"{store_of(info).base_url}/_sandbox/bulk/{s.id}.jsonl"


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Shop": {
        "id": lambda s, i, **a: gid("Shop", s.id),
        "myshopifyDomain": lambda s, i, **a: s.domain,
        "primaryDomain": lambda s, i, **a: {"host": s.domain, "url": f"https://{s.domain}"},
        "url": lambda s, i, **a: f"https://{s.domain}",
        "currencyCode": lambda s, i, **a: s.currency,
        "ianaTimezone": lambda s, i, **a: s.timezone,
        "timezoneAbbreviation": lambda s, i, **a: store_of(i).tz.tzname(None) or "UTC",
        "timezoneOffset": lambda s, i, **a: _offset(store_of(i)),
        "timezoneOffsetMinutes": lambda s, i, **a: _offset_minutes(store_of(i)),
        "weightUnit": lambda s, i, **a: "KILOGRAMS",
        "taxesIncluded": lambda s, i, **a: False,
        "enabledPresentmentCurrencies": lambda s, i, **a: sorted({s.currency, "EUR", "GBP", "CAD"}),
    },
    "Location": {
        **_ids("Location"),
        "shipsInventory": lambda s, i, **a: s.is_active,
        "hasActiveInventory": lambda s, i, **a: any(s.id in v.levels for v in store_of(i).variants.values()),
        "address": lambda s, i, **a: {
            "address1": s.address1,
            "address2": None,
            "city": s.city,
            "province": s.province,
            "provinceCode": s.province_code,
            "zip": s.zip,
            "country": s.country,
            "countryCode": s.country_code,
            "phone": None,
            "formatted": [s.address1, s.city, s.zip, s.country],
        },
        "inventoryLevels": lambda s, i, **a: child_connection(
            i, [LevelView(v, s.id) for v in store_of(i).variants.values() if s.id in v.levels], a
        ),
        "inventoryLevel": lambda s, i, **a: _level_at(store_of(i), a["inventoryItemId"], s.id),
    },
    "Product": {
        **_ids("Product"),
        "description": lambda s, i, **a: re.sub(r"<[^>]+>", "", s.description_html),
        "totalInventory": lambda s, i, **a: sum(
            store_of(i).variants[v].inventory_quantity for v in s.variant_ids
        ),
        "tracksInventory": lambda s, i, **a: any(store_of(i).variants[v].tracked for v in s.variant_ids),
        "hasOnlyDefaultVariant": lambda s, i, **a: (
            len(s.variant_ids) == 1 and not store_of(i).variants[s.variant_ids[0]].options
        ),
        "options": lambda s, i, **a: s.options[: a.get("first") or None],
        "variants": lambda s, i, **a: child_connection(
            i, [store_of(i).variants[v] for v in s.variant_ids], a
        ),
        "variantsCount": lambda s, i, **a: {"count": len(s.variant_ids), "precision": "EXACT"},
    },
    "ProductOption": {
        "id": lambda s, i, **a: gid("ProductOption", s.id),
        "values": lambda s, i, **a: [v.name for v in s.values],
        "optionValues": lambda s, i, **a: [OptionValueView(v.id, v.name, True) for v in s.values],
    },
    "ProductOptionValue": {"id": lambda s, i, **a: gid("ProductOptionValue", s.id)},
    "ProductVariant": {
        **_ids("ProductVariant"),
        "displayName": lambda s, i, **a: f"{store_of(i).products[s.product_id].title} - {s.title}",
        "availableForSale": lambda s, i, **a: (
            store_of(i).products[s.product_id].status == "ACTIVE"
            and (s.inventory_policy == "CONTINUE" or not s.tracked or s.inventory_quantity > 0)
        ),
        "inventoryQuantity": lambda s, i, **a: s.inventory_quantity if s.tracked else None,
        "selectedOptions": lambda s, i, **a: _selected_options(store_of(i), s),
        "product": lambda s, i, **a: store_of(i).products[s.product_id],
        "inventoryItem": lambda s, i, **a: ItemView(s),
    },
    "InventoryItem": {
        "id": lambda s, i, **a: gid("InventoryItem", s.variant.item_id),
        "legacyResourceId": lambda s, i, **a: s.variant.item_id,
        "sku": lambda s, i, **a: s.variant.sku,
        "tracked": lambda s, i, **a: s.variant.tracked,
        "requiresShipping": lambda s, i, **a: s.variant.requires_shipping,
        "unitCost": lambda s, i, **a: (
            MoneyV2(s.variant.cost, store_of(i).shop.currency) if s.variant.cost is not None else None
        ),
        "measurement": lambda s, i, **a: {
            "id": gid("InventoryItemMeasurement", s.variant.item_id),
            "weight": {"unit": s.variant.weight_unit, "value": float(s.variant.weight)},
        },
        "createdAt": lambda s, i, **a: s.variant.created_at,
        "updatedAt": lambda s, i, **a: s.variant.item_updated_at,
        "variant": lambda s, i, **a: s.variant,
        "inventoryLevels": lambda s, i, **a: _levels(i, s.variant, a),
        "inventoryLevel": lambda s, i, **a: _level_at(
            store_of(i), gid("InventoryItem", s.variant.item_id), _num(a["locationId"], "Location")
        ),
        "locationsCount": lambda s, i, **a: {"count": len(s.variant.levels), "precision": "EXACT"},
    },
    "InventoryLevel": {
        "id": lambda s, i, **a: level_gid(s.location_id, s.variant.item_id),
        "location": lambda s, i, **a: store_of(i).locations[s.location_id],
        "item": lambda s, i, **a: ItemView(s.variant),
        "quantities": _quantities,
        "canDeactivate": lambda s, i, **a: len(s.variant.levels) > 1,
        "createdAt": lambda s, i, **a: s.variant.created_at,
        "updatedAt": lambda s, i, **a: s.variant.level_updated.get(s.location_id, s.variant.item_updated_at),
        "isActive": lambda s, i, **a: True,
    },
    "Customer": {
        **_ids("Customer"),
        "defaultEmailAddress": lambda s, i, **a: {"emailAddress": s.email} if s.email else None,
        "displayName": lambda s, i, **a: (
            " ".join(x for x in (s.first_name, s.last_name) if x) or (s.email or "")
        ),
        "defaultAddress": lambda s, i, **a: _address(s.default_address),
    },
    "Company": {"id": lambda s, i, **a: gid("Company", s.id)},
    "CompanyLocation": {
        "id": lambda s, i, **a: gid("CompanyLocation", s.company.location_id),
        "name": lambda s, i, **a: s.company.location_name,
    },
    "PurchasingCompany": {
        "company": lambda s, i, **a: s.company,
        "location": lambda s, i, **a: CompanyLocationView(s.company),
    },
    "Order": {
        **_ids("Order"),
        "closed": lambda s, i, **a: s.closed_at is not None,
        "confirmed": lambda s, i, **a: True,
        "currencyCode": lambda s, i, **a: s.currency,
        "presentmentCurrencyCode": lambda s, i, **a: s.presentment_currency,
        "taxExempt": lambda s, i, **a: False,
        "displayFinancialStatus": lambda s, i, **a: order_math.financial_status(store_of(i), s).upper(),
        "displayFulfillmentStatus": lambda s, i, **a: order_math.display_fulfillment_status(store_of(i), s),
        "fullyPaid": lambda s, i, **a: (
            _figures(s, i).outstanding.shop == 0 and _figures(s, i).received.shop > 0
        ),
        "unpaid": lambda s, i, **a: _figures(s, i).received.shop == 0,
        "subtotalPriceSet": _fig("subtotal"),
        "currentSubtotalPriceSet": _fig("current_subtotal"),
        "totalPriceSet": _fig("total"),
        "currentTotalPriceSet": _fig("current_total"),
        "totalTaxSet": _fig("tax"),
        "currentTotalTaxSet": _fig("current_tax"),
        "totalDiscountsSet": _fig("discounts"),
        "currentTotalDiscountsSet": _fig("current_discounts"),
        "totalShippingPriceSet": _fig("shipping"),
        "totalRefundedSet": _fig("refunded"),
        "totalRefundedShippingSet": _fig("refunded_shipping"),
        "totalOutstandingSet": _fig("outstanding"),
        "totalReceivedSet": _fig("received"),
        "totalCapturableSet": _fig("capturable"),
        "totalWeight": lambda s, i, **a: sum(li.grams * li.quantity for li in s.line_items),
        "subtotalLineItemsQuantity": lambda s, i, **a: sum(li.quantity for li in s.line_items),
        "currentSubtotalLineItemsQuantity": lambda s, i, **a: sum(li.current_quantity for li in s.line_items),
        "customer": lambda s, i, **a: store_of(i).customers.get(s.customer_id) if s.customer_id else None,
        "purchasingEntity": _purchasing_entity,
        "shippingAddress": lambda s, i, **a: _address(s.shipping_address),
        "billingAddress": lambda s, i, **a: _address(s.billing_address),
        "taxLines": _order_tax_lines,
        "discountCode": lambda s, i, **a: next((d.code for d in s.discounts if d.code), None),
        "discountCodes": lambda s, i, **a: [d.code for d in s.discounts if d.code],
        "discountApplications": lambda s, i, **a: child_connection(i, s.discounts, a),
        "shippingLines": lambda s, i, **a: child_connection(
            i,
            [_shipping_line(s)(x) for x in s.shipping_lines if a.get("includeRemovals") or not x.refunded],
            a,
        ),
        "lineItems": lambda s, i, **a: child_connection(i, s.line_items, a),
        "fulfillmentOrders": _fo_connection,
        "fulfillments": lambda s, i, **a: [store_of(i).fulfillments[f] for f in s.fulfillment_ids][
            : a.get("first") or None
        ],
        "refunds": lambda s, i, **a: [store_of(i).refunds[r] for r in s.refund_ids][: a.get("first") or None],
        "transactions": lambda s, i, **a: s.transactions[: a.get("first") or None],
        "cancelReason": lambda s, i, **a: s.cancel_reason,
    },
    "LineItem": _line_item_resolvers(),
    "DiscountCodeApplication": _discount_resolvers(),
    "ManualDiscountApplication": _discount_resolvers(),
    "AutomaticDiscountApplication": _discount_resolvers(),
    "OrderTransaction": {
        "id": lambda s, i, **a: gid("OrderTransaction", s.id),
        "kind": lambda s, i, **a: s.kind.upper(),
        "status": lambda s, i, **a: s.status.upper(),
        "amountSet": lambda s, i, **a: bag(s.amount, _order_for_transaction(i, s)),
        "processedAt": lambda s, i, **a: s.created_at,
        "parentTransaction": lambda s, i, **a: None,
    },
    "FulfillmentOrder": {
        "id": lambda s, i, **a: gid("FulfillmentOrder", s.id),
        "orderId": lambda s, i, **a: gid("Order", s.order_id),
        "order": lambda s, i, **a: _order_of(i, s.order_id),
        "assignedLocation": lambda s, i, **a: {
            "location": store_of(i).locations[s.location_id],
            "name": store_of(i).locations[s.location_id].name,
        },
        "lineItems": lambda s, i, **a: child_connection(i, s.lines, a),
    },
    "FulfillmentOrderLineItem": {
        "id": lambda s, i, **a: gid("FulfillmentOrderLineItem", s.id),
        "lineItem": lambda s, i, **a: store_of(i).line_items[s.line_item_id],
        "sku": lambda s, i, **a: store_of(i).line_items[s.line_item_id].sku,
        "productTitle": lambda s, i, **a: store_of(i).line_items[s.line_item_id].title,
        "variantTitle": lambda s, i, **a: store_of(i).line_items[s.line_item_id].variant_title,
        "inventoryItemId": lambda s, i, **a: _item_gid_of_line(store_of(i), s.line_item_id),
    },
    "Fulfillment": {
        **_ids("Fulfillment"),
        "trackingInfo": lambda s, i, **a: s.tracking[: a.get("first") or None],
        "location": lambda s, i, **a: store_of(i).locations.get(s.location_id),
        "order": lambda s, i, **a: _order_of(i, s.order_id),
        "totalQuantity": lambda s, i, **a: sum(q for _, _, q in s.lines),
        "fulfillmentLineItems": lambda s, i, **a: child_connection(
            i,
            [
                {
                    "id": gid("FulfillmentLineItem", fid),
                    "quantity": q,
                    "lineItem": store_of(i).line_items[lid],
                }
                for fid, lid, q in s.lines
            ],
            a,
        ),
    },
    "Refund": {
        **_ids("Refund"),
        "totalRefundedSet": lambda s, i, **a: bag(
            sum((t.amount for t in s.transactions), Pair(Decimal(0), Decimal(0))), _order_of(i, s.order_id)
        ),
        "order": lambda s, i, **a: _order_of(i, s.order_id),
        "refundLineItems": lambda s, i, **a: child_connection(
            i, [_refund_line(_order_of(i, s.order_id), store_of(i))(r) for r in s.lines], a
        ),
        "transactions": lambda s, i, **a: child_connection(i, s.transactions, a),
    },
    "WebhookSubscription": {
        **_ids("WebhookSubscription"),
        "includeFields": lambda s, i, **a: s.include_fields,
        "metafieldNamespaces": lambda s, i, **a: [],
        "endpoint": lambda s, i, **a: {"callbackUrl": s.uri},
        "callbackUrl": _webhook_uri,
        "uri": _webhook_uri,
        "apiVersion": lambda s, i, **a: store_of(i).config.api_version,
    },
    "BulkOperation": {
        "id": lambda s, i, **a: gid("BulkOperation", s.id),
        "fileSize": lambda s, i, **a: len(s.data) if s.status == "COMPLETED" and s.data else None,
        "url": _bulk_url,
        "partialDataUrl": lambda s, i, **a: None,
    },
}


def _order_for_transaction(info: GraphQLResolveInfo, t: Transaction) -> Order:
    store = store_of(info)
    cache = ctx(info).mutation_state.setdefault("tx_orders", {})
    if not cache:
        for order in store.orders.values():
            for tx in order.transactions:
                cache[tx.id] = order
        for refund in store.refunds.values():
            for tx in refund.transactions:
                cache[tx.id] = store.orders[refund.order_id]
    return cache.get(t.id) or next(iter(store.orders.values()))  # type: ignore[no-any-return]


def _item_gid_of_line(store: Store, line_item_id: int) -> str | None:
    line = store.line_items[line_item_id]
    variant = store.variants.get(line.variant_id) if line.variant_id else None
    return gid("InventoryItem", variant.item_id) if variant else None


def _num(value: str, kind: str) -> int:
    number = parse_gid(value, kind)
    if number is None:
        raise GraphQLError(
            f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"}
        )
    return number


def _level_at(store: Store, item_gid: str, location_id: int) -> LevelView | None:
    variant = store.variant_by_item(_num(item_gid, "InventoryItem"))
    if variant is None or location_id not in variant.levels:
        return None
    return LevelView(variant, location_id)


def _selected_options(store: Store, variant: Variant) -> list[dict[str, Any]]:
    product = store.products[variant.product_id]
    out = []
    for option, value in zip(product.options, variant.options, strict=False):
        ov = next((v for v in option.values if v.name == value), None)
        out.append(
            {
                "name": option.name,
                "value": value,
                "optionValue": OptionValueView(ov.id if ov else 0, value, True),
            }
        )
    if not out:
        out.append(
            {
                "name": "Title",
                "value": "Default Title",
                "optionValue": OptionValueView(0, "Default Title", True),
            }
        )
    return out


def _offset_minutes(store: Store) -> int:
    from datetime import datetime

    offset = datetime.now(store.tz).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


def _offset(store: Store) -> str:
    minutes = _offset_minutes(store)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


# --- root query -----------------------------------------------------------------------------------------
def _root(name: str) -> Resolver:
    return lambda s, i, **a: QUERY[name](i, **a)


def _one(kind: str) -> Callable[..., Any]:
    return lambda info, id: _typed(store_of(info), id, kind)


def _current_bulk(info: GraphQLResolveInfo, type: str = "QUERY") -> BulkOperation | None:
    ops = [op for op in store_of(info).bulk_operations.values() if op.type == type]
    return max(ops, key=lambda op: op.id) if ops else None


def _webhooks(info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    topics = set(args.get("topics") or [])
    uri = args.get("uri") or args.get("callbackUrl")
    hooks = [
        h
        for h in store.webhooks.values()
        if (not topics or h.topic in topics)
        and (not uri or h.uri == uri)
        and (not args.get("format") or h.format == args["format"])
    ]
    return child_connection(info, hooks, args)


QUERY: dict[str, Callable[..., Any]] = {
    "shop": lambda info: store_of(info).shop,
    "locations": lambda info, **a: top_connection(
        info, "locations", a, lambda i: store_of(info).locations[i], root="locations"
    ),
    "location": lambda info, id=None: (
        _typed(store_of(info), id, "Location") if id else store_of(info).primary_location()
    ),
    "products": lambda info, **a: top_connection(
        info, "products", a, lambda i: store_of(info).products[i], root="products"
    ),
    "product": _one("Product"),
    "productByHandle": lambda info, handle: next(
        (p for p in store_of(info).products.values() if p.handle == handle), None
    ),
    "productVariants": lambda info, **a: top_connection(
        info, "variants", a, lambda i: store_of(info).variants[i], root="productVariants"
    ),
    "productVariant": _one("ProductVariant"),
    "inventoryItems": lambda info, **a: top_connection(
        info,
        "items",
        a,
        lambda i: ItemView(store_of(info).variants[store_of(info).items[i]]),
        root="inventoryItems",
    ),
    "inventoryItem": _one("InventoryItem"),
    "inventoryLevel": _one("InventoryLevel"),
    "orders": lambda info, **a: top_connection(
        info, "orders", a, lambda i: store_of(info).orders[i], root="orders"
    ),
    "order": _one("Order"),
    "fulfillmentOrder": _one("FulfillmentOrder"),
    "node": lambda info, id: lookup(store_of(info), id),
    "nodes": lambda info, ids: [lookup(store_of(info), x) for x in ids],
    "webhookSubscriptions": _webhooks,
    "webhookSubscription": _one("WebhookSubscription"),
    "currentBulkOperation": _current_bulk,
}

RESOLVERS["Query"] = {name: _root(name) for name in QUERY}
