"""Webhook deliveries (signed, retried, 410), merchant activity, faults and the rate limit, over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from gecko_sandbox.server import SandboxHandle

from gecko_pipeline import signing


class Receiver:
    """A tiny webhook receiver on an ephemeral port; answers the statuses it is given, in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[list[int]], Receiver]]:
    receivers: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        receiver = Receiver(statuses)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def deliveries(handle: SandboxHandle) -> list[dict]:
    return httpx.get(f"{handle.url}/_sandbox/webhook_deliveries").json()["webhook_deliveries"]


def subscribe(api: httpx.Client, address: str, event: str) -> int:
    response = api.post("/webhooks", json={"webhook": {"address": address, "event": event}})
    assert response.status_code == 201
    return response.json()["webhook"]["id"]


def test_stock_move_delivers_a_signed_webhook(
    api: httpx.Client, sandbox: SandboxHandle, receiver_factory
) -> None:  # type: ignore[no-untyped-def]
    receiver = receiver_factory([200])
    subscribe(api, receiver.url, "variant.stock_level_update")
    before = api.get("/variants/1").json()["variant"]
    moved = httpx.post(
        f"{sandbox.url}/_sandbox/activity/stock_move",
        json={"variant_id": 1, "location_id": 1, "quantity": "-3"},
    ).json()["variant"]
    assert moved["updated_at"] > before["updated_at"]
    on_hand = lambda v: next((e["stock_on_hand"] for e in v["locations"] if e["location_id"] == 1), "0")  # noqa: E731
    from decimal import Decimal

    assert Decimal(on_hand(moved)) == Decimal(on_hand(before)) - 3
    wait_for(lambda: len(receiver.received) == 1, "the delivery")
    headers, body = receiver.received[0]
    assert signing.verify(sandbox.app_secret, body, headers["X-Gecko-Signature"])
    payload = json.loads(body)
    assert payload["event"] == "variant.stock_level_update" and payload["object_id"] == 1
    assert payload["resource_url"] == f"{sandbox.url}/variants/1.json"
    assert isinstance(payload["timestamp"], int)
    fetched = api.get(payload["resource_url"].removeprefix(sandbox.url)).json()["variant"]
    assert fetched["stock_on_hand"] == moved["stock_on_hand"]
    assert deliveries(sandbox)[-1]["state"] == "delivered"


def test_failed_delivery_is_retried_with_the_same_id_and_410_unsubscribes(
    api: httpx.Client, sandbox: SandboxHandle, receiver_factory
) -> None:  # type: ignore[no-untyped-def]
    flaky = receiver_factory([500, 503, 200])
    subscribe(api, flaky.url, "product.create")
    gone = receiver_factory([410])
    gone_id = subscribe(api, gone.url, "product.create")
    created = httpx.post(f"{sandbox.url}/_sandbox/activity/new_product", json={"variants": 2}).json()
    assert len(created["variant_ids"]) == 2
    wait_for(lambda: len(flaky.received) == 3, "three attempts")
    ids = {headers["X-Gecko-Delivery"] for headers, _ in flaky.received}
    assert len(ids) == 1 and len({body for _, body in flaky.received}) == 1
    wait_for(lambda: any(d["state"] == "gone" for d in deliveries(sandbox)), "the 410")
    assert api.get(f"/webhooks/{gone_id}").status_code == 404
    states = {d["address"]: d["state"] for d in deliveries(sandbox)}
    wait_for(
        lambda: {d["address"]: d["state"] for d in deliveries(sandbox)}[flaky.url] == "delivered", "success"
    )
    assert states[gone.url] == "gone"


def test_order_events_and_refused_connections(
    api: httpx.Client, sandbox: SandboxHandle, receiver_factory
) -> None:  # type: ignore[no-untyped-def]
    receiver = receiver_factory([200])
    for event in ("order.create", "order.finalized", "fulfillment.create", "company.create"):
        subscribe(api, receiver.url, event)
    subscribe(api, "http://127.0.0.1:9/refused", "order.create")  # nothing listens on port 9
    variant = next(
        v["id"] for v in api.get("/variants", params={"limit": 250}).json()["variants"] if v["sellable"]
    )
    order = api.post(
        "/orders",
        json={
            "order": {
                "company": {"name": "Hook Co", "company_type": "business"},
                "shipping_address": {"address1": "1 St"},
                "issued_at": "2026-01-01",
                "status": "finalized",
                "order_line_items": [{"variant_id": variant, "quantity": 1}],
            }
        },
    ).json()["order"]
    api.post(f"/orders/{order['id']}/actions/pack")
    wait_for(lambda: len(receiver.received) == 4, "four events")
    events = sorted(json.loads(body)["event"] for _, body in receiver.received)
    assert events == ["company.create", "fulfillment.create", "order.create", "order.finalized"]
    wait_for(
        lambda: any(d["state"] == "failed" for d in deliveries(sandbox)), "the refused delivery to give up"
    )
    failed = next(d for d in deliveries(sandbox) if d["state"] == "failed")
    assert len(failed["attempts"]) == sandbox.config.webhook_max_attempts and "error" in failed["attempts"][0]


def test_update_and_purge_activity(api: httpx.Client, sandbox: SandboxHandle) -> None:
    before = api.get("/products/1").json()["product"]
    httpx.post(
        f"{sandbox.url}/_sandbox/activity/update",
        json={"resource": "products", "id": 1, "fields": {"status": "archived", "name": "Renamed"}},
    )
    variant = api.get(f"/variants/{before['variant_ids'][0]}").json()["variant"]
    assert variant["product_status"] == "archived" and variant["product_name"] == "Renamed"
    assert 1 not in [p["id"] for p in api.get("/products", params={"limit": 250}).json()["products"]]
    httpx.post(
        f"{sandbox.url}/_sandbox/activity/update",
        json={"resource": "variants", "id": 2, "fields": {"retail_price": "not-a-number"}},
    )
    assert api.get("/variants/2").json()["variant"]["retail_price"] == "not-a-number"
    httpx.post(f"{sandbox.url}/_sandbox/activity/purge", json={"resource": "companies", "id": 3})
    assert api.get("/companies/3").status_code == 404
    assert 3 not in [c["id"] for c in httpx.get(f"{sandbox.url}/_sandbox/dump/companies").json()["companies"]]


def test_rate_limit_window_headers_and_reset(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    handle = sandbox_factory(scale=10, rate_limit_quota=3, rate_limit_window=2)
    headers = {"Authorization": f"Bearer {handle.token}"}
    with httpx.Client(base_url=handle.url, headers=headers) as api:
        # Start at the beginning of a window so the four requests share it.
        wait_for(lambda: time.time() % 2 < 1.0, "a fresh window")
        answers = [api.get("/currencies") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert [r.headers["X-Rate-Limit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
        reset = int(answers[0].headers["X-Rate-Limit-Reset"])
        assert reset % 2 == 0 and all(r.headers["X-Rate-Limit-Limit"] == "3" for r in answers)
        assert answers[3].json()["type"] == "Too Many Requests" and "Retry-After" not in answers[3].headers
        wait_for(lambda: time.time() >= reset, "the reset")
        assert api.get("/currencies").status_code == 200
        stats = httpx.get(f"{handle.url}/_sandbox/stats").json()
        assert stats["responses_429"] == 1 and stats["by_route"]["GET /currencies"] == 5
        httpx.put(f"{handle.url}/_sandbox/rate_limit", json={"quota": 1000})
        assert api.get("/currencies").headers["X-Rate-Limit-Remaining"] == "999"


def test_faults_and_payment_required(api: httpx.Client, sandbox: SandboxHandle) -> None:
    control = f"{sandbox.url}/_sandbox"
    httpx.put(f"{control}/faults", json={"error_rate": 1.0})
    failed = [api.get("/variants") for _ in range(6)]
    assert {r.status_code for r in failed} <= {500, 503}
    assert any(not r.headers["content-type"].startswith("application/json") for r in failed)
    httpx.put(f"{control}/faults", json={"error_rate": 0, "drop_rate": 1.0})
    with pytest.raises(httpx.TransportError):
        api.get("/variants", params={"limit": 250})
    httpx.put(f"{control}/faults", json={"drop_rate": 0, "burst_429_rate": 1.0, "burst_429_length": 2})
    assert api.get("/variants").status_code == 429
    httpx.put(f"{control}/faults", json={"burst_429_rate": 0})
    assert api.get("/variants").status_code == 200
    httpx.put(f"{control}/payment_required", json={"enabled": True})
    response = api.get("/variants")
    assert response.status_code == 402 and response.json()["type"] == "Payment Required"
    httpx.put(f"{control}/payment_required", json={"enabled": False})
    assert api.get("/variants").status_code == 200
    assert httpx.get(f"{control}/stats").json()["faults_injected"]["drop"] == 1
