"""`Idempotency-Key` on POST and PUT: a replay within 24 h (per token) gets the first answer again
and changes nothing. The key alone decides: a different body with a used key also gets the first answer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gecko_sandbox.core import Reply

TTL_SECONDS = 24 * 3600


@dataclass
class _Entry:
    reply: Reply
    expires: float


class IdempotencyCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}

    def get(self, token: str, key: str) -> Reply | None:
        entry = self._entries.get((token, key))
        if entry is None:
            return None
        if entry.expires <= time.time():
            del self._entries[(token, key)]
            return None
        return entry.reply

    def put(self, token: str, key: str, reply: Reply) -> None:
        now = time.time()
        if len(self._entries) > 100_000:  # bound memory: drop expired keys first
            self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
        self._entries[(token, key)] = _Entry(reply, now + TTL_SECONDS)
