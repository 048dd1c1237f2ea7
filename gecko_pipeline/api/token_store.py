"""Durable storage of rotated OAuth tokens.

Every refresh returns a new refresh token and invalidates the old one, so the environment's
GECKO_REFRESH_TOKEN is dead after the first rotation: the new one must survive the process. It is kept
in a JSON file (mode 0600, replaced atomically so a crash never leaves half a file), keyed by API URL
and client id so a file made for another app or account is never used. A file lock lets processes that
share the file (a run and a sensor) refresh one at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # POSIX only; elsewhere refreshes across processes are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


# Another process holds the lock only for one refresh request (its timeouts bound it well below this).
LOCK_TIMEOUT_SECONDS = 120.0
_LOCK_POLL_SECONDS = 0.05


class TokenStoreLockTimeout(TimeoutError):
    """The token store's lock stayed taken by another process for longer than a refresh can last."""


class TokenStore:
    def __init__(self, path: str | Path, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def load(self, api_url: str, client_id: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("api_url") != api_url or data.get("client_id") != client_id:
            return None
        return data if data.get("refresh_token") else None

    def save(self, api_url: str, client_id: str, tokens: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {**tokens, "api_url": api_url, "client_id": client_id}
        fd, tmp = tempfile.mkstemp(prefix=".oauth-", dir=self.path.parent)  # created with mode 0600
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock shared by every process using this file."""
        if fcntl is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            self._lock(fd)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _lock(self, fd: int) -> None:
        # Polled rather than blocking, so a holder that never lets go (a stopped process) costs a named
        # error after lock_timeout instead of a hang.
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TokenStoreLockTimeout(
                        f"another process held {self.path.name}.lock for more than {self.lock_timeout:g}s "
                        "(an OAuth refresh takes seconds): is a pipeline process stopped or stuck?"
                    ) from None
                time.sleep(_LOCK_POLL_SECONDS)


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
