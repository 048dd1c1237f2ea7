"""The rate-limit budget is the credential's, not a client's: no 429 of our own making at any quota.

A sync builds a client per step, and the next process (the next run, a sensor's run, the CLI) builds
its own: each must know what the previous one spent. Checked with the sandbox's own count of 429s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from harness import code_location

from gecko_pipeline.api import GeckoClient
from gecko_pipeline.api.pacing import Pacer, RateLimitInfo
from gecko_pipeline.api.shared_pacing import STATE_FILE_NAME, RateLimitStateFile, pacer_key


def _stats(sandbox: Any) -> dict[str, Any]:
    return httpx.get(f"{sandbox.url}/_sandbox/stats").json()


def _point_at(sandbox: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GECKO_API_URL", sandbox.url)
    monkeypatch.setenv("GECKO_ACCESS_TOKEN", sandbox.token)
    monkeypatch.setenv("GECKO_DATA_DIR", str(data_dir))


def test_a_whole_sync_run_draws_no_429_from_a_tiny_quota(
    sandbox_factory, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The extract and the order mirror build their own clients; 3 requests per 2 s means a client
    # often starts in a window that the one before it spent.
    sandbox = sandbox_factory(scale=40, rate_limit_quota=3, rate_limit_window=2)
    _point_at(sandbox, data_dir, monkeypatch)
    result = (
        code_location()
        .resolve_job_def("incremental_sync_job")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral())
    )
    assert result.success
    stats = _stats(sandbox)
    assert stats["requests"] > 3 * 3  # the run spanned several windows
    assert stats["responses_429"] == 0, stats["by_status"]


# One process of the pipeline, as the CLI and every run build their client: from the environment.
_PROCESS = """
import json, sys
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.config import load_settings
with GeckoClient.from_settings(load_settings()) as client:
    resets = [client.request("GET", "/accounts/current").headers["x-rate-limit-reset"] for _ in range(int(sys.argv[1]))]
    print(json.dumps({"resets": resets, "stats": client.stats.snapshot()}))
"""


def _process(requests: int, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, str(requests)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_next_process_waits_out_the_window_the_last_one_spent(
    sandbox_factory, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quota, window = 4, 8
    sandbox = sandbox_factory(scale=10, rate_limit_quota=quota, rate_limit_window=window)
    _point_at(sandbox, data_dir, monkeypatch)
    env = dict(os.environ)
    now = time.time()
    if window - now % window < window / 2:  # start early in a window, so the first process spends it alone
        time.sleep(window - now % window + 0.05)
    first = _process(quota, env)
    second = _process(2, env)
    assert len(set(first["resets"])) == 1  # the first process spent one whole window
    assert _stats(sandbox)["responses_429"] == 0
    # The second process waited for the reset instead of asking into the spent window.
    assert float(second["resets"][0]) > float(first["resets"][0])
    assert second["stats"]["throttle_waits"] == 1 and second["stats"]["responses_429"] == 0

    state = (data_dir / STATE_FILE_NAME).read_text()
    assert sandbox.token not in state
    entries = json.loads(state)["windows"]
    assert list(entries) == [pacer_key(sandbox.url, f"token:{sandbox.token}")]
    assert set(next(iter(entries.values()))) == {"limit", "remaining", "reset"}


def test_clients_of_one_credential_share_one_budget(sandbox_factory) -> None:
    sandbox = sandbox_factory(scale=10, rate_limit_quota=3, rate_limit_window=2)
    for _ in range(4):  # a client per step, as a Dagster run builds them
        with GeckoClient(sandbox.url, token=sandbox.token) as client:
            for _ in range(2):
                client.get("/accounts/current")
    assert _stats(sandbox)["responses_429"] == 0


def test_a_seed_is_confirmed_by_one_probe_and_a_stale_one_is_ignored(tmp_path: Path) -> None:
    state = RateLimitStateFile(tmp_path / STATE_FILE_NAME)
    reset = time.time() + 60
    state.save("k", RateLimitInfo(300, 0, reset))
    state.save("gone", RateLimitInfo(300, 10, time.time() - 1))  # an ended window is not kept
    assert state.load("k") == RateLimitInfo(300, 0, reset)
    assert state.load("gone") is None

    spent = Pacer()
    spent.seed(RateLimitInfo(300, 0, time.time() + 60))
    assert spent.seconds_until_reset() is not None and spent.remaining == 0

    far = Pacer()
    far.seed(RateLimitInfo(300, 0, time.time() + 10 * 86400))  # not the API's window: ignored
    assert far.remaining is None

    seeded = Pacer()
    seeded.seed(RateLimitInfo(300, 200, time.time() + 60))
    seeded.acquire()  # the probe goes alone until an answer confirms the seed
    with pytest.raises(TimeoutError):
        seeded.acquire(max_wait=0.1)
