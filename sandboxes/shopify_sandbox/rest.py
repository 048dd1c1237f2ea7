"""REST-shaped JSON bodies of webhook deliveries (numeric ids plus `admin_graphql_api_id`), keyed and
ordered as Shopify's 2025-01 REST fixtures. Amounts are strings except `tax_lines[].rate` and
`refund_line_items[].subtotal/total_tax` (JSON numbers), as in those fixtures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopify_sandbox.records import Address, LineItem, Pair, Product, TaxLine, Variant
from shopify_sandbox.wire import decimal_str, gid, level_gid, money2, shop_iso

if TYPE_CHECKING:
    from shopify_sandbox.records import Fulfillment, Order, Refund, Transaction
    from shopify_sandbox.store import Store

WEIGHT_UNITS = {"GRAMS": "g", "KILOGRAMS": "kg", "OUNCES": "oz", "POUNDS": "lb"}


def _set(pair: Pair, shop_currency: str, pres_currency: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": money2(pair.shop), "currency_code": shop_currency},
        "presentment_money": {"amount": money2(pair.pres), "currency_code": pres_currency},
    }


def _address(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "first_name": address.first_name,
        "address1": address.address1,
        "phone": address.phone,
        "city": address.city,
        "zip": address.zip,
        "province": address.province,
        "country": address.country,
        "last_name": address.last_name,
        "address2": address.address2,
        "company": address.company,
        "latitude": address.latitude,
        "longitude": address.longitude,
        "name": address.name,
        "country_code": address.country_code,
        "province_code": address.province_code,
    }


def _tax_lines(lines: list[TaxLine], money: Any) -> list[dict[str, Any]]:
    return [
        {
            "channel_liable": t.channel_liable,
            "price": money2(t.price.shop),
            "price_set": money(t.price),
            "rate": float(t.rate),
            "title": t.title,
        }
        for t in lines
    ]


def _line_item(store: Store, order: Order, line: LineItem) -> dict[str, Any]:
    def money(pair: Pair) -> dict[str, Any]:
        return _set(pair, order.currency, order.presentment_currency)

    variant = store.variants.get(line.variant_id) if line.variant_id else None
    return {
        "id": line.id,
        "admin_graphql_api_id": gid("LineItem", line.id),
        "attributed_staffs": [],
        "current_quantity": line.current_quantity,
        "fulfillable_quantity": line.fulfillable,
        "fulfillment_service": "manual",
        "fulfillment_status": None
        if line.fulfilled == 0
        else ("fulfilled" if line.fulfillable == 0 else "partial"),
        "gift_card": False,
        "grams": line.grams,
        "name": f"{line.title} - {line.variant_title}" if line.variant_title else line.title,
        "price": money2(line.price.shop),
        "price_set": money(line.price),
        "product_exists": line.product_id is not None and line.product_id in store.products,
        "product_id": line.product_id,
        "properties": line.properties,
        "quantity": line.quantity,
        "requires_shipping": line.requires_shipping,
        "sku": line.sku,
        "taxable": line.taxable,
        "title": line.title,
        "total_discount": "0.00",  # Shopify reports line discounts in discount_allocations, this stays 0
        "total_discount_set": money(Pair(line.price.shop * 0, line.price.pres * 0)),
        "variant_id": line.variant_id,
        "variant_inventory_management": ("shopify" if variant.tracked else None) if variant else None,
        "variant_title": line.variant_title,
        "vendor": line.vendor,
        "tax_lines": _tax_lines(line.tax_lines, money),
        "duties": [],
        "discount_allocations": [
            {"amount": money2(amount.shop), "amount_set": money(amount), "discount_application_index": index}
            for index, amount in line.discount_allocations
        ],
    }


def _transaction(store: Store, order: Order, t: Transaction) -> dict[str, Any]:
    return {
        "id": t.id,
        "admin_graphql_api_id": gid("OrderTransaction", t.id),
        "amount": money2(t.amount.pres),
        "authorization": None,
        "created_at": shop_iso(t.created_at, store.tz),
        "currency": order.presentment_currency,
        "device_id": None,
        "error_code": None,
        "gateway": t.gateway,
        "kind": t.kind,
        "location_id": None,
        "message": None,
        "order_id": order.id,
        "parent_id": t.parent_id,
        "payment_id": f"{order.name}.{t.id % 1000}",
        "processed_at": shop_iso(t.created_at, store.tz),
        "receipt": {},
        "source_name": "web",
        "status": t.status,
        "test": order.test,
        "user_id": None,
    }


def refund(store: Store, record: Refund) -> dict[str, Any]:
    order = store.orders[record.order_id]

    def money(pair: Pair) -> dict[str, Any]:
        return _set(pair, order.currency, order.presentment_currency)

    zero = Pair(record.shipping.shop * 0, record.shipping.pres * 0)
    shipping_lines = []
    if record.shipping.shop:
        shipping_lines.append(
            {
                "amount": money2(record.shipping.shop),
                "amount_set": money(record.shipping),
                "tax_amount": money2(record.shipping_tax.shop),
                "tax_amount_set": money(record.shipping_tax),
            }
        )
    return {
        "id": record.id,
        "admin_graphql_api_id": gid("Refund", record.id),
        "created_at": shop_iso(record.created_at, store.tz),
        "note": record.note,
        "order_id": order.id,
        "processed_at": shop_iso(record.created_at, store.tz),
        "restock": record.restock,
        "total_additional_fees_set": money(zero),
        "total_duties_set": money(zero),
        "user_id": None,
        "order_adjustments": [],
        "transactions": [_transaction(store, order, t) for t in record.transactions],
        "refund_line_items": [
            {
                "id": rl.id,
                "line_item_id": rl.line_item_id,
                "location_id": rl.location_id,
                "quantity": rl.quantity,
                "restock_type": rl.restock_type,
                "subtotal": float(rl.subtotal.shop),  # a JSON number here, as Shopify sends it
                "subtotal_set": money(rl.subtotal),
                "total_tax": float(rl.total_tax.shop),
                "total_tax_set": money(rl.total_tax),
                "line_item": _line_item(store, order, store.line_items[rl.line_item_id]),
            }
            for rl in record.lines
        ],
        "refund_shipping_lines": shipping_lines,
        "duties": [],
        "additional_fees": [],
    }


def fulfillment(store: Store, record: Fulfillment) -> dict[str, Any]:
    order = store.orders[record.order_id]
    first = record.tracking[0] if record.tracking else {}
    lines = []
    for _, line_item_id, quantity in record.lines:
        body = _line_item(store, order, store.line_items[line_item_id])
        body["quantity"] = quantity
        lines.append(body)
    return {
        "id": record.id,
        "admin_graphql_api_id": gid("Fulfillment", record.id),
        "created_at": shop_iso(record.created_at, store.tz),
        "location_id": record.location_id,
        "name": record.name,
        "order_id": order.id,
        "origin_address": {},
        "receipt": {},
        "service": "manual",
        "shipment_status": None,
        "status": record.status.lower(),
        "tracking_company": first.get("company"),
        "tracking_number": first.get("number"),
        "tracking_numbers": [t["number"] for t in record.tracking if t.get("number")],
        "tracking_url": first.get("url"),
        "tracking_urls": [t["url"] for t in record.tracking if t.get("url")],
        "updated_at": shop_iso(record.updated_at, store.tz),
        "line_items": lines,
    }


def _customer(store: Store, order: Order) -> dict[str, Any] | None:
    customer = store.customers.get(order.customer_id) if order.customer_id else None
    if customer is None:
        return None
    address = customer.default_address or order.billing_address
    default = None
    if address is not None:
        default = {
            "id": customer.address_id,
            "customer_id": customer.id,
            "first_name": address.first_name,
            "last_name": address.last_name,
            "company": address.company,
            "address1": address.address1,
            "address2": address.address2,
            "city": address.city,
            "province": address.province,
            "country": address.country,
            "zip": address.zip,
            "phone": address.phone,
            "name": address.name,
            "province_code": address.province_code,
            "country_code": address.country_code,
            "country_name": address.country,
            "default": True,
        }
    return {
        "id": customer.id,
        "email": customer.email,
        "created_at": shop_iso(customer.created_at, store.tz),
        "updated_at": shop_iso(customer.updated_at, store.tz),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "state": "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": customer.phone,
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "tags": ", ".join(customer.tags),
        "currency": customer.currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer.id),
        "default_address": default,
    }


def _discount_application(app: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "target_type": app.target_type,
        "type": app.kind,
        "value": decimal_str(app.value),
        "value_type": app.value_type,
        "allocation_method": app.allocation_method,
        "target_selection": app.target_selection,
    }
    if app.kind == "discount_code":
        body["code"] = app.code
    else:
        body["title"] = app.title
        if app.kind == "manual":
            body["description"] = app.description
    return body


def order(store: Store, record: Order) -> dict[str, Any]:
    from shopify_sandbox import orders  # orders imports this module for its events

    f = orders.figures(store, record)
    tz = store.tz

    def money(pair: Pair) -> dict[str, Any]:
        return _set(pair, record.currency, record.presentment_currency)

    aggregated: dict[tuple[str, Any], TaxLine] = {}
    for tax in [t for li in record.line_items for t in li.tax_lines] + [
        t for s in record.shipping_lines for t in s.tax_lines
    ]:
        key = (tax.title, tax.rate)
        if key in aggregated:
            aggregated[key] = TaxLine(
                tax.title, tax.rate, aggregated[key].price + tax.price, tax.channel_liable
            )
        else:
            aggregated[key] = TaxLine(tax.title, tax.rate, tax.price, tax.channel_liable)
    zero = Pair(f.total.shop * 0, f.total.pres * 0)
    gateways = sorted({t.gateway for t in record.transactions}) or [""]
    body: dict[str, Any] = {
        "id": record.id,
        "admin_graphql_api_id": gid("Order", record.id),
        "app_id": None,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": record.cancel_reason.lower() if record.cancel_reason else None,
        "cancelled_at": shop_iso(record.cancelled_at, tz),
        "cart_token": None,
        "checkout_id": None,
        "checkout_token": None,
        "client_details": None,
        "closed_at": shop_iso(record.closed_at, tz),
        "confirmation_number": record.confirmation_number,
        "confirmed": True,
        "contact_email": record.email,
        "created_at": shop_iso(record.created_at, tz),
        "currency": record.currency,
        "current_subtotal_price": money2(f.current_subtotal.shop),
        "current_subtotal_price_set": money(f.current_subtotal),
        "current_total_additional_fees_set": None,
        "current_total_discounts": money2(f.current_discounts.shop),
        "current_total_discounts_set": money(f.current_discounts),
        "current_total_duties_set": None,
        "current_total_price": money2(f.current_total.shop),
        "current_total_price_set": money(f.current_total),
        "current_total_tax": money2(f.current_tax.shop),
        "current_total_tax_set": money(f.current_tax),
        "customer_locale": None,
        "device_id": None,
        "discount_codes": [
            {
                "code": app.code,
                "amount": money2(
                    sum(
                        (
                            a.shop
                            for li in record.line_items
                            for i, a in li.discount_allocations
                            if i == app.index
                        ),
                        zero.shop,
                    )
                ),
                "type": app.value_type,
            }
            for app in record.discounts
            if app.kind == "discount_code"
        ],
        "duties_included": False,
        "email": record.email or "",
        "estimated_taxes": False,
        "financial_status": orders.financial_status(store, record),
        "fulfillment_status": orders.fulfillment_status(record),
        "landing_site": None,
        "landing_site_ref": None,
        "location_id": None,
        "merchant_business_entity_id": None,
        "merchant_of_record_app_id": None,
        "name": record.name,
        "note": record.note,
        "note_attributes": [],
        "number": record.number - 1000,
        "order_number": record.number,
        "order_status_url": f"https://{store.shop.domain}/{store.shop.id}/orders/{record.token}/authenticate",
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": gateways,
        "phone": record.phone,
        "po_number": None,
        "presentment_currency": record.presentment_currency,
        "processed_at": shop_iso(record.processed_at, tz),
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": record.source_name,
        "source_url": None,
        "subtotal_price": money2(f.subtotal.shop),
        "subtotal_price_set": money(f.subtotal),
        "tags": ", ".join(record.tags),
        "tax_exempt": False,
        "tax_lines": [
            {
                "price": money2(t.price.shop),
                "rate": float(t.rate),
                "title": t.title,
                "price_set": money(t.price),
                "channel_liable": False,
            }
            for t in aggregated.values()
        ],
        "taxes_included": record.taxes_included,
        "test": record.test,
        "token": record.token,
        "total_cash_rounding_payment_adjustment_set": money(zero),
        "total_cash_rounding_refund_adjustment_set": money(zero),
        "total_discounts": money2(f.discounts.shop),
        "total_discounts_set": money(f.discounts),
        "total_line_items_price": money2(f.line_items.shop),
        "total_line_items_price_set": money(f.line_items),
        "total_outstanding": money2(f.outstanding.shop),
        "total_price": money2(f.total.shop),
        "total_price_set": money(f.total),
        "total_shipping_price_set": money(f.shipping),
        "total_tax": money2(f.tax.shop),
        "total_tax_set": money(f.tax),
        "total_tip_received": "0.00",
        "total_weight": sum(li.grams * li.quantity for li in record.line_items),
        "updated_at": shop_iso(record.updated_at, tz),
        "user_id": None,
        "billing_address": _address(record.billing_address),
        "customer": _customer(store, record),
        "discount_applications": [_discount_application(app) for app in record.discounts],
        "fulfillments": [fulfillment(store, store.fulfillments[i]) for i in record.fulfillment_ids],
        "line_items": [_line_item(store, record, li) for li in record.line_items],
        "payment_terms": None,
        "refunds": [refund(store, store.refunds[i]) for i in record.refund_ids],
        "shipping_address": _address(record.shipping_address),
        "shipping_lines": [
            {
                "id": s.id,
                "carrier_identifier": None,
                "code": s.code,
                "discounted_price": money2(s.price.shop),
                "discounted_price_set": money(s.price),
                "is_removed": False,
                "phone": None,
                "price": money2(s.price.shop),
                "price_set": money(s.price),
                "requested_fulfillment_service_id": None,
                "source": s.source,
                "title": s.title,
                "tax_lines": _tax_lines(s.tax_lines, money),
                "discount_allocations": [],
            }
            for s in record.shipping_lines
        ],
    }
    if record.company_id is not None:  # B2B orders only, as REST adds `company` for them
        company = store.companies[record.company_id]
        body["company"] = {"id": company.id, "location_id": company.location_id}
    return body


def _variant(store: Store, product: Product, variant: Variant) -> dict[str, Any]:
    opts = list(variant.options) + [None] * (3 - len(variant.options))
    return {
        "id": variant.id,
        "product_id": product.id,
        "title": variant.title,
        "price": money2(variant.price),
        "sku": variant.sku,
        "position": variant.position,
        "inventory_policy": variant.inventory_policy.lower(),
        "compare_at_price": money2(variant.compare_at_price)
        if variant.compare_at_price is not None
        else None,
        "option1": opts[0],
        "option2": opts[1],
        "option3": opts[2],
        "created_at": shop_iso(variant.created_at, store.tz),
        "updated_at": shop_iso(variant.updated_at, store.tz),
        "taxable": variant.taxable,
        "barcode": variant.barcode,
        "grams": int(variant.weight * 1000) if variant.weight_unit == "KILOGRAMS" else 0,
        "weight": float(variant.weight),
        "weight_unit": WEIGHT_UNITS[variant.weight_unit],
        "inventory_item_id": variant.item_id,
        "inventory_quantity": variant.inventory_quantity,
        "old_inventory_quantity": variant.inventory_quantity,
        "requires_shipping": variant.requires_shipping,
        "admin_graphql_api_id": gid("ProductVariant", variant.id),
        "image_id": None,
    }


def product(store: Store, record: Product) -> dict[str, Any]:
    return {
        "admin_graphql_api_id": gid("Product", record.id),
        "body_html": record.description_html,
        "created_at": shop_iso(record.created_at, store.tz),
        "handle": record.handle,
        "id": record.id,
        "product_type": record.product_type,
        "published_at": shop_iso(record.published_at, store.tz),
        "template_suffix": None,
        "title": record.title,
        "updated_at": shop_iso(record.updated_at, store.tz),
        "vendor": record.vendor,
        "status": record.status.lower(),
        "published_scope": "global",
        "tags": ", ".join(record.tags),
        "variants": [_variant(store, record, store.variants[v]) for v in record.variant_ids],
        "options": [
            {
                "name": o.name,
                "id": o.id,
                "product_id": record.id,
                "position": o.position,
                "values": [v.name for v in o.values],
            }
            for o in record.options
        ],
        "images": [],
        "image": None,
        "media": [],
        "variant_gids": [
            {"admin_graphql_api_id": gid("ProductVariant", v), "updated_at": None} for v in record.variant_ids
        ],
        "has_variants_that_requires_components": False,
        "category": None,
    }


def inventory_level(store: Store, variant: Variant, location_id: int) -> dict[str, Any]:
    return {
        "inventory_item_id": variant.item_id,
        "location_id": location_id,
        "available": variant.levels[location_id][0] if location_id in variant.levels else None,
        "updated_at": shop_iso(variant.level_updated.get(location_id, variant.item_updated_at), store.tz),
        "admin_graphql_api_id": level_gid(location_id, variant.item_id),
    }


def bulk_finish(store: Store, op: Any) -> dict[str, Any]:
    return {
        "admin_graphql_api_id": gid("BulkOperation", op.id),
        "completed_at": shop_iso(op.completed_at, store.tz),
        "created_at": shop_iso(op.created_at, store.tz),
        "error_code": op.error_code.lower() if op.error_code else None,
        "status": op.status.lower(),
        "type": op.type.lower(),
    }


def shop(store: Store) -> dict[str, Any]:
    s = store.shop
    return {
        "id": s.id,
        "name": s.name,
        "email": s.email,
        "domain": s.domain,
        "myshopify_domain": s.domain,
        "currency": s.currency,
        "iana_timezone": s.timezone,
        "plan_name": "basic",
        "created_at": shop_iso(s.created_at, store.tz),
        "updated_at": shop_iso(s.updated_at, store.tz),
    }
