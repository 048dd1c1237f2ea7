"""Webhooks end to end against the real sandbox and real DuckDB / SQLite files: subscriptions, the
sandbox delivering signed webhooks to the gateway over HTTP, webhook_event_sensor and webhook_refresh_job.

Some tests post the deliveries themselves (signed exactly as the API signs) to pin the sensor's batching
and coalescing precisely; the others let the sandbox deliver."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
from dagster._core.test_utils import create_run_for_test
from harness import pipeline as code_location_with
from harness import sandbox_resources
from sandbox_control import dump

from gecko_pipeline import ops_db
from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.channels.feeds import read_changes, write_feeds
from gecko_pipeline.channels.stock import compute_channel_stock
from gecko_pipeline.config import Settings
from gecko_pipeline.signing import sign
from gecko_pipeline.tools.background import run_gateway
from gecko_pipeline.tools.daemon import launch, tick
from gecko_pipeline.warehouse.sync import sync_all
from gecko_pipeline.webhooks import store
from gecko_pipeline.webhooks.events import DEFAULT_EVENTS
from gecko_pipeline.webhooks.subscriptions import ensure_subscriptions

pytestmark = pytest.mark.slow(15)

REPO = Path(__file__).resolve().parents[1]

CHANNELS = """
channels:
  - name: web
    price_list: retail
"""


class Pipeline:
    """A sandbox, its account extracted into a warehouse with a first feed written, and the gateway."""

    def __init__(self, handle: Any, settings: Settings, channels_file: Path) -> None:
        self.handle, self.settings = handle, settings
        self.gateway = run_gateway(settings, with_intake=False)
        self.http = httpx.Client(base_url=handle.url, timeout=30)
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = sandbox_resources(handle, settings.data_dir, channels_file)
        self.defs = code_location_with(self.resources)
        self.cursor: str | None = None

    def restart_gateway(self, down: Callable[[], None]) -> None:
        """Stops the gateway, calls `down()` while it is away, and serves again on the same port."""
        port = self.gateway.port
        self.gateway.stop()
        down()
        self.gateway = run_gateway(self.settings, port=port, with_intake=False)

    def subscribe(self) -> tuple[list[dict], list[dict]]:
        with GeckoClient(self.handle.url, token=self.handle.token) as client:
            return ensure_subscriptions(client, self.gateway.webhook_url)

    def deliveries(self) -> list[dict[str, Any]]:
        return self.http.get("/_sandbox/webhook_deliveries").json()["webhook_deliveries"]

    def wait_for_events(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """Polls ops.sqlite until `count` events are stored (deliveries run in the sandbox's background)."""
        deadline = time.monotonic() + timeout
        while len(events := self.events()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(events)} of {count} events stored; deliveries: {self.deliveries()}"
                )
            time.sleep(0.05)
        return events

    # --- the sandbox ---------------------------------------------------------------------------
    def stock_move(self, variant_id: int, location_id: int, quantity: str) -> None:
        self.http.post(
            "/_sandbox/activity/stock_move",
            json={"variant_id": variant_id, "location_id": location_id, "quantity": quantity},
        ).raise_for_status()

    def reset_stats(self) -> None:
        self.http.post("/_sandbox/stats/reset").raise_for_status()

    def requests_by_route(self) -> dict[str, int]:
        return {k: v for k, v in self.http.get("/_sandbox/stats").json()["by_route"].items() if v}

    # --- what the API would deliver ------------------------------------------------------------
    def deliver(self, event: str, object_id: int, delivery: str | None = None) -> httpx.Response:
        body = json.dumps(
            {
                "object_id": object_id,
                "event": event,
                "timestamp": int(time.time()),
                "resource_url": f"{self.handle.url}/x/{object_id}.json",
            }
        ).encode()
        response = httpx.post(
            self.gateway.webhook_url,
            content=body,
            timeout=10,
            headers={
                "X-Gecko-Delivery": delivery or str(uuid.uuid4()),
                "X-Gecko-Signature": sign(self.settings.webhook_secret or "", body),
            },
        )
        assert response.status_code == 200, response.text
        return response

    # --- Dagster -------------------------------------------------------------------------------
    def tick(self) -> dg.SensorResult:
        result = tick(self.defs, self.instance, "webhook_event_sensor", self.cursor)
        assert isinstance(result, dg.SensorResult)
        if result.cursor is not None:
            self.cursor = result.cursor
        return result

    def run(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        return launch(self.defs, self.instance, "webhook_refresh_job", request, raise_on_error=False)

    # --- the files -----------------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.settings.warehouse_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def events(self) -> list[dict[str, Any]]:
        con = ops_db.connect(self.settings.ops_path)
        try:
            store.ensure_schema(con)
            return [dict(r) for r in con.execute("SELECT * FROM webhook_events ORDER BY id")]
        finally:
            con.close()

    def changes(self) -> dict[str, Any]:
        return read_changes(self.settings.feeds_dir, "web")


@pytest.fixture
def pipeline(
    sandbox_factory: Callable[..., Any],
    data_dir: Path,
    tmp_path: Path,
    settings_for: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    # Retries after 0.1, 0.4, 1.6, 6.4 s...: room to restart the receiver in between.
    sandbox = sandbox_factory(
        scale=20, rate_limit_quota=100_000, webhook_retry_base_delay=0.1, webhook_max_attempts=8
    )
    settings = settings_for(sandbox, data_dir)
    channels_file = tmp_path / "channels.yaml"
    channels_file.write_text(CHANNELS)
    channels = load_channels(channels_file)
    with (
        GeckoClient(sandbox.url, token=sandbox.token) as client,
        sandbox_resources(sandbox, data_dir)["warehouse"].connect() as con,
    ):
        sync_all(client, con, full=True)
        compute_channel_stock(con, channels)
        write_feeds(con, channels, settings.feeds_dir)
    pipe = Pipeline(sandbox, settings, channels_file)
    yield pipe
    pipe.gateway.stop()
    pipe.http.close()


def listed_variant(pipe: Pipeline, skip: set[int] = frozenset()) -> tuple[int, int, Decimal]:
    """A listed, stock-tracked variant with stock at a location the channel sells from."""
    # channel_stock_levels holds rows only for channels that take stock per location (web does not):
    # the channel's locations and the variant's stock records say where it has stock.
    rows = pipe.query(
        """SELECT l.variant_id, s.location_id, l.quantity FROM channel_listings l
           JOIN channel_locations cl ON cl.channel = l.channel
           JOIN variant_locations s ON s.variant_id = l.variant_id AND s.location_id = cl.location_id
           WHERE l.channel = 'web' AND l.listed AND l.reason = 'in_stock'
           ORDER BY l.variant_id, cl.priority"""
    )
    return next((v, loc, q) for v, loc, q in rows if v not in skip)


def test_stock_events_refresh_only_those_variants_and_feed_changes(pipeline: Pipeline) -> None:
    variant, location, before = listed_variant(pipeline)
    other, other_location, other_before = listed_variant(pipeline, {variant})
    pipeline.stock_move(variant, location, "-1")
    pipeline.stock_move(other, other_location, "2")
    pipeline.reset_stats()
    # Several events for the same variant (and a plural name) coalesce into one id in one run.
    pipeline.deliver("variant.stock_level_update", variant)
    pipeline.deliver("variants.stock_level_update", variant)
    pipeline.deliver("variant.stock_level_update", other)

    result = pipeline.tick()
    [request] = result.run_requests
    assert request.run_key == "webhook-events-1-3"
    assert request.run_config["ops"]["extract"]["config"]["ids"] == {"variants": [variant, other]}
    run = pipeline.run(request)
    assert run.success

    # One ids request for both variants, nothing else.
    assert pipeline.requests_by_route() == {"GET /variants": 1}
    after = dict(
        pipeline.query(
            "SELECT variant_id, quantity FROM channel_listings WHERE channel = 'web' "
            "AND variant_id IN (?, ?)",
            [variant, other],
        )
    )
    assert after == {variant: before - 1, other: other_before + 2}
    changes = pipeline.changes()
    assert sorted(c["variant_id"] for c in changes["changes"]) == sorted([variant, other])
    assert {Decimal(str(c["quantity"])) for c in changes["changes"] if c["variant_id"] == variant} == {
        before - 1
    }

    materialized = {e.asset_key.to_user_string() for e in run.get_asset_materialization_events()}
    assert {
        "variants",
        "variant_locations",
        "channel_listings",
        "channel_stock_levels",
        "channel_feeds",
    } <= materialized
    assert "products" not in materialized
    # Each refreshed table reports the rows it holds in all (the Catalog's row count), not just those refreshed.
    row_counts = {
        e.asset_key.to_user_string(): e.materialization.metadata["dagster/row_count"].value
        for e in run.get_asset_materialization_events()
        if e.asset_key.to_user_string() != "channel_feeds"
    }
    # channel_stock_levels holds rows only for channels that take stock per location; web does not.
    assert (
        row_counts.pop("channel_stock_levels")
        == pipeline.query("SELECT count(*) FROM channel_stock_levels")[0][0]
        == 0
    )
    for table, rows in row_counts.items():
        assert rows == pipeline.query(f"SELECT count(*) FROM {table}")[0][0] > 2, table  # noqa: S608 - asset keys
    # Nothing new: the sensor says why it skips, and marks the finished run's events done.
    idle = pipeline.tick()
    assert not idle.run_requests
    assert "no webhook events after #3" in idle.skip_reason.skip_message  # type: ignore[union-attr]
    assert {e["status"] for e in pipeline.events()} == {"done"}
    assert {e["run_id"] for e in pipeline.events()} == {run.run_id}


def test_events_wait_while_a_run_is_going_and_coalesce_into_the_next(pipeline: Pipeline) -> None:
    variant, location, _ = listed_variant(pipeline)
    going = create_run_for_test(
        pipeline.instance, job_name="webhook_refresh_job", status=dg.DagsterRunStatus.STARTED
    )
    pipeline.deliver("variant.stock_level_update", variant)
    waiting = pipeline.tick()
    assert not waiting.run_requests
    assert going.run_id in waiting.skip_reason.skip_message  # type: ignore[union-attr]
    pipeline.deliver("variant.create", variant)
    pipeline.deliver("company.update", 1)
    pipeline.instance.report_run_failed(going)  # the other run ended

    [request] = pipeline.tick().run_requests
    assert request.run_key == "webhook-events-1-3"
    ids = request.run_config["ops"]["extract"]["config"]["ids"]
    assert ids == {"variants": [variant], "companies": [1]}
    pipeline.reset_stats()
    run = pipeline.run(request)
    assert run.success
    assert pipeline.requests_by_route() == {"GET /variants": 1, "GET /companies": 1}


def test_events_that_need_no_refresh_advance_the_cursor_without_a_run(pipeline: Pipeline) -> None:
    pipeline.deliver("invoice.create", 5)
    result = pipeline.tick()
    assert not result.run_requests
    assert json.loads(result.cursor or "{}")["after"] == 1
    assert [e["status"] for e in pipeline.events()] == [store.IGNORED]


def test_a_failed_refresh_keeps_its_events_as_failed_with_the_error(pipeline: Pipeline) -> None:
    variant, _, _ = listed_variant(pipeline)
    pipeline.deliver("variant.stock_level_update", variant)
    [request] = pipeline.tick().run_requests
    pipeline.http.put("/_sandbox/payment_required", json={"enabled": True}).raise_for_status()
    run = pipeline.run(request)
    assert not run.success
    pipeline.tick()  # the next tick marks the events of the failed run
    [event] = pipeline.events()
    assert event["status"] == "failed"
    assert "402" in event["problem"]
    assert event["run_id"] == run.run_id

    # A person replays it once the account is paid up: a new pending row past the cursor, one new run.
    pipeline.http.put("/_sandbox/payment_required", json={"enabled": False}).raise_for_status()
    con = ops_db.connect(pipeline.settings.ops_path)
    try:
        [replayed] = store.replay_failed(con)
    finally:
        con.close()
    [again] = pipeline.tick().run_requests
    assert again.run_key == f"webhook-events-{replayed}-{replayed}"
    assert pipeline.run(again).success
    pipeline.tick()
    assert [(e["id"], e["status"]) for e in pipeline.events()] == [(1, "replayed"), (replayed, "done")]


# --- the sandbox delivering ----------------------------------------------------------------------------


def test_subscribing_twice_changes_nothing(sandbox: Any) -> None:
    address = "https://example.com/webhooks"
    with (
        GeckoClient(sandbox.url, token=sandbox.token) as client,
        httpx.Client(base_url=sandbox.url) as control,
    ):
        existing, created = ensure_subscriptions(client, address)
        assert (existing, sorted(h["event"] for h in created)) == ([], sorted(DEFAULT_EVENTS))
        control.post("/_sandbox/stats/reset").raise_for_status()
        existing, created = ensure_subscriptions(client, address)
        assert (len(existing), created) == (len(DEFAULT_EVENTS), [])
        by_route = {k: v for k, v in control.get("/_sandbox/stats").json()["by_route"].items() if v}
    assert set(by_route) == {"GET /webhooks"}  # listed, nothing created


def test_a_stock_move_reaches_the_feed_through_receiver_and_sensor(pipeline: Pipeline) -> None:
    variant, location, before = listed_variant(pipeline)
    untouched = dict(
        pipeline.query("SELECT variant_id, quantity FROM channel_listings WHERE variant_id <> ?", [variant])
    )
    pipeline.subscribe()
    pipeline.reset_stats()
    pipeline.stock_move(variant, location, "-2")
    [event] = pipeline.wait_for_events(1)
    assert (event["event"], event["object_id"], event["status"]) == (
        "variant.stock_level_update",
        variant,
        "pending",
    )

    [request] = pipeline.tick().run_requests
    assert pipeline.run(request).success
    assert pipeline.requests_by_route() == {"GET /variants": 1}  # only the affected variant, by id
    [(quantity,)] = pipeline.query(
        "SELECT quantity FROM channel_listings WHERE channel = 'web' AND variant_id = ?", [variant]
    )
    assert quantity == before - 2
    assert (
        dict(
            pipeline.query(
                "SELECT variant_id, quantity FROM channel_listings WHERE variant_id <> ?", [variant]
            )
        )
        == untouched
    )
    changes = pipeline.changes()["changes"]
    assert [(c["variant_id"], Decimal(str(c["quantity"]))) for c in changes] == [(variant, before - 2)]


def _tail_children() -> list[int]:
    """Our child processes running `tail`: Dagster's compute-log capture starts two per run."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name, fields = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
        if name == "tail" and int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_a_refresh_launched_off_the_main_thread_ends_with_its_work(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # The stand-in daemon of the benchmarks (and of anyone driving the pipeline from a thread) launches
    # runs off the main thread, after runs on it; the process was started in the background by a shell
    # without job control, which ignores SIGINT. On an instance that captures compute logs as a
    # deployment's does (the ephemeral one does not), each such run stayed blocked 60 s after its work
    # and left two `tail` processes behind, and no sensor tick could happen meanwhile.
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    variant, location, _ = listed_variant(pipeline)
    pipeline.subscribe()
    sigint, sigterm = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `command &` in a script gives the command
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            pipeline.instance = instance
            pipeline.stock_move(variant, location, "-1")
            pipeline.wait_for_events(1)
            [request] = pipeline.tick().run_requests
            assert pipeline.run(request).success  # on the main thread
            assert signal.getsignal(signal.SIGTERM) == sigterm

            pipeline.stock_move(variant, location, "-1")
            pipeline.wait_for_events(2)
            [request] = pipeline.tick().run_requests
            runs: list[dg.ExecuteInProcessResult] = []
            started = time.monotonic()
            loop = threading.Thread(target=lambda: runs.append(pipeline.run(request)))
            loop.start()
            loop.join(timeout=180)
            took = time.monotonic() - started
            assert [run.success for run in runs] == [True]
            assert took < 25, f"the run took {took:.1f} s"  # Dagster waits 30 s for a tail it cannot stop
            assert _tail_children() == []
    finally:
        signal.signal(signal.SIGINT, sigint)
        signal.signal(signal.SIGTERM, sigterm)


def test_receiver_restarted_while_deliveries_are_retried_loses_no_event(pipeline: Pipeline) -> None:
    first, first_location, _ = listed_variant(pipeline)
    second, second_location, _ = listed_variant(pipeline, {first})
    pipeline.subscribe()

    def outage() -> None:
        pipeline.stock_move(first, first_location, "-1")
        pipeline.stock_move(second, second_location, "-1")
        deadline = time.monotonic() + 20
        while sum(bool(d["attempts"]) and "error" in d["attempts"][-1] for d in pipeline.deliveries()) < 2:
            assert time.monotonic() < deadline, pipeline.deliveries()  # both refused at least once
            time.sleep(0.02)
        # Checked while it is still down: once it serves again, the next retry may land at any moment.
        assert pipeline.events() == []  # nothing could be stored while the receiver was down

    pipeline.restart_gateway(outage)
    events = pipeline.wait_for_events(2)
    assert sorted(e["object_id"] for e in events) == sorted([first, second])
    delivered = {d["id"]: d for d in pipeline.deliveries()}
    assert {e["delivery_id"] for e in events} == set(delivered)
    assert all(d["state"] == "delivered" and len(d["attempts"]) >= 2 for d in delivered.values())


def test_deliveries_signed_by_another_sandbox_are_refused_and_stored_nowhere(
    pipeline: Pipeline, sandbox_factory: Callable[..., Any]
) -> None:
    # Another app (say another test's sandbox, still retrying to a port our gateway now holds) signs with
    # its own secret: what reaches our gateway from it must never be taken for our events.
    other = sandbox_factory(
        scale=20, rate_limit_quota=100_000, webhook_retry_base_delay=0.05, webhook_max_attempts=2
    )
    with GeckoClient(other.url, token=other.token) as client:
        ensure_subscriptions(client, pipeline.gateway.webhook_url)
    variant = next(v for v in dump(other, "variants") if v["locations"])
    httpx.post(
        f"{other.url}/_sandbox/activity/stock_move",
        json={
            "variant_id": variant["id"],
            "location_id": variant["locations"][0]["location_id"],
            "quantity": "-1",
        },
    ).raise_for_status()
    deadline = time.monotonic() + 20
    while (
        sent := httpx.get(f"{other.url}/_sandbox/webhook_deliveries").json()["webhook_deliveries"]
    ) == [] or sent[0]["state"] == "pending":
        assert time.monotonic() < deadline, sent
        time.sleep(0.02)
    assert [(d["state"], [a.get("status") for a in d["attempts"]]) for d in sent] == [("failed", [401, 401])]
    assert pipeline.events() == []


def test_subscribe_command(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gecko_pipeline.tools.cli import main

    monkeypatch.setenv("GECKO_API_URL", sandbox.url)
    monkeypatch.setenv("GECKO_ACCESS_TOKEN", sandbox.token)
    address = "https://example.com/webhooks"
    assert (
        main(["subscribe", "--address", address, "--events", "variant.stock_level_update,products.create"])
        == 0
    )
    assert "0 subscription(s) already there, 2 created" in capsys.readouterr().out
    assert (
        main(["subscribe", "--address", address, "--events", "variant.stock_level_update,product.create"])
        == 0
    )
    assert "2 subscription(s) already there, 0 created" in capsys.readouterr().out
    hooks = httpx.get(f"{sandbox.url}/webhooks", headers={"Authorization": f"Bearer {sandbox.token}"}).json()[
        "webhooks"
    ]
    assert sorted((h["event"], h["address"]) for h in hooks) == [
        ("product.create", address),
        ("variant.stock_level_update", address),
    ]
