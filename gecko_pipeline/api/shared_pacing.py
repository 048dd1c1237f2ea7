"""Rate-limit pacing belongs to the API account, not to one client: one Pacer per (API, credential).

The API counts requests per credential (token, or OAuth app and account). A client built per Dagster step
with a pacer of its own would open with a request into the window the previous step just spent and
draw a 429 of our own making. So every client of one process shares the pacer of its (base URL,
credential), and the next process (the next run, a sensor's run, the CLI) starts from a small state
file under the data folder: the window's remaining requests, reset time and limit, keyed by a hash of
URL and credential. It never holds a token.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gecko_pipeline.api.pacing import Pacer, RateLimitInfo

log = logging.getLogger("gecko_pipeline.api")

STATE_FILE_NAME = "rate_limit_state.json"
_STATE_VERSION = 1

_pacers: dict[str, Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_key(base_url: str, credential_identity: str) -> str:
    """A stable key for (API, credential) that does not reveal the credential."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\0{credential_identity}".encode())
    return digest.hexdigest()[:32]


def shared_pacer(key: str, *, margin: float = 0.05) -> Pacer:
    """The process's one pacer for `key` (created on first use, with the first caller's margin)."""
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None:
            pacer = _pacers[key] = Pacer(margin=margin)
    pacer.attach()
    return pacer


class RateLimitStateFile:
    """`{"version": 1, "windows": {key: {"limit", "remaining", "reset"}}}`, replaced atomically.

    Best effort: a file that cannot be read or written costs at most one probe request, never a run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        windows = data.get("windows") if isinstance(data, dict) else None
        return windows if isinstance(windows, dict) else {}

    def load(self, key: str) -> RateLimitInfo | None:
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            limit = entry.get("limit")
            info = RateLimitInfo(
                int(limit) if limit is not None else None, int(entry["remaining"]), float(entry["reset"])
            )
        except (KeyError, TypeError, ValueError):
            return None
        return info if info.reset > time.time() else None

    def save(self, key: str, info: RateLimitInfo) -> None:
        now = time.time()
        # Windows that ended tell nothing: drop them, so the file stays one entry per live credential.
        windows = {
            k: v
            for k, v in self._read().items()
            if isinstance(v, dict) and isinstance(v.get("reset"), int | float) and v["reset"] > now
        }
        previous = windows.get(key)
        if isinstance(previous, dict) and previous.get("reset") == info.reset:
            # Another process wrote the same window meanwhile: the lower count is the later one.
            with contextlib.suppress(TypeError, ValueError):
                info = RateLimitInfo(info.limit, min(info.remaining, int(previous["remaining"])), info.reset)
        if info.reset > now:
            windows[key] = {"limit": info.limit, "remaining": info.remaining, "reset": info.reset}
        else:
            windows.pop(key, None)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".rate-limit-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump({"version": _STATE_VERSION, "windows": windows}, fh)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("could not save the rate-limit state to %s: %s", self.path, exc)
