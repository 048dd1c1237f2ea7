"""Injected failures for GraphQL requests, decided after authentication and before anything runs (so an
injected error never writes): latency, 500/503 (half with an HTML body), dropped connections, forced
THROTTLED answers."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from shopify_sandbox.config import FaultConfig
from shopify_sandbox.stats import Stats

HTML_ERROR = b"<html><body><h1>There was a problem loading this website</h1></body></html>"


@dataclass
class Decision:
    status: int | None = None  # an injected 5xx
    html: bool = False
    drop: bool = False
    throttle: bool = False


async def decide(faults: FaultConfig, rng: random.Random, stats: Stats) -> Decision:
    if faults.latency_ms > 0:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.error_rate > 0 and rng.random() < faults.error_rate:
        status = 503 if rng.random() < 0.5 else 500
        stats.faults[str(status)] += 1
        return Decision(status=status, html=rng.random() < 0.5)
    if faults.drop_rate > 0 and rng.random() < faults.drop_rate:
        stats.faults["drop"] += 1
        return Decision(drop=True)
    if faults.forced_throttles > 0:
        faults.forced_throttles -= 1
        stats.faults["throttled"] += 1
        return Decision(throttle=True)
    if faults.throttle_rate > 0 and rng.random() < faults.throttle_rate:
        stats.faults["throttled"] += 1
        return Decision(throttle=True)
    return Decision()
