"""An ASGI app served by uvicorn in a background thread: each sandbox's handle is one (tests, benchmarks,
the demo start sandboxes this way). Port 0 takes an ephemeral port."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp


def uvicorn_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """How every sandbox is served: quiet, with its lifespan, and quick to stop."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


def serve_forever(app: ASGIApp, host: str, port: int, started: Callable[[str], str]) -> None:
    """Foreground: serve until SIGTERM / Ctrl-C (uvicorn handles the signals in the main thread). Once it
    listens, `started(base_url)` gives the one line printed, so a parent that asked for port 0 can parse
    the URL from it."""
    server = uvicorn.Server(uvicorn_config(app, host, port))

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            bound_host, bound_port = bound_address(server)
            print(started(f"http://{bound_host}:{bound_port}"), flush=True)
        await serving

    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(main())


def bound_address(server: uvicorn.Server) -> tuple[str, int]:
    """The (host, port) a started server listens on: the real port when it was asked for port 0."""
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return str(host), int(port)


class ServerThread:
    """Serves `config` in a daemon thread; returns once it accepts connections (`host`, `port`, `url`).

    `stop()` (or leaving the `with` block) asks uvicorn to exit and waits for the thread."""

    def __init__(self, config: uvicorn.Config, *, name: str, timeout: float = 10.0) -> None:
        self.server = uvicorn.Server(config)
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                self.server.run()  # uvicorn leaves signals alone outside the main thread
            except BaseException as exc:  # noqa: BLE001 - reported to the caller below
                errors.append(exc)

        self.thread = threading.Thread(target=serve, daemon=True, name=name)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if errors or not self.thread.is_alive():
                raise RuntimeError(
                    f"{name} failed to start on {config.host}:{config.port}: {errors[:1] or 'exited'}"
                )
            if time.monotonic() > deadline:
                self.server.should_exit = True
                raise RuntimeError(
                    f"{name} did not start on {config.host}:{config.port} within {timeout:g} s"
                )
            time.sleep(0.01)
        self.host, self.port = bound_address(self.server)
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
