"""Sandbox list-page throughput: pages of 250 variants per second from a 100,000-variant account.

The sandbox runs in its own process (pinned to one core with `taskset -c 0` when available), rate limit
off; a plain httpx client fetches pages for ~5 s. Printed against a baseline measured in the same run:
the same pages served without the caches (every record re-serialized, the list re-filtered per page),
which is what a naive sandbox would do.

    .venv/bin/python -m bench sandbox        # BENCH_SANDBOX_SCALE=20000 for a quicker run
"""

from __future__ import annotations

import os
import time

import httpx

from bench._sandbox import TOKEN, sandbox_process

SCALE = int(os.environ.get("BENCH_SANDBOX_SCALE", "100000"))
SECONDS = float(os.environ.get("BENCH_SANDBOX_SECONDS", "5"))


def fetch_pages(client: httpx.Client, params: dict[str, str], seconds: float) -> tuple[int, int, float]:
    """Walk the pages (wrapping around) for `seconds`; returns (pages, bytes, elapsed)."""
    pages = size = 0
    page, started = 1, time.perf_counter()
    while time.perf_counter() - started < seconds:
        response = client.get("/variants", params={**params, "limit": "250", "page": str(page)})
        response.raise_for_status()
        pages += 1
        size += len(response.content)
        page = page + 1 if page * 250 < SCALE * 0.9 else 1
    return pages, size, time.perf_counter() - started


def clear_caches(url: str) -> None:
    httpx.post(f"{url}/_sandbox/cache/clear", params={"disable": "true"}).raise_for_status()


def wait_warm(url: str) -> float:
    started = time.perf_counter()
    while not httpx.get(f"{url}/_sandbox/health").json()["cache_warm"]:
        time.sleep(0.2)
    return time.perf_counter() - started


def main() -> None:
    started = time.perf_counter()
    with sandbox_process("--scale", str(SCALE), "--rate-limit-quota", "100000000", timeout=300) as url:
        boot = time.perf_counter() - started
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
            total = int(client.get("/variants", params={"limit": "0"}).json()["meta"]["total"])
            cold = fetch_pages(client, {}, SECONDS)  # while the sandbox still pre-serializes in idle moments
            warm_wait = wait_warm(url)
            pages, size, elapsed = fetch_pages(client, {}, SECONDS)
            incremental = fetch_pages(
                client, {"updated_at_min": "2000-01-01", "order": "updated_at asc"}, SECONDS / 2
            )
            clear_caches(url)
            base_pages, base_size, base_elapsed = fetch_pages(client, {}, SECONDS / 2)
    rate, mb = pages / elapsed, size / elapsed / 1e6
    base_rate = base_pages / base_elapsed
    print(f"sandbox: {SCALE} variants ({total} active), seeded and serving in {boot:.1f} s (one core)")
    print(
        f"first {SECONDS:.0f} s after start (pre-serializing meanwhile): {cold[0] / cold[2]:.0f} pages/s; "
        f"every record serialized {warm_wait:.1f} s after that"
    )
    print(f"pages of 250 variants, warm: {rate:.0f} pages/s, {mb:.1f} MB/s, {rate * 250:.0f} records/s")
    print(
        f"incremental filter (updated_at_min, order=updated_at asc): {incremental[0] / incremental[2]:.0f} pages/s"
    )
    print(
        f"baseline without caches (serialize and filter per page): {base_rate:.1f} pages/s "
        f"-> caches give {rate / base_rate:.0f}x"
    )
    print(f"warm pages/s against the 100 pages/s goal: {rate / 100:.2f}x")


if __name__ == "__main__":
    main()
