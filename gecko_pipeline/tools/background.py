"""An ASGI app served by uvicorn in a background thread (tests, benchmarks, the demo): the gateway's
`GatewayHandle` is one. Port 0 takes an ephemeral port."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette

from gecko_pipeline.config import Settings
from gecko_pipeline.gateway import create_gateway_app
from gecko_pipeline.webhooks.receiver import RECEIVER_PATH, ReceiverLimits


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


class GatewayHandle(ServerThread):
    """The gateway (or any app, such as the intake alone) served in a background thread (tests, benchmarks,
    the demo). `port=0` takes an ephemeral port; `url` is set once it serves; `stop()` ends it."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
        )
        super().__init__(config, name="gecko-gateway")

    @property
    def webhook_url(self) -> str:
        return self.url + RECEIVER_PATH


def run_gateway(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: ReceiverLimits | None = None,
    with_intake: bool = True,
) -> GatewayHandle:
    return GatewayHandle(create_gateway_app(settings, limits=limits, with_intake=with_intake), host, port)
