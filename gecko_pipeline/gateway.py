"""The gateway: one ASGI server for what the outside world sends us, the API's webhooks
(POST /webhooks), channel orders (POST /channels/{channel}/orders) and Shopify stores' webhooks
(POST /shopify/{channel}/webhooks, for `kind: shopify` channels), plus GET / (readiness).

Both only write ops.sqlite (never the warehouse), so the server stays responsive whatever Dagster does.
"""

from __future__ import annotations

import logging

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.config import Settings
from gecko_pipeline.orders.intake import intake_routes
from gecko_pipeline.stores.shopify.webhooks import shopify_webhook_routes
from gecko_pipeline.webhooks.receiver import ReceiverLimits, receiver_routes

log = logging.getLogger("gecko_pipeline.gateway")


def _index(paths: list[str]):  # noqa: ANN202 (a Starlette endpoint)
    async def index(request: Request) -> JSONResponse:
        return JSONResponse({"service": "gecko-pipeline gateway", "ok": True, "routes": paths})

    return index


def _shopify_routes(settings: Settings) -> list[BaseRoute]:
    # Each kind: shopify channel names the variable holding its app secret (read through the settings).
    channels = [c for c in load_channels(settings.channels_file) if c.kind == "shopify"]
    if not channels:
        return []
    return list(shopify_webhook_routes(settings.ops_path, channels, secret=settings.secret))


def create_gateway_app(
    settings: Settings, *, limits: ReceiverLimits | None = None, with_intake: bool = True
) -> Starlette:
    routes: list[BaseRoute] = [*receiver_routes(settings, limits)]
    if with_intake:
        routes += intake_routes(settings)
        routes += _shopify_routes(settings)
    paths = [getattr(route, "path", "") for route in routes]
    return Starlette(routes=[Route("/", _index(paths), methods=["GET"], name="index"), *routes])


def serve(settings: Settings, host: str, port: int) -> None:
    """Serves the gateway in the foreground until SIGTERM / Ctrl-C."""
    # No access log: one line per delivery would cost more than storing it; the receiver logs refusals.
    uvicorn.run(
        create_gateway_app(settings), host=host, port=port, log_level="info", lifespan="off", access_log=False
    )
