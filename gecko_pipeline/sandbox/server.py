"""Run the sandbox with uvicorn: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import uvicorn

from gecko_pipeline.sandbox.app import SandboxApp, create_app
from gecko_pipeline.sandbox.config import SandboxConfig


def _uvicorn_config(app: SandboxApp, config: SandboxConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=config.host, port=config.port, log_level="warning", access_log=False, lifespan="on",
        timeout_graceful_shutdown=2,
    )


def bound_port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


class SandboxHandle:
    """A sandbox serving in a background thread. `url`, `token`, `app_secret`, `config`, `stop()`;
    also a context manager. `app.sandbox` is the live state, for in-process inspection."""

    def __init__(self, config: SandboxConfig, app: SandboxApp, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.config = config
        self.app = app
        self._server = server
        self._thread = thread
        self.port = bound_port(server)
        self.url = f"http://{config.host}:{self.port}"
        app.sandbox.base_url = self.url

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def app_secret(self) -> str:
        return self.config.app_secret

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r}, scale={self.config.scale})"


def run_sandbox(config: SandboxConfig | None = None, *, timeout: float = 120.0) -> SandboxHandle:
    """Seed, start serving on config.host:config.port (0 = ephemeral) in a thread, return once it serves."""
    config = config or SandboxConfig()
    app = create_app(config)
    server = uvicorn.Server(_uvicorn_config(app, config))
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            server.run()  # uvicorn leaves signals alone outside the main thread
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            errors.append(exc)

    thread = threading.Thread(target=serve, name=f"gecko-sandbox-{config.port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"the sandbox failed to start on {config.host}:{config.port}: {errors[:1] or 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError("the sandbox did not start in time")
        time.sleep(0.01)
    return SandboxHandle(config, app, server, thread)


def serve_forever(config: SandboxConfig) -> None:
    """Foreground: serve until SIGTERM / Ctrl-C (uvicorn handles the signals in the main thread)."""
    app = create_app(config)
    server = uvicorn.Server(_uvicorn_config(app, config))

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            app.sandbox.base_url = f"http://{config.host}:{bound_port(server)}"
            # One parseable line, so a parent process started with --port 0 learns the URL.
            print(f"sandbox serving at {app.sandbox.base_url} (scale {config.scale}, seed {config.seed})", flush=True)
        await serving

    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(main())
