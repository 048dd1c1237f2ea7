"""webhook_event_sensor: new events in ops.sqlite -> one targeted refresh run.

Cursor = the last webhook_events row id handed to a run. While a run of webhook_refresh_job is queued
or going, the sensor launches nothing and the events wait, so they coalesce into the next run (one run
refreshes a variant once however many stock moves it had). run_key = the batch's row id range, so a
re-evaluated tick cannot launch the same batch twice.
"""

from __future__ import annotations

import os
from collections import defaultdict

import dagster as dg

from gecko_pipeline.ops_resource import OpsStoreResource
from gecko_pipeline.webhooks import store
from gecko_pipeline.webhooks.jobs import run_config_for, webhook_refresh_job

# How often the daemon evaluates the sensor: the main term of stock-move-to-feed latency.
DEFAULT_INTERVAL_SECONDS = int(os.environ.get("GECKO_WEBHOOK_SENSOR_INTERVAL", "5"))
MAX_EVENTS_PER_RUN = 10_000  # bounds one run's config and one evaluation's work; the rest goes next tick
EVENTS_TAG = "gecko_pipeline/webhook_events"
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _active_run(instance: dg.DagsterInstance) -> str | None:
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=webhook_refresh_job.name, statuses=IN_PROGRESS), limit=1
    )
    return runs[0].dagster_run.run_id if runs else None


def plan_ids(events: list[store.StoredEvent]) -> dict[str, list[int]]:
    """Distinct ids per resource, in arrival order, from the events we act on."""
    ids: dict[str, dict[int, None]] = defaultdict(dict)
    for event in events:
        if event.status == store.PENDING and event.resource and event.object_id is not None:
            ids[event.resource][event.object_id] = None
    return {resource: list(found) for resource, found in ids.items()}


@dg.sensor(
    job=webhook_refresh_job,
    minimum_interval_seconds=DEFAULT_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Every {DEFAULT_INTERVAL_SECONDS} s (GECKO_WEBHOOK_SENSOR_INTERVAL, default 5): reads the webhook "
        f"events the gateway stored in ops.sqlite since its cursor (up to {MAX_EVENTS_PER_RUN:,} a tick) and "
        f"launches one {webhook_refresh_job.name} run that re-reads just the records they name and updates "
        "their channel listings and feeds. While such a run is queued or going it launches nothing: new "
        "events coalesce into the next run."
    ),
)
def webhook_event_sensor(context: dg.SensorEvaluationContext, ops_store: OpsStoreResource) -> dg.SensorResult:
    after = int(context.cursor or 0)
    active = _active_run(context.instance)
    if active:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"run {active} of {webhook_refresh_job.name} is still going; new events wait for the next run"
            )
        )
    with ops_store.connect() as con:
        store.ensure_schema(con)
        events = store.events_after(con, after, MAX_EVENTS_PER_RUN)
        if not events:
            return dg.SensorResult(skip_reason=dg.SkipReason(f"no webhook events after #{after}"))
        first, last = events[0].id, events[-1].id
        ids = plan_ids(events)
        if not ids:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"events #{first}-#{last} need no refresh (ignored or invalid)"),
                cursor=str(last),
            )
    summary = ", ".join(f"{len(v)} {k}" for k, v in ids.items())
    context.log.info(f"events #{first}-#{last}: refreshing {summary}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"webhook-events-{first}-{last}",
                run_config=run_config_for(ids, first, last),
                tags={EVENTS_TAG: f"{first}-{last}"},
            )
        ],
        cursor=str(last),
    )
