"""Pacing to the API's fixed rate-limit window, shared by every thread of one client.

The API allows a quota of requests per fixed window and says on every answer how many are left
(`X-Rate-Limit-Remaining`) and when the window resets (`X-Rate-Limit-Reset`, epoch seconds). The pacer
spends each window fully at full speed and holds requests back only once the budget is spent, until the
reset. Requests in flight count against the budget, so concurrency never overdraws it; at the start of
a window, before any answer has said what is left (another process may share the quota), one probe
request goes first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitInfo:
    limit: int | None
    remaining: int
    reset: float  # epoch seconds

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
        if remaining is None or reset is None:
            return None
        try:
            limit = headers.get("x-rate-limit-limit")
            return cls(int(limit) if limit else None, max(int(remaining), 0), float(reset))
        except ValueError:
            return None


class Pacer:
    """Admission control for requests: `acquire()` before sending, `release()` with the answer."""

    def __init__(self, margin: float = 0.05) -> None:
        self.margin = margin  # seconds past the reset before the next window is trusted to be open
        self._cond = threading.Condition()
        self._limited = False  # False until an answer carries rate-limit headers
        self._answered = False  # any HTTP answer yet
        self._remaining: int | None = None  # None: unknown in this window
        self._reset: float | None = None
        self._closed_before = float("-inf")  # answers from windows that ended are stale
        self._in_flight = 0

    @property
    def remaining(self) -> int | None:
        with self._cond:
            return self._remaining

    def seconds_until_reset(self) -> float | None:
        with self._cond:
            return None if self._reset is None else self._reset + self.margin - time.time()

    def _roll_window(self, now: float) -> None:
        if self._reset is not None and now >= self._reset + self.margin:
            self._closed_before = self._reset
            self._reset = None
            self._remaining = None

    def acquire(self) -> tuple[float, bool]:
        """Wait for budget, take one unit. Returns (seconds waited, whether it waited for a reset)."""
        start = time.monotonic()
        waited_for_reset = False
        with self._cond:
            while True:
                now = time.time()
                self._roll_window(now)
                if not self._limited:
                    if self._answered or self._in_flight == 0:
                        break  # the first request, or a server without rate-limit headers
                    timeout = 1.0  # the very first request probes alone: the quota may be part-spent
                elif self._remaining is None:
                    if self._in_flight == 0:
                        break  # the probe of a new window
                    timeout = 1.0  # its answer will notify; the timeout only guards a lost wake-up
                elif self._remaining - self._in_flight > 0:
                    break
                else:
                    assert self._reset is not None
                    timeout = max(self._reset + self.margin - now, 0.0)
                    waited_for_reset = True  # the budget is spent (or promised to requests in flight)
                self._cond.wait(timeout)
            self._in_flight += 1
        return time.monotonic() - start, waited_for_reset

    def release(self, headers: Mapping[str, str] | None, *, reached_server: bool = True) -> None:
        """Return the unit taken by `acquire()`, learning the budget from the answer's headers."""
        info = RateLimitInfo.from_headers(headers) if headers is not None else None
        with self._cond:
            self._in_flight -= 1
            self._answered = self._answered or headers is not None
            if info is not None:
                self._limited = True
                self._learn(info)
            elif reached_server and self._remaining is not None:
                # No answer, but the server may have counted the request.
                self._remaining = max(self._remaining - 1, 0)
            self._cond.notify_all()

    def _learn(self, info: RateLimitInfo) -> None:
        if info.reset <= self._closed_before:
            return  # an answer from a window that already ended
        if self._reset is None or info.reset > self._reset:
            self._reset, self._remaining = info.reset, info.remaining
        elif info.reset == self._reset:
            # Answers arrive out of order; the lowest count is the latest the server knows.
            self._remaining = (
                info.remaining if self._remaining is None else min(self._remaining, info.remaining)
            )
