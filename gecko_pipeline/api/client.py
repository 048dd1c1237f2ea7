"""GeckoClient: the one way the pipeline talks to the inventory API.

One pooled httpx client; auth (privileged token or OAuth, see auth.py); pacing to the rate-limit
window (pacing.py), with one pacer per API and credential shared by every client of the process and
seeded from the last process's view (shared_pacing.py); no wait without a deadline; retries with exponential backoff and full jitter on 5xx, timeouts and dropped
connections, for requests that are safe to repeat (GET, DELETE, and POST/PUT carrying an
Idempotency-Key); typed errors (errors.py); concurrent, ordered, streaming pagination.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from gecko_pipeline.api.auth import Auth, OAuthAuth, StaticTokenAuth
from gecko_pipeline.api.errors import (
    HeaderEncodingError,
    RateLimitWaitTimeout,
    TransportError,
    error_from_response,
)
from gecko_pipeline.api.pacing import PacingTimeout, Slot
from gecko_pipeline.api.pages import Page, Pagination, loads, root_key
from gecko_pipeline.api.shared_pacing import STATE_FILE_NAME, RateLimitStateFile, pacer_key, shared_pacer
from gecko_pipeline.api.stats import ClientStats
from gecko_pipeline.api.token_store import TokenStore

if TYPE_CHECKING:
    from gecko_pipeline.config import Settings

log = logging.getLogger("gecko_pipeline.api")
T = TypeVar("T")

MAX_PAGE_SIZE = 250  # the API answers 400 above it
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "DELETE"})
# Failures that happen before a request is sent: repeating it cannot apply it twice.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# One rate-limit window (300 s) plus two request timeouts: the longest a request should ever wait for
# budget (the reset, then the new window's probe). Beyond it something is wrong: say so instead of hanging.
DEFAULT_MAX_RATE_LIMIT_WAIT = 360.0
SECRET_HEADERS = frozenset({"authorization"})
# Bytes of pages fetched ahead of the consumer (estimated from the pages seen so far): a products page
# with its variants is 2-3 MB here, and can be tens of MB for an account with many variants a product.
DEFAULT_PREFETCH_BYTES = 16_000_000


def check_header_value(method: str, path: str, name: str, value: str) -> None:
    """Raise HeaderEncodingError unless `value` can go on the wire as it is: printable ASCII (and tab).

    httpx would raise UnicodeEncodeError (non-ASCII) or a protocol error (control characters, retried
    as if the network had failed); neither says which header, and neither is worth a retry.
    """
    for position, char in enumerate(value):
        if char != "\t" and not " " <= char <= "~":
            shown = "" if name.lower() in SECRET_HEADERS else f" {char!r} (U+{ord(char):04X})"
            raise HeaderEncodingError(
                method,
                path,
                name,
                f"character{shown} at position {position} is not printable ASCII, the only characters "
                "HTTP header values allow; the request was not sent",
            )


def _user_agent() -> str:
    try:
        version = metadata.version("gecko_pipeline")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "dev"
    return f"gecko_pipeline/{version} (TradeGecko sales-channel integration; httpx/{httpx.__version__})"


def _json_default(value: object) -> str:
    # Money and quantities are Decimals in Python; the API takes them as strings.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to the API as JSON")


def encode_body(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def _page_bytes(page: Page) -> int:
    return len(page.body)


def _looks_truncated(response: httpx.Response) -> bool:
    # A connection closed mid-body without a length can still look like a complete answer.
    content = response.content.rstrip()
    return (
        bool(content)
        and "json" in response.headers.get("content-type", "")
        and content[-1:] not in (b"}", b"]")
    )


class GeckoClient:
    """Client for the TradeGecko / QuickBooks Commerce API (or its sandbox). Thread-safe."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        token_store_path: str | Path | None = None,
        max_concurrency: int = 4,
        timeout: float = 30.0,
        max_retries: int = 6,
        page_size: int = MAX_PAGE_SIZE,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_rate_limit_waits: int = 20,
        max_rate_limit_wait_seconds: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        rate_limit_margin: float = 0.05,
        rate_limit_state_path: str | Path | None = None,
        prefetch_pages: int | None = None,
        prefetch_bytes: int = DEFAULT_PREFETCH_BYTES,
        user_agent: str | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.base_url = base_url.rstrip("/")
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.page_size = page_size
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_rate_limit_waits = max_rate_limit_waits
        if max_rate_limit_wait_seconds <= 0:
            raise ValueError(
                f"max_rate_limit_wait_seconds must be positive, got {max_rate_limit_wait_seconds}"
            )
        self.max_rate_limit_wait_seconds = max_rate_limit_wait_seconds
        # Pages fetched ahead of the consumer: enough to keep every worker busy, bounded for memory (by
        # count, and by bytes once the size of a page is known).
        self.prefetch_pages = prefetch_pages or 2 * max_concurrency
        self.prefetch_bytes = prefetch_bytes
        self.stats = ClientStats()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max_concurrency + 4, max_keepalive_connections=max_concurrency + 4
            ),
            headers={"User-Agent": user_agent or _user_agent(), "Accept": "application/json"},
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._auth: Auth = self._build_auth(token, client_id, client_secret, refresh_token, token_store_path)
        # The budget is the credential's, shared with every other client of this process and seeded
        # from what the last process saw (shared_pacing.py).
        self._pacer_key = pacer_key(self.base_url, self._auth.identity())
        self._pacer = shared_pacer(self._pacer_key, margin=rate_limit_margin)
        self._rate_limit_state = RateLimitStateFile(rate_limit_state_path) if rate_limit_state_path else None
        self._saved_spent_reset: float | None = None
        if self._rate_limit_state is not None:
            seen = self._rate_limit_state.load(self._pacer_key)
            if seen is not None:
                self._pacer.seed(seen)

    def _build_auth(
        self,
        token: str | None,
        client_id: str | None,
        client_secret: str | None,
        refresh_token: str | None,
        token_store_path: str | Path | None,
    ) -> Auth:
        if refresh_token:
            missing = [
                name
                for name, value in (("GECKO_CLIENT_ID", client_id), ("GECKO_CLIENT_SECRET", client_secret))
                if not value
            ]
            if missing:
                raise ValueError(
                    f"GECKO_REFRESH_TOKEN is set but {' and '.join(missing)} missing: OAuth needs all three"
                )
            assert client_id is not None and client_secret is not None
            return OAuthAuth(
                http=self._http,
                api_url=self.base_url,
                client_id=client_id,
                client_secret=client_secret,
                refresh_token=refresh_token,
                access_token=token,
                store=TokenStore(token_store_path) if token_store_path else None,
                on_refresh=partial(self.stats.add, token_refreshes=1),
            )
        if token:
            return StaticTokenAuth(token)
        raise ValueError(
            "no API credentials: set GECKO_ACCESS_TOKEN (a privileged token), or GECKO_REFRESH_TOKEN with "
            "GECKO_CLIENT_ID and GECKO_CLIENT_SECRET (OAuth)"
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> GeckoClient:
        """A client for the configured account; `overrides` are constructor keywords (knobs, tokens)."""
        kwargs: dict[str, Any] = {
            "token": settings.access_token,
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "refresh_token": settings.refresh_token,
            "token_store_path": settings.token_store_path,
            "rate_limit_state_path": settings.data_dir / STATE_FILE_NAME,
        }
        kwargs.update(overrides)
        base_url = kwargs.pop("base_url", None) or settings.api_url
        return cls(base_url, **kwargs)

    # -- plain requests -------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return loads(self.request("GET", path, params=params).content)

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        idempotency_key: str | None = None,
        *,
        max_retries: int | None = None,
    ) -> dict[str, Any]:
        response = self.request(
            "POST", path, body=body, idempotency_key=idempotency_key, max_retries=max_retries
        )
        return loads(response.content) if response.content else {}

    def put(
        self, path: str, body: Mapping[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any] | None:
        response = self.request("PUT", path, body=body, idempotency_key=idempotency_key)
        return loads(response.content) if response.status_code != 204 and response.content else None

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        max_retries: int | None = None,
    ) -> httpx.Response:
        """Send one request with pacing, auth refresh and retries; return the 2xx answer or raise.
        `max_retries` overrides the client's for this call: 0 lets a caller that owns the retry (the
        order create-once protocol looks the order up before it posts again) see the first 5xx or lost
        answer. 429 waits and a token refresh after 401 are not retries and still happen."""
        method = method.upper()
        retries = self.max_retries if max_retries is None else max_retries
        url, shown_path = self._url(path)
        content = encode_body(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        for name, value in headers.items():
            check_header_value(method, shown_path, name, value)
        replayable = method in REPLAYABLE_METHODS or bool(idempotency_key)
        failures = rate_limited = 0
        refreshed = False
        while True:
            with self._take_slot(method, shown_path) as slot:
                try:
                    # After the wait, so a token that expired meanwhile is renewed.
                    token = self._auth.token()
                    authorization = f"Bearer {token}"
                    check_header_value(method, shown_path, "Authorization", authorization)
                except BaseException:
                    slot.release(None, reached_server=False)
                    raise
                started = time.monotonic()
                try:
                    response = self._http.request(
                        method,
                        url,
                        params=params,
                        content=content,
                        headers={**headers, "Authorization": authorization},
                    )
                except httpx.TransportError as exc:
                    reached = not isinstance(exc, NOT_SENT_ERRORS)
                    slot.release(None, reached_server=reached)
                    self.stats.add(requests=1)
                    log.info(
                        "%s %s failed: %s after %.0fms",
                        method,
                        shown_path,
                        type(exc).__name__,
                        (time.monotonic() - started) * 1000,
                    )
                    if (replayable or not reached) and failures < retries:
                        failures += 1
                        self._backoff(failures, method, shown_path, type(exc).__name__)
                        continue
                    unsafe = (
                        " (a POST/PUT without Idempotency-Key is not retried: it may have been applied)"
                        if reached and not replayable
                        else ""
                    )
                    raise TransportError(
                        method,
                        shown_path,
                        f"{type(exc).__name__}: {self._redact(str(exc))}{unsafe}",
                        may_have_reached_server=reached,
                    ) from exc
                slot.release(response.headers)
            self._save_if_spent()
            self.stats.add(requests=1)
            self._log(method, response, started)
            status = response.status_code
            if status == 429:
                self.stats.add(responses_429=1)
                if rate_limited < self.max_rate_limit_waits:
                    rate_limited += 1
                    self._wait_after_429(response, rate_limited)
                    continue  # the pacer holds the retry until the window resets
            elif status == 401 and not refreshed and self._auth.refresh_after_401(token):
                refreshed = True
                continue
            elif (
                (status >= 500 or (response.is_success and _looks_truncated(response)))
                and replayable
                and failures < retries
            ):
                failures += 1
                self._backoff(failures, method, shown_path, str(status))
                continue
            if response.is_error:
                raise error_from_response(
                    response, method, shown_path, auth_hint=self._auth.hint, redact=self._redact
                )
            return response

    def _take_slot(self, method: str, path: str) -> Slot:
        try:
            slot = self._pacer.take(self.max_rate_limit_wait_seconds)
        except PacingTimeout as exc:
            raise RateLimitWaitTimeout(
                method, path, exc.waited, exc.waiting_for, self.max_rate_limit_wait_seconds
            ) from exc
        if slot.waited_for_reset:
            self.stats.add(throttle_waits=1, throttle_seconds=slot.waited)
            log.info("rate limit window spent: waited %.2fs for the reset", slot.waited)
        return slot

    def _save_if_spent(self) -> None:
        """Write the state file once per spent window, so a process that dies before close() still
        tells the next one to wait for the reset."""
        if self._rate_limit_state is None:
            return
        seen = self._pacer.snapshot()
        if seen is not None and seen.remaining == 0 and seen.reset != self._saved_spent_reset:
            self._saved_spent_reset = seen.reset
            self._rate_limit_state.save(self._pacer_key, seen)

    def _url(self, path: str) -> tuple[str, str]:
        """The URL to request and the path shown in errors. Absolute URLs (e.g. a webhook's
        resource_url) must point at the configured API: the token is never sent elsewhere."""
        if path.startswith(("http://", "https://")):
            url, base = httpx.URL(path), httpx.URL(self.base_url)
            if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
                raise ValueError(
                    f"refusing to send API credentials to {url.scheme}://{url.host}: not {self.base_url}"
                )
            return path, url.path
        path = path if path.startswith("/") else "/" + path
        return path, path.split("?", 1)[0]

    def _jitter(self, attempt: int) -> float:
        # Exponential backoff with full jitter: retries of many clients spread out instead of lining up.
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def _backoff(self, attempt: int, method: str, path: str, reason: str) -> None:
        delay = self._jitter(attempt)
        self.stats.add(retries=1)
        log.warning("%s %s: %s, retry %d/%d in %.2fs", method, path, reason, attempt, self.max_retries, delay)
        time.sleep(delay)

    def _wait_after_429(self, response: httpx.Response, attempt: int) -> None:
        retry_after = response.headers.get("retry-after", "")
        until_reset = self._pacer.seconds_until_reset()
        if retry_after.isdigit():
            delay = float(retry_after)
            if delay > self.max_rate_limit_wait_seconds:
                raise RateLimitWaitTimeout(
                    response.request.method,
                    response.request.url.path,
                    0.0,
                    f"a Retry-After of {delay:g}s",
                    self.max_rate_limit_wait_seconds,
                )
        elif until_reset is not None and until_reset > 0:
            log.warning("429 Too Many Requests: waiting %.2fs for the window to reset", until_reset)
            return  # the pacer learnt remaining=0 and the reset time from the answer, and will wait
        else:
            # No usable reset (a missing header or a clock ahead of the server's): back off instead.
            delay = self._jitter(attempt)
        log.warning("429 Too Many Requests: waiting %.2fs", delay)
        time.sleep(delay)

    def _log(self, method: str, response: httpx.Response, started: float) -> None:
        level = logging.INFO if response.status_code >= 400 else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s %d %.0fms quota=%s",
                method,
                response.request.url.raw_path.decode(),
                response.status_code,
                (time.monotonic() - started) * 1000,
                response.headers.get("x-rate-limit-remaining", "-"),
            )

    def _redact(self, text: str) -> str:
        for secret in self._auth.secrets():
            text = text.replace(secret, "***")
        return text

    # -- lists ------------------------------------------------------------------------------------

    def fetch_page(
        self, path: str, params: Mapping[str, Any] | None = None, *, page: int = 1, limit: int | None = None
    ) -> Page:
        """One page of a list (`limit` defaults to the client's page size)."""
        limit = self.page_size if limit is None else limit
        query = {**(params or {}), "limit": limit, "page": page}
        response = self.request("GET", path, params=query)
        result = Page.from_answer(
            root_key(path),
            page,
            limit,
            response.content,
            Pagination.from_header(response.headers.get("x-pagination")),
        )
        self.stats.add(pages=1, records=result.record_count)
        return result

    def iter_pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, limit: int | None = None
    ) -> Iterator[Page]:
        """Every page of a list, in page order. Once page 1 tells how many there are, the rest are
        fetched concurrently, at most `prefetch_pages` ahead of the consumer (memory stays flat)."""
        limit = self.page_size if limit is None else limit
        fetch = partial(self.fetch_page, path, params, limit=limit)
        last = fetch(page=1)
        yield last
        if last.is_last:
            return
        planned = (partial(fetch, page=n) for n in range(2, last.total_pages + 1))
        with contextlib.closing(self._ordered(planned, _page_bytes, len(last.body))) as pages:
            for last in pages:
                yield last
                if last.is_last:
                    return
        # Every planned page was full and none said "last": records were added meanwhile; go on.
        while not last.is_last:
            last = fetch(page=last.page + 1)
            yield last

    def iter_ids(
        self,
        path: str,
        ids: Iterable[int | str],
        params: Mapping[str, Any] | None = None,
        *,
        batch: int = MAX_PAGE_SIZE,
    ) -> Iterator[Page]:
        """The records with these ids, in batches (`ids=1,2,...`), fetched concurrently, yielded in
        batch order. Filters in `params` still apply (e.g. `status=archived`)."""
        if not 1 <= batch <= MAX_PAGE_SIZE:
            raise ValueError(f"batch must be between 1 and {MAX_PAGE_SIZE}, got {batch}")
        unique = list(dict.fromkeys(str(i) for i in ids))
        batches = [unique[i : i + batch] for i in range(0, len(unique), batch)]
        tasks = (partial(self._first_pages_of_batch, path, params, chunk, batch) for chunk in batches)
        with contextlib.closing(self._ordered(tasks, lambda result: _page_bytes(result[0]))) as results:
            for first, query in results:
                yield first
                last = first
                while not last.is_last:  # only if the server pages below `batch`
                    last = self.fetch_page(path, query, page=last.page + 1, limit=batch)
                    yield last

    def _first_pages_of_batch(
        self, path: str, params: Mapping[str, Any] | None, chunk: list[str], batch: int
    ) -> tuple[Page, dict[str, Any]]:
        query = {**(params or {}), "ids": ",".join(chunk)}
        return self.fetch_page(path, query, page=1, limit=batch), query

    def _ordered(
        self, tasks: Iterator[Callable[[], T]], size: Callable[[T], int], first_size: int = 0
    ) -> Generator[T, None, None]:
        """Run tasks on the pool, yielding results in task order. Ahead of the consumer: at most
        `prefetch_pages` results, and about `prefetch_bytes` of them at the mean `size` seen so far
        (`first_size`: a result already seen), but always one, so the workers never all stop."""
        pool = self._get_pool()
        pending: deque[Future[T]] = deque()
        seen = [first_size, 1 if first_size else 0]  # bytes, results

        def fill() -> None:
            while len(pending) < self.prefetch_pages and (
                not pending or not seen[1] or (len(pending) + 1) * seen[0] <= self.prefetch_bytes * seen[1]
            ):
                task = next(tasks, None)
                if task is None:
                    return
                pending.append(pool.submit(task))

        fill()
        try:
            while pending:
                result = pending.popleft().result()
                seen[0] += size(result)
                seen[1] += 1
                fill()  # before the consumer gets the result: the workers go on meanwhile
                yield result
        finally:
            for future in pending:
                future.cancel()

    def _get_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="gecko-api")
            return self._pool

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        self._http.close()
        if self._rate_limit_state is not None:
            seen = self._pacer.snapshot()
            if seen is not None:
                self._rate_limit_state.save(self._pacer_key, seen)

    def __enter__(self) -> GeckoClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GeckoClient({self.base_url!r})"
