"""`POST /oauth/token` with grant_type refresh_token: issues an access token and rotates the refresh
token (the old one stops working), Doorkeeper style (gecko-api.md section 2.1)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from gecko_sandbox.core import Sandbox
from gecko_sandbox.store import dumps

INVALID_REQUEST = "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed."


def _error(status: int, error: str, description: str) -> Response:
    return Response(
        dumps({"error": error, "error_description": description}), status, media_type="application/json"
    )


async def _params(request: Request) -> dict[str, str]:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


def token_endpoint(sandbox: Sandbox) -> Callable[[Request], Awaitable[Response]]:
    config = sandbox.config

    async def token(request: Request) -> Response:
        params = await _params(request)
        if params.get("grant_type") != "refresh_token" or not params.get("refresh_token"):
            return _error(400, "invalid_request", INVALID_REQUEST)
        client_ok = secrets.compare_digest(
            params.get("client_id", ""), config.oauth_client_id
        ) and secrets.compare_digest(params.get("client_secret", ""), config.client_secret)
        if not client_ok:
            return _error(
                401, "invalid_client", "Client authentication failed due to unknown client or bad secret."
            )
        if not secrets.compare_digest(params["refresh_token"], sandbox.refresh_token):
            return _error(400, "invalid_request", INVALID_REQUEST)
        now = time.time()
        access = secrets.token_hex(22)
        sandbox.issued_tokens = {t: exp for t, exp in sandbox.issued_tokens.items() if exp > now}
        sandbox.issued_tokens[access] = now + config.access_token_ttl
        sandbox.refresh_token = secrets.token_hex(21)
        body = {
            "access_token": access,
            "expires_in": int(config.access_token_ttl),
            "refresh_token": sandbox.refresh_token,
            "scope": "public",
            "token_type": "bearer",
            "created_at": int(now),
        }
        return Response(dumps(body), 200, media_type="application/json")

    return token
