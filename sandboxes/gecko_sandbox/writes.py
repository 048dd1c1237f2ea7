"""POST / PUT / DELETE: routing, Idempotency-Key replays, the after-write fault, and the simple
resources (companies, addresses, currencies, locations, products, variants, webhooks). Orders and
their shipments are in orders_api.py and shipments_api.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from gecko_sandbox import (
    catalogue,
    domain,
    faults,
    order_lines_api,
    orders_api,
    parties,
    shipments_api,
)
from gecko_sandbox.context import Ctx
from gecko_sandbox.core import Reply, Sandbox
from gecko_sandbox.errors import ApiError, not_found
from gecko_sandbox.parties import ADDRESS_FIELDS, COMPANY_FIELDS
from gecko_sandbox.store import dumps
from gecko_sandbox.validate import Errors, as_text, permitted, root_object

PRODUCT_STATUSES = ("active", "disabled", "archived")
LOCATION_FIELDS = frozenset(
    {"label", "address1", "address2", "suburb", "city", "state", "zip_code", "country", "holds_stock"}
)
CURRENCY_FIELDS = frozenset(
    {"iso", "name", "symbol", "separator", "delimiter", "format", "precision", "rate"}
)
PRODUCT_FIELDS = frozenset(
    {
        "name",
        "description",
        "product_type",
        "brand",
        "opt1",
        "opt2",
        "opt3",
        "tags",
        "status",
        "supplier",
        "vendor",
    }
)
VARIANT_FIELDS = frozenset(
    {
        "name",
        "description",
        "sku",
        "upc",
        "supplier_code",
        "opt1",
        "opt2",
        "opt3",
        "buy_price",
        "wholesale_price",
        "retail_price",
        "variant_prices",
        "manage_stock",
        "keep_selling",
        "max_online",
        "online_ordering",
        "sellable",
        "purchasable",
        "taxable",
        "composite",
        "position",
        "weight",
        "weight_unit",
        "hs_code",
        "country_of_origin",
        "default_ledger_account_id",
    }
)
VARIANT_CREATE_ONLY = frozenset(
    {"product_id", "initial_stock_level", "initial_cost_price", "initial_stock_location_id"}
)
WEBHOOK_EVENTS = frozenset(
    {
        "account.update",
        "address.create",
        "address.update",
        "channel.destroy",
        "company.create",
        "company.update",
        "company.destroy",
        "contact.create",
        "contact.update",
        "document_theme.update",
        "fulfillment.create",
        "fulfillment.fulfilled",
        "fulfillment_return.create",
        "fulfillment_return.received",
        "invoice.create",
        "invoice.destroy",
        "location.create",
        "location.update",
        "order.create",
        "order.finalized",
        "order.fulfilled",
        "payment.create",
        "product.create",
        "product.destroy",
        "procurement.create",
        "purchase_order.create",
        "purchase_order.received",
        "stock_adjustment.create",
        "stock_transfer.create",
        "variant.create",
        "variant.stock_level_update",
        "image.create",
    }
)
# --- generic create / update / delete -------------------------------------------------------------


def post_company(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "company")
    errors = Errors()
    parties.company_errors(ctx.store, errors, data, creating=True)
    errors.check()
    return ctx.created("companies", parties.create_company(ctx.store, data))


def post_address(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "address")
    errors = Errors()
    company = errors.reference(data, "company_id", ctx.store.table("companies"))
    if company is None and "company_id" not in errors.errors:
        errors.add("company_id", "can't be blank")
    parties.address_errors(errors, data)
    errors.check()
    assert company is not None
    return ctx.created("addresses", parties.create_address(ctx.store, company, data))


def post_location(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "location")
    errors = Errors()
    for field in ("label", "address1", "country"):
        errors.required(data, field)
    label = data.get("label")
    table = ctx.store.table("locations")
    if label and any(r["label"] == label and r["status"] == "active" for r in table.records.values()):
        errors.add("label", "has already been taken")
    errors.check()
    fields = {"holds_stock": True, "status": "active", **permitted(data, LOCATION_FIELDS)}
    record = domain.insert(
        ctx.store,
        "locations",
        {
            "id": table.next_id,
            "created_at": None,
            "updated_at": None,
            **{f: None for f in sorted(LOCATION_FIELDS)},
            **fields,
        },
    )
    account = ctx.store.table("accounts").records[1]
    account["location_ids"].append(record["id"])
    domain.touch(ctx.store, "accounts", account)
    return ctx.created("locations", record)


def post_currency(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "currency")
    errors = Errors()
    iso = errors.required(data, "iso")
    table = ctx.store.table("currencies")
    if iso is not None:
        if not (isinstance(iso, str) and len(iso) == 3 and iso.isalpha()):
            errors.add("iso", "is not a 3-letter ISO 4217 code")
        elif any(r["iso"] == iso.upper() and r["status"] == "active" for r in table.records.values()):
            errors.add("iso", "has already been taken")
    errors.decimal(data, "rate")
    errors.check()
    fields = permitted(data, CURRENCY_FIELDS)
    fields["iso"] = str(iso).upper()
    fields["rate"] = as_text(fields.get("rate")) or "1.0"
    record = domain.insert(
        ctx.store,
        "currencies",
        {
            "id": table.next_id,
            "created_at": None,
            "updated_at": None,
            "iso": fields["iso"],
            "name": fields["iso"],
            "rate": "1.0",
            "symbol": "$",
            "separator": ".",
            "delimiter": ",",
            "precision": 2,
            "format": "%u%n",
            "status": "active",
            "subunit": 100,
            **fields,
        },
    )
    return ctx.created("currencies", record)


def post_product(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "product")
    errors = Errors()
    errors.required(data, "name")
    errors.one_of(data, "status", PRODUCT_STATUSES)
    errors.check()
    product = catalogue.add_product(ctx.store, permitted(data, PRODUCT_FIELDS))
    return ctx.created("products", product)


def _variant_errors(errors: Errors, data: dict[str, Any]) -> None:
    for field in (
        "buy_price",
        "wholesale_price",
        "retail_price",
        "initial_stock_level",
        "initial_cost_price",
    ):
        errors.decimal(data, field)
    if data.get("max_online") not in (None, ""):
        errors.decimal(data, "max_online")
    for index, entry in enumerate(data.get("variant_prices") or ()):
        if not isinstance(entry, dict) or entry.get("price_list_id") in (None, ""):
            errors.add(f"variant_prices[{index}].price_list_id", "can't be blank")
        elif entry.get("value") is not None:
            errors.decimal(entry, "value", f"variant_prices[{index}].value")


def post_variant(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "variant")
    errors = Errors()
    product = errors.reference(data, "product_id", ctx.store.table("products"))
    if product is None and "product_id" not in errors.errors:
        errors.add("product_id", "can't be blank")
    _variant_errors(errors, data)
    location = errors.reference(data, "initial_stock_location_id", ctx.store.table("locations"))
    if location is not None and not location["holds_stock"]:
        errors.add("initial_stock_location_id", "does not hold stock")
    errors.check()
    assert product is not None
    fields = permitted(data, VARIANT_FIELDS | VARIANT_CREATE_ONLY)
    if fields.get("max_online") is not None:
        fields["max_online"] = as_text(fields["max_online"])
    variant = catalogue.add_variant(ctx.store, product, fields)
    return ctx.created("variants", variant)


def post_webhook(ctx: Ctx) -> Reply:
    data = root_object(ctx.body, "webhook")
    errors = Errors()
    errors.required(data, "address")
    errors.required(data, "event")
    if data.get("event") and data["event"] not in WEBHOOK_EVENTS:
        errors.add("event", "is not a valid event")
    if data.get("address") and not str(data["address"]).startswith(("http://", "https://")):
        errors.add("address", "is not a valid URL")
    errors.check()
    table = ctx.store.table("webhooks")
    record = domain.insert(
        ctx.store,
        "webhooks",
        {
            "id": table.next_id,
            "created_at": None,
            "updated_at": None,
            "event": data["event"],
            "address": data["address"],
            "oauth_application_id": 1,
        },
    )
    return ctx.created("webhooks", record)


def put_simple(table_name: str, root: str, allowed: frozenset[str]) -> Callable[[Ctx, str], Reply]:
    def handler(ctx: Ctx, raw_id: str) -> Reply:
        table = ctx.store.table(table_name)
        record = table.lookup(raw_id)
        if record is None:
            raise not_found(table.singular, raw_id)
        data = permitted(root_object(ctx.body, root), allowed)
        errors = Errors()
        if table_name == "companies":
            parties.company_errors(ctx.store, errors, data, creating=False)
        if table_name == "products":
            errors.one_of(data, "status", PRODUCT_STATUSES)
        if table_name == "variants":
            _variant_errors(errors, data)
        if table_name == "webhooks" and data.get("event") and data["event"] not in WEBHOOK_EVENTS:
            errors.add("event", "is not a valid event")
        for field in ("name", "label", "address1", "address", "event", "iso"):
            if field in data and field in allowed and data[field] in (None, ""):
                errors.add(field, "can't be blank")
        errors.check()
        for field in ("buy_price", "wholesale_price", "retail_price", "max_online", "rate"):
            if data.get(field) is not None:
                data[field] = as_text(data[field])
        if table_name == "companies":
            data = parties.company_fields(data)
        domain.apply_update(ctx.store, table_name, record, data)
        if table_name == "addresses":  # the one resource whose update answers 200 with the record
            return Reply(200, dumps({"address": record}))
        return Reply(204)

    return handler


ARCHIVABLE = frozenset(
    {"companies", "addresses", "locations", "currencies", "products", "variants", "tax_types"}
)


def delete_record(ctx: Ctx, table_name: str, raw_id: str) -> Reply:
    table = ctx.store.table(table_name)
    record = table.lookup(raw_id)
    if record is None:
        raise not_found(table.singular, raw_id)
    if table_name == "webhooks":
        ctx.store.purge(table, record["id"])
    elif table_name in ARCHIVABLE:  # soft deletion: status archived
        domain.apply_update(ctx.store, table_name, record, {"status": "archived"})
    else:
        raise ApiError(405, f"{table_name} cannot be deleted through the API")
    return Reply(204)


POSTS: dict[str, Callable[[Ctx], Reply]] = {
    "companies": post_company,
    "addresses": post_address,
    "locations": post_location,
    "currencies": post_currency,
    "products": post_product,
    "variants": post_variant,
    "webhooks": post_webhook,
    "orders": orders_api.post_order,
    "fulfillments": shipments_api.post_fulfillment,
    "fulfillment_returns": shipments_api.post_return,
}
PUTS: dict[str, Callable[[Ctx, str], Reply]] = {
    "companies": put_simple("companies", "company", COMPANY_FIELDS),
    "addresses": put_simple("addresses", "address", ADDRESS_FIELDS),
    "locations": put_simple("locations", "location", LOCATION_FIELDS),
    "currencies": put_simple("currencies", "currency", CURRENCY_FIELDS - {"iso"}),
    "products": put_simple("products", "product", PRODUCT_FIELDS),
    "variants": put_simple("variants", "variant", VARIANT_FIELDS),
    "webhooks": put_simple("webhooks", "webhook", frozenset({"address", "event"})),
    "orders": orders_api.put_order,
    "order_line_items": order_lines_api.put_line,
    "fulfillments": shipments_api.put_fulfillment,
    "fulfillment_returns": shipments_api.put_return,
}


def _resolve(method: str, segments: list[str]) -> Callable[[Ctx], Reply] | None:
    n = len(segments)
    if method == "POST" and n == 1 and segments[0] in POSTS:
        return POSTS[segments[0]]
    if method == "POST" and n == 4 and segments[0] == "orders" and segments[2] == "actions":
        return lambda ctx: orders_api.order_action(ctx, segments[1], segments[3])
    if method == "PUT" and n == 2 and segments[0] in PUTS:
        return lambda ctx: PUTS[segments[0]](ctx, segments[1])
    if (
        method == "DELETE"
        and n == 2
        and (
            segments[0] in ARCHIVABLE
            or segments[0] in ("webhooks", "orders", "order_line_items", "fulfillments")
        )
    ):
        if segments[0] == "orders":
            return lambda ctx: orders_api.delete_order(ctx, segments[1])
        if segments[0] == "order_line_items":
            return lambda ctx: order_lines_api.delete_line(ctx, segments[1])
        if segments[0] == "fulfillments":
            return lambda ctx: shipments_api.delete_fulfillment(ctx, segments[1])
        return lambda ctx: delete_record(ctx, segments[0], segments[1])
    return None


async def dispatch(
    sandbox: Sandbox, request: Request, method: str, segments: list[str], token: str
) -> Reply | None:
    handler = _resolve(method, segments)
    if handler is None:
        return None
    key = request.headers.get("idempotency-key", "").strip() if method in ("POST", "PUT") else ""
    if key:
        first = sandbox.idempotency.get("account", key)
        if first is not None:
            sandbox.stats.idempotent_replays += 1
            return Reply(first.status, first.body, {**first.headers, "Idempotent-Replayed": "true"})
    ctx = Ctx(sandbox, request, await request.body())
    try:
        reply = handler(ctx)
    except ApiError as error:
        if error.status >= 500:
            raise
        reply = Reply(error.status, error.content())
    lost = method == "POST" and reply.status < 300 and faults.error_after_write(sandbox)
    if key and not (lost and sandbox.faults.error_after_write_forgets_key):
        sandbox.idempotency.put("account", key, reply)
    if lost:
        # The write happened and (unless the key is forgotten too) a replay with the same key gets the
        # real answer; this one is lost.
        raise ApiError(500, "Injected fault: the request was performed but its answer failed")
    return reply
