"""Counters of the API requests served (the control plane is not counted)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    requests: int = 0
    responses_429: int = 0
    records_served: int = 0
    bytes_served: int = 0
    idempotent_replays: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)

    def record(self, route: str, status: int, size: int) -> None:
        self.requests += 1
        self.by_route[route] += 1
        self.by_status[str(status)] += 1
        self.bytes_served += size
        if status == 429:
            self.responses_429 += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "by_route": dict(self.by_route),
            "by_status": dict(self.by_status),
            "responses_429": self.responses_429,
            "records_served": self.records_served,
            "bytes_served": self.bytes_served,
            "idempotent_replays": self.idempotent_replays,
            "faults_injected": dict(self.faults_injected),
        }
