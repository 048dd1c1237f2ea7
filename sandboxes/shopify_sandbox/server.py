"""Serve the sandbox with uvicorn: in a background thread (tests, demos) or in the foreground (CLI)."""

from __future__ import annotations

from sandbox_kit.server_thread import ServerThread, uvicorn_config
from sandbox_kit.server_thread import serve_forever as kit_serve_forever

from shopify_sandbox.app import create_app
from shopify_sandbox.config import ShopifySandboxConfig


class ShopifySandboxHandle(ServerThread):
    """A sandbox serving in a daemon thread: `url`, `shop_domain`, `token`, `app_secret`, `config`,
    `graphql_url(version=None)`, `stop()`; also a context manager. `app.sandbox` is the live state."""

    def __init__(self, config: ShopifySandboxConfig, *, timeout: float = 120.0) -> None:
        self.config = config
        self.app = create_app(config)  # seeds before anything listens
        super().__init__(
            uvicorn_config(self.app, config.host, config.port),
            name=f"shopify-sandbox-{config.port}",
            timeout=timeout,
        )
        self.app.sandbox.store.base_url = self.url

    @property
    def shop_domain(self) -> str:
        return self.config.shop_domain

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def app_secret(self) -> str:
        return self.config.app_secret

    @property
    def api_version(self) -> str:
        return self.config.api_version

    def graphql_url(self, version: str | None = None) -> str:
        return f"{self.url}/admin/api/{version or self.config.api_version}/graphql.json"

    def __repr__(self) -> str:
        return f"ShopifySandboxHandle(url={self.url!r}, api_version={self.config.api_version!r}, scale={self.config.scale})"


def run_shopify_sandbox(
    config: ShopifySandboxConfig | None = None, *, timeout: float = 120.0
) -> ShopifySandboxHandle:
    """Seed, serve on config.host:config.port (0 = ephemeral) in a thread, return once it accepts connections."""
    return ShopifySandboxHandle(config or ShopifySandboxConfig(), timeout=timeout)


def serve_forever(config: ShopifySandboxConfig) -> None:
    """Foreground: serve until SIGTERM / Ctrl-C, printing the GraphQL URL once it listens."""
    app = create_app(config)

    def started(url: str) -> str:
        app.sandbox.store.base_url = url
        return (
            f"shopify sandbox serving at {url}/admin/api/{config.api_version}/graphql.json "
            f"(shop {config.shop_domain}, scale {config.scale}, seed {config.seed})"
        )

    kit_serve_forever(app, config.host, config.port, started)
