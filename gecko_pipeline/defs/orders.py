"""The orders group: channel orders pushed as sales orders, the ledger mirror, the push job and the
inbox sensor (the exactly-once push itself is gecko_pipeline/orders).

`channel_orders_pushed` is the side of the system the inventory account sees: each materialization is
one push batch (received, created, followed up, waiting, quarantined), so the UI plots them over time.
It talks to the API and ops.sqlite only (the catalogue comes from published.duckdb, never the file
Dagster writes), so it needs no place in the writer pool. `channel_order_sync` then re-reads the sales
orders the ledger changed into the warehouse (one request per 250) and mirrors the ledger, the same way
in the push job and in the sync jobs, with the same metadata and check.
"""

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from gecko_pipeline.defs.labels import POOL, catalog_labels
from gecko_pipeline.defs.resources import (
    ChannelConfigResource,
    GeckoApiResource,
    OpsStoreResource,
    OrderPolicyResource,
    WarehouseResource,
)
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.intake import drop_folder, ingest_drop_folder
from gecko_pipeline.orders.mirror import changed_since_mirror, mirror_ledger
from gecko_pipeline.orders.policy import catalog_mtime, due_for_retry, stale_cutoff
from gecko_pipeline.orders.runner import run_push
from gecko_pipeline.warehouse.sync import refresh_ids

LABELS = catalog_labels("orders")
PUSH_KEY = dg.AssetKey("channel_orders_pushed")
BATCH_SIZE = 200  # orders per run: a run costs seconds of overhead, an order a few requests
INBOX_SENSOR_SECONDS = 15  # how long a channel order may wait in the inbox before its run is asked for


class OrderPushConfig(dg.Config):
    """Which orders to push: an inbox id range (what the sensor saw) and/or the ledger's due retries."""

    first_inbox_id: int = Field(default=0, description="First inbox row of the batch (0: none).")
    last_inbox_id: int = Field(default=0, description="Last inbox row of the batch.")
    retry_pending: bool = Field(
        default=False,
        description="Also push ledger orders due for a retry (failed, waiting, left by a crash).",
    )


@dg.asset(
    key=PUSH_KEY,
    kinds={"api", "sqlite"},
    description=(
        "Channel orders created as sales orders in the inventory system, exactly once (ledger intent, "
        "Idempotency-Key, reference lookup after a lost answer), and the follow-ups their channel state "
        "calls for (pay or invoice, pack, fulfil with tracking, void, returns). One materialization per "
        "push batch from the ops.sqlite inbox; bad orders are quarantined, the rest go on. Reads the "
        "catalogue from published.duckdb."
    ),
    **LABELS,
)
def channel_orders_pushed(
    context: dg.AssetExecutionContext,
    config: OrderPushConfig,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
    ops_store: OpsStoreResource,
    channel_config: ChannelConfigResource,
    order_policy: OrderPolicyResource,
) -> dg.MaterializeResult:
    with gecko_api.get_client() as client, ops_store.connect() as con:
        stats = run_push(
            client,
            con,
            warehouse.published_path,
            channel_config.load(),
            first_inbox_id=config.first_inbox_id,
            last_inbox_id=config.last_inbox_id,
            retry_pending=config.retry_pending,
            policy=order_policy.policy(),
            logger=context.log,
        )
        requests = client.stats.snapshot().get("requests", 0)
    figures: dict[str, Any] = {**stats.as_dict(), "api_requests": int(requests)}
    context.log.info(f"order push: {figures}")
    return dg.MaterializeResult(metadata={**figures, "errors": "\n".join(stats.errors) or "none"})


@dg.asset(
    key="channel_order_sync",
    deps=[PUSH_KEY, "orders", "order_line_items"],
    kinds={"duckdb", "sqlite"},
    pool=POOL,
    description=(
        "Mirror of the order ledger (ops.sqlite) in the warehouse: one row per channel order with the sales "
        "order it became (id and number), its state (received, waiting, created, done, failed, quarantined, "
        "held), the follow-up actions done, attempts and the last error. Before mirroring, the sales orders "
        "whose ledger row changed are re-read into `orders` and `order_line_items`."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "channel_orders_need_no_attention",
            asset="channel_order_sync",
            description="Warns when channel orders are quarantined, held or failing: a person should look "
            "at `gecko-pipeline quarantine list`.",
            blocking=False,
        )
    ],
    **LABELS,
)
def channel_order_sync(
    context: dg.AssetExecutionContext,
    gecko_api: GeckoApiResource,
    warehouse: WarehouseResource,
    ops_store: OpsStoreResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    with ops_store.connect() as ops, warehouse.connect() as con:
        changed = changed_since_mirror(ops, con)
        if changed:
            with gecko_api.get_client() as client:
                refreshed = refresh_ids(client, con, "orders", changed)
            context.log.info(
                f"re-read {len(changed)} sales orders the ledger changed: {refreshed.requests} requests"
            )
        counts = mirror_ledger(ops, con)
        states = ledger.state_counts(ops)
    attention = {
        "quarantined": counts["quarantined"],
        "failed": states.get("failed", 0),
        "held": states.get("held", 0),
    }
    yield dg.MaterializeResult(metadata=counts)
    yield dg.AssetCheckResult(
        passed=not any(attention.values()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata=attention,
        description=None
        if not any(attention.values())
        else ", ".join(f"{n} {k}" for k, n in attention.items() if n)
        + " order(s): see `gecko-pipeline quarantine list`",
    )


order_push_job = dg.define_asset_job(
    name="order_push_job",
    selection=dg.AssetSelection.assets(PUSH_KEY, "channel_order_sync"),
    description="Pushes a batch of channel orders from the ops.sqlite inbox into the inventory system "
    "(launched by order_inbox_sensor, one run per batch), then refreshes channel_order_sync.",
    tags={"gecko_pipeline/area": "orders"},
)


def push_run_config(first: int, last: int, retry: bool) -> dict[str, Any]:
    config = {"first_inbox_id": first, "last_inbox_id": last, "retry_pending": retry}
    return {"ops": {PUSH_KEY.to_python_identifier(): {"config": config}}}


@dg.sensor(
    name="order_inbox_sensor",
    job=order_push_job,
    minimum_interval_seconds=INBOX_SENSOR_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Every {INBOX_SENSOR_SECONDS} s: stores the files dropped in <GECKO_DATA_DIR>/order_drop, then launches "
        f"order_push_job once per batch of up to {BATCH_SIZE} new channel orders in the ops.sqlite inbox "
        "(cursor: last inbox id; run key: the batch's id range), plus one retry run when ledger orders are due "
        "(failed ones after their delay, waiting ones after a catalog sync, work left by a crashed run)."
    ),
)
def order_inbox_sensor(
    context: dg.SensorEvaluationContext,
    ops_store: OpsStoreResource,
    warehouse: WarehouseResource,
    order_policy: OrderPolicyResource,
) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen = int(cursor.get("inbox", 0))
    policy = order_policy.policy()
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
            run_config=push_run_config(first, min(first + BATCH_SIZE - 1, top), retry=False),
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
                run_config=push_run_config(0, 0, retry=True),
                tags={"gecko_pipeline/retry_orders": str(len(work))},
            )
        )
    if not requests:
        notes = [f"{states[s]} {s}" for s in ("waiting", "failed", "held") if states.get(s)]
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
