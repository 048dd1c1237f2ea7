"""Merchant activity on demand (control plane): stock moves, new products, edits, hard deletes."""

from __future__ import annotations

from typing import Any

from gecko_sandbox import catalogue, domain
from gecko_sandbox.core import Sandbox
from gecko_sandbox.errors import ApiError


def _record(sandbox: Sandbox, resource: str, key: object) -> tuple[str, dict[str, Any]]:
    table = sandbox.store.tables.get(resource)
    if table is None:
        raise ApiError(404, f"unknown resource {resource!r}")
    record = table.lookup(str(key))
    if record is None:
        raise ApiError(404, f"no {table.singular} with id {key}")
    return table.singular, record


def stock_move(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """{"variant_id", "location_id", "quantity": "-3"}: adjust stock on hand at a location."""
    _, variant = _record(sandbox, "variants", body["variant_id"])
    location_id = int(
        body.get("location_id") or sandbox.store.table("accounts").records[1]["primary_location_id"]
    )
    _record(sandbox, "locations", location_id)
    quantity = domain.decimal_of(body["quantity"], "quantity")
    domain.move_stock(sandbox.store, variant, location_id, on_hand=quantity)
    return {"variant": variant}


def new_product(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """{"variants": 3, "name": optional}: a product with that many variants, stock at the primary location."""
    count = int(body.get("variants", 1))
    if not 1 <= count <= 250:
        raise ApiError(400, "variants must be between 1 and 250")
    product, variants = catalogue.new_product(sandbox.store, count, body.get("name"))
    return {"product_id": product["id"], "variant_ids": [v["id"] for v in variants]}


def update(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """{"resource", "id", "fields": {...}}: any edit, as the merchant would make it in the web app."""
    resource = body["resource"]
    singular, record = _record(sandbox, resource, body["id"])
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise ApiError(400, "fields must be an object")
    domain.apply_update(sandbox.store, resource, record, fields)
    return {singular: record}


def purge(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """{"resource", "id"}: hard-delete a record (it vanishes from every listing and show)."""
    resource = body["resource"]
    _record(sandbox, resource, body["id"])
    table = sandbox.store.table(resource)
    record = table.lookup(str(body["id"]))
    assert record is not None
    sandbox.store.purge(table, record["id"])
    return {"purged": {"resource": resource, "id": record["id"]}}
