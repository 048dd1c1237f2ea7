"""Run the sandbox with uvicorn: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

from sandbox_kit.server_thread import ServerThread, uvicorn_config
from sandbox_kit.server_thread import serve_forever as kit_serve_forever

from gecko_sandbox.app import create_app
from gecko_sandbox.config import SandboxConfig


class SandboxHandle(ServerThread):
    """A sandbox serving in a background thread. `url`, `token`, `app_secret`, `config`, `stop()`;
    also a context manager. `app.sandbox` is the live state, for in-process inspection."""

    def __init__(self, config: SandboxConfig, *, timeout: float = 120.0) -> None:
        self.config = config
        self.app = create_app(config)  # seeds the account before anything listens
        super().__init__(
            uvicorn_config(self.app, config.host, config.port),
            name=f"gecko-sandbox-{config.port}",
            timeout=timeout,
        )
        self.app.sandbox.base_url = self.url

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def app_secret(self) -> str:
        return self.config.app_secret

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r}, scale={self.config.scale})"


def run_sandbox(config: SandboxConfig | None = None, *, timeout: float = 120.0) -> SandboxHandle:
    """Seed, start serving on config.host:config.port (0 = ephemeral) in a thread, return once it serves."""
    return SandboxHandle(config or SandboxConfig(), timeout=timeout)


def serve_forever(config: SandboxConfig) -> None:
    """Foreground: serve until SIGTERM / Ctrl-C, printing the URL once it listens."""
    app = create_app(config)

    def started(url: str) -> str:
        app.sandbox.base_url = url
        return f"sandbox serving at {url} (scale {config.scale}, seed {config.seed})"

    kit_serve_forever(app, config.host, config.port, started)
