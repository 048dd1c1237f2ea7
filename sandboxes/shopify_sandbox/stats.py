"""Request counters for the control plane: per operation (e.g. `query orders`, `mutation
inventorySetQuantities`) requests, requested and actual cost, THROTTLED and MAX_COST_EXCEEDED answers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_status: dict[int, int] = defaultdict(int)
        self.operations: dict[str, dict[str, int]] = defaultdict(
            lambda: {
                "requests": 0,
                "requested_cost": 0,
                "actual_cost": 0,
                "throttled": 0,
                "max_cost_exceeded": 0,
                "errors": 0,
            }
        )
        self.faults: dict[str, int] = defaultdict(int)

    def http(self, status: int) -> None:
        self.requests += 1
        self.by_status[status] += 1

    def record(
        self, operation: str, *, requested: int, actual: int, refused: str | None, errors: bool = False
    ) -> None:
        entry = self.operations[operation]
        entry["requests"] += 1
        entry["requested_cost"] += requested
        entry["actual_cost"] += actual
        if refused == "throttled":
            entry["throttled"] += 1
        elif refused == "max_cost":
            entry["max_cost_exceeded"] += 1
        if errors:
            entry["errors"] += 1

    def as_dict(self) -> dict[str, Any]:
        ops = {name: dict(values) for name, values in sorted(self.operations.items())}
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "cost_spent": sum(v["actual_cost"] for v in ops.values()),
            "throttled": sum(v["throttled"] for v in ops.values()),
            "max_cost_exceeded": sum(v["max_cost_exceeded"] for v in ops.values()),
            "operations": ops,
            "faults_injected": dict(self.faults),
        }
