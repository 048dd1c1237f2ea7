"""Pacing to the API's fixed rate-limit window, shared by every client of one API and credential.

The API allows a quota of requests per fixed window and says on every answer how many are left
(`X-Rate-Limit-Remaining`) and when the window resets (`X-Rate-Limit-Reset`, epoch seconds). The pacer
spends each window fully at full speed and holds requests back only once the budget is spent, until the
reset. Requests in flight count against the budget, so concurrency never overdraws it. Until an answer
has confirmed what is left (at the start of a window, or when a client attaches to a pacer that another
client or process left behind), one probe request goes alone: another process may share the quota.

Every wait is bounded: `acquire(max_wait=...)` raises `PacingTimeout` saying what it waited for, and
a `Slot` hands the unit back however the block ends, so no failure can leak budget that later
requests would wait for forever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

# A seeded window further ahead than this is not the API's (its window is 5 minutes): ignore it.
SEED_HORIZON_SECONDS = 3600.0


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


class PacingTimeout(TimeoutError):
    """`acquire()` waited longer than allowed; `waiting_for` says for what."""

    def __init__(self, waited: float, waiting_for: str) -> None:
        self.waited = waited
        self.waiting_for = waiting_for
        super().__init__(f"waited {waited:.1f}s for {waiting_for}")


class Slot:
    """One unit of budget taken by `Pacer.take()`. `release()` returns it (once) with the answer; used as
    a context manager it is returned however the block ends, so no failure can leak it. Released by an
    exception, it counts as possibly seen by the server (the cautious side: the budget is only
    ever underspent)."""

    def __init__(self, pacer: Pacer, waited: float, waited_for_reset: bool) -> None:
        self._pacer = pacer
        self.waited = waited
        self.waited_for_reset = waited_for_reset
        self.released = False

    def release(self, headers: Mapping[str, str] | None, *, reached_server: bool = True) -> None:
        if not self.released:
            self.released = True
            self._pacer.release(headers, reached_server=reached_server)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release(None, reached_server=True)


class Pacer:
    """Admission control for requests: `acquire()` before sending, `release()` with the answer."""

    def __init__(self, margin: float = 0.05) -> None:
        self.margin = margin  # seconds past the reset before the next window is trusted to be open
        self._cond = threading.Condition()
        self._limited = False  # False until an answer (or a seed) carries rate-limit headers
        # False until an answer arrives after the pacer was created or a client attached: until then
        # what it believes (nothing, a seed, another client's view) is unconfirmed and one probe goes alone.
        self._verified = False
        self._limit: int | None = None
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

    def snapshot(self) -> RateLimitInfo | None:
        """What the pacer knows of the current window (None when nothing is known of it)."""
        with self._cond:
            self._roll_window(time.time())
            if self._remaining is None or self._reset is None:
                return None
            return RateLimitInfo(self._limit, self._remaining, self._reset)

    def seed(self, info: RateLimitInfo) -> None:
        """Start from what another process saw (a state file); the first request still probes alone."""
        now = time.time()
        if not now < info.reset <= now + SEED_HORIZON_SECONDS:
            return  # a window that ended, or one that cannot be the API's
        with self._cond:
            self._roll_window(now)
            self._limited = True
            self._learn(info)

    def attach(self) -> None:
        """A new client starts using this pacer: confirm what it believes with one probe first."""
        with self._cond:
            self._verified = False

    def _roll_window(self, now: float) -> None:
        if self._reset is not None and now >= self._reset + self.margin:
            self._closed_before = self._reset
            self._reset = None
            self._remaining = None

    def _describe_wait(self, now: float) -> str:
        if self._remaining is not None and self._reset is not None:
            return (
                f"the rate-limit window to reset at epoch {self._reset:.0f} ({self._reset - now:+.1f}s; "
                f"remaining {self._remaining}, {self._in_flight} request(s) in flight)"
            )
        return f"the answer of a probe request ({self._in_flight} request(s) in flight)"

    def acquire(self, max_wait: float | None = None) -> tuple[float, bool]:
        """Wait for budget, take one unit. Returns (seconds waited, whether it waited for a reset).

        Raises PacingTimeout once it has waited `max_wait` seconds (None: no limit).
        """
        start = time.monotonic()
        deadline = None if max_wait is None else start + max_wait
        waited_for_reset = False
        with self._cond:
            while True:
                now = time.time()
                self._roll_window(now)
                if self._remaining is not None and self._remaining - self._in_flight <= 0:
                    assert self._reset is not None
                    timeout = max(self._reset + self.margin - now, 0.0)
                    waited_for_reset = True  # the budget is spent (or promised to requests in flight)
                elif not self._verified or (self._limited and self._remaining is None):
                    if self._in_flight == 0:
                        break  # the probe: the first request, or the first of a new window
                    timeout = 1.0  # its answer will notify; the timeout only guards a lost wake-up
                else:
                    break  # budget left, or a server without rate-limit headers
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise PacingTimeout(time.monotonic() - start, self._describe_wait(now))
                    timeout = min(timeout, left)
                self._cond.wait(timeout)
            self._in_flight += 1
        return time.monotonic() - start, waited_for_reset

    def release(self, headers: Mapping[str, str] | None, *, reached_server: bool = True) -> None:
        """Return the unit taken by `acquire()`, learning the budget from the answer's headers."""
        info = RateLimitInfo.from_headers(headers) if headers is not None else None
        with self._cond:
            self._in_flight -= 1
            self._verified = self._verified or headers is not None
            if info is not None:
                self._limited = True
                self._learn(info)
            elif reached_server and self._remaining is not None:
                # No answer, but the server may have counted the request.
                self._remaining = max(self._remaining - 1, 0)
            self._cond.notify_all()

    def take(self, max_wait: float | None = None) -> Slot:
        """`acquire()` as a Slot, to use in a `with` block."""
        waited, for_reset = self.acquire(max_wait)
        return Slot(self, waited, for_reset)

    def _learn(self, info: RateLimitInfo) -> None:
        if info.reset <= self._closed_before:
            return  # an answer from a window that already ended
        self._limit = info.limit or self._limit
        if self._reset is None or info.reset > self._reset:
            self._reset, self._remaining = info.reset, info.remaining
        elif info.reset == self._reset:
            # Answers arrive out of order; the lowest count is the latest the server knows.
            self._remaining = (
                info.remaining if self._remaining is None else min(self._remaining, info.remaining)
            )
        elif info.reset > time.time():
            # An earlier window that is still open: what we believed (a seed, or a server whose limit
            # was reconfigured) was wrong, and the server's word wins.
            self._reset, self._remaining = info.reset, info.remaining
