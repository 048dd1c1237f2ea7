"""Analysts see what the pipeline did: an order push lands in the warehouse and, coalesced by
publish_sensor, in published.duckdb; the copy is readable by other users."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from harness import pipeline, sandbox_resources

from gecko_pipeline import ops_db
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.defs.orders import push_run_config
from gecko_pipeline.defs.publish import publish_sensor
from gecko_pipeline.defs.resources import WarehouseResource
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.tools.orders_demo import make_orders


def evaluate(
    defs: dg.Definitions, instance: dg.DagsterInstance, interval: float
) -> dg.RunRequest | dg.SkipReason:
    resources = dict(defs.resources)
    resources["warehouse"] = WarehouseResource(
        storage=resources["storage"], publish_min_interval_seconds=interval
    )
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = publish_sensor(context)
    assert isinstance(result, dg.RunRequest | dg.SkipReason)
    return result


def test_pushed_orders_reach_the_published_copy_once_per_interval(sandbox: Any, data_dir: Path) -> None:
    env = data_dir
    defs, instance = pipeline(sandbox_resources(sandbox, data_dir)), dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("incremental_sync_job").execute_in_process(instance=instance).success
    published = env / "published.duckdb"
    # The copy made for analysts opens for other users too, like the warehouse itself.
    assert stat.S_IMODE(published.stat().st_mode) & 0o044 == 0o044

    # Right after the sync's own publish, nothing is due.
    assert isinstance(evaluate(defs, instance, 0), dg.SkipReason)

    orders = make_orders(published, load_channels(), 4, seed=7, prefix="PUB")
    con = ops_db.connect(env / "ops.sqlite")
    inbox.ensure_schema(con)
    ids = inbox.add_orders(con, None, orders, "test")
    con.close()
    config = push_run_config(ids[0], ids[-1], retry=False)
    assert (
        defs.resolve_job_def("order_push_job")
        .execute_in_process(run_config=config, instance=instance)
        .success
    )
    con = ops_db.connect(env / "ops.sqlite")
    created = {r.order_id for r in ledger.all_rows(con) if r.order_id}
    con.close()
    assert len(created) >= 2  # the demo mix also holds an order that waits for an unknown SKU

    # A long interval holds the publish back (coalescing) ...
    held = evaluate(defs, instance, 3600)
    assert isinstance(held, dg.SkipReason) and "3600" in (held.skip_message or "")
    # ... and once it is over, one publish run is asked for, keyed by the change.
    request = evaluate(defs, instance, 0)
    assert isinstance(request, dg.RunRequest) and (request.run_key or "").startswith("publish:")
    assert defs.resolve_job_def("publish_job").execute_in_process(instance=instance).success
    with duckdb.connect(str(published), read_only=True) as copy:
        stored = {r[0] for r in copy.execute("SELECT id FROM orders").fetchall()}
        mirrored = copy.execute(
            "SELECT count(*) FROM channel_order_sync WHERE order_id IS NOT NULL"
        ).fetchone()
        lines = copy.execute(
            "SELECT count(*) FROM order_line_items WHERE order_id IN (SELECT unnest(?))", [sorted(created)]
        ).fetchone()
    assert created <= stored
    assert mirrored == (len(created),)
    assert lines is not None and lines[0] >= len(created)
    # Published: nothing is due any more.
    assert isinstance(evaluate(defs, instance, 0), dg.SkipReason)
