"""GraphQL mutation resolvers: validate everything first, then change the store through `domain` /
`orders`, answer the payload with `userErrors` in the shapes Shopify documents."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from shopify_sandbox import bulk, domain, orders
from shopify_sandbox.domain import DomainError
from shopify_sandbox.records import Product, Variant, WebhookSubscription
from shopify_sandbox.resolvers import RESOLVERS, ItemView, LevelView, ctx, store_of
from shopify_sandbox.store import Store
from shopify_sandbox.wire import gid, parse_gid

REASONS = {
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
}
ADJUSTABLE = {"available", "damaged", "incoming", "quality_control", "reserved", "safety_stock"}
IDEMPOTENT = {"inventorySetQuantities", "inventoryAdjustQuantities", "inventoryActivate"}
MAX_INPUT = 250


def _err(message: str, field: list[str] | None, code: str | None = None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


def _pos(*parts: Any) -> list[str]:
    return [str(p) for p in parts]


# --- idempotency (@idempotent(key:), 2026-01 optional, 2026-04 required on inventory mutations) ---------
class IdempotencyCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: dict[tuple[str, str], tuple[float, str, Any]] = {}

    def get(self, field: str, key: str, fingerprint: str) -> tuple[bool, Any]:
        now = time.monotonic()
        entry = self.entries.get((field, key))
        if entry is None or now - entry[0] > self.ttl:
            return False, None
        if entry[1] != fingerprint:
            raise _Mismatch()
        return True, entry[2]

    def put(self, field: str, key: str, fingerprint: str, result: Any) -> None:
        self.entries[(field, key)] = (time.monotonic(), fingerprint, result)


class _Mismatch(Exception):
    pass


def _idempotent(name: str, run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def resolver(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        store = store_of(info)
        config = store.config
        key = None
        for directive in info.field_nodes[0].directives or ():
            if directive.name.value == "idempotent":
                for arg in directive.arguments:
                    if arg.name.value == "key":
                        raw = arg.value
                        key = (
                            info.variable_values.get(raw.name.value)  # type: ignore[attr-defined]
                            if raw.kind == "variable"
                            else getattr(raw, "value", None)
                        )
        if key is None:
            if config.at_least("2026-04"):
                raise GraphQLError(
                    f"The @idempotent directive with a key is required for the {name} mutation.",
                    extensions={"code": "IDEMPOTENCY_KEY_REQUIRED"},
                )
            return run(info, **args)
        cache: IdempotencyCache = store.idempotency
        fingerprint = json.dumps(args, sort_keys=True, default=str)
        try:
            hit, result = cache.get(name, str(key), fingerprint)
        except _Mismatch:
            return {
                "userErrors": [
                    _err(
                        "The same idempotency key cannot be used with different operation parameters.",
                        ["idempotent", "key"],
                        "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                    )
                ]
            }
        if hit:
            return result  # type: ignore[no-any-return]
        result = run(info, **args)
        cache.put(name, str(key), fingerprint, result)
        return result

    return resolver


# --- inventory ---------------------------------------------------------------------------------------
def _located(store: Store, entries: list[dict[str, Any]], key: str, errors: list[dict[str, Any]]) -> Any:
    """(entry, where, variant, location id) for each entry whose item and location exist (and stock
    there, before 2026-10); the others add their userErrors to `errors`."""
    for i, entry in enumerate(entries):
        where = _pos("input", key, i)
        variant, location_id, found = _resolve_pair(
            store, entry["inventoryItemId"], entry["locationId"], where
        )
        errors.extend(found)
        if variant is None or location_id is None:
            continue
        if (problem := _not_stocked(store, variant, location_id, where)) is not None:
            errors.append(problem)
            continue
        yield entry, where, variant, location_id


def _resolve_pair(
    store: Store, item_gid: str, location_gid: str, where: list[str]
) -> tuple[Variant | None, int | None, list[dict[str, Any]]]:
    errors = []
    variant = store.variant_by_item(parse_gid(item_gid, "InventoryItem") or -1)
    if variant is None:
        errors.append(
            _err(
                "The specified inventory item could not be found.",
                [*where, "inventoryItemId"],
                "INVALID_INVENTORY_ITEM",
            )
        )
    location_id = parse_gid(location_gid, "Location")
    if location_id not in store.locations:
        errors.append(
            _err("The specified location could not be found.", [*where, "locationId"], "INVALID_LOCATION")
        )
        location_id = None
    return variant, location_id, errors


def _group(store: Store, reason: str, uri: str | None, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": gid("InventoryAdjustmentGroup", store.next_id("InventoryAdjustmentGroup")),
        "createdAt": store.now(),
        "reason": reason,
        "referenceDocumentUri": uri,
        "changes": changes,
    }


def _change(
    name: str, delta: int, after: int, variant: Variant, location: Any, ledger: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "delta": delta,
        "quantityAfterChange": after,
        "item": ItemView(variant),
        "location": location,
        "ledgerDocumentUri": ledger,
    }


def _common_input_errors(
    store: Store, data: dict[str, Any], names: set[str], items_key: str
) -> list[dict[str, Any]]:
    errors = []
    if data["name"] not in names:
        errors.append(
            _err(
                f"The quantity name must be one of: {', '.join(sorted(names))}.",
                ["input", "name"],
                "INVALID_NAME",
            )
        )
    if data["reason"] not in REASONS:
        errors.append(_err("The specified reason is invalid.", ["input", "reason"], "INVALID_REASON"))
    uri = data.get("referenceDocumentUri")
    if uri is not None and "://" not in uri:
        errors.append(
            _err(
                "The specified reference document is invalid.",
                ["input", "referenceDocumentUri"],
                "INVALID_REFERENCE_DOCUMENT",
            )
        )
    if len(data[items_key]) > MAX_INPUT:
        errors.append(
            _err(
                f"The input array size of {len(data[items_key])} is greater than the maximum allowed of {MAX_INPUT}.",
                ["input", items_key],
            )
        )
    return errors


def _compare_field(store: Store) -> str:
    return "changeFromQuantity" if store.config.at_least("2026-04") else "compareQuantity"


def _stale(
    store: Store, entry: dict[str, Any], current: int, where: list[str], data: dict[str, Any]
) -> dict[str, Any] | None:
    """The compare-and-set check of one entry, in the configured version's shape."""
    if store.config.at_least("2026-04"):
        if "changeFromQuantity" not in entry:
            return _err(
                "The changeFromQuantity field is required (pass null to skip the check).",
                [*where, "changeFromQuantity"],
                "COMPARE_QUANTITY_REQUIRED",
            )
        expected = entry["changeFromQuantity"]
        if expected is not None and expected != current:
            return _err(
                "The changeFromQuantity value does not match persisted value.",
                [*where, "changeFromQuantity"],
                "CHANGE_FROM_QUANTITY_STALE",
            )
        return None
    if entry.get("changeFromQuantity") is not None and entry["changeFromQuantity"] != current:
        return _err(
            "The changeFromQuantity value does not match persisted value.",
            [*where, "changeFromQuantity"],
            "CHANGE_FROM_QUANTITY_STALE",
        )
    if data.get("ignoreCompareQuantity") or "changeFromQuantity" in entry:
        return None
    if entry.get("compareQuantity") is None:
        return _err(
            "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
            [*where, "compareQuantity"],
            "COMPARE_QUANTITY_REQUIRED",
        )
    if entry["compareQuantity"] != current:
        return _err(
            "The compareQuantity value does not match persisted value.",
            [*where, "compareQuantity"],
            "COMPARE_QUANTITY_STALE",
        )
    return None


def _not_stocked(store: Store, variant: Variant, location_id: int, where: list[str]) -> dict[str, Any] | None:
    if location_id in variant.levels or store.config.at_least("2026-10"):
        return None  # from 2026-10 quantities can be changed at any location (the level is created)
    return _err("The inventory item is not stocked at the location.", where, "ITEM_NOT_STOCKED_AT_LOCATION")


def _apply(
    store: Store, data: dict[str, Any], plan: list[tuple[Variant, int, int, str | None]]
) -> dict[str, Any]:
    """Write the checked changes; answer the adjustment group (the named quantity and its on_hand /
    available counterpart, as Shopify lists both)."""
    name = data["name"]
    other = "available" if name == "on_hand" else None if name == "incoming" else "on_hand"
    changes = []
    for variant, location_id, delta, ledger in plan:
        domain.activate(store, variant, location_id)
        after = domain.change_quantity(store, variant, location_id, name, delta)
        location = store.locations[location_id]
        changes.append(_change(name, delta, after, variant, location, ledger))
        if other is not None:
            changes.append(_change(other, delta, variant.quantity(location_id, other), variant, location))
        moved = {location_id} if delta and name in ("available", "on_hand") else set()
        domain.stock_touched(store, variant, {location_id}, moved)
    group = _group(store, data["reason"], data.get("referenceDocumentUri"), changes)
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


def inventory_set_quantities(info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    store = store_of(info)
    errors = _common_input_errors(store, input, {"available", "on_hand"}, "quantities")
    plan: list[tuple[Variant, int, int, str | None]] = []
    seen = set()
    for entry, where, variant, location_id in _located(store, input["quantities"], "quantities", errors):
        if (variant.id, location_id) in seen:
            message = "The combination of inventoryItemId and locationId must be unique."
            errors.append(_err(message, where, "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
            continue
        seen.add((variant.id, location_id))
        if entry["quantity"] > domain.MAX_QUANTITY:
            message = "The quantity can't be higher than 1,000,000,000."
            errors.append(_err(message, [*where, "quantity"], "INVALID_QUANTITY_TOO_HIGH"))
            continue
        if entry["quantity"] < 0:
            message = "The quantity can't be negative."
            errors.append(_err(message, [*where, "quantity"], "INVALID_QUANTITY_NEGATIVE"))
            continue
        current = variant.quantity(location_id, input["name"]) if location_id in variant.levels else 0
        if (problem := _stale(store, entry, current, where, input)) is not None:
            errors.append(problem)
            continue
        plan.append((variant, location_id, entry["quantity"] - current, None))
    if errors:  # all or nothing: one bad entry and nothing is written
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    return _apply(store, input, plan)


def inventory_adjust_quantities(info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    store = store_of(info)
    errors = _common_input_errors(store, input, ADJUSTABLE, "changes")
    plan: list[tuple[Variant, int, int, str | None]] = []
    for entry, where, variant, location_id in _located(store, input["changes"], "changes", errors):
        current = variant.quantity(location_id, input["name"]) if location_id in variant.levels else 0
        if store.config.at_least("2026-04") and "changeFromQuantity" not in entry:
            message = "The changeFromQuantity field is required (pass null to skip the check)."
            errors.append(_err(message, [*where, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE"))
            continue
        if entry.get("changeFromQuantity") is not None and entry["changeFromQuantity"] != current:
            message = "The changeFromQuantity value does not match persisted value."
            errors.append(_err(message, [*where, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE"))
            continue
        if abs(current + entry["delta"]) > domain.MAX_QUANTITY:
            message = "The quantity can't be higher than 1,000,000,000."
            errors.append(_err(message, [*where, "delta"], "INVALID_QUANTITY_TOO_HIGH"))
            continue
        plan.append((variant, location_id, entry["delta"], entry.get("ledgerDocumentUri")))
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    return _apply(store, input, plan)


def inventory_activate(
    info: GraphQLResolveInfo,
    inventoryItemId: str,
    locationId: str,
    available: int | None = None,
    onHand: int | None = None,
    stockAtLegacyLocation: bool = False,
) -> dict[str, Any]:
    store = store_of(info)
    variant = store.variant_by_item(parse_gid(inventoryItemId, "InventoryItem") or -1)
    if variant is None:
        return {
            "inventoryLevel": None,
            "userErrors": [_err("Inventory item does not exist", ["inventoryItemId"])],
        }
    location_id = parse_gid(locationId, "Location")
    if location_id not in store.locations or location_id is None:
        return {"inventoryLevel": None, "userErrors": [_err("Location does not exist", ["locationId"])]}
    if available is not None and onHand is not None:
        return {
            "inventoryLevel": None,
            "userErrors": [_err("Only one of available or onHand can be given.", ["available"])],
        }
    created = domain.activate(
        store, variant, location_id, available if available is not None else (onHand or 0)
    )
    if created:
        domain.stock_touched(store, variant, {location_id}, {location_id})
    # An already stocked level keeps its quantities (2026-04: "inventoryActivate now preserves available").
    return {"inventoryLevel": LevelView(variant, location_id), "userErrors": []}


# --- products ----------------------------------------------------------------------------------------
def _money_error(value: Any, where: list[str], code: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return _err(f"Price is not a valid amount: {value!r}", where, code)
    if not amount.is_finite() or amount < 0:
        return _err(
            "Price must be greater than or equal to 0",
            where,
            "GREATER_THAN_OR_EQUAL_TO" if code == "INVALID_INPUT" else code,
        )
    if amount >= Decimal("1000000000000000000"):
        return _err("Price must be less than 1000000000000000000", where, code)
    return None


def _no_product() -> dict[str, Any]:
    error = _err("Product does not exist", ["productId"], "PRODUCT_DOES_NOT_EXIST")
    return {"product": None, "productVariants": None, "userErrors": [error]}


def product_variants_bulk_update(
    info: GraphQLResolveInfo,
    productId: str,
    variants: list[dict[str, Any]],
    allowPartialUpdates: bool = False,
) -> dict[str, Any]:
    store = store_of(info)
    product = store.products.get(parse_gid(productId, "Product") or -1)
    if product is None:
        return _no_product()
    if len(variants) > MAX_INPUT:
        return {
            "product": product,
            "productVariants": None,
            "userErrors": [
                _err(
                    f"The input array size of {len(variants)} is greater than the maximum allowed of {MAX_INPUT}.",
                    ["variants"],
                    "INVALID_INPUT",
                )
            ],
        }
    errors, good = [], []
    for i, spec in enumerate(variants):
        where = _pos("variants", i)
        if not spec.get("id"):
            errors.append(
                _err("Product variant is missing ID attribute", [*where, "id"], "PRODUCT_VARIANT_ID_MISSING")
            )
            continue
        variant = store.variants.get(parse_gid(spec["id"], "ProductVariant") or -1)
        if variant is None:
            errors.append(
                _err("Product variant does not exist", [*where, "id"], "PRODUCT_VARIANT_DOES_NOT_EXIST")
            )
            continue
        if variant.product_id != product.id:
            errors.append(
                _err(
                    "Product variant does not belong to the product",
                    [*where, "id"],
                    "MUST_BE_FOR_THIS_PRODUCT",
                )
            )
            continue
        problem = _money_error(spec.get("price"), [*where, "price"], "INVALID_INPUT") or _money_error(
            spec.get("compareAtPrice"), [*where, "compareAtPrice"], "INVALID_INPUT"
        )
        if problem:
            errors.append(problem)
            continue
        good.append((variant, spec))
    if errors and not allowPartialUpdates:
        return {"product": product, "productVariants": None, "userErrors": errors}
    stamp = store.touch()
    for variant, spec in good:
        domain.update_variant(variant, spec, stamp)
        for level in spec.get("inventoryQuantities") or []:
            location_id = parse_gid(level["locationId"], "Location")
            if location_id in store.locations:
                domain.set_available(store, variant, location_id, level["availableQuantity"])  # type: ignore[arg-type]
    if good:
        domain.product_changed(store, product)
    return {"product": product, "productVariants": [v for v, _ in good], "userErrors": errors}


def _option_tuple(
    product: Product, option_values: list[dict[str, Any]] | None, where: list[str]
) -> tuple[tuple[str, ...] | None, dict[str, Any] | None]:
    """A variant's option values in the product's option order (names by optionName or option id)."""
    given: dict[str, str] = {}
    for ov in option_values or []:
        name = ov.get("optionName")
        if name is None and ov.get("optionId"):
            number = parse_gid(ov["optionId"], "ProductOption")
            name = next((o.name for o in product.options if o.id == number), None)
        if name is None or not ov.get("name"):
            return None, _err(
                "Option value needs optionName (or optionId) and name.",
                [*where, "optionValues"],
                "INVALID_INPUT",
            )
        given[name] = ov["name"]
    if not product.options:
        return (), None if not given else _err(
            "The product has no options.",
            [*where, "optionValues"],
            "OPTION_VALUES_FOR_NUMBER_OF_UNKNOWN_OPTIONS",
        )
    missing = [o.name for o in product.options if o.name not in given]
    if missing:
        return None, _err(
            f"Option values are missing for options: {', '.join(missing)}.",
            [*where, "optionValues"],
            "NEED_TO_ADD_OPTION_VALUES",
        )
    return tuple(given[o.name] for o in product.options), None


def product_variants_bulk_create(
    info: GraphQLResolveInfo, productId: str, variants: list[dict[str, Any]], strategy: str = "DEFAULT"
) -> dict[str, Any]:
    store = store_of(info)
    product = store.products.get(parse_gid(productId, "Product") or -1)
    if product is None:
        return _no_product()
    standalone = [
        v
        for v in product.variant_ids
        if strategy == "REMOVE_STANDALONE_VARIANT" and len(product.variant_ids) == 1
    ]
    existing = {store.variants[v].options for v in product.variant_ids if v not in standalone}
    errors, plan = [], []
    for i, spec in enumerate(variants):
        where = _pos("variants", i)
        if spec.get("id"):
            errors.append(_err("Variant id must not be given when creating", [*where, "id"], "INVALID_INPUT"))
            continue
        for ov in spec.get("optionValues") or []:
            if ov.get("optionName") and all(o.name != ov["optionName"] for o in product.options):
                domain.ensure_option_value(store, product, ov["optionName"], ov.get("name") or "")
        options, problem = _option_tuple(product, spec.get("optionValues"), where)
        problem = problem or _money_error(spec.get("price"), [*where, "price"], "INVALID_INPUT")
        if problem is None and options in existing:
            problem = _err(
                f"The variant '{' / '.join(options or ())}' already exists.",
                [*where, "optionValues"],
                "VARIANT_ALREADY_EXISTS",
            )
        if problem or options is None:
            errors.append(
                problem or _err("Invalid option values.", [*where, "optionValues"], "INVALID_INPUT")
            )
            continue
        existing.add(options)
        plan.append((options, spec))
    if errors:
        return {"product": product, "productVariants": None, "userErrors": errors}
    for vid in standalone:
        domain.delete_variant(store, product, vid)
    created = []
    for options, spec in plan:
        for name, value in zip([o.name for o in product.options], options, strict=False):
            domain.ensure_option_value(store, product, name, value)
        variant = domain.new_variant(store, product, options, spec)
        _initial_stock(store, variant, spec.get("inventoryQuantities"), "availableQuantity")
        created.append(variant)
    domain.product_changed(store, product)
    return {"product": product, "productVariants": created, "userErrors": []}


def _initial_stock(store: Store, variant: Variant, levels: list[dict[str, Any]] | None, key: str) -> None:
    for level in levels or []:
        location_id = parse_gid(level["locationId"], "Location")
        if location_id in store.locations and (level.get("name") in (None, "available")):
            domain.activate(store, variant, location_id, level[key])  # type: ignore[arg-type]


def product_create(
    info: GraphQLResolveInfo, product: dict[str, Any] | None = None, input: dict[str, Any] | None = None
) -> dict[str, Any]:
    store = store_of(info)
    fields = product or input or {}
    if not fields.get("title"):
        return {"product": None, "userErrors": [_err("Title can't be blank", ["title"])]}
    record = domain.new_product(store, fields)
    options = fields.get("productOptions") or []
    domain.set_options(store, record, options)
    # Shopify makes one standalone variant from the first value of each option.
    first_values = tuple((o.values[0].name if o.values else "") for o in record.options)
    domain.new_variant(store, record, first_values, {"price": "0.00"})
    domain.product_changed(store, record, created=True)
    return {"product": record, "userErrors": []}


def product_set(
    info: GraphQLResolveInfo,
    input: dict[str, Any],
    synchronous: bool = True,
    identifier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    store = store_of(info)
    product = None
    ident = input.get("id") or (identifier or {}).get("id")
    if ident:
        product = store.products.get(parse_gid(ident, "Product") or -1)
        if product is None:
            return _set_answer(
                None,
                synchronous,
                store,
                [_err("Product does not exist", ["input", "id"], "PRODUCT_DOES_NOT_EXIST")],
            )
    elif (identifier or {}).get("handle"):
        product = next((p for p in store.products.values() if p.handle == identifier["handle"]), None)  # type: ignore[index]
    if product is None and not input.get("title"):
        return _set_answer(
            None, synchronous, store, [_err("Title can't be blank", ["input", "title"], "INVALID_PRODUCT")]
        )
    option_specs = input.get("productOptions")
    variant_specs = input.get("variants")
    errors = []
    if option_specs is not None:
        names = [o.get("name") for o in option_specs]
        if len(set(names)) != len(names):
            errors.append(
                _err("Duplicated option name.", ["input", "productOptions"], "DUPLICATED_OPTION_NAME")
            )
        if len(option_specs) > 3:
            errors.append(
                _err("Can't have more than 3 options.", ["input", "productOptions"], "OPTIONS_OVER_LIMIT")
            )
    if variant_specs is not None and len(variant_specs) > 2048:
        errors.append(
            _err("Can't have more than 2048 variants.", ["input", "variants"], "VARIANTS_OVER_LIMIT")
        )
    option_names = (
        [o.get("name") for o in option_specs]
        if option_specs is not None
        else [o.name for o in product.options]
        if product
        else []
    )
    allowed = {o.get("name"): {v.get("name") for v in o.get("values") or []} for o in option_specs or []}
    combos = set()
    for i, spec in enumerate(variant_specs or []):
        where = _pos("input", "variants", i)
        given = {ov.get("optionName"): ov.get("name") for ov in spec.get("optionValues") or []}
        if set(given) != set(option_names):
            errors.append(
                _err(
                    "Variant option values must name every product option once.",
                    [*where, "optionValues"],
                    "INVALID_VARIANT",
                )
            )
            continue
        bad = [
            f"{n}: {v}"
            for n, v in given.items()
            if option_specs is not None and v not in allowed.get(n, set())
        ]
        if bad:
            errors.append(
                _err(
                    f"Option value does not exist on the product options: {', '.join(bad)}.",
                    [*where, "optionValues"],
                    "INVALID_VARIANT",
                )
            )
            continue
        combo = tuple(given[n] for n in option_names)
        if combo in combos:
            errors.append(
                _err("Duplicated variant option values.", [*where, "optionValues"], "DUPLICATED_VALUE")
            )
            continue
        combos.add(combo)
        if problem := _money_error(spec.get("price"), [*where, "price"], "INVALID_VARIANT"):
            errors.append(problem)
    if errors:
        return _set_answer(None, synchronous, store, errors)
    created = product is None
    if product is None:
        product = domain.new_product(store, input)
    else:
        domain.update_product_fields(store, product, input)
    if option_specs is not None:
        domain.set_options(store, product, option_specs)
    if variant_specs is not None:
        keep = set()
        stamp = store.touch()
        by_options = {store.variants[v].options: store.variants[v] for v in product.variant_ids}
        for spec in variant_specs:
            given = {ov["optionName"]: ov["name"] for ov in spec.get("optionValues") or []}
            combo = tuple(given[o.name] for o in product.options)
            variant = (
                store.variants.get(parse_gid(spec.get("id"), "ProductVariant") or -1)
                if spec.get("id")
                else by_options.get(combo)
            )
            if variant is None or variant.product_id != product.id:
                variant = domain.new_variant(store, product, combo, spec)
            else:
                variant.options = combo
                domain.update_variant(variant, spec, stamp)
            _initial_stock(store, variant, spec.get("inventoryQuantities"), "quantity")
            if spec.get("position"):
                variant.position = spec["position"]
            keep.add(variant.id)
        for vid in [v for v in product.variant_ids if v not in keep]:
            domain.delete_variant(store, product, vid)  # list fields are replaced: omitted variants go
        product.variant_ids.sort(key=lambda v: store.variants[v].position)
    domain.product_changed(store, product, created=created)
    return _set_answer(product, synchronous, store, [])


def _set_answer(
    product: Product | None, synchronous: bool, store: Store, errors: list[dict[str, Any]]
) -> dict[str, Any]:
    operation = None
    if not synchronous:
        operation = {
            "id": gid("ProductSetOperation", store.next_id("Job")),
            "status": "COMPLETE",
            "product": product,
            "userErrors": errors,
        }
    return {
        "product": product if synchronous else None,
        "productSetOperation": operation,
        "userErrors": errors,
    }


# --- orders ------------------------------------------------------------------------------------------
def fulfillment_create(
    info: GraphQLResolveInfo, fulfillment: dict[str, Any], message: str | None = None
) -> dict[str, Any]:
    store = store_of(info)
    requests: list[orders.FulfilRequest] = []
    for i, group in enumerate(fulfillment["lineItemsByFulfillmentOrder"]):
        where = _pos("fulfillment", "lineItemsByFulfillmentOrder", i)
        fo = store.fulfillment_orders.get(parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder") or -1)
        if fo is None:
            return {
                "fulfillment": None,
                "userErrors": [_err("Fulfillment order does not exist.", [*where, "fulfillmentOrderId"])],
            }
        lines: list[tuple[Any, int]] | None = None
        if group.get("fulfillmentOrderLineItems"):
            lines = []
            by_id = {line.id: line for line in fo.lines}
            for j, item in enumerate(group["fulfillmentOrderLineItems"]):
                line = by_id.get(parse_gid(item["id"], "FulfillmentOrderLineItem") or -1)
                if line is None:
                    return {
                        "fulfillment": None,
                        "userErrors": [
                            _err(
                                "Fulfillment order line item does not exist.",
                                [*where, "fulfillmentOrderLineItems", str(j), "id"],
                            )
                        ],
                    }
                lines.append((line, item["quantity"]))
        requests.append((fo, lines))
    try:
        record = orders.fulfil(store, requests, fulfillment.get("trackingInfo"))
    except DomainError as error:
        return {"fulfillment": None, "userErrors": [{"field": error.field, "message": error.message}]}
    return {"fulfillment": record, "userErrors": []}


def order_cancel(
    info: GraphQLResolveInfo,
    orderId: str,
    reason: str,
    restock: bool,
    refund: bool | None = None,
    refundMethod: dict[str, Any] | None = None,
    notifyCustomer: bool = False,
    staffNote: str | None = None,
) -> dict[str, Any]:
    store = store_of(info)
    order = store.orders.get(parse_gid(orderId, "Order") or -1)
    if order is None:
        error = _err("Order does not exist", ["orderId"], "NOT_FOUND")
        return {
            "job": None,
            "orderCancelUserErrors": [error],
            "userErrors": [{"field": error["field"], "message": error["message"]}],
        }
    if refund is None and refundMethod is None:
        error = _err("Either refund or refundMethod must be provided.", ["refundMethod"], "INVALID")
        return {
            "job": None,
            "orderCancelUserErrors": [error],
            "userErrors": [{"field": error["field"], "message": error["message"]}],
        }
    refund_money = (
        bool(refund)
        if refund is not None
        else bool(
            (refundMethod or {}).get("originalPaymentMethodsRefund")
            or (refundMethod or {}).get("storeCreditRefund")
        )
    )
    try:
        orders.cancel(store, order, reason, restock=restock, refund_money=refund_money, note=staffNote)
    except DomainError as error:
        e = _err(error.message, error.field, error.code or "INVALID")
        return {
            "job": None,
            "orderCancelUserErrors": [e],
            "userErrors": [{"field": e["field"], "message": e["message"]}],
        }
    return {
        "job": {"id": gid("Job", store.next_id("Job")), "done": False},
        "orderCancelUserErrors": [],
        "userErrors": [],
    }


# --- webhooks and bulk -------------------------------------------------------------------------------


def webhook_subscription_create(
    info: GraphQLResolveInfo, topic: str, webhookSubscription: dict[str, Any]
) -> dict[str, Any]:
    store = store_of(info)
    field_name = "uri" if webhookSubscription.get("uri") is not None else "callbackUrl"
    uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
    if not uri or not str(uri).startswith(("http://", "https://")):
        return {
            "webhookSubscription": None,
            "userErrors": [_err("Address is invalid", ["webhookSubscription", field_name])],
        }
    if any(h.topic == topic and h.uri == uri for h in store.webhooks.values()):
        return {
            "webhookSubscription": None,
            "userErrors": [
                _err("Address for this topic has already been taken", ["webhookSubscription", field_name])
            ],
        }
    stamp = store.touch()
    hook = WebhookSubscription(
        id=store.next_id("WebhookSubscription"),
        topic=topic,
        uri=str(uri),
        format=webhookSubscription.get("format") or "JSON",
        include_fields=list(webhookSubscription.get("includeFields") or []),
        filter=webhookSubscription.get("filter"),
        created_at=stamp,
        updated_at=stamp,
    )
    store.webhooks[hook.id] = hook
    return {"webhookSubscription": hook, "userErrors": []}


def webhook_subscription_delete(info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
    store = store_of(info)
    number = parse_gid(id, "WebhookSubscription")
    if number not in store.webhooks:
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [_err("Webhook subscription does not exist", ["id"])],
        }
    del store.webhooks[number]  # type: ignore[arg-type]
    store.touch()
    return {"deletedWebhookSubscriptionId": id, "userErrors": []}


def bulk_operation_run_query(
    info: GraphQLResolveInfo, query: str, groupObjects: bool = False
) -> dict[str, Any]:
    return bulk.start(ctx(info), query, groupObjects)


def _changes(
    source: dict[str, Any],
    info: GraphQLResolveInfo,
    inventoryItemIds: list[str] | None = None,
    locationIds: list[str] | None = None,
    quantityNames: list[str] | None = None,
) -> list[dict[str, Any]]:
    out = source["changes"]
    if quantityNames:
        out = [c for c in out if c["name"] in quantityNames]
    if inventoryItemIds:
        wanted = {parse_gid(x, "InventoryItem") for x in inventoryItemIds}
        out = [c for c in out if c["item"].variant.item_id in wanted]
    if locationIds:
        wanted = {parse_gid(x, "Location") for x in locationIds}
        out = [c for c in out if c["location"].id in wanted]
    return out


def _plain(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def resolver(_: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        try:
            return fn(info, **args)
        except DomainError as error:
            return {"userErrors": [error.user_error()]}

    return resolver


MUTATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "inventorySetQuantities": inventory_set_quantities,
    "inventoryAdjustQuantities": inventory_adjust_quantities,
    "inventoryActivate": inventory_activate,
    "productVariantsBulkUpdate": product_variants_bulk_update,
    "productVariantsBulkCreate": product_variants_bulk_create,
    "productSet": product_set,
    "productCreate": product_create,
    "fulfillmentCreate": fulfillment_create,
    "orderCancel": order_cancel,
    "webhookSubscriptionCreate": webhook_subscription_create,
    "webhookSubscriptionDelete": webhook_subscription_delete,
    "bulkOperationRunQuery": bulk_operation_run_query,
}


def install() -> None:
    """Register the mutation resolvers (and the adjustment group's filtered `changes`)."""
    RESOLVERS["Mutation"] = {
        name: (_idempotent(name, fn) if name in IDEMPOTENT else _plain(fn)) for name, fn in MUTATIONS.items()
    }
    RESOLVERS["InventoryAdjustmentGroup"] = {"changes": _changes}
