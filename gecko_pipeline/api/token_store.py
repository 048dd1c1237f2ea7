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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # POSIX only; elsewhere refreshes across processes are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class TokenStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

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
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
