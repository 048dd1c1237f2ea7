"""Per-token fixed-window rate limit, windows aligned to epoch multiples of the window length."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds at which the window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset),
        }


class RateLimiter:
    def __init__(self, quota: int, window: float) -> None:
        self.quota = quota
        self.window = window
        self._counts: dict[str, tuple[float, int]] = {}  # token -> (window start, requests)

    def configure(self, quota: int | None = None, window: float | None = None) -> None:
        if quota is not None:
            self.quota = int(quota)
        if window is not None:
            if float(window) <= 0:
                raise ValueError("window must be positive")
            self.window = float(window)
        self._counts.clear()

    def _window(self, now: float) -> float:
        return math.floor(now / self.window) * self.window

    def hit(self, token: str, now: float | None = None) -> Decision:
        """Count one request for `token`; over the quota it is refused until the window resets."""
        now = time.time() if now is None else now
        start = self._window(now)
        reset = int(math.ceil(start + self.window))
        seen_start, count = self._counts.get(token, (start, 0))
        if seen_start != start:
            count = 0
        if count >= self.quota:
            self._counts[token] = (start, count)
            return Decision(False, self.quota, 0, reset)
        count += 1
        self._counts[token] = (start, count)
        return Decision(True, self.quota, self.quota - count, reset)

    def exhausted(self, token: str, now: float | None = None) -> Decision:
        """Headers for an injected 429: the quota reported as spent."""
        now = time.time() if now is None else now
        return Decision(False, self.quota, 0, int(math.ceil(self._window(now) + self.window)))
