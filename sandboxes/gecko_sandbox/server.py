"""Run the sandbox with uvicorn: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio

import uvicorn
from sandbox_kit.server_thread import ServerThread, bound_address

from gecko_sandbox.app import SandboxApp, create_app
from gecko_sandbox.config import SandboxConfig


def _uvicorn_config(app: SandboxApp, config: SandboxConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


class SandboxHandle(ServerThread):
    """A sandbox serving in a background thread. `url`, `token`, `app_secret`, `config`, `stop()`;
    also a context manager. `app.sandbox` is the live state, for in-process inspection."""

    def __init__(self, config: SandboxConfig, *, timeout: float = 120.0) -> None:
        self.config = config
        self.app = create_app(config)  # seeds the account before anything listens
        super().__init__(
            _uvicorn_config(self.app, config), name=f"gecko-sandbox-{config.port}", timeout=timeout
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
    """Foreground: serve until SIGTERM / Ctrl-C (uvicorn handles the signals in the main thread)."""
    app = create_app(config)
    server = uvicorn.Server(_uvicorn_config(app, config))

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            app.sandbox.base_url = f"http://{config.host}:{bound_address(server)[1]}"
            # One parseable line, so a parent process started with --port 0 learns the URL.
            print(
                f"sandbox serving at {app.sandbox.base_url} (scale {config.scale}, seed {config.seed})",
                flush=True,
            )
        await serving

    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(main())
