"""The cost leaky bucket, per app and shop: it refills at `restore_rate` points/s up to `size`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Bucket:
    def __init__(self, size: float, restore_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.size = float(size)
        self.restore_rate = float(restore_rate)
        self.available = float(size)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.available = min(self.size, self.available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, cost: int) -> bool:
        """Pay `cost` up front if the bucket holds it; nothing is taken otherwise."""
        with self._lock:
            self._refill()
            if cost > self.available:
                return False
            self.available -= cost
            return True

    def refund(self, points: float) -> None:
        with self._lock:
            self._refill()
            self.available = min(self.size, self.available + max(0.0, points))

    def configure(
        self, size: float | None = None, restore_rate: float | None = None, available: float | None = None
    ) -> None:
        with self._lock:
            self._refill()
            if size is not None:
                self.size = float(size)
            if restore_rate is not None:
                self.restore_rate = float(restore_rate)
            self.available = min(self.size, self.available if available is None else float(available))

    def status(self) -> dict[str, float | int]:
        """throttleStatus as Shopify sends it: currentlyAvailable an integer, the others floats."""
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.size),
                "currentlyAvailable": int(self.available),
                "restoreRate": float(self.restore_rate),
            }
