"""`gecko-pipeline sandbox` as a user runs it: a free port, one log line per request, SIGTERM stops it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx


def test_cli_serves_logs_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "gecko_pipeline.tools.cli",
        "sandbox",
        "--port",
        "0",
        "--scale",
        "20",
        "--token",
        "cli-token",
        "--rate-limit-quota",
        "7",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"serving at (http://\S+)", line)
        assert url, line
        response = httpx.get(
            f"{url.group(1)}/variants?limit=2", headers={"Authorization": "Bearer cli-token"}
        )
        assert response.status_code == 200 and response.headers["X-Rate-Limit-Limit"] == "7"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM)
    access = [entry for entry in stderr.splitlines() if "gecko_sandbox.access" in entry]
    assert len(access) == 1 and "GET /variants?limit=2 200" in access[0]
    assert "cli-token" not in stderr
