"""The `/_sandbox/` control plane: no auth, no throttle, not counted in stats; not part of Shopify's API.
State dumps, counters, throttle and fault switches, webhook delivery controls, and shopper / merchant
activity (orders, payments, cancels, refunds, fulfilments, stock edits, products). README lists it all."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopify_sandbox import domain, orders, rest
from shopify_sandbox.domain import DomainError
from shopify_sandbox.records import ALL_QUANTITY_NAMES, Order, Product
from shopify_sandbox.wire import gid, ident

if TYPE_CHECKING:
    from shopify_sandbox.app import Sandbox

Handler = Callable[[Request], Awaitable[Response]]


class ControlError(Exception):
    def __init__(self, status: int, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _json(value: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(value, separators=(",", ":"), default=str), status, media_type="application/json"
    )


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as error:
            return _json({"error": error.message, "field": error.field}, error.status)
        except DomainError as error:
            return _json({"error": error.message, "field": error.field}, 422)
        except (ValueError, TypeError, KeyError) as error:
            return _json({"error": f"{type(error).__name__}: {error}"}, 400)

    return wrapped


def routes(sandbox: Sandbox) -> list[Route]:
    store = sandbox.store
    deliverer = sandbox.deliverer

    def order_of(request: Request) -> Order:
        order = store.orders.get(ident(request.path_params["id"], "Order") or -1)
        if order is None:
            raise ControlError(404, f"no order {request.path_params['id']}")
        return order

    def product_of(request: Request) -> Product:
        product = store.products.get(ident(request.path_params["id"], "Product") or -1)
        if product is None:
            raise ControlError(404, f"no product {request.path_params['id']}")
        return product

    async def health(request: Request) -> Response:
        config = sandbox.config
        return _json(
            {
                "ok": True,
                "api_version": config.api_version,
                "shop_domain": config.shop_domain,
                "scale": config.scale,
                "seed": config.seed,
                "counts": {
                    "locations": len(store.locations),
                    "products": len(store.products),
                    "variants": len(store.variants),
                    "orders": len(store.orders),
                    "customers": len(store.customers),
                    "webhook_subscriptions": len(store.webhooks),
                    "bulk_operations": len(store.bulk_operations),
                },
            }
        )

    async def stats(request: Request) -> Response:
        return _json(sandbox.stats.as_dict())

    async def stats_reset(request: Request) -> Response:
        sandbox.stats.reset()
        return _json(sandbox.stats.as_dict())

    async def dump(request: Request) -> Response:
        name = request.path_params["resource"]
        dumps: dict[str, Callable[[], list[Any]]] = {
            "shop": lambda: [rest.shop(store)],
            "locations": lambda: [
                {
                    "id": loc.id,
                    "admin_graphql_api_id": gid("Location", loc.id),
                    "name": loc.name,
                    "active": loc.is_active,
                }
                for loc in store.locations.values()
            ],
            "products": lambda: [rest.product(store, p) for p in store.products.values()],
            "orders": lambda: [rest.order(store, o) for o in store.orders.values()],
            "inventory_levels": lambda: [
                {
                    **rest.inventory_level(store, v, loc),
                    "sku": v.sku,
                    "variant_id": v.id,
                    "quantities": {n: v.quantity(loc, n) for n in ALL_QUANTITY_NAMES},
                }
                for v in store.variants.values()
                for loc in sorted(v.levels)
            ],
            "webhook_subscriptions": lambda: [
                {
                    "id": gid("WebhookSubscription", h.id),
                    "topic": h.topic,
                    "uri": h.uri,
                    "failures": h.failures,
                }
                for h in store.webhooks.values()
            ],
            "bulk_operations": lambda: [
                {
                    "id": gid("BulkOperation", op.id),
                    "status": op.status,
                    "object_count": op.object_count,
                    "query": op.query,
                }
                for op in store.bulk_operations.values()
            ],
        }
        if name not in dumps:
            raise ControlError(404, f"unknown resource {name!r}; known: {sorted(dumps)}")
        return _json({name: dumps[name]()})

    async def throttle(request: Request) -> Response:
        if request.method == "PUT":
            body = await _body(request)
            sandbox.bucket.configure(
                body.get("bucket_size"), body.get("restore_rate"), body.get("currently_available")
            )
        return _json(sandbox.bucket.status())

    async def fault_settings(request: Request) -> Response:
        if request.method == "PUT":
            sandbox.faults.update(await _body(request))
        return _json(sandbox.faults.as_dict())

    async def webhook_settings(request: Request) -> Response:
        if request.method == "PUT":
            body = await _body(request)
            if "duplicate_rate" in body:
                deliverer.duplicate_rate = float(body["duplicate_rate"])
            if "hold" in body:
                if body["hold"]:
                    deliverer.hold = True
                else:
                    deliverer.release("fifo")
        return _json(deliverer.settings())

    async def webhook_release(request: Request) -> Response:
        body = await _body(request)
        order = body.get("order", "fifo")
        if order not in ("fifo", "reverse", "shuffle"):
            raise ControlError(400, "order must be fifo, reverse or shuffle")
        return _json({"released": deliverer.release(order)})

    async def webhook_redeliver(request: Request) -> Response:
        body = await _body(request)
        delivery = deliverer.by_id.get(str(body.get("webhook_id")))
        if delivery is None:
            raise ControlError(404, f"no delivery {body.get('webhook_id')!r}")
        deliverer.send(delivery, duplicate=True)
        return _json({"redelivered": delivery.id})

    async def deliveries(request: Request) -> Response:
        topic = request.query_params.get("topic")
        items = [d.as_dict() for d in deliverer.log if topic is None or d.topic == topic]
        return _json({"webhook_deliveries": items})

    async def place(request: Request) -> Response:
        order = orders.place_order(store, await _body(request))
        return _json({"order": rest.order(store, order)}, 201)

    async def payment(request: Request) -> Response:
        order = order_of(request)
        body = await _body(request)
        orders.record_payment(store, order, str(body.get("financial_status", "paid")), body.get("amount"))
        return _json({"order": rest.order(store, order)})

    async def cancel(request: Request) -> Response:
        order = order_of(request)
        body = await _body(request)
        orders.cancel(
            store,
            order,
            str(body.get("reason", "customer")),
            restock=bool(body.get("restock", False)),
            refund_money=bool(body.get("refund", False)),
            note=body.get("staff_note"),
        )
        return _json({"order": rest.order(store, order)})

    async def refund(request: Request) -> Response:
        order = order_of(request)
        record = orders.refund(store, order, await _body(request))
        return _json({"refund": rest.refund(store, record), "order": rest.order(store, order)}, 201)

    async def fulfil(request: Request) -> Response:
        order = order_of(request)
        record = orders.fulfil_order(store, order, await _body(request))
        return _json({"fulfillment": rest.fulfillment(store, record), "order": rest.order(store, order)}, 201)

    async def inventory(request: Request) -> Response:
        body = await _body(request)
        variant = None
        if body.get("variant_id") is not None:
            variant = store.variants.get(ident(body["variant_id"], "ProductVariant") or -1)
        elif body.get("inventory_item_id") is not None:
            variant = store.variant_by_item(ident(body["inventory_item_id"], "InventoryItem") or -1)
        elif body.get("sku"):
            variant = next((v for v in store.variants.values() if v.sku == body["sku"]), None)
        if variant is None:
            raise ControlError(404, "no such variant (give variant_id, inventory_item_id or sku)")
        location_id = (
            ident(body.get("location_id"), "Location")
            if body.get("location_id") is not None
            else store.primary_location().id
        )
        if location_id not in store.locations:
            raise ControlError(404, f"no location {body.get('location_id')!r}")
        delta = domain.set_available(store, variant, location_id, int(body["available"]))  # type: ignore[arg-type]
        return _json({"inventory_level": rest.inventory_level(store, variant, location_id), "delta": delta})  # type: ignore[arg-type]

    async def create_product(request: Request) -> Response:
        body = await _body(request)
        fields = {
            "title": body.get("title"),
            "status": (body.get("status") or "active").upper(),
            "vendor": body.get("vendor"),
            "productType": body.get("product_type"),
            "tags": body.get("tags"),
            "handle": body.get("handle"),
        }
        product = domain.new_product(store, fields)
        domain.set_options(
            store,
            product,
            [
                {"name": o["name"], "values": [{"name": v} for v in o.get("values", [])]}
                for o in body.get("options") or []
            ],
        )
        for spec in body.get("variants") or [{}]:
            variant = domain.new_variant(
                store,
                product,
                tuple(spec.get("options") or ()),
                {"price": spec.get("price", "0.00"), "sku": spec.get("sku"), "barcode": spec.get("barcode")},
            )
            if spec.get("available") is not None:
                domain.activate(store, variant, store.primary_location().id, int(spec["available"]))
        domain.product_changed(store, product, created=True)
        return _json({"product": rest.product(store, product)}, 201)

    async def edit_product(request: Request) -> Response:
        product = product_of(request)
        body = await _body(request)
        domain.update_product_fields(
            store,
            product,
            {
                "title": body.get("title"),
                "status": (body["status"].upper() if body.get("status") else None),
                "vendor": body.get("vendor"),
                "productType": body.get("product_type"),
                "tags": body.get("tags"),
            },
        )
        stamp = store.touch()
        for spec in body.get("variants") or []:
            variant = store.variants.get(ident(spec.get("id"), "ProductVariant") or -1)
            if variant is None or variant.product_id != product.id:
                raise ControlError(404, f"no variant {spec.get('id')!r} on this product")
            fields = {
                k2: spec[k1]
                for k1, k2 in (
                    ("price", "price"),
                    ("compare_at_price", "compareAtPrice"),
                    ("sku", "sku"),
                    ("barcode", "barcode"),
                )
                if k1 in spec
            }
            domain.update_variant(variant, fields, stamp)
        domain.product_changed(store, product)
        return _json({"product": rest.product(store, product)})

    async def archive_product(request: Request) -> Response:
        product = product_of(request)
        product.status = "ARCHIVED"
        domain.product_changed(store, product)
        return _json({"product": rest.product(store, product)})

    async def bulk_file(request: Request) -> Response:
        op = store.bulk_operations.get(ident(request.path_params["id"], "BulkOperation") or -1)
        if op is None or op.data is None:
            raise ControlError(404, "no such bulk operation result")
        return Response(op.data, media_type="application/jsonl")

    async def uninstall(request: Request) -> Response:
        store.emit("app/uninstalled", lambda: rest.shop(store))
        return _json({"uninstalled": True})

    plain = [
        ("/health", health, ["GET"]),
        ("/stats", stats, ["GET"]),
        ("/stats/reset", stats_reset, ["POST"]),
        ("/dump/{resource}", dump, ["GET"]),
        ("/throttle", throttle, ["GET", "PUT"]),
        ("/faults", fault_settings, ["GET", "PUT"]),
        ("/webhooks/settings", webhook_settings, ["GET", "PUT"]),
        ("/webhooks/release", webhook_release, ["POST"]),
        ("/webhooks/redeliver", webhook_redeliver, ["POST"]),
        ("/webhook_deliveries", deliveries, ["GET"]),
        ("/orders", place, ["POST"]),
        ("/orders/{id}/payments", payment, ["POST"]),
        ("/orders/{id}/cancel", cancel, ["POST"]),
        ("/orders/{id}/refunds", refund, ["POST"]),
        ("/orders/{id}/fulfillments", fulfil, ["POST"]),
        ("/inventory", inventory, ["PUT"]),
        ("/products", create_product, ["POST"]),
        ("/products/{id}", edit_product, ["PUT"]),
        ("/products/{id}/archive", archive_product, ["POST"]),
        ("/bulk/{id}.jsonl", bulk_file, ["GET"]),
        ("/app/uninstall", uninstall, ["POST"]),
    ]
    return [Route(path, _guard(fn), methods=methods) for path, fn, methods in plain]
