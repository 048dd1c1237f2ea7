"""Wire shapes of the sales-side records: every field with its default, overridden by keyword.

The seed and the API's creates both build records here, so a field added once appears everywhere.
(Products and variants live in catalogue.py.)
"""

from __future__ import annotations

from typing import Any

from gecko_sandbox.store import Record


def _build(defaults: Record, fields: dict[str, Any]) -> Record:
    defaults.update(fields)
    return defaults


def company_record(cid: int, **fields: Any) -> Record:
    return _build(
        {
            "id": cid,
            "created_at": None,
            "updated_at": None,
            "assignee_id": None,
            "default_ledger_account_id": None,
            "default_payment_method_id": None,
            "default_payment_term_id": None,
            "default_stock_location_id": None,
            "default_tax_type_id": None,
            "company_code": None,
            "company_type": "business",
            "default_discount_rate": None,
            "default_price_list_id": None,
            "default_tax_rate": None,
            "description": None,
            "email": None,
            "fax": None,
            "name": None,
            "phone_number": None,
            "status": "active",
            "tax_number": None,
            "website": None,
            "tags": [],
            "address_ids": [],
            "contact_ids": [],
            "note_ids": [],
            "default_price_type_id": None,
        },
        fields,
    )


def address_record(aid: int, company_id: int, **fields: Any) -> Record:
    return _build(
        {
            "id": aid,
            "created_at": None,
            "updated_at": None,
            "company_id": company_id,
            "address1": None,
            "address2": None,
            "city": None,
            "company_name": None,
            "country": None,
            "country_code": None,
            "email": None,
            "first_name": None,
            "last_name": None,
            "label": None,
            "phone_number": None,
            "state": None,
            "status": "active",
            "suburb": None,
            "zip_code": None,
        },
        fields,
    )


def order_record(oid: int, **fields: Any) -> Record:
    record = _build(
        {
            "id": oid,
            "created_at": None,
            "updated_at": None,
            "document_url": f"https://sandbox.example/d/order-{oid}",
            "assignee_id": None,
            "billing_address_id": None,
            "company_id": None,
            "contact_id": None,
            "currency_id": 1,
            "shipping_address_id": None,
            "stock_location_id": 1,
            "user_id": 1,
            "default_price_list_id": "wholesale",
            "email": None,
            "fulfillment_status": "unshipped",
            "invoice_status": "uninvoiced",
            "issued_at": None,
            "notes": None,
            "order_number": f"SO{oid:05d}",
            "packed_status": "unpacked",
            "payment_status": "unpaid",
            "phone_number": None,
            "reference_number": None,
            "return_status": "unreturned",
            "returning_status": "unreturning",
            "shippability_status": "shippable",
            "backordering_status": "not_backordered",
            "ship_at": None,
            "source_url": None,
            "status": "draft",
            "tax_label": "GST",
            "tax_override": None,
            "tax_treatment": "exclusive",
            "total": "0.0",
            "tags": [],
            "fulfillment_ids": [],
            "fulfillment_return_ids": [],
            "invoice_ids": [],
            "payment_ids": [],
            "refund_ids": [],
            "invoices": [],
            "invoice_numbers": {},
            "order_line_item_ids": [],
            "cached_total": "0.0",
            "default_price_type_id": None,
            "source": None,
            "tax_type": None,
            "tracking_number": None,
            "url": None,
            "source_id": None,
        },
        fields,
    )
    record["default_price_type_id"] = record["default_price_list_id"]  # legacy mirrors
    record["tax_type"] = record["tax_treatment"]
    record["cached_total"] = record["total"]
    return record


def line_record(lid: int, order_id: int, **fields: Any) -> Record:
    return _build(
        {
            "id": lid,
            "created_at": None,
            "updated_at": None,
            "order_id": order_id,
            "variant_id": None,
            "tax_type_id": 1,
            "discount": None,
            "freeform": False,
            "image_url": None,
            "label": None,
            "line_type": None,
            "position": 0,
            "price": None,
            "quantity": None,
            "tax_rate_override": None,
            "tax_rate": None,
            "shippable": True,
            "fulfillment_line_item_ids": [],
            "fulfillment_return_line_item_ids": [],
            "invoice_line_item_ids": [],
        },
        fields,
    )


def fulfillment_record(fid: int, order: Record, **fields: Any) -> Record:
    return _build(
        {
            "id": fid,
            "created_at": None,
            "updated_at": None,
            "order_id": order["id"],
            "shipping_address_id": order["shipping_address_id"],
            "billing_address_id": order["billing_address_id"],
            "stock_location_id": order["stock_location_id"],
            "delivery_type": None,
            "exchange_rate": "1.0",
            "notes": None,
            "packed_at": None,
            "receipt": {},
            "received_at": None,
            "shipped_at": None,
            "status": "packed",
            "tracking_company": None,
            "tracking_number": None,
            "tracking_url": None,
            "service": None,
            "order_number": order["order_number"],
            "company_id": order["company_id"],
            "fulfillment_line_item_ids": [],
        },
        fields,
    )


def fulfillment_line_record(
    fid: int, fulfillment_id: int, line: Record, sku: str | None, **fields: Any
) -> Record:
    return _build(
        {
            "id": fid,
            "created_at": None,
            "updated_at": None,
            "fulfillment_id": fulfillment_id,
            "order_line_item_id": line["id"],
            "base_price": line["price"],
            "position": 0,
            "quantity": line["quantity"],
            "variant_id": line["variant_id"],
            "variant_sku": sku,
        },
        fields,
    )


def return_record(rid: int, order: Record, **fields: Any) -> Record:
    return _build(
        {
            "id": rid,
            "created_at": None,
            "updated_at": None,
            "order_id": order["id"],
            "location_id": order["stock_location_id"],
            "delivery_type": None,
            "exchange_rate": "1.0",
            "notes": None,
            "received_at": None,
            "tracking_company": None,
            "tracking_number": None,
            "tracking_url": None,
            "status": "returning",
            "credit_note_number": f"CN{rid:05d}",
            "order_number": order["order_number"],
            "company_id": order["company_id"],
            "fulfillment_return_line_item_ids": [],
        },
        fields,
    )


def return_line_record(rid: int, return_id: int, line: Record, **fields: Any) -> Record:
    return _build(
        {
            "id": rid,
            "created_at": None,
            "updated_at": None,
            "fulfillment_return_id": return_id,
            "order_line_item_id": line["id"],
            "base_price": line["price"],
            "position": 0,
            "quantity": "1.0",
            "ledger_account_id": None,
            "stock_trail_ids": [],
        },
        fields,
    )


def invoice_record(iid: int, order: Record, **fields: Any) -> Record:
    return _build(
        {
            "id": iid,
            "created_at": None,
            "updated_at": None,
            "order_id": order["id"],
            "shipping_address_id": order["shipping_address_id"],
            "billing_address_id": order["billing_address_id"],
            "payment_term_id": 1,
            "invoice_number": f"INV{iid:05d}",
            "invoiced_at": None,
            "due_at": None,
            "notes": None,
            "exchange_rate": "1.0",
            "total": order["total"],
            "cached_total": order["total"],
            "payment_status": "unpaid",
            "status": "active",
            "order_number": order["order_number"],
            "company_id": order["company_id"],
            "currency_id": order["currency_id"],
            "document_url": None,
            "invoice_line_item_ids": [],
            "payment_ids": [],
            "refund_ids": [],
        },
        fields,
    )


def invoice_line_record(iid: int, invoice_id: int, line: Record, **fields: Any) -> Record:
    return _build(
        {
            "id": iid,
            "created_at": None,
            "updated_at": None,
            "invoice_id": invoice_id,
            "order_line_item_id": line["id"],
            "quantity": line["quantity"],
            "position": 0,
            "ledger_account_id": None,
        },
        fields,
    )


def payment_record(pid: int, invoice_id: int, amount: str, **fields: Any) -> Record:
    return _build(
        {
            "id": pid,
            "created_at": None,
            "updated_at": None,
            "invoice_id": invoice_id,
            "amount": amount,
            "reference": None,
            "paid_at": None,
            "exchange_rate": "1.0",
            "status": "active",
            "payment_method_id": 1,
            "payment_method_name": "Cash",
        },
        fields,
    )
