"""No request can leak rate-limit budget, and no wait in the client is unbounded.

Against the real sandbox with a small window (quota 3 per second): a request that fails between taking
its unit of budget and getting an answer must hand the unit back, or once the window rolls every later
request waits for an answer that never comes. Bounded-time checks only assert that things finish.
"""

from __future__ import annotations

import signal
from typing import Any

import httpx
import pytest

from gecko_pipeline.api import GeckoClient, HeaderEncodingError, RateLimitWaitTimeout
from gecko_pipeline.api.pacing import Pacer, PacingTimeout
from gecko_pipeline_tests.bounded import finishes

QUOTA, WINDOW = 3, 1


def _stats(sandbox: Any) -> dict[str, Any]:
    return httpx.get(f"{sandbox.url}/_sandbox/stats").json()


def _requests_across_windows(client: GeckoClient) -> list[int]:
    # More than two windows' worth: the pacer must roll the window and probe the next one twice.
    return [client.request("GET", "/accounts/current").status_code for _ in range(2 * QUOTA + 1)]


def test_a_non_ascii_idempotency_key_fails_fast_naming_the_header_and_leaks_nothing(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=10, rate_limit_quota=QUOTA, rate_limit_window=WINDOW)
    with GeckoClient(sandbox.url, token=sandbox.token) as client:
        client.get("/accounts/current")  # the pacer now knows the window
        with pytest.raises(HeaderEncodingError) as raised:
            finishes(
                lambda: client.post("/orders", {"order": {}}, idempotency_key="webstore-Bestellung-Müller-1"),
                within=30,
                what="a POST with a non-ASCII Idempotency-Key",
            )
        error = raised.value
        assert error.header == "Idempotency-Key" and error.status is None
        assert "Idempotency-Key" in str(error) and "not sent" in str(error)
        assert client.stats.snapshot()["requests"] == 1  # not sent, not retried
        statuses = finishes(lambda: _requests_across_windows(client), within=60, what="the requests after it")
    assert statuses == [200] * (2 * QUOTA + 1)
    stats = _stats(sandbox)
    assert "POST /orders" not in stats["by_route"] and stats["responses_429"] == 0


def test_a_control_character_in_a_header_is_refused_before_sending_not_retried(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=10, rate_limit_quota=QUOTA, rate_limit_window=WINDOW)
    with GeckoClient(sandbox.url, token=sandbox.token, backoff_base=0.005, backoff_cap=0.05) as client:
        with pytest.raises(HeaderEncodingError, match="Idempotency-Key"):
            client.post("/orders", {"order": {}}, idempotency_key="order-1\r\nX-Injected: yes")
        stats = client.stats.snapshot()
    assert stats["requests"] == 0 and stats["retries"] == 0
    assert _stats(sandbox)["requests"] == 0


def test_a_secret_header_is_named_but_never_shown(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=10)
    with GeckoClient(sandbox.url, token="tökén-that-cannot-be-sent") as client:
        with pytest.raises(HeaderEncodingError) as raised:
            client.get("/accounts/current")
    assert raised.value.header == "Authorization"
    assert "tökén" not in str(raised.value) and "ö" not in str(raised.value)


class Interrupted(Exception):
    """Stands for whatever may interrupt a request mid-flight (Dagster's run termination, a signal)."""


def test_any_exception_during_a_request_hands_its_budget_back(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=10, rate_limit_quota=QUOTA, rate_limit_window=WINDOW)

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted()

    with GeckoClient(sandbox.url, token=sandbox.token) as client:
        client.get("/accounts/current")
        httpx.put(f"{sandbox.url}/_sandbox/faults", json={"latency_ms": 3000}).raise_for_status()
        previous = signal.signal(signal.SIGALRM, interrupt)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.5)  # fires while the answer is still on its way
            with pytest.raises(Interrupted):
                client.get("/accounts/current")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        httpx.put(f"{sandbox.url}/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
        statuses = finishes(
            lambda: _requests_across_windows(client), within=60, what="the requests after the interruption"
        )
    assert statuses == [200] * (2 * QUOTA + 1)


def test_a_window_that_does_not_reset_in_time_raises_a_named_error(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=10, rate_limit_quota=2, rate_limit_window=120)
    with GeckoClient(sandbox.url, token=sandbox.token, max_rate_limit_wait_seconds=0.5) as client:
        client.get("/accounts/current")
        client.get("/accounts/current")  # the window is spent for up to two minutes
        with pytest.raises(RateLimitWaitTimeout) as raised:
            finishes(lambda: client.get("/variants"), within=30, what="a request into a spent window")
    message = str(raised.value)
    assert "GET /variants" in message and "max_rate_limit_wait_seconds=0.5" in message
    assert "reset" in message and "remaining 0" in message
    assert _stats(sandbox)["responses_429"] == 0  # it gave up without sending


def test_the_pacer_waits_for_a_lost_probe_answer_only_until_its_deadline() -> None:
    pacer = Pacer()
    pacer.acquire()  # the first request probes alone, and its answer never comes back
    with pytest.raises(PacingTimeout, match="probe") as raised:
        pacer.acquire(max_wait=0.2)
    assert raised.value.waited >= 0.2
