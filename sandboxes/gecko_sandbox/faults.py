"""Injected failures for API requests, decided before the handler runs (so no write happens)."""

from __future__ import annotations

import asyncio

from gecko_sandbox.core import Reply, Sandbox
from gecko_sandbox.errors import ApiError

DROP = "drop"


async def before_request(sandbox: Sandbox, token: str) -> str | None:
    """Raise an injected error, sleep the injected latency; return DROP when the answer must be cut."""
    faults, rng, stats = sandbox.faults, sandbox.fault_rng, sandbox.stats
    if faults.latency_ms > 0:
        await asyncio.sleep(faults.latency_ms / 1000)
    if sandbox.burst_left > 0 or (faults.burst_429_rate > 0 and rng.random() < faults.burst_429_rate):
        sandbox.burst_left = (sandbox.burst_left or max(1, faults.burst_429_length)) - 1
        stats.faults_injected["429"] += 1
        raise RateLimited(sandbox.limiter.exhausted(token).headers())
    if faults.error_rate > 0 and rng.random() < faults.error_rate:
        status = 503 if rng.random() < 0.5 else 500
        stats.faults_injected[str(status)] += 1
        if rng.random() < 0.5:  # 5xx bodies are not always JSON
            raise PlainError(
                status, b"<html><body><h1>We're sorry, but something went wrong.</h1></body></html>"
            )
        raise ApiError(status, "Injected fault: the sandbox failed this request on purpose")
    if faults.drop_rate > 0 and rng.random() < faults.drop_rate:
        stats.faults_injected["drop"] += 1
        return DROP
    return None


def error_after_write(sandbox: Sandbox) -> bool:
    """For POSTs: answer 500 although the write was performed (a lost answer)."""
    rate = sandbox.faults.error_after_write_rate
    if rate > 0 and sandbox.fault_rng.random() < rate:
        sandbox.stats.faults_injected["500_after_write"] += 1
        return True
    return False


class RateLimited(ApiError):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(429, "API rate limit exceeded: wait until X-Rate-Limit-Reset")
        self.headers = headers


class PlainError(ApiError):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status, "Injected fault")
        self.raw = body

    def content(self) -> bytes:
        return self.raw


def reply_for(error: ApiError) -> Reply:
    headers = dict(getattr(error, "headers", {}))
    if isinstance(error, PlainError):
        headers["Content-Type"] = "text/html; charset=utf-8"
    return Reply(error.status, error.content(), headers)
