"""Analysts see what the pipeline did: an order push lands in the warehouse and, coalesced by
publish_sensor, in published.duckdb; the copy is readable by other users."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from gecko_pipeline import ops_db
from gecko_pipeline.assets.publish import publish_sensor
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.definitions import build_definitions
from gecko_pipeline.orders import inbox, ledger
from gecko_pipeline.orders.demo import make_orders


@pytest.fixture()
def env(sandbox: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GECKO_API_URL", sandbox.url)
    monkeypatch.setenv("GECKO_ACCESS_TOKEN", sandbox.token)
    monkeypatch.setenv("GECKO_DATA_DIR", str(data_dir))
    return data_dir


def evaluate(instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    result = publish_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.RunRequest | dg.SkipReason)
    return result


def test_pushed_orders_reach_the_published_copy_once_per_interval(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs, instance = build_definitions(), dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("incremental_sync_job").execute_in_process(instance=instance).success
    published = env / "published.duckdb"
    # The copy made for analysts opens for other users too, like the warehouse itself.
    assert stat.S_IMODE(published.stat().st_mode) & 0o044 == 0o044

    # Right after the sync's own publish, nothing is due.
    monkeypatch.setenv("GECKO_PUBLISH_MIN_INTERVAL_SECONDS", "0")
    assert isinstance(evaluate(instance), dg.SkipReason)

    orders = make_orders(published, load_channels(), 4, seed=7, prefix="PUB")
    con = ops_db.connect(env / "ops.sqlite")
    inbox.ensure_schema(con)
    ids = inbox.add_orders(con, None, orders, "test")
    con.close()
    config = {
        "ops": {"push_channel_orders": {"config": {"first_inbox_id": ids[0], "last_inbox_id": ids[-1]}}}
    }
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
    monkeypatch.setenv("GECKO_PUBLISH_MIN_INTERVAL_SECONDS", "3600")
    held = evaluate(instance)
    assert isinstance(held, dg.SkipReason) and "3600" in (held.skip_message or "")
    # ... and once it is over, one publish run is asked for, keyed by the change.
    monkeypatch.setenv("GECKO_PUBLISH_MIN_INTERVAL_SECONDS", "0")
    request = evaluate(instance)
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
    assert isinstance(evaluate(instance), dg.SkipReason)
