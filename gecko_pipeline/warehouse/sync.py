"""Bringing the account into the warehouse: full, incremental and targeted (ids) syncs of a stream.

Incremental: `updated_at_min = cursor - overlap`. The new cursor is the latest `updated_at` stored,
capped at the sync's start (records changed while the sync runs are fetched again next time), and it is
written in the same transaction as the last rows it covers. Rows are committed batch by batch; a sync
killed midway leaves its cursor where it was, so the rerun fetches those records again and the upserts
make that harmless: nothing lost, nothing doubled.

Full: every record of every status; afterwards rows the listing no longer holds are checked by id (one
request per 250) and those the API really lost get `_vanished_at` (the row is kept).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from gecko_pipeline.api.errors import NotFoundError
from gecko_pipeline.api.pages import Page
from gecko_pipeline.warehouse.catalog import RESOURCES, STREAM_OF_TABLE, TABLES, ApiResource, ensure_schema
from gecko_pipeline.warehouse.loader import BatchResult, LoadStats, drop_staged, loader_for, stage_bodies
from gecko_pipeline.warehouse.price_lists import REFERENCING_TABLES, ensure_known_price_lists
from gecko_pipeline.warehouse.state import read_state, write_state

if TYPE_CHECKING:
    from gecko_pipeline.api import GeckoClient

log = logging.getLogger("gecko_pipeline.warehouse")
Progress = Callable[[str], None]
UNAVAILABLE = "unavailable"  # sync_state.mode of an optional list the API answered 404 for

DEFAULT_OVERLAP = timedelta(seconds=2)
BATCH_PAGES = 32  # pages loaded per statement batch: fewer statements...
BATCH_BYTES = 2_000_000  # ...but DuckDB's working set stays small: staging a batch takes ~10x its JSON
COMMIT_SECONDS = 1.0  # commit at most about once a second: each commit is an fsync...
# ...or sooner once this many bytes of pages are loaded: until its commit a batch's rows live in DuckDB's
# transaction-local storage (about 5x the JSON they came from), so this bounds a sync's memory.
COMMIT_BYTES = 8_000_000


def utcnow() -> datetime:
    """Naive UTC, like every TIMESTAMP in the warehouse."""
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class SyncResult:
    """What a sync did: per-table counts, requests and pages spent, the cursor it left."""

    resource: str
    mode: str  # "full", "incremental" or "ids"
    tables: dict[str, LoadStats] = field(default_factory=dict)
    requests: int = 0
    pages: int = 0
    duration_s: float = 0.0
    load_s: float = 0.0  # of duration_s, the time spent loading into DuckDB (the rest: waiting on the API)
    cursor: datetime | None = None
    vanished: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, str | None] = field(default_factory=dict)  # per stream, when several were synced

    @property
    def inserted(self) -> int:
        return sum(s.inserted for s in self.tables.values())

    @property
    def updated(self) -> int:
        return sum(s.updated for s in self.tables.values())

    @property
    def issues(self) -> int:
        return sum(s.issues + s.rejected for s in self.tables.values())

    @property
    def records(self) -> int:
        return sum(s.records for s in self.tables.values())

    def merge(self, other: SyncResult) -> None:
        for name, stats in other.tables.items():
            self.tables.setdefault(name, LoadStats()).add(stats)
        for name, count in other.vanished.items():
            self.vanished[name] = self.vanished.get(name, 0) + count
        self.requests += other.requests
        self.pages += other.pages
        self.duration_s += other.duration_s
        self.load_s += other.load_s


def _with_lookahead(batches: Iterator[list[Page]]) -> Iterator[tuple[list[Page], bool]]:
    """(batch, is_last): the last batch's transaction also carries the cursor."""
    current = next(batches, None)
    while current is not None:
        following = next(batches, None)
        yield current, following is None
        current = following


def _batched(pages: Iterable[Page], size: int, max_bytes: int = BATCH_BYTES) -> Iterator[list[Page]]:
    batch: list[Page] = []
    total = 0
    for page in pages:
        batch.append(page)
        total += len(page.body)
        if len(batch) >= size or total >= max_bytes:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


class _Load:
    """Loads batches of page bodies for a set of tables, inside the caller's transactions."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        tables: list[str],
        synced_at: datetime,
        track_seen: bool = False,
        single: bool = False,
    ) -> None:
        self.con, self.tables, self.synced_at, self.track_seen = con, tables, synced_at, track_seen
        self.single = single  # answers hold one record (`{"account": {...}}`), not a list
        self.result = BatchResult()
        if track_seen:
            for table in self.id_tables():
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _seen_{table} (id {TABLES[table].column('id').type})"
                )

    def id_tables(self) -> list[str]:
        return [t for t in self.tables if TABLES[t].has_id]

    def batch(self, bodies: list[bytes]) -> None:
        stage_bodies(self.con, bodies)
        for table in self.tables:
            loader = loader_for(TABLES[table])
            loader.stage_from_bodies(self.con, table, single=self.single)
            staged = loader.load(self.con, self.synced_at, self.result)
            if staged and self.track_seen and TABLES[table].has_id:
                self.con.execute(f"INSERT INTO _seen_{table} SELECT id FROM _typed_{table}")  # noqa: S608
        # The staged copies of the batch would otherwise stay in memory until the next batch of their
        # table, one set per table: tens of MB held for nothing.
        drop_staged(self.con, self.tables)


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


class _Commits:
    """One transaction over several batches, committed about every `seconds`, once `max_bytes` of pages
    are in it, and after the final one. A failure rolls back the uncommitted batches only; their pages
    are fetched again by the rerun."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float, max_bytes: int = COMMIT_BYTES) -> None:
        self.con, self.seconds, self.max_bytes = con, seconds, max_bytes
        self.open = False
        self.since = time.monotonic()
        self.pending = 0  # bytes of pages loaded in the open transaction

    @contextmanager
    def batch(self, final: bool, size: int = 0) -> Iterator[None]:
        if not self.open:
            self.con.execute("BEGIN TRANSACTION")
            self.open, self.since, self.pending = True, time.monotonic(), 0
        try:
            yield
        except BaseException:
            self.abandon()
            raise
        self.pending += size
        if final or self.pending >= self.max_bytes or time.monotonic() - self.since >= self.seconds:
            self.con.execute("COMMIT")
            self.open = False

    def abandon(self) -> None:
        if self.open:
            self.open = False
            # Never hide the error that got us here (e.g. a database DuckDB already invalidated).
            with suppress(duckdb.Error):
                self.con.execute("ROLLBACK")


def _new_cursor(latest: datetime | None, started: datetime, previous: datetime | None) -> datetime | None:
    if latest is None:
        return previous
    return min(latest, started)


def sync_stream(
    client: GeckoClient,
    con: duckdb.DuckDBPyConnection,
    name: str,
    *,
    full: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    batch_pages: int = BATCH_PAGES,
    commit_seconds: float = COMMIT_SECONDS,
    progress: Progress | None = None,
) -> SyncResult:
    """Sync one stream (see streams.RESOURCES); full when asked, or when the stream has no cursor yet."""
    ensure_schema(con)
    return _sync_stream(
        client,
        con,
        name,
        full=full,
        overlap=overlap,
        batch_pages=batch_pages,
        commit_seconds=commit_seconds,
        progress=progress,
    )


def _sync_stream(
    client: GeckoClient,
    con: duckdb.DuckDBPyConnection,
    name: str,
    *,
    full: bool,
    overlap: timedelta,
    batch_pages: int,
    commit_seconds: float,
    progress: Progress | None,
) -> SyncResult:
    """sync_stream on a warehouse whose schema is in place (ensure_schema reads the whole catalogue:
    a sync of every stream checks it once, not once per stream)."""
    stream = RESOURCES[name]
    started, clock = utcnow(), time.perf_counter()
    requests_before = client.stats.snapshot()["requests"]
    state = read_state(con, name)
    full = full or not stream.incremental or state.cursor is None
    mode = "full" if full else "incremental"
    since = {} if full or state.cursor is None else {"updated_at_min": _iso(state.cursor - overlap)}
    load = _Load(con, stream.tables_loaded(full), started, track_seen=full, single=stream.single)
    result = SyncResult(name, mode, tables=load.result.tables)
    say = progress or (lambda _message: None)

    def finish(tx: duckdb.DuckDBPyConnection, problem: str | None = None) -> None:
        # Runs inside the transaction of the last rows: the cursor never runs ahead of stored rows.
        result.requests = int(client.stats.snapshot()["requests"] - requests_before)
        result.duration_s = time.perf_counter() - clock
        if REFERENCING_TABLES.intersection(stream.tables_loaded(full)):
            ensure_known_price_lists(tx, started)
        covered = [name] + [t for t in stream.tables_loaded(full)[1:] if full and t in RESOURCES]
        for resource in covered:
            previous = state.cursor if resource == name else read_state(tx, resource).cursor
            cursor = _new_cursor(load.result.max_updated_at.get(RESOURCES[resource].table), started, previous)
            if resource == name:
                result.cursor = cursor
            write_state(
                tx,
                resource,
                cursor=cursor,
                mode=result.mode,
                started_at=started,
                finished_at=utcnow(),
                requests=result.requests,
                pages=result.pages,
                inserted=result.inserted,
                updated=result.updated,
                issues=result.issues,
                problem=problem,
            )

    if stream.single:
        pages: Iterator[Page] = _single_page(client, stream)
    else:
        listings = stream.listings(full)
        pages = itertools.chain.from_iterable(
            client.iter_pages(stream.path, {**q, **since}) for q in listings
        )
    commits = _Commits(con, commit_seconds)
    try:
        for batch, is_last in _with_lookahead(_batched(pages, batch_pages)):
            with commits.batch(final=is_last, size=sum(len(page.body) for page in batch)):
                loading = time.perf_counter()
                load.batch([page.body for page in batch])
                result.load_s += time.perf_counter() - loading
                result.pages += len(batch)
                if is_last and not full:
                    finish(con)
            last = batch[-1]
            say(
                f"{name}: page {last.page} of {max(last.total_pages, last.page)} loaded "
                f"({load.result.stats(stream.table).records} {stream.table} so far)"
            )
    except NotFoundError as error:
        if stream.core or result.pages:
            raise
        return _unavailable(con, stream, result, error, finish)
    finally:
        commits.abandon()  # only after a failure: roll back what is not committed yet
    if full:
        with _transaction(con) as tx:
            for table in load.id_tables():
                result.vanished[table] = _mark_vanished(client, tx, table, started)
            _clear_stale_rejections(tx, stream.tables_loaded(full), started)
            finish(tx)
    say(
        f"{name}: {mode} sync done: {result.inserted} inserted, {result.updated} updated, "
        f"{result.issues} load issues, {result.requests} requests"
    )
    return result


def _unavailable(
    con: duckdb.DuckDBPyConnection,
    stream: ApiResource,
    result: SyncResult,
    error: NotFoundError,
    finish: Callable[[duckdb.DuckDBPyConnection, str | None], None],
) -> SyncResult:
    """An optional list the API answers 404 for: one warning, recorded in sync_state; the sync goes on."""
    problem = (
        f"GET {stream.path} answered 404: this account or API version has no such list; skipped "
        "(the rest of the sync goes on)"
    )
    log.warning("%s", problem)
    result.mode = UNAVAILABLE
    with _transaction(con) as tx:
        finish(tx, problem)
    return result


def _clear_stale_rejections(con: duckdb.DuckDBPyConnection, tables: list[str], started: datetime) -> None:
    """After a full listing: a record rejected earlier (no usable id) that this listing no longer holds
    in that form was repaired or removed by the API, so its issue goes (the raw record stays kept in
    rejected_records). Child rows' rejections go with their parent's reload instead."""
    con.execute(
        "DELETE FROM load_issues WHERE table_name IN (SELECT unnest(?)) AND record_id LIKE 'rejected:%' "
        "AND seen_at < ?",
        [tables, started],
    )


def _single_page(client: GeckoClient, stream: ApiResource) -> Iterator[Page]:
    response = client.request("GET", stream.path)
    yield Page(stream.table, 1, 1, 1, response.content)


def _mark_vanished(client: GeckoClient, con: duckdb.DuckDBPyConnection, table: str, now: datetime) -> int:
    """After a complete listing: rows it did not hold are asked for by id; the ones still missing are
    marked `_vanished_at` (kept, not deleted). Records found are stored, so nothing is marked wrongly
    when the listing missed a record (e.g. one shifted by a deletion during the sync)."""
    candidates = [
        row[0]
        for row in con.execute(
            f"SELECT id FROM {table} WHERE _vanished_at IS NULL AND _raw IS NOT NULL "  # noqa: S608
            f"AND id NOT IN (SELECT id FROM _seen_{table})"
        ).fetchall()
    ]
    if not candidates or table not in STREAM_OF_TABLE:
        return 0
    found = _fetch_ids(client, con, table, candidates, now)
    gone = [c for c in candidates if c not in found]
    _set_vanished(con, table, gone, now)
    return len(gone)


def _set_vanished(con: duckdb.DuckDBPyConnection, table: str, ids: list, now: datetime) -> None:
    if ids:
        con.execute(
            f"UPDATE {table} SET _vanished_at = ? WHERE id IN (SELECT unnest(?)) AND _vanished_at IS NULL",  # noqa: S608
            [now, ids],
        )


def _fetch_ids(
    client: GeckoClient,
    con: duckdb.DuckDBPyConnection,
    table: str,
    ids: list,
    now: datetime,
    result: SyncResult | None = None,
) -> set:
    """Fetch these records by id (batches of 250) into `table` (and its children); return the ids found."""
    stream = RESOURCES[STREAM_OF_TABLE[table]]
    tables = [table] if table != stream.table else stream.tables_loaded(full=True)
    params = stream.full_params if table == stream.table else {}
    load = _Load(con, tables, now, track_seen=True)

    def fetch(wanted: list, query: dict[str, str]) -> None:
        for batch in _batched(client.iter_ids(f"/{table}", wanted, query), BATCH_PAGES):
            load.batch([page.body for page in batch])
            if result is not None:
                result.pages += len(batch)

    # `ids` does not lift the API's status default, so the first ask names every status we know; the
    # ids still missing are asked again without a status filter, which brings a status we do not know.
    statuses = TABLES[table].statuses
    fetch(ids, {**params, "status": ",".join(statuses)} if statuses else dict(params))
    if statuses:
        seen = {row[0] for row in con.execute(f"SELECT id FROM _seen_{table}").fetchall()}  # noqa: S608
        missing = [i for i in ids if i not in seen]
        if missing:
            fetch(missing, dict(params))
    if result is not None:
        for name, stats in load.result.tables.items():
            result.tables.setdefault(name, LoadStats()).add(stats)
    return {row[0] for row in con.execute(f"SELECT id FROM _seen_{table}").fetchall()}  # noqa: S608


def refresh_ids(
    client: GeckoClient, con: duckdb.DuckDBPyConnection, resource: str, ids: list[int]
) -> SyncResult:
    """Refresh exactly these records of an API resource (e.g. "variants" after a stock webhook), with
    their children: a variant's locations and prices, an order's line items, a fulfillment's line items.
    Ids the API no longer has are marked `_vanished_at`. Costs one request per 250 ids."""
    ensure_schema(con)
    started, clock = utcnow(), time.perf_counter()
    requests_before = client.stats.snapshot()["requests"]
    result = SyncResult(resource, "ids")
    if resource not in TABLES or not TABLES[resource].has_id:
        raise ValueError(f"cannot refresh {resource!r} by id; one of: {sorted(STREAM_OF_TABLE)}")
    ids = list(dict.fromkeys(ids))
    if ids:
        with _transaction(con) as tx:
            found = _fetch_ids(client, tx, resource, ids, started, result)
            gone = [i for i in ids if i not in found]
            _set_vanished(tx, resource, gone, started)
            result.vanished[resource] = len(gone)
            if "order_line_items" in RESOURCES[resource].refreshed_with:
                _refresh_order_lines(client, tx, ids, started, result)
            if REFERENCING_TABLES.intersection(result.tables):
                ensure_known_price_lists(tx, started)
    result.requests = int(client.stats.snapshot()["requests"] - requests_before)
    result.duration_s = time.perf_counter() - clock
    return result


def _refresh_order_lines(
    client: GeckoClient,
    con: duckdb.DuckDBPyConnection,
    order_ids: list[int],
    now: datetime,
    result: SyncResult,
) -> None:
    """An order's line items live on their own endpoint: fetch them by `order_id` (250 orders a request)."""
    load = _Load(con, ["order_line_items"], now, track_seen=True)
    for start in range(0, len(order_ids), 250):
        chunk = ",".join(str(i) for i in order_ids[start : start + 250])
        for batch in _batched(client.iter_pages("/order_line_items", {"order_id": chunk}), BATCH_PAGES):
            load.batch([page.body for page in batch])
            result.pages += len(batch)
    for name, stats in load.result.tables.items():
        result.tables.setdefault(name, LoadStats()).add(stats)
    gone = [
        row[0]
        for row in con.execute(
            "SELECT id FROM order_line_items WHERE order_id IN (SELECT unnest(?)) AND _vanished_at IS NULL "
            "AND id NOT IN (SELECT id FROM _seen_order_line_items)",
            [order_ids],
        ).fetchall()
    ]
    _set_vanished(con, "order_line_items", gone, now)
    result.vanished["order_line_items"] = len(gone)


def sync_all(
    client: GeckoClient,
    con: duckdb.DuckDBPyConnection,
    *,
    full: bool = False,
    streams: Iterable[str] | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    batch_pages: int = BATCH_PAGES,
    commit_seconds: float = COMMIT_SECONDS,
    progress: Progress | None = None,
) -> dict[str, SyncResult]:
    """Sync every stream (or the named ones) in dependency order; the same work the extract assets do."""
    names = list(streams) if streams is not None else list(RESOURCES)
    results: dict[str, SyncResult] = {}
    ensure_schema(con)
    for name in names:
        products = results.get("products")
        if name == "variants" and products is not None and products.mode == "full":
            continue  # a full sync of products brought every variant with it (include=variants)
        results[name] = _sync_stream(
            client,
            con,
            name,
            full=full,
            overlap=overlap,
            batch_pages=batch_pages,
            commit_seconds=commit_seconds,
            progress=progress,
        )
    return results


# The name docs/architecture.md uses for a one-stream sync.
sync_resource = sync_stream
