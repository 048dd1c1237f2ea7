"""The `/_sandbox/` control plane: no auth, no rate limit, not counted in stats; not part of the real
API. Documented in README.md."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gecko_sandbox import activity
from gecko_sandbox.core import Sandbox
from gecko_sandbox.errors import ApiError
from gecko_sandbox.listing import render_collection
from gecko_sandbox.stats import Stats
from gecko_sandbox.store import dumps

Handler = Callable[[Request], Awaitable[Response]]


def _json(value: object, status: int = 200) -> Response:
    return Response(dumps(value), status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return Response(error.content(), error.status, media_type="application/json")
        except (ValueError, TypeError, KeyError) as error:
            return _json({"type": "Bad Request", "message": str(error)}, 400)

    return wrapped


def routes(sandbox: Sandbox, deliverer: Any) -> list[Route]:
    async def stats(request: Request) -> Response:
        return _json(sandbox.stats.as_dict())

    async def stats_reset(request: Request) -> Response:
        sandbox.stats = Stats()
        return _json(sandbox.stats.as_dict())

    async def dump(request: Request) -> Response:
        name = request.path_params["resource"]
        table = sandbox.store.tables.get(name)
        if table is None:
            raise ApiError(404, f"unknown resource {name!r}; known: {sorted(sandbox.store.tables)}")
        return Response(
            render_collection(name, (table.json(k) for k in table.records)), media_type="application/json"
        )

    async def rate_limit(request: Request) -> Response:
        body = await _body(request)
        sandbox.limiter.configure(body.get("quota"), body.get("window"))
        return _json({"quota": sandbox.limiter.quota, "window": sandbox.limiter.window})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            body = await _body(request)
            sandbox.faults.update(body)
            sandbox.burst_left = 0
        return _json(sandbox.faults.as_dict())

    async def payment_required(request: Request) -> Response:
        body = await _body(request)
        sandbox.payment_required = bool(body.get("enabled", True))
        return _json({"enabled": sandbox.payment_required})

    async def health(request: Request) -> Response:
        config = sandbox.config
        return _json(
            {
                "ok": True,
                "cache_warm": sandbox.store.warmed,
                "scale": config.scale,
                "seed": config.seed,
                "orders": config.order_count,
                "locations": config.location_count,
                "counts": {n: len(t.records) for n, t in sandbox.store.tables.items()},
            }
        )

    async def cache_clear(request: Request) -> Response:
        disable = request.query_params.get("disable", "false").lower() in ("1", "true", "yes")
        sandbox.store.set_caching(not disable)
        return _json({"caching": sandbox.store.caching})

    async def deliveries(request: Request) -> Response:
        return _json({"webhook_deliveries": list(deliverer.log)})

    def act(fn: Callable[[Sandbox, dict[str, Any]], object]) -> Handler:
        async def handler(request: Request) -> Response:
            return _json(fn(sandbox, await _body(request)))

        return handler

    plain = [
        Route("/stats", stats, methods=["GET"]),
        Route("/stats/reset", stats_reset, methods=["POST"]),
        Route("/dump/{resource}", dump, methods=["GET"]),
        Route("/rate_limit", rate_limit, methods=["PUT"]),
        Route("/faults", faults, methods=["GET", "PUT"]),
        Route("/payment_required", payment_required, methods=["PUT"]),
        Route("/health", health, methods=["GET"]),
        Route("/webhook_deliveries", deliveries, methods=["GET"]),
        Route("/cache/clear", cache_clear, methods=["POST"]),
        Route("/activity/stock_move", act(activity.stock_move), methods=["POST"]),
        Route("/activity/new_product", act(activity.new_product), methods=["POST"]),
        Route("/activity/update", act(activity.update), methods=["POST"]),
        Route("/activity/purge", act(activity.purge), methods=["POST"]),
    ]
    return [Route(r.path, _guard(r.endpoint), methods=list(r.methods or [])) for r in plain]
