"""Pacing to the rate-limit window against the real sandbox with a small window (quota 10 per 1-2 s).

No timed assertions: what is checked is how requests fall into windows (each window spent fully, no
429s), read from the `X-Rate-Limit-Reset` of every answer.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from gecko_pipeline.api import GeckoClient

QUOTA = 10


def test_concurrent_requests_spend_each_window_fully_and_draw_no_429(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=20, rate_limit_quota=QUOTA, rate_limit_window=1)
    with GeckoClient(sandbox.url, token=sandbox.token, max_concurrency=4) as client:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: client.request("GET", "/accounts/current"), range(35)))
        stats = client.stats.snapshot()
    assert all(a.status_code == 200 for a in answers)
    assert stats["responses_429"] == 0 and stats["requests"] == 35
    assert stats["throttle_waits"] >= 1
    per_window = Counter(a.headers["x-rate-limit-reset"] for a in answers)
    counts = [per_window[reset] for reset in sorted(per_window, key=float)]
    # The first window may have been partly gone when the test started; every later one but the
    # last is spent to the last request, so 35 requests need ceil(35/10) windows (+1 for a partial first).
    assert all(c == QUOTA for c in counts[1:-1]), counts
    assert len(counts) <= -(-35 // QUOTA) + 1
    assert httpx.get(f"{sandbox.url}/_sandbox/stats").json()["responses_429"] == 0


def test_a_paged_sync_is_paced_across_windows_without_429(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=40, rate_limit_quota=QUOTA, rate_limit_window=1)
    with GeckoClient(sandbox.url, token=sandbox.token, max_concurrency=4) as client:
        ids = [r["id"] for page in client.iter_pages("/variants", limit=2) for r in page.records]
        stats = client.stats.snapshot()
    assert len(ids) == len(set(ids)) and stats["pages"] > QUOTA
    assert stats["responses_429"] == 0 and stats["throttle_waits"] >= 1


def test_a_429_caused_by_another_client_waits_for_the_reset_and_is_not_a_retry(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=20, rate_limit_quota=5, rate_limit_window=2)
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    reset = float(httpx.get(f"{sandbox.url}/accounts/current", headers=headers).headers["x-rate-limit-reset"])
    if reset - time.time() < 1.0:  # start in a fresh window, so the scenario fits in one
        time.sleep(reset - time.time() + 0.05)
    with GeckoClient(sandbox.url, token=sandbox.token, max_retries=0) as ours:
        ours.get("/accounts/current")  # learns how much is left in this window
        # Another process with the same token spends the rest of the window behind our back.
        while httpx.get(f"{sandbox.url}/accounts/current", headers=headers).status_code != 429:
            pass
        account = ours.get("/accounts/current")["account"]  # 429, wait for the reset, then 200
        stats = ours.stats.snapshot()
    assert account["id"]
    assert stats["responses_429"] == 1 and stats["retries"] == 0
    assert stats["requests"] == 3
