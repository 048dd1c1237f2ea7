"""Thread-safe counters of what a client did: what benchmarks and asset metadata report."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class ClientStats:
    requests: int = 0  # HTTP requests sent (retries included)
    pages: int = 0  # list pages yielded by iter_pages / iter_ids
    records: int = 0  # root records on those pages
    retries: int = 0  # requests repeated after a 5xx, timeout or dropped connection
    responses_429: int = 0
    throttle_waits: int = 0  # times the pacer held a request back until the window reset
    throttle_seconds: float = 0.0
    token_refreshes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def reset(self) -> None:
        with self._lock:
            for f in fields(self):
                if not f.name.startswith("_"):
                    setattr(self, f.name, type(getattr(self, f.name))())
