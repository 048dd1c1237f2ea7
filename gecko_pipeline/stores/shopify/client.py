"""ShopifyClient: the one way the pipeline talks to a Shopify shop's Admin GraphQL API.

`POST https://{shop}/admin/api/{version}/graphql.json` with `X-Shopify-Access-Token` (shared/
shopify-api.md section 1). What it adds to a plain POST:

- **Pacing by the cost bucket** (section 2): every answer carries `extensions.cost.throttleStatus`
  (`currentlyAvailable`, `maximumAvailable`, `restoreRate`). Before a query of estimated cost C the
  client waits `max(0, (C - available) / restoreRate)`, the bucket being modelled as refilling since the
  last answer. C is the `requestedQueryCost` Shopify reported for the same document last time, else a
  conservative default (capped at the bucket's size).
- **THROTTLED** (in a 200, or as a 429) waits as long as the bucket needs and resends (nothing ran);
  429 and 503 honour `Retry-After`. Other 5xx, cut bodies and transport errors are retried with
  exponential backoff and jitter for queries, and for mutations only when the caller says they are
  idempotent (an `@idempotent(key:)` directive) or the request never left (connect errors).
- **A bounded wait**: one call never sleeps longer than `max_wait_seconds` in all (pacing, THROTTLED,
  Retry-After, backoff): `ShopifyWaitExceeded` says why instead of hanging.
- **Typed errors** (errors.py) that say what to fix; a mutation's `userErrors` raise `ShopifyUserError`
  naming the input field path. The token never appears in a log line or an error.
- **Exact numbers**: answers are parsed with decimals for every JSON number with a fraction (a tax
  rate `0.0625` stays `Decimal("0.0625")`); ids are strings (GIDs) and never pass through a float.
- `X-Shopify-API-Version` is checked: an answer served as another version (Shopify falls forward
  from an unsupported one) is logged once and kept in `served_version`.
- `paginate` / `iter_pages` walk a connection by cursor; `run_bulk_query` runs a bulk operation and
  streams its JSONL records with their children re-attached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from gecko_pipeline.channels.config import DEFAULT_SHOPIFY_API_VERSION, ShopifyChannel
from gecko_pipeline.stores.shopify.errors import (
    ShopifyAccessDenied,
    ShopifyAuthError,
    ShopifyBulkOperationError,
    ShopifyError,
    ShopifyForbidden,
    ShopifyGraphQLError,
    ShopifyHttpError,
    ShopifyNotFound,
    ShopifyPaymentRequired,
    ShopifyQueryCostExceeded,
    ShopifyShopLocked,
    ShopifyTransportError,
    ShopifyUserError,
    ShopifyWaitExceeded,
)

log = logging.getLogger("gecko_pipeline.stores.shopify")

DEFAULT_API_VERSION = DEFAULT_SHOPIFY_API_VERSION
# The requested cost assumed for a document never sent before (capped at the bucket's size): above
# what our own page queries request, so a first query waits rather than meets THROTTLED.
DEFAULT_COST_ESTIMATE = 250.0
# Added to every wait for the bucket: the server's clock and ours never agree to the millisecond.
PACING_MARGIN_SECONDS = 0.05
# Failures before a request is sent: repeating it cannot apply a mutation twice.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_OPERATION = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(query|mutation|subscription)\b")


def loads(content: bytes | str) -> Any:
    """JSON with exact decimals for fractional numbers (never a binary float)."""
    return json.loads(content, parse_float=Decimal)


def operation_type(document: str) -> str:
    """`query` (also for an anonymous `{ ... }` document), `mutation` or `subscription`."""
    match = _OPERATION.match(document)
    return match.group(1) if match else "query"


@dataclass
class ShopifyStats:
    """What a client did; thread-safe counters for metadata and benchmarks."""

    requests: int = 0  # HTTP requests sent (retries and resends included)
    cost_requested: float = 0.0  # requestedQueryCost of the queries that ran
    cost_actual: float = 0.0  # actualQueryCost: what the bucket was charged
    throttled: int = 0  # THROTTLED answers (200 or 429) received
    retries: int = 0  # requests repeated after a 5xx, a cut body or a transport error
    pacing_waits: int = 0  # times the client held a query back for the bucket to refill
    waited_seconds: float = 0.0  # all sleeping: pacing, THROTTLED, Retry-After, backoff
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


@dataclass
class _Bucket:
    """The client's model of Shopify's leaky bucket, from the last throttleStatus."""

    available: float | None = None  # None: not seen yet (the first query is not held back)
    maximum: float | None = None
    restore_rate: float | None = None
    at: float = 0.0  # monotonic time the request that reported it was sent

    def now_available(self, now: float) -> float | None:
        if self.available is None or self.restore_rate is None:
            return None
        refilled = self.available + self.restore_rate * max(0.0, now - self.at)
        return min(self.maximum, refilled) if self.maximum is not None else refilled


class _Budget:
    """The sleeping one call may do in all; raises ShopifyWaitExceeded rather than exceed it."""

    def __init__(self, client: ShopifyClient, operation: str) -> None:
        self.client, self.operation, self.spent = client, operation, 0.0

    def sleep(self, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        limit = self.client.max_wait_seconds
        if self.spent + seconds > limit:
            raise ShopifyWaitExceeded(
                f"{self.operation}: would wait {self.spent + seconds:.1f}s in all ({reason}), more than "
                f"max_wait_seconds={limit:g}; try again later or raise the limit"
            )
        self.spent += seconds
        self.client.stats.add(waited_seconds=seconds)
        self.client._sleep(seconds)


class ShopifyClient:
    """Client of one shop's Admin GraphQL API (or the Shopify sandbox). Thread-safe."""

    def __init__(
        self,
        shop: str,
        token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        max_wait_seconds: float = 120.0,
        default_cost: float = DEFAULT_COST_ESTIMATE,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        token_hint: str | None = None,
        strict_version: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise ShopifyAuthError(
                f"no Admin API access token for {shop}"
                + (f": set the variable {token_hint}" if token_hint else ""),
                status=None,
            )
        self.shop = shop
        self.api_version = api_version
        self.base_url = (base_url or f"https://{shop}").rstrip("/")
        self.max_retries = max_retries
        self.max_wait_seconds = max_wait_seconds
        self.default_cost = default_cost
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.token_hint = token_hint
        self.strict_version = strict_version
        self.served_version: str | None = None
        self.stats = ShopifyStats()
        self._token = token
        self._sleep = sleep
        self._bucket = _Bucket()
        self._costs: dict[str, float] = {}  # document digest -> last requestedQueryCost
        self._lock = threading.Lock()
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={
                "X-Shopify-Access-Token": token,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "gecko_pipeline (Shopify sales-channel integration)",
            },
            transport=transport,
        )

    @classmethod
    def for_channel(cls, channel: ShopifyChannel, token: str, **kwargs: Any) -> ShopifyClient:
        """A client for a `kind: shopify` channel; `token` is the value of its `access_token_env`."""
        kwargs.setdefault("api_version", channel.api_version)
        kwargs.setdefault("token_hint", channel.access_token_env)
        kwargs.setdefault("base_url", channel.admin_url)
        return cls(channel.shop, token, **kwargs)

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/admin/api/{self.api_version}/graphql.json"

    # -- one request ------------------------------------------------------------------------------

    def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Runs one GraphQL document and returns its `data`. Raises a typed ShopifyError on top-level
        errors, HTTP errors, or when it would wait longer than `max_wait_seconds`.

        `idempotent`: may the document be sent again after a 5xx or a lost answer? Default: yes for a
        query, no for a mutation (pass True for a mutation carrying `@idempotent(key:)`)."""
        kind = operation_type(document)
        replayable = (kind == "query") if idempotent is None else idempotent
        label = operation_name or _describe(document)
        digest = hashlib.sha1(document.encode()).hexdigest()
        body = json.dumps(
            {"query": document, "variables": dict(variables or {}), "operationName": operation_name},
            default=_json_default,
            separators=(",", ":"),
        ).encode()
        budget = _Budget(self, label)
        failures = 0
        while True:
            self._pace(digest, budget, label)
            try:
                response = self._http.post(self.graphql_url, content=body)
                content = response.content
            except httpx.TransportError as exc:
                self.stats.add(requests=1)
                reached = not isinstance(exc, NOT_SENT_ERRORS)
                if (replayable or not reached) and failures < self.max_retries:
                    failures += 1
                    self._backoff(failures, budget, label, type(exc).__name__)
                    continue
                unsafe = " (a mutation is not resent blindly: it may have run)" if reached else ""
                raise ShopifyTransportError(
                    f"{label}: {type(exc).__name__}: {self._redact(str(exc))}{unsafe}",
                    may_have_reached_server=reached,
                ) from exc
            self.stats.add(requests=1)
            status = response.status_code
            request_id = response.headers.get("x-request-id")
            self._check_version(response)
            if status == 429:
                self.stats.add(throttled=1)
                self._learn(digest, _cost_of(_try_loads(content)))
                budget.sleep(self._retry_after(response) or self._throttle_delay(digest), "429 throttled")
                continue
            answer = _try_loads(content) if status == 200 else None
            if status >= 500 or (status == 200 and not isinstance(answer, dict)):
                if replayable and failures < self.max_retries:
                    failures += 1
                    retry_after = self._retry_after(response) if status == 503 else None
                    if retry_after is not None:
                        self.stats.add(retries=1)
                        budget.sleep(retry_after, f"{status} Retry-After")
                    else:
                        self._backoff(failures, budget, label, str(status))
                    continue
                if status == 200:  # a body cut short (a dropped connection can look like a whole answer)
                    raise ShopifyTransportError(
                        f"{label}: the answer is not a whole JSON object (cut short?)",
                        may_have_reached_server=True,
                    )
                raise ShopifyHttpError(
                    f"{label}: HTTP {status} from Shopify after {failures} retries"
                    + ("" if replayable else " (a mutation is not resent blindly: it may have run)"),
                    status=status,
                    request_id=request_id,
                )
            if status != 200:
                raise self._http_error(status, content, label, request_id)
            assert isinstance(answer, dict)
            cost = _cost_of(answer)
            self._learn(digest, cost)
            errors = answer.get("errors")
            if errors:
                codes = _codes(errors)
                if "THROTTLED" in codes:
                    self.stats.add(throttled=1)
                    budget.sleep(self._throttle_delay(digest), "THROTTLED")
                    continue
                raise _graphql_error(errors, request_id)
            if cost:
                self.stats.add(
                    cost_requested=float(cost.get("requestedQueryCost") or 0),
                    cost_actual=float(cost.get("actualQueryCost") or 0),
                )
            data = answer.get("data")
            return data if isinstance(data, dict) else {}

    def mutate(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        root: str,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """Runs a mutation and returns its payload (`data[root]`); its `userErrors` (or
        `orderCancelUserErrors`) raise ShopifyUserError naming the field path."""
        data = self.execute(document, variables, idempotent=idempotent)
        payload = data.get(root)
        if not isinstance(payload, dict):
            raise ShopifyError(f"{root}: no payload in the answer")
        user_errors = [e for key in ("userErrors", "orderCancelUserErrors") for e in (payload.get(key) or [])]
        if user_errors:
            raise ShopifyUserError(root, user_errors)
        return payload

    # -- pagination -------------------------------------------------------------------------------

    def iter_pages(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        path: Sequence[str],
        after: str | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of the connection at `path` in `data` (e.g. `("orders",)`), as (nodes, endCursor). The
        document must take `$after: String` and select `pageInfo { hasNextPage endCursor }` and `nodes`
        (or `edges { node }`)."""
        cursor = after
        while True:
            data = self.execute(document, {**(variables or {}), "after": cursor})
            connection: Any = data
            for key in path:
                connection = connection.get(key) if isinstance(connection, dict) else None
            if not isinstance(connection, dict):
                raise ShopifyError(f"no connection at {'.'.join(path)} in the answer")
            nodes = connection.get("nodes")
            if nodes is None:
                nodes = [edge.get("node") for edge in connection.get("edges") or []]
            info = connection.get("pageInfo") or {}
            cursor = info.get("endCursor")
            yield [n for n in nodes if isinstance(n, dict)], cursor
            if not info.get("hasNextPage") or not cursor:
                return

    def paginate(
        self, document: str, variables: Mapping[str, Any] | None = None, *, path: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        """Every node of the connection at `path`, page after page (see `iter_pages`)."""
        for nodes, _ in self.iter_pages(document, variables, path=path):
            yield from nodes

    # -- bulk operations --------------------------------------------------------------------------

    def run_bulk_query(
        self,
        query: str,
        *,
        poll_interval: float = 1.0,
        timeout: float = 3600.0,
        group_objects: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Runs `query` as a bulk operation (`bulkOperationRunQuery`), polls it until it completes, then
        streams the JSONL result: each root record with its descendants (the lines whose `__parentId`
        leads to it) under `__children`, in file order.

        With `group_objects=True` (API versions that take `groupObjects`, 2025-10 on) Shopify writes each
        parent followed by its children, so roots are yielded as the file streams; otherwise the file
        may list children after later parents and the roots are yielded at the end."""
        start = (
            "mutation($query: String!, $group: Boolean!) { bulkOperationRunQuery(query: $query, groupObjects: $group) "
            "{ bulkOperation { id status } userErrors { field message code } } }"
            if group_objects
            else "mutation($query: String!) { bulkOperationRunQuery(query: $query) "
            "{ bulkOperation { id status } userErrors { field message code } } }"
        )
        variables: dict[str, Any] = {"query": query}
        if group_objects:
            variables["group"] = True
        try:
            payload = self.mutate(start, variables, root="bulkOperationRunQuery")
        except ShopifyUserError as exc:
            raise ShopifyBulkOperationError(str(exc)) from exc
        operation = payload.get("bulkOperation") or {}
        operation_id = operation.get("id")
        if not operation_id:
            raise ShopifyBulkOperationError("bulkOperationRunQuery started nothing")
        url = self._wait_for_bulk(str(operation_id), poll_interval, timeout)
        if url is None:
            return  # no objects: Shopify gives no file
        yield from self._bulk_records(url, streaming=group_objects)

    def _wait_for_bulk(self, operation_id: str, poll_interval: float, timeout: float) -> str | None:
        poll = (
            "query($id: ID!) { node(id: $id) { ... on BulkOperation "
            "{ id status errorCode objectCount url partialDataUrl } } }"
        )
        deadline = time.monotonic() + timeout
        while True:
            node = self.execute(poll, {"id": operation_id}).get("node") or {}
            status = node.get("status")
            if status == "COMPLETED":
                return node.get("url")
            if status in ("FAILED", "CANCELED", "CANCELING", "EXPIRED"):
                raise ShopifyBulkOperationError(
                    f"bulk operation {operation_id} {status.lower()}"
                    + (f" ({node.get('errorCode')})" if node.get("errorCode") else "")
                )
            if time.monotonic() + poll_interval > deadline:
                raise ShopifyWaitExceeded(f"bulk operation {operation_id} not done after {timeout:g}s")
            self.stats.add(waited_seconds=poll_interval)
            self._sleep(poll_interval)

    def _bulk_records(self, url: str, *, streaming: bool) -> Iterator[dict[str, Any]]:
        roots: dict[str, dict[str, Any]] = {}  # pending roots by id, in file order
        index: dict[str, dict[str, Any]] = {}  # every pending record by id (children find parents)
        # The result URL is a signed storage link: no Shopify token is sent there.
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as plain:
            with plain.stream("GET", url) as response:
                if response.status_code != 200:
                    raise ShopifyBulkOperationError(f"bulk result download: HTTP {response.status_code}")
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    record = loads(line)
                    parent_id = record.get("__parentId")
                    if parent_id is None:
                        if streaming:
                            yield from roots.values()
                            roots.clear()
                            index.clear()
                        roots[str(record.get("id"))] = record
                    else:
                        parent = index.get(str(parent_id))
                        if parent is None:
                            raise ShopifyBulkOperationError(
                                f"bulk result: {record.get('id')} names parent {parent_id}, not seen before it"
                            )
                        parent.setdefault("__children", []).append(record)
                    if record.get("id") is not None:
                        index[str(record["id"])] = record
        yield from roots.values()

    # -- pacing and retries -----------------------------------------------------------------------

    def _estimate(self, digest: str) -> float:
        estimate = self._costs.get(digest, self.default_cost)
        maximum = self._bucket.maximum
        return min(estimate, maximum) if maximum is not None else estimate

    def _pace(self, digest: str, budget: _Budget, label: str) -> None:
        """Holds the request until the modelled bucket can pay its estimated cost, then takes it."""
        with self._lock:
            estimate = self._estimate(digest)
            now = time.monotonic()
            available = self._bucket.now_available(now)
            rate = self._bucket.restore_rate
            wait = 0.0
            if available is not None and rate:
                if estimate > available:
                    wait = (estimate - available) / rate + PACING_MARGIN_SECONDS
                # Take the cost now, so concurrent callers queue behind it.
                self._bucket.available = available - estimate
                self._bucket.at = now
        if wait > 0:
            self.stats.add(pacing_waits=1)
            log.debug("%s: waiting %.2fs for the cost bucket (needs %.0f)", label, wait, estimate)
            budget.sleep(wait, f"the cost bucket refilling for a query of about {estimate:.0f} points")

    def _learn(self, digest: str, cost: Mapping[str, Any] | None) -> None:
        if not cost:
            return
        with self._lock:
            requested = cost.get("requestedQueryCost")
            if requested is not None:
                self._costs[digest] = float(requested)
            status = cost.get("throttleStatus") or {}
            if status.get("currentlyAvailable") is not None:
                self._bucket = _Bucket(
                    available=float(status["currentlyAvailable"]),
                    maximum=float(status.get("maximumAvailable") or 0) or None,
                    restore_rate=float(status.get("restoreRate") or 0) or None,
                    # Taken as measured now, when the answer is in: the server measured it earlier,
                    # so the refill we add from here on never overestimates what it holds.
                    at=time.monotonic(),
                )

    def _throttle_delay(self, digest: str) -> float:
        """How long until the bucket holds this query's cost, plus jitter (nothing ran)."""
        with self._lock:
            estimate = self._estimate(digest)
            maximum = self._bucket.maximum
            if maximum is not None and estimate > maximum:
                raise ShopifyWaitExceeded(
                    f"a query of {estimate:.0f} points can never run: the bucket holds at most {maximum:.0f}"
                )
            available = self._bucket.now_available(time.monotonic())
            rate = self._bucket.restore_rate
        if available is None or not rate:
            return 1.0 + random.uniform(0, 0.5)  # no throttleStatus seen yet: a short pause
        return max(0.0, (estimate - available) / rate) + PACING_MARGIN_SECONDS + random.uniform(0, 0.2)

    def _backoff(self, attempt: int, budget: _Budget, label: str, reason: str) -> None:
        delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
        self.stats.add(retries=1)
        log.warning("%s: %s, retry %d/%d in %.2fs", label, reason, attempt, self.max_retries, delay)
        budget.sleep(delay, f"retry {attempt} after {reason}")

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after", "").strip()
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds if seconds >= 0 else None

    def _check_version(self, response: httpx.Response) -> None:
        served = response.headers.get("x-shopify-api-version")
        if not served or served == self.api_version or served == self.served_version:
            return
        self.served_version = served
        message = (
            f"{self.shop} answered as API version {served}, not the {self.api_version} asked for "
            "(Shopify falls forward from an unsupported version): set the channel's api_version"
        )
        if self.strict_version:
            raise ShopifyError(message, status=response.status_code)
        log.warning(message)

    def _http_error(
        self, status: int, content: bytes, label: str, request_id: str | None
    ) -> ShopifyHttpError:
        detail = _error_text(content)
        shown = f": {self._redact(detail)}" if detail else ""
        hint = f" (variable {self.token_hint})" if self.token_hint else ""
        if status == 401:
            return ShopifyAuthError(
                f"{label}: 401 the Admin API access token{hint} was refused{shown}; check that it belongs to "
                f"{self.shop} and the app is still installed",
                status=status,
                request_id=request_id,
            )
        if status == 402:
            return ShopifyPaymentRequired(
                f"{label}: 402 the shop {self.shop} is frozen (an unpaid Shopify bill){shown}; the merchant must "
                "settle it",
                status=status,
                request_id=request_id,
            )
        if status == 403:
            return ShopifyForbidden(
                f"{label}: 403 refused{shown}; the app probably lacks an access scope (see docs/shopify.md: "
                "read_orders, read_all_orders, read_products, read_inventory, ...)",
                status=status,
                request_id=request_id,
            )
        if status == 423:
            return ShopifyShopLocked(
                f"{label}: 423 the shop {self.shop} is locked{shown} (repeatedly over API limits, or a fraud "
                "review); contact Shopify support",
                status=status,
                request_id=request_id,
            )
        if status == 404:
            return ShopifyNotFound(
                f"{label}: 404{shown}; check the shop domain {self.shop} and api_version {self.api_version}",
                status=status,
                request_id=request_id,
            )
        return ShopifyHttpError(f"{label}: HTTP {status}{shown}", status=status, request_id=request_id)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ShopifyClient({self.shop!r}, api_version={self.api_version!r})"


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot send {type(value).__name__} to Shopify as JSON")


def _describe(document: str) -> str:
    """`query orders` / `mutation inventorySetQuantities`: the operation and its first root field."""
    kind = operation_type(document)
    body = document[document.find("{") + 1 :] if "{" in document else ""
    match = re.match(r"\s*(?:\w+\s*:\s*)?(\w+)", body)
    return f"{kind} {match.group(1)}" if match else kind


def _try_loads(content: bytes) -> Any:
    try:
        return loads(content) if content else None
    except ValueError:
        return None


def _cost_of(answer: Any) -> Mapping[str, Any] | None:
    if isinstance(answer, dict):
        cost = (answer.get("extensions") or {}).get("cost")
        return cost if isinstance(cost, dict) else None
    return None


def _codes(errors: Any) -> set[str]:
    if not isinstance(errors, list):
        return set()
    return {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}


def _graphql_error(errors: Any, request_id: str | None) -> ShopifyGraphQLError:
    listed = (
        [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else [{"message": str(errors)}]
    )
    codes = _codes(listed)
    if "MAX_COST_EXCEEDED" in codes:
        return ShopifyQueryCostExceeded(listed, request_id=request_id)
    if "ACCESS_DENIED" in codes:
        return ShopifyAccessDenied(listed, request_id=request_id)
    return ShopifyGraphQLError(listed, request_id=request_id)


def _error_text(content: bytes) -> str:
    """Shopify's error text: `{"errors": "<text>"}`, `{"errors": [...]}`, or a short plain body."""
    answer = _try_loads(content)
    if isinstance(answer, dict) and answer.get("errors"):
        errors = answer["errors"]
        if isinstance(errors, str):
            return errors
        if isinstance(errors, list):
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3])
        return str(errors)[:200]
    text = content[:200].decode("utf-8", errors="replace").strip()
    return "" if text.startswith("<") else text
