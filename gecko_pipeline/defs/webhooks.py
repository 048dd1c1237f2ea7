"""The webhooks part: stored API webhook events become targeted refreshes of the real assets.

`webhook_refresh_job` is an asset job over the extract tables and the channel assets; for each batch of
events `webhook_event_sensor` launches it on just the tables the events touch (a stock move: `variants`,
`variant_locations`, `variant_prices`, then the channel listings, stock levels and feeds), with the ids
in the run config. So a refresh is a materialization of the same assets a sync materializes, with the
same metadata and checks, costing one request per 250 records. A refresh of `fulfillments` also
runs `shopify_fulfilments_pushed` (defs/fulfilments.py): a shipment reaches its store at once.

Cursor: the last webhook_events row handed to a run. While a refresh run is queued or going the sensor
launches nothing, so events coalesce into the next run. A later tick marks the events of finished runs
done (or failed: the periodic sync covers the change meanwhile; `gecko-pipeline webhook-replay` re-queues).
"""

import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from gecko_pipeline.config import load_settings
from gecko_pipeline.defs.channels import CHANNEL_KEYS
from gecko_pipeline.defs.extract import EXTRACT_KEYS, tables_of
from gecko_pipeline.defs.fulfilments import FULFILMENTS_KEY
from gecko_pipeline.defs.resources import OpsStoreResource
from gecko_pipeline.defs.store_products import OP_NAME as PRODUCTS_OP
from gecko_pipeline.defs.store_products import TAG as PRODUCTS_TAG
from gecko_pipeline.defs.stores import (
    NO_STORES,
    PUSH_TAG,
    STORE_OP,
    StoreRefresh,
    store_channels,
    store_refresh,
)
from gecko_pipeline.webhooks import store

MAX_EVENTS_PER_RUN = 10_000  # bounds one run's config and one evaluation's work; the rest goes next tick
EVENTS_TAG = "gecko_pipeline/webhook_events"
JOB_NAME = "webhook_refresh_job"
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
FINISHED = {
    dg.DagsterRunStatus.SUCCESS: store.DONE,
    dg.DagsterRunStatus.FAILURE: store.FAILED,
    dg.DagsterRunStatus.CANCELED: store.FAILED,
}
# Resources whose records change what a channel lists: a location (archived?) or a product (status) can
# change every variant's rows, a variant only its own.
CHANNEL_WIDE = ("locations", "products")
# Resources whose records tell a store something: a shipment of one of its orders. (A void has no event:
# the sync jobs find it.)
STORE_NEWS = ("fulfillments",)

webhook_refresh_job = dg.define_asset_job(
    name=JOB_NAME,
    # Plus, when the channel file has Shopify channels, each one's stock push (defs/stores.py), the
    # fulfilments push (defs/fulfilments.py) and the publish of new products (defs/store_products.py).
    selection=dg.AssetSelection.assets(*EXTRACT_KEYS, *CHANNEL_KEYS)
    | dg.AssetSelection.tag(PUSH_TAG, "stock")
    | dg.AssetSelection.tag(PUSH_TAG, "fulfilments")
    | dg.AssetSelection.tag(PRODUCTS_TAG, "publish"),
    description="Targeted refresh from webhook events (launched by webhook_event_sensor on the tables the "
    "events touch): re-reads the records named by id, then recomputes the affected channel rows and feeds "
    "(and, when fulfillments were re-read, sends new shipments of store orders to their store).",
    tags={"gecko_pipeline/trigger": "webhooks"},
)


def plan_ids(events: list[store.StoredEvent]) -> dict[str, list[int]]:
    """Distinct ids per resource, in arrival order, from the events we act on."""
    ids: dict[str, dict[int, None]] = defaultdict(dict)
    for event in events:
        if event.status == store.PENDING and event.resource and event.object_id is not None:
            ids[event.resource][event.object_id] = None
    return {resource: list(found) for resource, found in ids.items()}


def channel_scope(ids: Mapping[str, list[int]]) -> tuple[bool, list[int] | None]:
    """(recompute the channels?, variant ids or None for all)."""
    if any(ids.get(name) for name in CHANNEL_WIDE):
        return True, None
    variants = sorted(set(ids.get("variants", [])))
    return bool(variants), variants


def refresh_request(
    ids: Mapping[str, list[int]], first: int, last: int, stores: StoreRefresh = NO_STORES
) -> dg.RunRequest:
    """The run that refreshes `ids` (resource -> record ids) for events #first-#last; with `stores` (the
    Shopify channels' assets) the same variants are pushed to the stores, and re-read fulfillments sent."""
    recompute, variant_ids = channel_scope(ids)
    ops: dict[str, Any] = {"extract": {"config": {"ids": {name: list(v) for name, v in ids.items()}}}}
    selection = tables_of(ids)
    if recompute:
        ops["channels"] = {"config": {"variant_ids": variant_ids}}
        selection += CHANNEL_KEYS
        if stores.stock:
            ops[STORE_OP] = {"config": {"variant_ids": variant_ids}}
            selection += list(stores.stock)
        if stores.publish:
            ops[PRODUCTS_OP] = {"config": {"variant_ids": variant_ids}}
            selection += list(stores.publish)
    if stores.fulfilments and any(ids.get(name) for name in STORE_NEWS):
        selection.append(FULFILMENTS_KEY)
    return dg.RunRequest(
        run_key=f"webhook-events-{first}-{last}",
        run_config={"ops": ops},
        asset_selection=selection,
        tags={EVENTS_TAG: f"{first}-{last}"},
    )


def _read_cursor(text: str | None) -> tuple[int, float]:
    """(last event handed to a run, update time of the last finished run whose events were marked)."""
    if not text:
        return 0, 0.0
    if text.isdigit():  # the cursor of earlier versions: the event id alone
        return int(text), 0.0
    value = json.loads(text)
    return int(value.get("after", 0)), float(value.get("runs_checked", 0.0))


def mark_finished_runs(instance: dg.DagsterInstance, con: Any, since: float) -> float:
    """Marks the pending events of refresh runs that ended after `since`; returns the newest end seen."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=JOB_NAME,
            statuses=list(FINISHED),
            updated_after=datetime.fromtimestamp(since, tz=timezone.utc) if since else None,
        ),
        limit=200,
    )
    newest = since
    for record in records:
        ended = record.update_timestamp.timestamp()
        if ended <= since:
            continue
        newest = max(newest, ended)
        span = record.dagster_run.tags.get(EVENTS_TAG, "")
        first, _, last = span.partition("-")
        if not (first.isdigit() and last.isdigit()):
            continue
        status = FINISHED[record.dagster_run.status]
        run_id = record.dagster_run.run_id
        store.set_status(
            con,
            range(int(first), int(last) + 1),
            status,
            from_statuses=(store.PENDING,),
            run_id=run_id,
            problem=None if status == store.DONE else _failure(instance, run_id),
        )
    return newest


def _failure(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a refresh run failed: its first step error, else its run failure message."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = record.dagster_event.step_failure_data if record.dagster_event else None
        if data is not None and data.error is not None:
            return f"refresh run {run_id}: {data.error.message.strip()}"[:500]
    return f"refresh run {run_id} did not succeed"


def _sensor_interval() -> int:
    return load_settings().webhook_sensor_interval_seconds


@dg.definitions
def webhook_definitions() -> dg.Definitions:
    interval = _sensor_interval()
    stores = store_refresh(store_channels(load_settings()))

    @dg.sensor(
        name="webhook_event_sensor",
        job=webhook_refresh_job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Every {interval} s (GECKO_WEBHOOK_SENSOR_INTERVAL, default 5): reads the webhook events the "
            f"gateway stored in ops.sqlite since its cursor (up to {MAX_EVENTS_PER_RUN:,} a tick) and launches "
            f"one {JOB_NAME} run on just the tables they touch, re-reading the records they name and updating "
            "their channel listings and feeds. While such a run is queued or going it launches nothing: new "
            "events coalesce into the next run. It marks the events of finished runs done or failed."
        ),
    )
    def webhook_event_sensor(
        context: dg.SensorEvaluationContext, ops_store: OpsStoreResource
    ) -> dg.SensorResult:
        return evaluate_webhook_sensor(context, ops_store, stores)

    return dg.Definitions(sensors=[webhook_event_sensor])


def evaluate_webhook_sensor(
    context: dg.SensorEvaluationContext,
    ops_store: OpsStoreResource,
    stores: StoreRefresh = NO_STORES,
) -> dg.SensorResult:
    after, checked = _read_cursor(context.cursor)
    with ops_store.connect() as con:
        store.ensure_schema(con)
        checked = mark_finished_runs(context.instance, con, checked)
        cursor = json.dumps({"after": after, "runs_checked": checked})
        active = context.instance.get_run_records(
            filters=dg.RunsFilter(job_name=JOB_NAME, statuses=IN_PROGRESS), limit=1
        )
        if active:
            run_id = active[0].dagster_run.run_id
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    f"run {run_id} of {JOB_NAME} is still going; new events wait for it"
                ),
                cursor=cursor,
            )
        events = store.events_after(con, after, MAX_EVENTS_PER_RUN)
        if not events:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"no webhook events after #{after}"), cursor=cursor
            )
        first, last = events[0].id, events[-1].id
        ids = plan_ids(events)
    cursor = json.dumps({"after": last, "runs_checked": checked})
    if not ids:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"events #{first}-#{last} need no refresh (ignored or invalid)"),
            cursor=cursor,
        )
    summary = ", ".join(f"{len(v)} {k}" for k, v in ids.items())
    context.log.info(f"events #{first}-#{last}: refreshing {summary}")
    return dg.SensorResult(run_requests=[refresh_request(ids, first, last, stores)], cursor=cursor)
