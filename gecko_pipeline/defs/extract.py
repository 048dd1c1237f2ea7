"""The extract: the merchant's account, table by table, into warehouse.duckdb, as one multi-asset.

One asset per warehouse table (specs generated from warehouse/catalog.py), all produced by one step:
every table is written by the same single-writer process anyway, so one step costs one start-up instead
of a dozen. The step is subsettable (a run that selects only `orders` reads only /orders) and checks
its tables in bulk before it ends (warehouse/quality.py: a statement per table, not a step per check),
so every asset page shows its checks evaluated after every run.

Three modes, one code path: the sync jobs' run tag `gecko_pipeline/sync_mode` (`incremental`, the
default, or `full`), or, for the webhook refresh, `ids` in the run config: the records named are
re-read by id and only the tables they feed are materialized, with the same metadata as a sync.
"""

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from gecko_pipeline.api import GeckoApiError, GeckoClient
from gecko_pipeline.defs.labels import POOL, catalog_labels
from gecko_pipeline.defs.resources import GeckoApiResource, WarehouseResource
from gecko_pipeline.warehouse import quality
from gecko_pipeline.warehouse.catalog import (
    GROUP_OF_TABLE,
    RESOURCE_LIST,
    RESOURCE_OF_TABLE,
    RESOURCES,
    TABLE_LIST,
    refresh_order,
)
from gecko_pipeline.warehouse.counts import table_row_counts
from gecko_pipeline.warehouse.sync import DEFAULT_OVERLAP, SyncResult, refresh_ids, sync_all

# The run tag the sync jobs set.
SYNC_MODE_TAG = "gecko_pipeline/sync_mode"
SYNC_MODES = ("incremental", "full")
KINDS = {"duckdb", "python"}
PROGRESS_SECONDS = 10.0  # at most one progress line this often in the run's log
EXTRACT_KEYS = [dg.AssetKey(spec.name) for spec in TABLE_LIST]


class ExtractConfig(dg.Config):
    """Empty for a sync; `ids` for a targeted refresh of the records webhooks named."""

    ids: dict[str, list[int]] = Field(
        default_factory=dict,
        description="API resource (e.g. `variants`) -> ids to re-read by id instead of syncing.",
    )


def _spec(table: str) -> dg.AssetSpec:
    spec = next(s for s in TABLE_LIST if s.name == table)
    parents = [target for _, target in spec.references if target != table]
    return dg.AssetSpec(
        key=table,
        description=spec.description,
        deps=[dg.AssetKey(p) for p in dict.fromkeys(parents)],
        kinds=KINDS,
        **catalog_labels(GROUP_OF_TABLE[table]),
    )


def _check_spec(rule: quality.Rule) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(rule.name, asset=rule.table, description=rule.description, blocking=False)


class Throttled:
    """The sync's progress lines, at most one every `seconds`: each line is an event the run writes to
    Dagster's event log (a SQLite transaction of its own on a default instance), and a sync says a line
    per batch and per stream. A long sync still shows where it is; a short one writes one summary."""

    def __init__(self, say: Callable[[str], None], seconds: float = PROGRESS_SECONDS) -> None:
        self.say, self.seconds = say, seconds
        self.next = time.monotonic() + seconds

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.seconds
            self.say(message)


def sync_summary(results: Mapping[str, SyncResult]) -> str:
    """One line for the whole sync: per stream, its mode, rows inserted/updated and requests."""
    parts = [
        f"{name} {r.mode} +{r.inserted}/~{r.updated}" + (f" ({r.issues} issues)" if r.issues else "")
        for name, r in results.items()
    ]
    requests = sum(r.requests for r in results.values())
    seconds = sum(r.duration_s for r in results.values())
    return f"synced {len(results)} lists in {seconds:.1f} s, {requests} requests: " + ", ".join(parts)


def read_cursors(con: duckdb.DuckDBPyConnection) -> dict[str, datetime | None]:
    """Every stream's cursor (sync_state), in one read."""
    return {row[0]: row[1] for row in con.execute('SELECT resource, "cursor" FROM sync_state').fetchall()}


def sync_mode(context: dg.AssetExecutionContext) -> str:
    mode = context.run.tags.get(SYNC_MODE_TAG, "incremental")
    if mode not in SYNC_MODES:
        raise dg.Failure(f"run tag {SYNC_MODE_TAG}={mode!r}: use one of {', '.join(SYNC_MODES)}")
    return mode


def _results_by_table(results: Mapping[str, SyncResult]) -> dict[str, SyncResult]:
    """The sync that speaks for each table: its own resource's, else the one that loaded it (a full sync
    of products brings the variants)."""
    out = {table: result for name, result in results.items() for table in RESOURCES[name].owned_tables()}
    for result in results.values():
        for table in result.tables:
            out.setdefault(table, result)
    return out


def table_metadata(result: SyncResult | None, table: str, rows: int, cursor: str | None) -> dict[str, Any]:
    """Numbers Dagster plots across materializations; `dagster/row_count` fills the Catalog's column.
    The same keys whatever the mode, so a page never loses an entry after a targeted refresh."""
    stats = result.tables.get(table) if result else None
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "sync_mode": result.mode if result else "skipped",
        "rows_inserted": stats.inserted if stats else 0,
        "rows_updated": stats.updated if stats else 0,
        "rows_removed": stats.removed if stats else 0,
        "rows_vanished": result.vanished.get(table, 0) if result else 0,
        "records": stats.records if stats else 0,
        "load_issues": (stats.issues + stats.rejected) if stats else 0,
        "rejected_records": stats.rejected if stats else 0,
        "requests": result.requests if result else 0,
        "pages": result.pages if result else 0,
        "duration_s": round(result.duration_s, 3) if result else 0.0,
        "cursor": cursor,
    }


def check_result(outcome: quality.Outcome) -> dg.AssetCheckResult:
    if outcome.rule.name == quality.LOAD_ISSUES:
        metadata: dict[str, Any] = {
            "load_issues": outcome.failing,
            "by_problem": dg.MetadataValue.json(dict(outcome.by_problem)),
            "example_record_ids": ", ".join(outcome.sample),
        }
    else:
        metadata = {"failing_rows": outcome.failing, "sample": ", ".join(outcome.sample)}
    return dg.AssetCheckResult(
        asset_key=outcome.rule.table,
        check_name=outcome.rule.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN if outcome.warn_only else dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


@dataclass
class ExtractRun:
    """What one extract did: the syncs (or refreshes), the tables to materialize with their rows and
    cursors, and the checks' outcomes."""

    results: dict[str, SyncResult]
    tables: list[str]
    rows: dict[str, int]
    cursors: dict[str, datetime | None]
    outcomes: list[quality.Outcome]

    def events(self) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """A materialization per table (the same metadata keys in every mode), then every check."""
        by_table = _results_by_table(self.results)
        for table in self.tables:
            cursor = self.cursors.get(RESOURCE_OF_TABLE[table])
            yield dg.MaterializeResult(
                asset_key=table,
                metadata=table_metadata(
                    by_table.get(table), table, self.rows[table], cursor.isoformat() if cursor else None
                ),
            )
        for outcome in self.outcomes:
            yield check_result(outcome)


def extract_tables(
    client: GeckoClient,
    con: duckdb.DuckDBPyConnection,
    tables: list[str],
    checks: list[quality.Rule],
    *,
    full: bool = False,
    ids: Mapping[str, list[int]] | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    log: Callable[[str], None] = lambda _message: None,
) -> ExtractRun:
    """The extract step's work, without Dagster: sync the lists that feed `tables` (or re-read `ids` by
    id), count their rows, read the cursors, evaluate `checks`."""
    wanted = [r.name for r in RESOURCE_LIST if set(r.owned_tables()) & set(tables)]
    if not tables:
        results: dict[str, SyncResult] = {}
    elif ids:
        results = {
            name: refresh_ids(client, con, name, ids[name])
            for name in refresh_order(ids)
            if name in wanted and ids[name]
        }
        log(
            "refreshed by id: "
            + ", ".join(f"{len(ids[n])} {n} ({r.requests} requests)" for n, r in results.items())
        )
        refreshed = {t for name in results for t in RESOURCES[name].refreshed_tables()}
        tables = [t for t in tables if t in refreshed]
    else:
        results = sync_all(client, con, full=full, streams=wanted, overlap=overlap, progress=Throttled(log))
        log(sync_summary(results))
    return ExtractRun(
        results, tables, table_row_counts(con, tables), read_cursors(con), quality.evaluate(con, checks)
    )


@dg.multi_asset(
    name="extract",
    specs=[_spec(spec.name) for spec in TABLE_LIST],
    check_specs=[_check_spec(rule) for rule in quality.RULES],
    can_subset=True,
    pool=POOL,
    description="Syncs the selected tables from the inventory API (incremental, full, or by id for webhooks) "
    "into warehouse.duckdb, then checks them.",
)
def extract(
    context: dg.AssetExecutionContext,
    config: ExtractConfig,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    tables = [spec.name for spec in TABLE_LIST if dg.AssetKey(spec.name) in context.selected_asset_keys]
    # Every selected check (a run may select checks alone, e.g. to re-check from the UI).
    checks = [
        rule
        for rule in quality.RULES
        if dg.AssetCheckKey(dg.AssetKey(rule.table), rule.name) in context.selected_asset_check_keys
    ]
    full = bool(tables) and not config.ids and sync_mode(context) == "full"
    try:
        with (
            gecko_api.get_client() as client,
            warehouse.connect(memory_limit=warehouse.sync_memory_limit) as con,
        ):
            run = extract_tables(
                client,
                con,
                tables,
                checks,
                full=full,
                ids=config.ids,
                overlap=timedelta(seconds=warehouse.incremental_overlap_seconds),
                log=context.log.info,
            )
    except GeckoApiError as error:
        if error.status in (401, 402):
            # The client's message says what to fix (the token, or the lapsed subscription).
            raise dg.Failure(description=str(error), allow_retries=False) from error
        raise
    yield from run.events()


def tables_of(resources: Mapping[str, object]) -> list[dg.AssetKey]:
    """The asset keys a targeted refresh of these API resources materializes."""
    return [
        dg.AssetKey(t) for name in resources if name in RESOURCES for t in RESOURCES[name].refreshed_tables()
    ]
