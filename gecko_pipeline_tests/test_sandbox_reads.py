"""The sandbox's read API over HTTP: envelopes, pagination arithmetic and headers, filters, sideloads."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import httpx
import pytest
from gecko_sandbox.config import SandboxConfig
from gecko_sandbox.server import SandboxHandle, run_sandbox
from sandbox_control import dump


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """Every test in this module only reads: one sandbox (like conftest's `sandbox`) serves them all."""
    with run_sandbox(SandboxConfig(scale=40, rate_limit_quota=100_000)) as handle:
        yield handle


def test_pages_cover_every_active_variant_once_most_recent_first(
    api: httpx.Client, sandbox: SandboxHandle
) -> None:
    active = [v["id"] for v in dump(sandbox, "variants") if v["status"] == "active"]
    seen: list[int] = []
    page, limit = 1, 7
    while True:
        response = api.get("/variants", params={"limit": limit, "page": page})
        assert response.status_code == 200
        meta = json.loads(response.headers["X-Pagination"])
        assert meta["total_records"] == len(active)
        assert meta["total_pages"] == math.ceil(len(active) / limit)
        assert meta["offset"] == (page - 1) * limit
        assert meta["first_page"] is (page == 1)
        body = response.json()
        assert body["meta"] == {"total": len(active)}
        seen += [v["id"] for v in body["variants"]]
        if meta["last_page"]:
            break
        assert 'rel="next"' in response.headers["Link"]
        page += 1
    assert seen == sorted(active, reverse=True)
    links = response.headers["Link"]
    assert 'rel="prev"' in links and 'rel="first"' in links and 'rel="next"' not in links
    assert f'page={meta["total_pages"]}>; rel="last"' in links


def test_limit_bounds_and_totals_only(api: httpx.Client) -> None:
    assert api.get("/variants", params={"limit": 251}).status_code == 400
    body = api.get("/variants", params={"limit": 251}).json()
    assert body["type"] == "Bad Request" and "250" in body["message"]
    response = api.get("/variants", params={"limit": 0})
    assert response.json()["variants"] == []
    meta = json.loads(response.headers["X-Pagination"])
    assert meta["total_pages"] == 1 and meta["total_records"] > 0
    assert len(api.get("/variants").json()["variants"]) == min(50, meta["total_records"])
    past = api.get("/variants", params={"limit": 250, "page": 9})
    assert past.json()["variants"] == [] and json.loads(past.headers["X-Pagination"])["out_of_bounds"] is True


def test_ids_filters_in_both_forms_and_blank_values_ignored(api: httpx.Client) -> None:
    a = api.get("/variants", params={"ids": "1,2,3", "sku": ""}).json()["variants"]
    b = api.get("/variants?ids[]=1&ids[]=2&ids[]=3").json()["variants"]
    assert [v["id"] for v in a] == [v["id"] for v in b]
    assert {v["id"] for v in a} <= {1, 2, 3}


def test_status_default_and_archived_on_request(api: httpx.Client, sandbox: SandboxHandle) -> None:
    everything = dump(sandbox, "variants")
    archived = {v["id"] for v in everything if v["status"] == "archived"}
    assert archived, "the seed has archived variants"
    listed = {v["id"] for v in api.get("/variants", params={"limit": 250}).json()["variants"]}
    assert not listed & archived
    both = api.get("/variants", params={"limit": 250, "status": "active,archived"}).json()["variants"]
    assert {v["id"] for v in both} == {v["id"] for v in everything}
    orders = dump(sandbox, "orders")
    default_orders = api.get("/orders", params={"limit": 250}).json()["orders"]
    assert {o["status"] for o in default_orders} == {o["status"] for o in orders} - {"deleted"}
    deleted = api.get("/orders?status[]=deleted&limit=250").json()["orders"]
    assert deleted and {o["status"] for o in deleted} == {"deleted"}


def test_per_resource_filters(api: httpx.Client, sandbox: SandboxHandle) -> None:
    variants = dump(sandbox, "variants")
    product_ids = {variants[0]["product_id"], variants[-1]["product_id"]}
    got = api.get("/variants", params={"product_id": ",".join(map(str, product_ids)), "limit": 250}).json()[
        "variants"
    ]
    expected = {v["id"] for v in variants if v["product_id"] in product_ids and v["status"] == "active"}
    assert {v["id"] for v in got} == expected
    lines = api.get("/order_line_items", params={"order_id": 3, "limit": 250}).json()["order_line_items"]
    assert lines and all(line["order_id"] == 3 for line in lines)
    companies = dump(sandbox, "companies")
    code = next(c["company_code"] for c in companies if c["company_code"] and c["status"] != "archived")
    assert [
        c["company_code"] for c in api.get("/companies", params={"company_code": code}).json()["companies"]
    ] == [code]


def test_updated_at_window_and_ordering(api: httpx.Client, sandbox: SandboxHandle) -> None:
    variants = [v for v in dump(sandbox, "variants") if v["status"] == "active"]
    stamps = sorted(v["updated_at"] for v in variants)
    middle = stamps[len(stamps) // 2]
    got = api.get(
        "/variants", params={"updated_at_min": middle, "order": "updated_at asc", "limit": 250}
    ).json()
    got_stamps = [v["updated_at"] for v in got["variants"]]
    assert got_stamps == sorted(got_stamps)
    assert len(got_stamps) == sum(1 for s in stamps if s >= middle)
    assert api.get("/variants", params={"updated_at_min": "yesterday-ish"}).status_code == 400
    assert api.get("/variants", params={"order": "name asc"}).status_code == 400


def test_sideloads(api: httpx.Client) -> None:
    products = api.get("/products", params={"include": "variants", "limit": 3}).json()
    wanted = {vid for p in products["products"] for vid in p["variant_ids"]}
    assert {v["id"] for v in products["variants"]} == wanted
    order = api.get(
        "/orders/3", params={"include": "order_line_items,shipping_address,billing_address,company"}
    ).json()
    assert {line["id"] for line in order["order_line_items"]} == set(order["order"]["order_line_item_ids"])
    assert order["companies"][0]["id"] == order["order"]["company_id"]
    assert order["order"]["shipping_address_id"] in {a["id"] for a in order["addresses"]}
    fulfillments = api.get("/fulfillments").json()
    assert {line["fulfillment_id"] for line in fulfillments["fulfillment_line_items"]} <= {
        f["id"] for f in fulfillments["fulfillments"]
    }
    assert "tax_components" in api.get("/tax_types").json()


def test_wire_format_and_stock_consistency(sandbox: SandboxHandle) -> None:
    from decimal import Decimal

    variants = dump(sandbox, "variants")
    orders = {o["id"]: o for o in dump(sandbox, "orders")}
    lines = dump(sandbox, "order_line_items")
    shipped: dict[int, Decimal] = {}
    fulfillments = {f["id"]: f for f in dump(sandbox, "fulfillments")}
    for item in dump(sandbox, "fulfillment_line_items"):
        if fulfillments[item["fulfillment_id"]]["status"] == "fulfilled":
            shipped[item["order_line_item_id"]] = shipped.get(
                item["order_line_item_id"], Decimal(0)
            ) + Decimal(item["quantity"])
    committed: dict[tuple[int, int], Decimal] = {}
    for line in lines:
        order = orders[line["order_id"]]
        if order["status"] in ("active", "finalized") and not line["freeform"]:
            key = (line["variant_id"], order["stock_location_id"])
            committed[key] = (
                committed.get(key, Decimal(0))
                + Decimal(line["quantity"])
                - shipped.get(line["id"], Decimal(0))
            )
    for variant in variants:
        assert isinstance(variant["stock_on_hand"], str)
        on_hand = sum((Decimal(e["stock_on_hand"]) for e in variant["locations"]), Decimal(0))
        assert Decimal(variant["stock_on_hand"]) == on_hand
        for entry in variant["locations"]:
            expected = committed.get((variant["id"], entry["location_id"]), Decimal(0))
            assert Decimal(entry["committed"] or 0) == expected
            assert Decimal(entry["available"]) == Decimal(entry["stock_on_hand"]) - expected
        assert variant["updated_at"].endswith("Z") and len(variant["updated_at"]) == 24
    assert any(Decimal(v["stock_on_hand"]) < 0 for v in variants) or len(variants) < 100


def test_auth_and_not_found(sandbox: SandboxHandle, api: httpx.Client) -> None:
    response = httpx.get(f"{sandbox.url}/variants", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401 and response.json()["type"] == "Unauthorized"
    missing = api.get("/variants/999999")
    assert missing.status_code == 404 and missing.json()["type"] == "Not Found"
    assert api.get("/variants/1.json").json()["variant"]["id"] == 1
    account = api.get("/accounts/current").json()["account"]
    assert account["default_order_price_list_id"] == "wholesale"
    stock = api.get("/stock_levels/1").json()["stock_level"]
    assert stock["variant_id"] == 1


def test_created_at_filters_order_and_link_params(api: httpx.Client, sandbox: SandboxHandle) -> None:
    orders = [o for o in dump(sandbox, "orders") if o["status"] != "deleted"]
    stamps = sorted(o["created_at"] for o in orders)
    low, high = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
    response = api.get(
        "/orders",
        params={"created_at_min": low, "created_at_max": high, "order": "created_at desc", "limit": 3},
    )
    got = response.json()["orders"]
    assert [o["created_at"] for o in got] == sorted((s for s in stamps if low <= s <= high), reverse=True)[:3]
    assert (
        "created_at_min=" in response.headers["Link"] and "order=created_at+desc" in response.headers["Link"]
    )
    day = low[:10]
    by_date = api.get("/orders", params={"created_at_min": day, "limit": 250}).json()["orders"]
    assert {o["id"] for o in by_date} == {
        o["id"] for o in orders if o["created_at"] >= f"{day}T00:00:00.000Z"
    }


def test_stock_levels_and_product_show_include(api: httpx.Client, sandbox: SandboxHandle) -> None:
    levels = api.get("/stock_levels", params={"ids": "1,3,4", "limit": 250}).json()["stock_levels"]
    variants = {v["id"]: v for v in dump(sandbox, "variants")}
    for level in levels:
        variant = variants[level["variant_id"]]
        assert (
            level["stock_on_hand"] == variant["stock_on_hand"]
            and level["available_stock"] == variant["available_stock"]
        )
    product = api.get("/products/1", params={"include": "variants"}).json()
    assert {v["id"] for v in product["variants"]} == set(product["product"]["variant_ids"])
    price_lists = api.get("/price_lists").json()["price_lists"]
    assert [p["id"] for p in price_lists][:3] == ["buy", "wholesale", "retail"]
    assert all(isinstance(p["id"], int) for p in price_lists[3:])


def test_seed_is_deterministic_and_scales(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    one = sandbox_factory(scale=60, seed=5, orders=12, locations=3)
    two = sandbox_factory(scale=60, seed=5, orders=12, locations=3)
    other = sandbox_factory(scale=60, seed=6, orders=12, locations=3)

    def strip(records: list[dict]) -> list[dict]:  # timestamps are relative to startup
        return [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in records]

    assert strip(dump(one, "variants")) == strip(dump(two, "variants"))
    assert strip(dump(one, "variants")) != strip(dump(other, "variants"))
    assert len(dump(one, "variants")) == 60 and len(dump(one, "orders")) == 12
    locations = dump(one, "locations")
    assert [loc["status"] for loc in locations] == ["active", "active", "archived"]
    assert [loc["holds_stock"] for loc in locations] == [True, False, True]
    assert max(len(p["variant_ids"]) for p in dump(one, "products")) >= 50


HIDDEN = {"orders": {"deleted"}, "fulfillments": {"deleted"}, "fulfillment_returns": {"deleted"}}


@pytest.mark.parametrize(
    ("resource", "param", "field"),
    [
        ("variants", "sku", "sku"),
        ("products", "product_type", "product_type"),
        ("products", "brand", "brand"),
        ("companies", "company_type", "company_type"),
        ("companies", "email", "email"),
        ("companies", "default_price_list_id", "default_price_list_id"),
        ("addresses", "company_id", "company_id"),
        ("orders", "company_id", "company_id"),
        ("orders", "order_number", "order_number"),
        ("orders", "fulfillment_status", "fulfillment_status"),
        ("orders", "stock_location_id", "stock_location_id"),
        ("order_line_items", "variant_id", "variant_id"),
        ("fulfillments", "order_id", "order_id"),
        ("fulfillment_line_items", "fulfillment_id", "fulfillment_id"),
        ("invoices", "order_id", "order_id"),
        ("locations", "holds_stock", "holds_stock"),
    ],
)
def test_each_filter_matches_the_dump(
    api: httpx.Client, sandbox: SandboxHandle, resource: str, param: str, field: str
) -> None:
    records = dump(sandbox, resource)
    hidden = HIDDEN.get(resource, {"archived"})
    visible = [r for r in records if r.get("status") not in hidden]
    value = next(r[field] for r in visible if r[field] not in (None, ""))
    text = str(value).lower() if isinstance(value, bool) else str(value)
    got = api.get(f"/{resource}", params={param: text, "limit": 250}).json()[resource]
    assert {r["id"] for r in got} == {r["id"] for r in visible if r[field] == value}


def test_multi_value_filters_and_order_status(api: httpx.Client, sandbox: SandboxHandle) -> None:
    orders = dump(sandbox, "orders")
    wanted = {"void", "deleted"}
    got = api.get("/orders?status[]=void&status[]=deleted&limit=250").json()["orders"]
    assert {o["id"] for o in got} == {o["id"] for o in orders if o["status"] in wanted}
    tagged = api.get("/orders", params={"tags": "web", "limit": 250}).json()["orders"]
    assert {o["id"] for o in tagged} == {
        o["id"] for o in orders if "web" in o["tags"] and o["status"] != "deleted"
    }
    status_of = {o["id"]: o["status"] for o in orders}
    lines = api.get("/order_line_items", params={"order_status": "active,finalized", "limit": 250}).json()[
        "order_line_items"
    ]
    expected = {
        li["id"]
        for li in dump(sandbox, "order_line_items")
        if status_of[li["order_id"]] in ("active", "finalized")
    }
    assert {li["id"] for li in lines} == expected
    products = api.get("/products", params={"tags": "sale", "limit": 250}).json()["products"]
    assert products and all("sale" in p["tags"].split(",") for p in products)
