"""How close a paced sync comes to the rate limit's physical bound.

A sandbox runs in its own process with the real limit's shape 100x faster (300 requests per 3 s
window). The client pages through every variant at 25 per page, so the sync needs several windows.
The bound: with R requests and quota Q, starting at a window's start, the last window opens after
ceil(R/Q) - 1 full windows, and its requests take at least what they take with no limit at all
(measured in the same run). Printed: the wall time against that bound as a ratio, and the 429 count.

Run: `.venv/bin/python -m bench api_pacing` (about 15 s; `make bench` runs every benchmark).
"""

from __future__ import annotations

import math
import time

import httpx

from bench._sandbox import TOKEN, sandbox_process
from gecko_pipeline.api import GeckoClient

SCALE = 20_000  # variants seeded; about 19k are active, so ~780 pages of 25
PAGE_SIZE = 25
QUOTA, WINDOW = 300, 3.0


def _set_rate_limit(url: str, quota: int, window: float) -> None:
    httpx.put(f"{url}/_sandbox/rate_limit", json={"quota": quota, "window": window}).raise_for_status()


def _sync(url: str) -> tuple[float, int, dict[str, float]]:
    with GeckoClient(url, token=TOKEN, max_concurrency=4, page_size=PAGE_SIZE) as client:
        started = time.perf_counter()
        records = sum(page.record_count for page in client.iter_pages("/variants"))
        return time.perf_counter() - started, records, client.stats.snapshot()


def _start_of_next_window(url: str) -> None:
    reset = float(
        httpx.get(f"{url}/accounts/current", headers={"Authorization": f"Bearer {TOKEN}"}).headers[
            "x-rate-limit-reset"
        ]
    )
    time.sleep(max(reset - time.time(), 0) + 0.01)


def main() -> None:
    # A sandbox in its own process, on one core when taskset exists.
    with sandbox_process(
        "--scale", str(SCALE), "--rate-limit-quota", str(QUOTA), "--rate-limit-window", str(WINDOW)
    ) as url:
        # Baseline in the same run: the same sync with the limit out of the way.
        _set_rate_limit(url, 10**9, WINDOW)
        # The first run warms the sandbox's caches; the fastest run is the tightest bound.
        free_seconds, records, free_stats = min((_sync(url) for _ in range(3)), key=lambda run: run[0])
        requests = int(free_stats["requests"])

        _set_rate_limit(url, QUOTA, WINDOW)
        httpx.post(f"{url}/_sandbox/stats/reset").raise_for_status()
        _start_of_next_window(url)
        paced_seconds, paced_records, stats = _sync(url)
        server_429 = httpx.get(f"{url}/_sandbox/stats").json().get("responses_429", 0)

    windows = math.ceil(requests / QUOTA)
    tail = requests - (windows - 1) * QUOTA
    bound = (windows - 1) * WINDOW + free_seconds * tail / requests
    print(
        f"variants synced: {paced_records} in {int(stats['requests'])} requests of {PAGE_SIZE} "
        f"(quota {QUOTA} per {WINDOW:g} s window; unpaced: {records} records)"
    )
    print(f"unlimited baseline: {free_seconds:.2f} s ({requests / free_seconds:.0f} requests/s)")
    print(f"window-bound minimum: {windows - 1} full windows + {tail} requests = {bound:.2f} s")
    print(
        f"paced sync: past the {windows - 1} full windows it took {paced_seconds - (windows - 1) * WINDOW:.2f} s "
        f"for the last {tail} requests (the baseline's pace: {free_seconds * tail / requests:.2f} s)"
    )
    print(
        f"paced sync: {paced_seconds:.2f} s = {paced_seconds / bound:.3f}x the bound "
        f"(target <= 1.05x); 429s: client {int(stats['responses_429'])}, server {server_429}; "
        f"throttle waits {int(stats['throttle_waits'])}"
    )


if __name__ == "__main__":
    main()
