"""order_inbox_sensor: turns new inbox rows into order push runs, one run per batch.

Each tick it first stores what the drop folder holds (so files and HTTP share one inbox), then asks
for one run per batch of new inbox rows (run_key = the batch's id range; the cursor = the last inbox
id handed to a run), plus one retry run when ledger orders are due (failed ones after their delay,
waiting ones once the catalogue was republished, work a crashed run left). It never validates or
pushes anything itself, so no order can break it.
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from gecko_pipeline.ops_resource import OpsStoreResource
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.intake import drop_folder, ingest_drop_folder
from gecko_pipeline.orders.jobs import order_push_job
from gecko_pipeline.orders.policy import RetryPolicy, catalog_mtime, due_for_retry, stale_cutoff
from gecko_pipeline.warehouse.resource import WarehouseResource

BATCH_SIZE = 200  # orders per run: a run costs seconds of overhead, an order a few requests
INTERVAL_SECONDS = 15  # how long a channel order may wait in the inbox before its run is asked for
OP_NAME = "push_channel_orders"


def _run_config(first: int, last: int, retry: bool) -> dict:
    return {
        "ops": {OP_NAME: {"config": {"first_inbox_id": first, "last_inbox_id": last, "retry_pending": retry}}}
    }


@dg.sensor(
    name="order_inbox_sensor",
    job=order_push_job,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Every {INTERVAL_SECONDS} s: stores the files dropped in <GECKO_DATA_DIR>/order_drop, then launches "
        f"{order_push_job.name} once per batch of up to {BATCH_SIZE} new channel orders in the ops.sqlite inbox "
        "(cursor: last inbox id; run key: the batch's id range), plus one retry run when ledger orders are due "
        "(failed ones after their delay, waiting ones after a catalog sync, work left by a crashed run)."
    ),
)
def order_inbox_sensor(
    context: dg.SensorEvaluationContext, ops_store: OpsStoreResource, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen = int(cursor.get("inbox", 0))
    policy = RetryPolicy.from_env()
    with ops_store.connect() as con:
        inbox.ensure_schema(con)
        ledger.ensure_schema(con)
        dropped = ingest_drop_folder(con, drop_folder(ops_store.path.parent))
        top = inbox.last_inbox_id(con)
        due = due_for_retry(con, policy, catalog_mtime(warehouse.published_path))
        # Rows behind the cursor that no run validated (a run that died before reading its batch).
        left = [r for r in inbox.unhandled(con, stale_cutoff(policy)) if r.id <= seen]
        states = ledger.state_counts(con)
    requests = [
        dg.RunRequest(
            run_key=f"inbox:{first}-{min(first + BATCH_SIZE - 1, top)}",
            run_config=_run_config(first, min(first + BATCH_SIZE - 1, top), retry=False),
            tags={"gecko_pipeline/inbox_range": f"{first}-{min(first + BATCH_SIZE - 1, top)}"},
        )
        for first in range(seen + 1, top + 1, BATCH_SIZE)
    ]
    if due or left:
        # The key names exactly the work and its versions: the same due set is never launched twice.
        work = [f"{r.reference}@{r.updated_at}" for r in due] + [f"inbox#{r.id}" for r in left]
        digest = hashlib.sha256("|".join(work).encode()).hexdigest()[:16]
        requests.append(
            dg.RunRequest(
                run_key=f"retry:{digest}",
                run_config=_run_config(0, 0, retry=True),
                tags={"gecko_pipeline/retry_orders": str(len(work))},
            )
        )
    if not requests:
        notes = [f"{states[s]} {s}" for s in ("waiting", "failed") if states.get(s)]
        if states.get("waiting"):
            notes.append("waiting orders retry once a catalog sync republishes published.duckdb")
        if dropped.duplicates:
            notes.append(f"{dropped.duplicates} already-ingested drop file(s) moved aside")
        detail = f" ({'; '.join(notes)})" if notes else ""
        return dg.SkipReason(f"no new orders in the inbox since #{seen} and none due for a retry{detail}")
    context.log.info(
        f"{top - seen} new inbox row(s) (#{seen + 1}-#{top}); {len(due) + len(left)} due for a retry"
    )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps({"inbox": max(seen, top)}))
