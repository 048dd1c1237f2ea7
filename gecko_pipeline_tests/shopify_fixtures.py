"""Fixtures for the Shopify sandbox contract tests: sandboxes on ephemeral ports, a GraphQL client, and a
webhook receiver on 127.0.0.1 that records deliveries and answers with scripted statuses."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from shopify_sandbox import FaultConfig, ShopifySandboxConfig, ShopifySandboxHandle, run_shopify_sandbox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gecko_pipeline.tools.background import ServerThread

ShopifyFactory = Callable[..., ShopifySandboxHandle]


ORDER_FIXTURE = Path(__file__).parent / "fixtures" / "shopify" / "orders-create.2025-01.json"


def order_fixture_path() -> Path:
    """Shopify's 2025-01 orders/create body: a copy of shared/shopify-fixtures/ (from shopify.dev) kept in
    the repository, so a clone without shared/ beside it runs every test."""
    return ORDER_FIXTURE


def _start(fields: dict[str, Any]) -> ShopifySandboxHandle:
    # Each sandbox signs with its own secret, so a stray retry from another test's sandbox never verifies.
    fields.setdefault("app_secret", secrets.token_urlsafe(16))
    fields.setdefault("webhook_retry_base_delay", 0.05)
    fields.setdefault("webhook_retry_factor", 1.0)
    faults = fields.pop("faults", None)
    if isinstance(faults, dict):
        faults = FaultConfig(**faults)
    config = (
        ShopifySandboxConfig(**fields) if faults is None else ShopifySandboxConfig(faults=faults, **fields)
    )
    return run_shopify_sandbox(config)


@pytest.fixture
def shopify_factory() -> Iterator[ShopifyFactory]:
    """`shopify_factory(**ShopifySandboxConfig fields)` starts a sandbox (faults may be a dict); all stop at teardown."""
    handles: list[ShopifySandboxHandle] = []

    def start(**fields: Any) -> ShopifySandboxHandle:
        handle = _start(fields)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def shopify(shopify_factory: ShopifyFactory) -> ShopifySandboxHandle:
    """A fresh small sandbox (40 variants) for tests that change state."""
    return shopify_factory(scale=40)


@pytest.fixture(scope="module")
def shopify_shared() -> Iterator[ShopifySandboxHandle]:
    """One sandbox (60 variants) per module, for tests that only read."""
    handle = _start({"scale": 60})
    yield handle
    handle.stop()


class ShopifyClient:
    """GraphQL and control-plane calls against one sandbox, over real HTTP."""

    def __init__(self, handle: ShopifySandboxHandle) -> None:
        self.handle = handle
        self.http = httpx.Client(timeout=30)

    def post(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": self.handle.token, **kwargs.pop("headers", {})}
        return self.http.post(
            self.handle.graphql_url(kwargs.pop("version", None)),
            json={"query": query, "variables": variables or {}},
            headers=headers,
            **kwargs,
        )

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer's JSON; fails the test on a non-200 or top-level errors."""
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body  # type: ignore[no-any-return]

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.query(query, variables)["data"]  # type: ignore[no-any-return]

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"{self.handle.url}/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def gql(shopify: ShopifySandboxHandle) -> Iterator[ShopifyClient]:
    client = ShopifyClient(shopify)
    yield client
    client.close()


@pytest.fixture(scope="module")
def gql_shared(shopify_shared: ShopifySandboxHandle) -> Iterator[ShopifyClient]:
    client = ShopifyClient(shopify_shared)
    yield client
    client.close()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records every POST to `{url}/hook`; answers `statuses.pop(0)` while scripted, else 200, after
    sleeping `delays.pop(0)` seconds while those are scripted."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hook(self) -> str:
        return f"{self.url}/hook"

    def wait_for(self, count: int, timeout: float = 10.0, topic: str | None = None) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = [r for r in self.received if topic is None or r.headers.get("x-shopify-topic") == topic]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def wait_topics(self, topics: set[str], timeout: float = 10.0) -> dict[str, list[Received]]:
        """Deliveries by topic, once every topic in `topics` has arrived at least once (or on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                by_topic: dict[str, list[Received]] = {}
                for r in self.received:
                    by_topic.setdefault(r.headers.get("x-shopify-topic", ""), []).append(r)
            if topics <= set(by_topic) or time.monotonic() > deadline:
                return by_topic
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        with state.lock:
            state.received.append(
                Received({k.lower(): v for k, v in request.headers.items()}, body, time.monotonic())
            )
            status = state.statuses.pop(0) if state.statuses else 200
            delay = state.delays.pop(0) if state.delays else 0.0
        if delay:
            await asyncio.sleep(delay)
        return Response(b"", status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off"
    )
    server = ServerThread(config, name="webhook-receiver")
    state.url = server.url
    yield state
    server.stop()
