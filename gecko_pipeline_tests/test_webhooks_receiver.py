"""The webhook receiver over real HTTP (uvicorn on an ephemeral port) into a real ops.sqlite."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx
import pytest

from gecko_pipeline import ops_db
from gecko_pipeline.config import Settings
from gecko_pipeline.signing import sign
from gecko_pipeline.tools.background import GatewayHandle, run_gateway
from gecko_pipeline.webhooks import store
from gecko_pipeline.webhooks.events import normalise_event, resource_of
from gecko_pipeline.webhooks.receiver import ReceiverLimits

SECRET = "receiver-test-secret"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        api_url="http://127.0.0.1:9", access_token="t", client_secret=SECRET, data_dir=tmp_path / "data"
    )


@pytest.fixture
def gateway(settings: Settings) -> Iterator[GatewayHandle]:
    with run_gateway(
        settings, limits=ReceiverLimits(max_body_bytes=2048, tolerance_seconds=3600), with_intake=False
    ) as handle:
        yield handle


def payload(
    event: str = "variant.stock_level_update", object_id: object = 42, timestamp: object = None
) -> bytes:
    body = {
        "object_id": object_id,
        "event": event,
        "timestamp": int(time.time()) if timestamp is None else timestamp,
        "resource_url": f"http://127.0.0.1:9/variants/{object_id}.json",
    }
    return json.dumps(body).encode()


def deliver(
    handle: GatewayHandle,
    body: bytes,
    *,
    delivery: str | None = None,
    signature: str | None = "sign",
    client: httpx.Client | None = None,
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if delivery is not False:
        headers["X-Gecko-Delivery"] = delivery or str(uuid.uuid4())
    if signature == "sign":
        headers["X-Gecko-Signature"] = sign(SECRET, body)
    elif signature is not None:
        headers["X-Gecko-Signature"] = signature
    return (client or httpx).post(handle.webhook_url, content=body, headers=headers, timeout=10)


def rows(settings: Settings) -> list[dict]:
    if not settings.ops_path.exists():
        return []
    con = ops_db.connect(settings.ops_path)
    try:
        store.ensure_schema(con)
        return [dict(r) for r in con.execute("SELECT * FROM webhook_events ORDER BY id")]
    finally:
        con.close()


def test_event_names_normalise_plural_to_singular() -> None:
    assert normalise_event("fulfillments.create") == "fulfillment.create"
    assert normalise_event("fulfillment_returns.received") == "fulfillment_return.received"
    assert normalise_event("Companies.update") == "company.update"
    assert normalise_event("addresses.create") == "address.create"
    assert normalise_event("variant.stock_level_update") == "variant.stock_level_update"
    assert normalise_event("nonsense") is None
    assert normalise_event("gizmos.create") is None
    assert normalise_event(7) is None
    assert resource_of("variant.stock_level_update") == "variants"
    assert resource_of("invoice.create") is None


def test_signed_delivery_is_stored_before_the_answer(gateway: GatewayHandle, settings: Settings) -> None:
    body = payload(object_id=1234)
    response = deliver(gateway, body, delivery="d-1")
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "stored"
    [row] = rows(settings)
    assert (row["delivery_id"], row["event"], row["resource"], row["object_id"], row["status"]) == (
        "d-1",
        "variant.stock_level_update",
        "variants",
        1234,
        "pending",
    )
    assert row["body"] == body.decode()


def test_plural_event_name_is_accepted(gateway: GatewayHandle, settings: Settings) -> None:
    assert deliver(gateway, payload("fulfillments.create", 77)).status_code == 200
    [row] = rows(settings)
    assert (row["event"], row["raw_event"], row["resource"], row["object_id"]) == (
        "fulfillment.create",
        "fulfillments.create",
        "fulfillments",
        77,
    )


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl", sign("another-secret", b"x")])
def test_bad_or_missing_signature_is_refused_and_stored_nowhere(
    gateway: GatewayHandle, settings: Settings, signature: str | None
) -> None:
    response = deliver(gateway, payload(), signature=signature)
    assert response.status_code == 401
    assert rows(settings) == []


def test_signature_over_a_different_body_is_refused(gateway: GatewayHandle, settings: Settings) -> None:
    genuine = payload(object_id=1)
    forged = payload(object_id=2)
    response = deliver(gateway, forged, signature=sign(SECRET, genuine))
    assert response.status_code == 401
    assert rows(settings) == []


def test_stale_replay_is_refused_and_stored_nowhere(gateway: GatewayHandle, settings: Settings) -> None:
    old = payload(timestamp=int(time.time()) - 7200)  # tolerance in this fixture: 3600 s
    response = deliver(gateway, old)  # correctly signed: a captured delivery replayed later
    assert response.status_code == 400
    assert "stale" in response.json()["message"]
    far_future = payload(timestamp=int(time.time()) + 7200)
    assert deliver(gateway, far_future).status_code == 400
    assert rows(settings) == []


def test_duplicate_delivery_is_stored_once(gateway: GatewayHandle, settings: Settings) -> None:
    body = payload(object_id=5)
    first = deliver(gateway, body, delivery="same-delivery")
    again = deliver(gateway, body, delivery="same-delivery")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["message"] == "duplicate"
    assert [r["delivery_id"] for r in rows(settings)] == ["same-delivery"]


def test_missing_delivery_id_is_refused(gateway: GatewayHandle, settings: Settings) -> None:
    assert deliver(gateway, payload(), delivery=False).status_code == 400  # type: ignore[arg-type]
    assert rows(settings) == []


def test_oversized_body_is_refused(gateway: GatewayHandle, settings: Settings) -> None:
    big = json.dumps(
        {"event": "variant.create", "object_id": 1, "timestamp": int(time.time()), "padding": "x" * 5000}
    ).encode()
    assert deliver(gateway, big).status_code == 413

    def chunks():  # no Content-Length: the receiver must stop reading once past the limit
        for _ in range(100):
            yield b"x" * 1024

    response = httpx.post(
        gateway.webhook_url,
        content=chunks(),
        timeout=10,
        headers={"X-Gecko-Delivery": "chunked", "X-Gecko-Signature": sign(SECRET, b"")},
    )
    assert response.status_code == 413
    assert rows(settings) == []


def test_signed_but_unusable_payload_is_kept_with_the_problem(
    gateway: GatewayHandle, settings: Settings
) -> None:
    assert deliver(gateway, payload(object_id="not-an-id"), delivery="bad-id").status_code == 200
    assert deliver(gateway, b"not json", delivery="not-json").status_code == 200
    assert deliver(gateway, payload("invoice.create", 9), delivery="unused").status_code == 200
    by_id = {r["delivery_id"]: r for r in rows(settings)}
    assert by_id["bad-id"]["status"] == "invalid"
    assert "object_id" in by_id["bad-id"]["problem"]
    assert by_id["not-json"]["status"] == "invalid"
    assert by_id["not-json"]["body"] == "not json"
    assert (by_id["unused"]["status"], by_id["unused"]["resource"]) == ("ignored", None)


def test_concurrent_deliveries_are_all_stored(gateway: GatewayHandle, settings: Settings) -> None:
    with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: deliver(gateway, payload(object_id=i), delivery=f"c-{i}", client=client), range(60)
            )
        )
    assert {a.status_code for a in answers} == {200}
    assert sorted(r["object_id"] for r in rows(settings)) == list(range(60))


def test_gateway_index_lists_its_routes(gateway: GatewayHandle) -> None:
    response = httpx.get(gateway.url + "/")
    assert response.status_code == 200
    assert "/webhooks" in response.json()["routes"]


def test_gateway_serves_the_order_intake_beside_the_receiver(settings: Settings) -> None:
    with run_gateway(settings) as handle:
        routes = httpx.get(handle.url + "/").json()["routes"]
        assert "/webhooks" in routes
        assert "/channels/{channel}/orders" in routes
        # The intake answers for itself (an unknown channel), proving it is mounted, not shadowed.
        assert httpx.post(handle.url + "/channels/no-such-channel/orders", content=b"{}").status_code == 404


def test_receiver_answers_while_the_warehouse_is_locked_by_a_writer(
    gateway: GatewayHandle, settings: Settings
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    writer = duckdb.connect(str(settings.warehouse_path))  # as a Dagster step holds it
    try:
        writer.execute("CREATE TABLE busy AS SELECT 1 AS x")
        assert deliver(gateway, payload(object_id=3)).status_code == 200
        assert [r["object_id"] for r in rows(settings)] == [3]
    finally:
        writer.close()
