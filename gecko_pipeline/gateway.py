"""The gateway: one ASGI server for what the outside world sends us, the API's webhooks
(POST /webhooks), channel orders (POST /channels/{channel}/orders) and Shopify stores' webhooks
(POST /shopify/{channel}/webhooks, for `kind: shopify` channels), plus GET / (readiness).

Both only write ops.sqlite (never the warehouse), so the server stays responsive whatever Dagster does.
"""

from __future__ import annotations

import importlib.util
import logging
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gecko_pipeline.asgi_thread import ServerThread
from gecko_pipeline.settings import Settings
from gecko_pipeline.webhooks.receiver import RECEIVER_PATH, ReceiverLimits, receiver_routes

log = logging.getLogger("gecko_pipeline.gateway")

INTAKE_MODULE = "gecko_pipeline.orders.intake"


def _index(paths: list[str]):  # noqa: ANN202 (a Starlette endpoint)
    async def index(request: Request) -> JSONResponse:
        return JSONResponse({"service": "gecko-pipeline gateway", "ok": True, "routes": paths})

    return index


def _intake_routes(settings: Settings) -> list[BaseRoute]:
    # The order intake is another part of the project; serve it when it is installed.
    if importlib.util.find_spec(INTAKE_MODULE) is None:
        log.info("order intake not available (%s missing): serving webhooks only", INTAKE_MODULE)
        return []
    from gecko_pipeline.orders.intake import intake_routes

    return list(intake_routes(settings))


def _shopify_routes(settings: Settings) -> list[BaseRoute]:
    # Each kind: shopify channel names the variable holding its app secret; the gateway reads it.
    from gecko_pipeline.channels.config import load_channels
    from gecko_pipeline.stores.shopify.webhooks import shopify_webhook_routes

    channels = [c for c in load_channels(settings.channels_file) if c.kind == "shopify"]
    if not channels:
        return []
    return list(shopify_webhook_routes(settings.ops_path, channels, secret=os.environ.get))


def create_gateway_app(
    settings: Settings, *, limits: ReceiverLimits | None = None, with_intake: bool = True
) -> Starlette:
    routes: list[BaseRoute] = [*receiver_routes(settings, limits)]
    if with_intake:
        routes += _intake_routes(settings)
        routes += _shopify_routes(settings)
    paths = [getattr(route, "path", "") for route in routes]
    return Starlette(routes=[Route("/", _index(paths), methods=["GET"], name="index"), *routes])


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


def serve(settings: Settings, host: str, port: int) -> None:
    """Serves the gateway in the foreground until SIGTERM / Ctrl-C."""
    # No access log: one line per delivery would cost more than storing it; the receiver logs refusals.
    uvicorn.run(
        create_gateway_app(settings), host=host, port=port, log_level="info", lifespan="off", access_log=False
    )
