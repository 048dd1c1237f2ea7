"""Retries and error types under the sandbox's injected faults (5xx, dropped connections, 402, 422).

The sandbox draws its faults from a seeded generator, so each scenario here replays the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from gecko_pipeline.api import (
    GeckoClient,
    PaymentRequiredError,
    ServerError,
    TransportError,
    ValidationError,
)

FAST_BACKOFF = {"backoff_base": 0.005, "backoff_cap": 0.05}


def _set_faults(sandbox, **faults: float) -> None:
    httpx.put(f"{sandbox.url}/_sandbox/faults", json=faults).raise_for_status()


def _sandbox_stats(sandbox) -> dict[str, Any]:
    return httpx.get(f"{sandbox.url}/_sandbox/stats").json()


def _variant_ids(client: GeckoClient) -> list[int]:
    return [r["id"] for page in client.iter_pages("/variants", limit=3) for r in page.records]


def test_5xx_and_dropped_connections_are_retried_to_the_same_records(sandbox) -> None:
    with GeckoClient(sandbox.url, token=sandbox.token, max_retries=12, **FAST_BACKOFF) as client:
        clean = _variant_ids(client)
        _set_faults(sandbox, error_rate=0.3, drop_rate=0.2)
        client.stats.reset()
        faulty = _variant_ids(client)
        stats = client.stats.snapshot()
    injected = _sandbox_stats(sandbox)["faults_injected"]
    assert faulty == clean
    assert injected.get("drop", 0) >= 1 and injected.get("500", 0) + injected.get("503", 0) >= 1
    assert stats["retries"] == sum(injected.values())


def test_a_get_that_keeps_failing_raises_a_server_error_after_max_retries(sandbox) -> None:
    _set_faults(sandbox, error_rate=1.0)
    with GeckoClient(sandbox.url, token=sandbox.token, max_retries=2, **FAST_BACKOFF) as client:
        with pytest.raises(ServerError) as caught:
            client.get("/accounts/current")
        assert client.stats.snapshot()["requests"] == 3
    assert caught.value.status in (500, 503)
    assert str(caught.value).startswith(f"{caught.value.status} GET /accounts/current")
    assert len(caught.value.message) <= 210  # an HTML error page is trimmed, not dumped


def test_a_lapsed_subscription_raises_payment_required(sandbox) -> None:
    httpx.put(f"{sandbox.url}/_sandbox/payment_required", json={"enabled": True}).raise_for_status()
    with (
        GeckoClient(sandbox.url, token=sandbox.token) as client,
        pytest.raises(PaymentRequiredError) as caught,
    ):
        client.get("/variants")
    assert caught.value.status == 402
    assert "subscription has lapsed" in str(caught.value)


# -- writes ---------------------------------------------------------------------------------------


def _order_body(client: GeckoClient, reference: str) -> dict[str, Any]:
    company = client.get("/companies", {"limit": 1})["companies"][0]
    address = client.get("/addresses", {"company_id": company["id"], "limit": 1})["addresses"][0]
    variant = client.get("/variants", {"limit": 1})["variants"][0]
    return {
        "order": {
            "company_id": company["id"],
            "shipping_address_id": address["id"],
            "issued_at": "2026-11-27",
            "reference_number": reference,
            # Decimals go out as strings, never through float.
            "order_line_items": [
                {"variant_id": variant["id"], "quantity": Decimal("2"), "price": Decimal("9.95")}
            ],
        }
    }


def _orders_with_reference(client: GeckoClient, reference: str) -> list[dict[str, Any]]:
    return client.get("/orders", {"reference_number": reference})["orders"]


def test_a_post_with_an_idempotency_key_is_retried_and_creates_one_order(sandbox) -> None:
    with GeckoClient(sandbox.url, token=sandbox.token, max_retries=12, **FAST_BACKOFF) as client:
        bodies = {f"CH-{n}": _order_body(client, f"CH-{n}") for n in range(8)}
        # Half the answers are lost after the order was created: only the key makes a retry safe.
        _set_faults(sandbox, error_after_write_rate=0.5, drop_rate=0.2)
        created = {
            ref: client.post("/orders", body, idempotency_key=f"key-{ref}")["order"]
            for ref, body in bodies.items()
        }
        retries = client.stats.snapshot()["retries"]
        _set_faults(sandbox, error_after_write_rate=0.0, drop_rate=0.0)
        assert _sandbox_stats(sandbox)["faults_injected"].get("500_after_write", 0) >= 1
        for ref, order in created.items():
            assert [o["id"] for o in _orders_with_reference(client, ref)] == [order["id"]]
            line = client.get(f"/order_line_items/{order['order_line_item_ids'][0]}")["order_line_item"]
            assert Decimal(line["price"]) == Decimal("9.95") and Decimal(line["quantity"]) == 2
    assert retries >= 1


def test_a_post_without_a_key_is_never_retried_once_it_may_have_been_applied(sandbox) -> None:
    with GeckoClient(sandbox.url, token=sandbox.token, max_retries=12, **FAST_BACKOFF) as client:
        body = _order_body(client, "CH-unsafe")
        _set_faults(sandbox, error_after_write_rate=1.0)
        httpx.post(f"{sandbox.url}/_sandbox/stats/reset")
        with pytest.raises(ServerError):
            client.post("/orders", body)
        assert client.stats.snapshot()["retries"] == 0
        _set_faults(sandbox, error_after_write_rate=0.0, drop_rate=1.0)
        with pytest.raises(TransportError) as caught:
            client.post("/orders", body)
        assert caught.value.may_have_reached_server and "not retried" in str(caught.value)
        _set_faults(sandbox, drop_rate=0.0)
        assert _sandbox_stats(sandbox)["by_route"]["POST /orders"] == 2
        # The lost 500 answer hid a created order: exactly why the order push sends an Idempotency-Key.
        assert len(_orders_with_reference(client, "CH-unsafe")) >= 1


def test_validation_errors_name_the_field(sandbox) -> None:
    with GeckoClient(sandbox.url, token=sandbox.token) as client, pytest.raises(ValidationError) as caught:
        client.post("/orders", {"order": {"issued_at": "2026-11-27"}})
    error = caught.value
    assert error.status == 422 and "company_id" in error.errors
    assert str(error).startswith("422 POST /orders: company_id ")
