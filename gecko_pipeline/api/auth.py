"""Credentials for the inventory API: a privileged token, or OAuth with refresh-token rotation.

Both put `Authorization: Bearer <token>` on each request (the only place a token ever goes). OAuth
refreshes on a 401 or shortly before the access token expires, via `POST /oauth/token`
(grant_type refresh_token). A refresh rotates the refresh token, so the new pair is written to the
token store before it is used, and the stored pair is preferred over the environment's at start-up.
One thread refreshes at a time; the others then use its result.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from gecko_pipeline.api.errors import AuthenticationError, TransportError, error_from_response
from gecko_pipeline.api.token_store import TokenStore

TOKEN_PATH = "/oauth/token"
log = logging.getLogger("gecko_pipeline.api")


class Auth(Protocol):
    hint: str

    def token(self) -> str: ...

    def refresh_after_401(self, used_token: str) -> bool:
        """Get a new token after `used_token` was refused; False when there is no way to."""
        ...

    def secrets(self) -> list[str]: ...

    def identity(self) -> str:
        """Who the API counts requests against (it is hashed before use as a key, never shown)."""
        ...


class StaticTokenAuth:
    """A privileged access token: it never expires and cannot be refreshed."""

    hint = (
        "check GECKO_ACCESS_TOKEN: the API refused the access token (revoked, mistyped, or for another "
        "account); or configure OAuth with GECKO_REFRESH_TOKEN, GECKO_CLIENT_ID and GECKO_CLIENT_SECRET"
    )

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def refresh_after_401(self, used_token: str) -> bool:
        return False

    def secrets(self) -> list[str]:
        return [self._token]

    def identity(self) -> str:
        return f"token:{self._token}"


class OAuthAuth:
    """OAuth access token plus rotating refresh token, persisted in a TokenStore."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        api_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        access_token: str | None = None,
        store: TokenStore | None = None,
        on_refresh: Callable[[], None] | None = None,
    ) -> None:
        self._http = http
        self._api_url = api_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._env_refresh_token = refresh_token
        self._store = store
        self._on_refresh = on_refresh
        self._lock = threading.Lock()
        self._access: str | None = access_token
        self._refresh: str = refresh_token
        self._expires_at: float | None = None
        stored = store.load(api_url, client_id) if store else None
        if stored:  # the environment's refresh token is dead once it has been rotated
            self._adopt(stored)
        self.hint = (
            "the OAuth access token was refused and could not be refreshed: check GECKO_CLIENT_ID and "
            "GECKO_CLIENT_SECRET, or re-authorize the app and set GECKO_REFRESH_TOKEN"
            + (
                f" (the latest rotated token is kept in {store.path}; delete it after re-authorizing)"
                if store
                else ""
            )
        )

    def secrets(self) -> list[str]:
        with self._lock:
            found = [self._client_secret, self._refresh, self._env_refresh_token]
            return [s for s in (*found, self._access) if s]

    def identity(self) -> str:
        # Access and refresh tokens rotate; the quota is the app's (for the one account it serves here).
        return f"oauth:{self._client_id}"

    def token(self) -> str:
        with self._lock:
            if self._access is None or self._expiring():
                self._refresh_locked(self._access)
            assert self._access is not None
            return self._access

    def refresh_after_401(self, used_token: str) -> bool:
        with self._lock:
            if self._access != used_token:
                return True  # another thread refreshed meanwhile
            self._refresh_locked(used_token)
            return True

    def _expiring(self) -> bool:
        return self._expires_at is not None and time.time() >= self._expires_at

    def _adopt(self, tokens: dict[str, Any]) -> None:
        self._access = tokens.get("access_token") or None
        self._refresh = tokens["refresh_token"]
        self._expires_at = tokens.get("expires_at")

    def _refresh_locked(self, used_access: str | None) -> None:
        if self._store is None:
            self._rotate()
            return
        with self._store.locked():
            stored = self._store.load(self._api_url, self._client_id)
            if (
                stored
                and stored["refresh_token"] != self._refresh
                and stored.get("access_token") != used_access
            ):
                self._adopt(stored)  # another process rotated already; its pair is the live one
                if not self._expiring():
                    return
            self._rotate()

    def _rotate(self) -> None:
        try:
            tokens = self._request(self._refresh)
        except AuthenticationError:
            # A stale store (e.g. the app was re-authorized since): the environment's token may be newer.
            if self._env_refresh_token == self._refresh:
                raise
            log.warning("stored OAuth refresh token refused; trying GECKO_REFRESH_TOKEN")
            tokens = self._request(self._env_refresh_token)
        if self._store is not None:
            self._store.save(self._api_url, self._client_id, tokens)  # durable before first use
        self._adopt(tokens)
        if self._on_refresh:
            self._on_refresh()

    def _request(self, refresh_token: str) -> dict[str, Any]:
        body = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": refresh_token,
            "grant_type": "refresh_token",
        }
        started = time.monotonic()
        try:
            response = self._http.post(
                TOKEN_PATH, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as exc:
            raise TransportError(
                "POST",
                TOKEN_PATH,
                f"token refresh failed: {type(exc).__name__}",
                may_have_reached_server=True,
            ) from exc
        log.info("POST %s %s %.0fms", TOKEN_PATH, response.status_code, (time.monotonic() - started) * 1000)
        if response.status_code in (400, 401):
            err = error_from_response(response, "POST", TOKEN_PATH, redact=self._redact)
            raise AuthenticationError(
                err.status, "POST", TOKEN_PATH, f"{err.message} ({self.hint})", request_id=err.request_id
            )
        if response.is_error:
            raise error_from_response(response, "POST", TOKEN_PATH, redact=self._redact)
        data = response.json()
        expires_in = data.get("expires_in")
        # Refresh a little early (a tenth of the lifetime, at most a minute) so no request meets expiry.
        expires_at = (
            time.time() + float(expires_in) - min(60.0, float(expires_in) / 10) if expires_in else None
        )
        return {
            "access_token": data["access_token"],
            "refresh_token": data.get("refresh_token") or refresh_token,
            "expires_at": expires_at,
        }

    def _redact(self, text: str) -> str:
        for secret in (self._client_secret, self._refresh, self._env_refresh_token, self._access):
            if secret:
                text = text.replace(secret, "***")
        return text
