"""GET handlers: indexes with filters, pagination and sideloads; shows; account; stock levels."""

from __future__ import annotations

from starlette.requests import Request

from gecko_sandbox import listing
from gecko_sandbox.core import Reply, Sandbox
from gecko_sandbox.errors import not_found
from gecko_sandbox.resources import BUILTIN_SIDELOADS, CHILD_IDS
from gecko_sandbox.store import Key, Record, Table, dumps

# include= options per resource (show and, for products, the index): sideload name -> how to find them.
ORDER_INCLUDES = ("order_line_items", "shipping_address", "billing_address", "company")


def _children(sandbox: Sandbox, parent_table: str, parents: list[Record]) -> tuple[str, list[bytes]]:
    field, child_name = CHILD_IDS[parent_table]
    child = sandbox.store.table(child_name)
    out = []
    for parent in parents:
        for key in parent.get(field) or ():
            if key in child.records:
                out.append(child.json(key))
    return child_name, out


def _sideloads(
    sandbox: Sandbox, table: Table, records: list[Record], include: list[str], index: bool
) -> dict[str, list[bytes]]:
    loads: dict[str, list[bytes]] = {}
    if table.name in BUILTIN_SIDELOADS:
        name, items = _children(sandbox, table.name, records)
        loads[name] = items
    if table.name == "products" and "variants" in include:
        name, items = _children(sandbox, "products", records)
        loads[name] = items
    if table.name == "orders" and not index:  # orders sideload on the single-record GET only
        if "order_line_items" in include:
            name, items = _children(sandbox, "orders", records)
            loads[name] = items
        addresses = sandbox.store.table("addresses")
        address_ids: list[Key] = []
        for record in records:
            for field in ("shipping_address_id", "billing_address_id"):
                if field.removesuffix("_id") in include and record.get(field) in addresses.records:
                    if record[field] not in address_ids:
                        address_ids.append(record[field])
        if address_ids:
            loads["addresses"] = [addresses.json(k) for k in address_ids]
        companies = sandbox.store.table("companies")
        if "company" in include:
            loads["companies"] = [
                companies.json(r["company_id"]) for r in records if r.get("company_id") in companies.records
            ]
    return loads


def list_records(sandbox: Sandbox, request: Request, table: Table) -> Reply:
    params = request.query_params
    query = listing.parse_query(table, params)
    keys = _listed_keys(sandbox, table, sandbox.store.select(table, query))
    page = listing.paginate(keys, params)
    include = listing.param_values(params, "include") + listing.param_values(params, "_include")
    records = [table.records[k] for k in page.keys]
    sideloads = _sideloads(sandbox, table, records, include, index=True) if records else {}
    if table.name in BUILTIN_SIDELOADS and not records:
        sideloads = {BUILTIN_SIDELOADS[table.name][0]: []}
    body = listing.render_collection(
        table.name, (table.json(k) for k in page.keys), sideloads, page.total if table.meta_total else None
    )
    sandbox.stats.records_served += len(page.keys)
    headers = listing.page_headers(_base(request), params, page)
    return Reply(200, body, headers)


def _hides_builtin(sandbox: Sandbox, table: Table) -> bool:
    # Built-in price lists have string ids; an account may list only its custom (integer) ones.
    return table.name == "price_lists" and not sandbox.config.list_builtin_price_lists


def _listed(sandbox: Sandbox, table: Table, key: Key) -> bool:
    return not (_hides_builtin(sandbox, table) and isinstance(key, str))


def _listed_keys(sandbox: Sandbox, table: Table, keys: list[Key]) -> list[Key]:
    # Only the price lists are filtered: a check per key of 100,000 variants cost more than the page.
    return [k for k in keys if not isinstance(k, str)] if _hides_builtin(sandbox, table) else keys


def show_record(sandbox: Sandbox, request: Request, table: Table, raw_id: str) -> Reply:
    record = table.lookup(raw_id)
    if record is None or not _listed(sandbox, table, record["id"]):
        raise not_found(table.singular, raw_id)
    include = listing.param_values(request.query_params, "include")
    sideloads = _sideloads(sandbox, table, [record], include, index=False)
    sandbox.stats.records_served += 1
    return Reply(200, listing.render_single(table.singular, table.json(record["id"]), sideloads))


def current_account(sandbox: Sandbox) -> Reply:
    accounts = sandbox.store.table("accounts")
    return Reply(200, listing.render_single("account", accounts.json(1)))


def current_user(sandbox: Sandbox) -> Reply:
    account = sandbox.store.table("accounts").records[1]
    user = {
        "id": 1,
        "account_id": 1,
        "first_name": "Sandbox",
        "last_name": "Owner",
        "email": account["contact_email"],
        "status": "active",
        "created_at": account["created_at"],
        "updated_at": account["updated_at"],
    }
    return Reply(200, dumps({"user": user}))


def stock_level(variant: Record) -> dict[str, object]:
    """/stock_levels shape: the variant's stock, keyed by variant_id (gecko-api.md 6.7)."""
    return {
        "variant_id": variant["id"],
        "stock_on_hand": variant["stock_on_hand"],
        "committed_stock": variant["committed_stock"],
        "incoming_stock": variant["incoming_stock"],
        "available_stock": variant["available_stock"],
        "locations": [
            {
                "location_id": e["location_id"],
                "stock_on_hand": e["stock_on_hand"],
                "committed": e["committed"],
                "incoming": e["incoming"],
                "available": e["available"],
            }
            for e in variant["locations"]
        ],
    }


def list_stock_levels(sandbox: Sandbox, request: Request) -> Reply:
    table = sandbox.store.table("variants")
    params = request.query_params
    keys = sandbox.store.select(table, listing.parse_query(table, params))
    page = listing.paginate(keys, params)
    items = (dumps(stock_level(table.records[k])) for k in page.keys)
    headers = listing.page_headers(_base(request), params, page)
    return Reply(200, listing.render_collection("stock_levels", items), headers)


def show_stock_level(sandbox: Sandbox, raw_id: str) -> Reply:
    variant = sandbox.store.table("variants").lookup(raw_id)
    if variant is None:
        raise not_found("variant", raw_id)
    return Reply(200, dumps({"stock_level": stock_level(variant)}))


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
