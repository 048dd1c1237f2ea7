"""The sandbox's writes over HTTP: creates, validation, Idempotency-Key, order actions and their stock
effects, fulfillments and returns, OAuth refresh."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
from gecko_sandbox.server import SandboxHandle
from sandbox_control import dump


def stock_at(api: httpx.Client, variant_id: int, location_id: int) -> tuple[Decimal, Decimal]:
    variant = api.get(f"/variants/{variant_id}").json()["variant"]
    entry = next((e for e in variant["locations"] if e["location_id"] == location_id), None)
    if entry is None:
        return Decimal(0), Decimal(0)
    return Decimal(entry["stock_on_hand"]), Decimal(entry["committed"] or 0)


def sellable_variant(api: httpx.Client) -> int:
    variants = api.get("/variants", params={"limit": 250}).json()["variants"]
    return next(v["id"] for v in variants if v["sellable"])


def new_order(
    api: httpx.Client, variant_id: int, status: str = "active", quantity: str = "3", **extra: object
) -> dict:
    body = {
        "order": {
            "company": {"name": "Bill's Boots", "company_type": "business", "email": "billy@example.com"},
            "shipping_address": {"address1": "1 Cross St", "country": "New Zealand", "label": "Shipping"},
            "issued_at": "2026-11-12",
            "status": status,
            "currency_iso": "NZD",
            "reference_number": "SHOP-1001",
            "order_line_items": [
                {"variant_id": variant_id, "quantity": quantity, "price": "10.50"},
                {
                    "freeform": True,
                    "label": "Shipping - DHL",
                    "quantity": 1,
                    "price": "9.95",
                    "line_type": "shipping",
                },
            ],
            **extra,
        }
    }
    response = api.post("/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()["order"]


def test_create_order_with_embedded_company_and_address(api: httpx.Client, sandbox: SandboxHandle) -> None:
    variant = sellable_variant(api)
    companies_before = len(dump(sandbox, "companies"))
    response = api.post(
        "/orders",
        json={
            "order": {
                "company": {"name": "New Co", "company_type": "consumer"},
                "shipping_address": {"address1": "2 Road", "country": "New Zealand"},
                "issued_at": "21-02-2026",
                "order_line_items": [{"variant_id": variant, "quantity": 2}],
            }
        },
    )
    assert response.status_code == 201
    order = response.json()["order"]
    assert response.headers["Location"].endswith(f"/orders/{order['id']}")
    assert order["status"] == "draft" and order["issued_at"] == "2026-02-21"
    assert order["billing_address_id"] == order["shipping_address_id"]
    assert len(dump(sandbox, "companies")) == companies_before + 1
    line = api.get("/order_line_items", params={"order_id": order["id"]}).json()["order_line_items"][0]
    listed = next(
        p["value"]
        for p in api.get(f"/variants/{variant}").json()["variant"]["variant_prices"]
        if p["price_list_id"] == order["default_price_list_id"]
    )
    assert line["price"] == listed and line["quantity"] == "2"  # price from the order's price list
    shown = api.get(f"/orders?reference_number=&ids={order['id']}").json()["orders"]
    assert [o["id"] for o in shown] == [order["id"]]


def test_missing_root_key_and_validation_errors(api: httpx.Client) -> None:
    response = api.post("/orders", json={"sales_order": {}})
    assert response.status_code == 400
    assert response.json() == {"type": "Bad Request", "message": "Required parameter missing: order"}
    response = api.post(
        "/orders",
        json={
            "order": {
                "company_id": 999999,
                "currency_iso": "XXX",
                "status": "shipped",
                "order_line_items": [
                    {"variant_id": 1, "quantity": "many"},
                    {"variant_id": 999999, "quantity": 1},
                ],
            }
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["company_id"] == ["does not exist"]
    assert "currency_iso" in errors and "status" in errors and "issued_at" in errors
    assert errors["order_line_items[0].quantity"] == ["is not a number"]
    assert errors["order_line_items[1].variant_id"] == ["does not exist"]
    assert (
        api.post("/companies", json={"company": {"name": "X", "company_type": "pirate"}}).status_code == 422
    )


def test_idempotent_replay_creates_nothing_twice(api: httpx.Client, sandbox: SandboxHandle) -> None:
    variant = sellable_variant(api)
    body = {
        "order": {
            "company_id": 2,
            "shipping_address_id": 3,
            "issued_at": "2026-11-12",
            "order_line_items": [{"variant_id": variant, "quantity": 1, "price": 5}],
        }
    }
    before = len(dump(sandbox, "orders"))
    first = api.post("/orders", json=body, headers={"Idempotency-Key": "channel-order-1"})
    again = api.post(
        "/orders", json={"order": {"different": True}}, headers={"Idempotency-Key": "channel-order-1"}
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(dump(sandbox, "orders")) == before + 1
    other = api.post("/orders", json=body, headers={"Idempotency-Key": "channel-order-2"})
    assert other.json()["order"]["id"] != first.json()["order"]["id"]


def test_order_lifecycle_moves_stock(api: httpx.Client) -> None:
    variant = sellable_variant(api)
    draft = new_order(api, variant, status="draft")
    location = draft["stock_location_id"]
    on_hand0, committed0 = stock_at(api, variant, location)
    active = new_order(api, variant, status="active", quantity="3")
    assert stock_at(api, variant, location) == (on_hand0, committed0 + 3)  # draft commits nothing, active 3
    assert api.put(f"/orders/{draft['id']}", json={"order": {"status": "active"}}).status_code == 204
    assert stock_at(api, variant, location) == (on_hand0, committed0 + 6)
    voided = api.post(f"/orders/{draft['id']}/actions/void")
    assert voided.status_code == 200 and voided.json()["order"]["status"] == "void"
    assert stock_at(api, variant, location) == (on_hand0, committed0 + 3)
    again = api.post(f"/orders/{draft['id']}/actions/void")
    assert again.status_code == 422 and "void" in again.json()["errors"]["base"][0]

    order_id = active["id"]
    paid = api.post(
        f"/orders/{order_id}/actions/pay", json={"payment": {"payment_method_name": "Card"}}
    ).json()["order"]
    assert paid["payment_status"] == "paid" and paid["invoice_status"] == "invoiced"
    packed = api.post(
        f"/orders/{order_id}/actions/pack", json={"fulfillment": {"tracking_number": "T1"}}
    ).json()["order"]
    assert packed["packed_status"] == "packed" and packed["fulfillment_status"] == "unshipped"
    assert stock_at(api, variant, location) == (on_hand0, committed0 + 3)  # packed is not shipped
    done = api.post(f"/orders/{order_id}/actions/fulfil").json()["order"]
    assert done["status"] == "fulfilled" and done["fulfillment_status"] == "shipped"
    assert stock_at(api, variant, location) == (on_hand0 - 3, committed0)
    fulfillments = api.get("/fulfillments", params={"order_id": order_id}).json()["fulfillments"]
    assert [f["status"] for f in fulfillments] == ["fulfilled"] and fulfillments[0]["tracking_number"] == "T1"
    assert api.post(f"/orders/{order_id}/actions/fulfil").status_code == 422
    assert api.post(f"/orders/{order_id}/actions/void").status_code == 422

    line = next(
        li
        for li in api.get("/order_line_items", params={"order_id": order_id}).json()["order_line_items"]
        if not li["freeform"]
    )
    created = api.post(
        "/fulfillment_returns",
        json={
            "fulfillment_return": {
                "order_id": order_id,
                "fulfillment_return_line_items": [{"order_line_item_id": line["id"], "quantity": 2}],
            }
        },
    )
    assert created.status_code == 201 and created.json()["fulfillment_return"]["status"] == "returning"
    too_many = api.post(
        "/fulfillment_returns",
        json={
            "fulfillment_return": {
                "order_id": order_id,
                "fulfillment_return_line_items": [{"order_line_item_id": line["id"], "quantity": 2}],
            }
        },
    )
    assert too_many.status_code == 422
    return_id = created.json()["fulfillment_return"]["id"]
    assert stock_at(api, variant, location) == (on_hand0 - 3, committed0)
    assert (
        api.put(
            f"/fulfillment_returns/{return_id}", json={"fulfillment_return": {"status": "received"}}
        ).status_code
        == 204
    )
    assert stock_at(api, variant, location) == (on_hand0 - 1, committed0)
    assert api.get(f"/orders/{order_id}").json()["order"]["return_status"] == "partial"


def test_invalid_transitions(api: httpx.Client) -> None:
    variant = sellable_variant(api)
    draft = new_order(api, variant, status="draft")
    response = api.post(f"/orders/{draft['id']}/actions/pay")
    assert response.status_code == 422 and "draft" in response.json()["errors"]["base"][0]
    assert api.post(f"/orders/{draft['id']}/actions/teleport").status_code == 404
    assert api.post("/fulfillments", json={"fulfillment": {"order_id": draft["id"]}}).status_code == 422
    active = new_order(api, variant)
    empty = api.post(
        "/fulfillments", json={"fulfillment": {"order_id": active["id"], "fulfillment_line_items": []}}
    )
    assert empty.json()["errors"]["base"] == ["Cannot create or update a Fulfillment without line items"]


def test_fulfillment_created_then_shipped_by_put(api: httpx.Client) -> None:
    variant = sellable_variant(api)
    order = new_order(api, variant, quantity="4")
    location = order["stock_location_id"]
    on_hand0, committed0 = stock_at(api, variant, location)
    line = next(
        li
        for li in api.get("/order_line_items", params={"order_id": order["id"]}).json()["order_line_items"]
        if not li["freeform"]
    )
    created = api.post(
        "/fulfillments",
        json={
            "fulfillment": {
                "order_id": order["id"],
                "fulfillment_line_items": [{"order_line_item_id": line["id"], "quantity": "1"}],
            }
        },
    )
    assert created.status_code == 201
    body = api.get("/fulfillments", params={"ids": created.json()["fulfillment"]["id"]}).json()
    assert body["fulfillment_line_items"][0]["quantity"] == "1"
    fid = created.json()["fulfillment"]["id"]
    assert api.put(f"/fulfillments/{fid}", json={"fulfillment": {"status": "fulfilled"}}).status_code == 204
    assert stock_at(api, variant, location) == (on_hand0 - 1, committed0 - 1)
    shown = api.get(f"/orders/{order['id']}").json()["order"]
    assert shown["status"] == "active" and shown["fulfillment_status"] == "partial"


def test_puts_and_deletes(api: httpx.Client, sandbox: SandboxHandle) -> None:
    variant = sellable_variant(api)
    before = api.get(f"/variants/{variant}").json()["variant"]
    response = api.put(
        f"/variants/{variant}",
        json={"variant": {"retail_price": 19.5, "stock_on_hand": "999", "max_online": 4}},
    )
    assert response.status_code == 204 and response.content == b""
    after = api.get(f"/variants/{variant}").json()["variant"]
    assert (
        after["retail_price"] == "19.5" and after["prices"]["retail"] == "19.5" and after["max_online"] == "4"
    )
    assert after["stock_on_hand"] == before["stock_on_hand"]  # stock is read-only
    assert after["updated_at"] > before["updated_at"]
    address = api.put("/addresses/1", json={"address": {"city": "Nelson"}})
    assert address.status_code == 200 and address.json()["address"]["city"] == "Nelson"
    hook = api.post(
        "/webhooks", json={"webhook": {"address": "https://example.com/h", "event": "order.create"}}
    )
    assert hook.status_code == 201
    assert (
        api.post("/webhooks", json={"webhook": {"address": "https://x", "event": "order.void"}}).status_code
        == 422
    )
    assert api.delete(f"/webhooks/{hook.json()['webhook']['id']}").status_code == 204
    assert api.delete("/companies/1").status_code == 204
    assert next(c for c in dump(sandbox, "companies") if c["id"] == 1)["status"] == "archived"
    assert api.post("/currencies", json={"currency": {"iso": "EUR", "rate": "0.55"}}).status_code == 201
    assert api.post("/currencies", json={"currency": {"iso": "EUR"}}).status_code == 422


def test_error_after_write_is_replayable(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    handle = sandbox_factory(scale=20, rate_limit_quota=100_000, faults={"error_after_write_rate": 1.0})
    with httpx.Client(base_url=handle.url, headers={"Authorization": f"Bearer {handle.token}"}) as api:
        body = {"company": {"name": "Lost Answer Ltd", "company_type": "business"}}
        lost = api.post("/companies", json=body, headers={"Idempotency-Key": "c-1"})
        assert lost.status_code == 500
        created = [c for c in dump(handle, "companies") if c["name"] == "Lost Answer Ltd"]
        assert len(created) == 1  # performed, although the answer was a 500
        httpx.put(f"{handle.url}/_sandbox/faults", json={"error_after_write_rate": 0})
        replay = api.post("/companies", json=body, headers={"Idempotency-Key": "c-1"})
        assert replay.status_code == 201 and replay.json()["company"]["id"] == created[0]["id"]


def test_oauth_refresh_rotates_and_tokens_expire(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    handle = sandbox_factory(scale=10, access_token_ttl=1.0)
    config = handle.config
    grant = {
        "grant_type": "refresh_token",
        "client_id": config.oauth_client_id,
        "client_secret": handle.app_secret,
        "refresh_token": config.oauth_refresh_token,
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
    }
    first = httpx.post(f"{handle.url}/oauth/token", json=grant)
    assert first.status_code == 200
    token = first.json()
    assert token["token_type"] == "bearer" and token["scope"] == "public" and token["expires_in"] == 1
    assert httpx.post(f"{handle.url}/oauth/token", json=grant).json()["error"] == "invalid_request"  # rotated
    second = httpx.post(f"{handle.url}/oauth/token", json={**grant, "refresh_token": token["refresh_token"]})
    assert second.status_code == 200
    bad = httpx.post(f"{handle.url}/oauth/token", json={**grant, "client_secret": "nope"})
    assert bad.status_code == 401 and "error_description" in bad.json()
    headers = {"Authorization": f"Bearer {second.json()['access_token']}"}
    assert httpx.get(f"{handle.url}/accounts/current", headers=headers).status_code == 200
    deadline = time.monotonic() + 5
    while httpx.get(f"{handle.url}/accounts/current", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "issued token never expired"
        time.sleep(0.2)
    expired = httpx.get(f"{handle.url}/accounts/current", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_values_beyond_the_decimal_range_are_refused_before_anything_is_written(
    api: httpx.Client, sandbox: SandboxHandle
) -> None:
    variant = sellable_variant(api)
    before = {name: len(dump(sandbox, name)) for name in ("orders", "companies", "order_line_items")}
    order = {
        "company": {"name": "Huge Co", "company_type": "consumer"},
        "shipping_address": {"address1": "1 Big St", "country": "New Zealand"},
        "issued_at": "2026-11-27",
        "status": "active",
    }
    cases = [
        ("order_line_items[0].quantity", b'{"variant_id": %d, "quantity": "1e30", "price": "1"}'),
        ("order_line_items[0].price", b'{"variant_id": %d, "quantity": "1", "price": 1e400}'),
        (
            "order_line_items[0].discount",
            b'{"variant_id": %d, "quantity": "1", "price": "1", "discount": "-1e9"}',
        ),
    ]
    for field, line in cases:
        head = httpx.Request("POST", "/", json={"order": order}).content[:-2]  # '{"order": {...' without '}}'
        raw = head + b',"order_line_items":[' + line % variant + b"]}}"
        answer = api.post(
            "/orders", content=raw, headers={"Content-Type": "application/json", "Idempotency-Key": field}
        )
        assert answer.status_code == 422, answer.text
        assert field in answer.json()["errors"], answer.json()
    # A total beyond what a total can hold (each value within range) is refused as well.
    answer = api.post(
        "/orders",
        json={
            "order": {
                **order,
                "order_line_items": [
                    {
                        "variant_id": variant,
                        "quantity": "999999999999",
                        "price": "999999999999",
                        "discount": "-100",
                    }
                    for _ in range(3)
                ],
            }
        },
    )
    assert answer.status_code == 422 and "order_line_items" in answer.json()["errors"], answer.text
    assert {name: len(dump(sandbox, name)) for name in before} == before  # no half-made order or company


def test_order_lines_change_while_unpaid_and_unshipped(api: httpx.Client, sandbox: SandboxHandle) -> None:
    variant = sellable_variant(api)
    order = new_order(api, variant, quantity="2")
    location = order["stock_location_id"]
    on_hand, committed = stock_at(api, variant, location)
    assert api.post(f"/orders/{order['id']}/actions/invoice").status_code == 200
    lines = api.get("/order_line_items", params={"order_id": order["id"]}).json()["order_line_items"]
    product = next(x for x in lines if x["variant_id"] == variant)
    shipping = next(x for x in lines if x["freeform"])

    changed = api.put(
        f"/order_line_items/{product['id']}", json={"order_line_item": {"quantity": "7", "price": "11"}}
    )
    assert changed.status_code == 204, changed.text
    assert stock_at(api, variant, location) == (on_hand, committed + 5)
    after = api.get(f"/orders/{order['id']}").json()["order"]
    expected = ((Decimal(7) * 11 + Decimal("9.95")) * Decimal("1.15")).quantize(Decimal("0.01"))
    assert Decimal(after["total"]) == expected  # exclusive tax, 15%
    (invoice,) = [i for i in dump(sandbox, "invoices") if i["order_id"] == order["id"]]
    assert invoice["total"] == after["total"]  # the unpaid invoice bills what the lines now say

    refused = api.delete(f"/order_line_items/{shipping['id']}")  # invoiced: change it, do not delete it
    assert refused.status_code == 422 and "invoiced" in refused.text
    assert (
        api.put(
            f"/orders/{order['id']}",
            json={
                "order": {
                    "order_line_items": [
                        {
                            "freeform": True,
                            "label": "Gift wrap",
                            "quantity": 1,
                            "price": "2",
                            "line_type": "fee",
                        }
                    ]
                }
            },
        ).status_code
        == 204
    )
    fee = next(
        x
        for x in api.get("/order_line_items", params={"order_id": order["id"]}).json()["order_line_items"]
        if x["label"] == "Gift wrap"
    )
    assert api.delete(f"/order_line_items/{fee['id']}").status_code == 204
    assert api.get(f"/order_line_items/{fee['id']}").status_code == 404

    bad = api.put(f"/order_line_items/{product['id']}", json={"order_line_item": {"quantity": "0"}})
    assert bad.status_code == 422 and "quantity" in bad.json()["errors"]
    assert api.post(f"/orders/{order['id']}/actions/pay").status_code == 200
    paid = api.put(f"/order_line_items/{product['id']}", json={"order_line_item": {"quantity": "1"}})
    assert paid.status_code == 422 and "paid" in paid.text
    assert stock_at(api, variant, location) == (on_hand, committed + 5)


def test_a_500_after_the_write_can_forget_the_key(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    handle = sandbox_factory(
        scale=20,
        rate_limit_quota=100_000,
        faults={"error_after_write_rate": 1.0, "error_after_write_forgets_key": True},
    )
    with httpx.Client(base_url=handle.url, headers={"Authorization": f"Bearer {handle.token}"}) as api:
        body = {"currency": {"iso": "SGD"}}
        first = api.post("/currencies", json=body, headers={"Idempotency-Key": "k1"})
        httpx.put(f"{handle.url}/_sandbox/faults", json={"error_after_write_rate": 0})
        again = api.post("/currencies", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 500
    assert again.status_code == 422 and "taken" in again.text  # written the first time, key not kept
