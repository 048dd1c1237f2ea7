"""The sync as a user runs it, and the same work without Dagster, for the benchmarks.

- `PipelineHome`: a data folder and a Dagster instance on persistent (SQLite) storage under its own
  DAGSTER_HOME with the project's dagster.yaml (what `make run` / `make dev` set up), pointed at a sandbox.
- `run_in_process`: `incremental_sync_job` with `execute_in_process` on that instance (tools/daemon.launch,
  as the demo runs it), with Dagster's own costs metered: every event-log write and every pool-slot claim.
- `run_cli`: the same job as `dagster job execute` in a new process (imports and definitions included).
- `same_work`: the job's four steps' work in this process without Dagster: the extract's function
  (`extract_tables`, the step's body) and the other three assets invoked directly (no run, no event log).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from bench._sandbox import TOKEN
from gecko_pipeline.config import Settings
from gecko_pipeline.defs.channels import ChannelScopeConfig, channels
from gecko_pipeline.defs.extract import extract_tables
from gecko_pipeline.defs.orders import channel_order_sync
from gecko_pipeline.defs.publish import published_warehouse
from gecko_pipeline.defs.resources import build_resources
from gecko_pipeline.tools.daemon import launch, run_requests, tick
from gecko_pipeline.warehouse import quality
from gecko_pipeline.warehouse.catalog import TABLE_LIST

ROOT = Path(__file__).resolve().parent.parent
JOB = "incremental_sync_job"
# What Dagster's storage does per event or claim: the storage methods metered in a run.
METERED = {
    "events": ("store_event",),
    "pool": (
        "claim_concurrency_slot",
        "free_concurrency_slot_for_step",
        "free_concurrency_slots_for_run",
        "get_pool_config",
        "get_pool_limits",
        "initialize_concurrency_limit_to_default",
    ),
}


@dataclass
class Meter:
    """Calls and seconds spent in some methods of an object (Dagster's event log storage)."""

    calls: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def installed(self, target: object, groups: Mapping[str, tuple[str, ...]]) -> Iterator[Meter]:
        originals = {}
        for group, names in groups.items():
            for name in names:
                if hasattr(target, name):
                    originals[name] = getattr(target, name)
                    setattr(target, name, self._timed(group, originals[name]))
        try:
            yield self
        finally:
            for name in originals:
                delattr(target, name)  # the instance attribute goes; the class's method is back

    def _timed(self, group: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls[group] = self.calls.get(group, 0) + 1
                self.seconds[group] = self.seconds.get(group, 0.0) + time.perf_counter() - started

        return timed


@dataclass
class JobRun:
    """One run of the sync job: its wall time, its steps' durations, and Dagster's metered costs."""

    seconds: float
    steps: dict[str, float]
    events: int
    meter: Meter | None = None  # None: run in another process (not metered)
    startup_s: float = 0.0  # `dagster job execute`: from the process's start to the run's creation


class PipelineHome:
    """A data folder and a DAGSTER_HOME (SQLite storage, the project's dagster.yaml) for one sandbox."""

    def __init__(
        self,
        root: Path,
        name: str,
        url: str,
        channels_file: Path | None = None,
        secrets: Mapping[str, str] | None = None,
        app_secret: str | None = None,
    ) -> None:
        """`secrets`: variables a channel file names (order intake secrets), with their values;
        `app_secret`: the OAuth app secret that signs the sandbox's webhooks."""
        self.data_dir = root / name / "data"
        self.home = root / name / "dagster_home"
        self.home.mkdir(parents=True)
        shutil.copy(ROOT / "dagster.yaml", self.home / "dagster.yaml")
        self.url, self.channels_file, self.secrets = url, channels_file, dict(secrets or {})
        if app_secret:
            self.secrets["GECKO_CLIENT_SECRET"] = app_secret
        self.settings = Settings(
            api_url=url,
            access_token=TOKEN,
            client_secret=app_secret,
            data_dir=self.data_dir,
            channels_file=channels_file,
            named_secrets=self.secrets,
        )

    def variables(self) -> dict[str, str]:
        channels = {"GECKO_CHANNELS_FILE": str(self.channels_file)} if self.channels_file else {}
        return {
            "GECKO_API_URL": self.url,
            "GECKO_ACCESS_TOKEN": TOKEN,
            "GECKO_DATA_DIR": str(self.data_dir),
            "DAGSTER_HOME": str(self.home),
            **channels,
            **self.secrets,
        }

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """This home's environment for the block: the code location and its EnvVar secrets read it."""
        saved = dict(os.environ)
        os.environ.update(self.variables())
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @contextlib.contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The persistent instance a user's runs land in (DagsterInstance.get() under this home)."""
        with self.environment(), dg.DagsterInstance.get() as instance:
            yield instance

    def definitions(self) -> dg.Definitions:
        """The code location as a deployment loads it, from this home's environment."""
        from gecko_pipeline.definitions import build_definitions  # noqa: PLC0415 - reads the environment

        with self.environment():
            return build_definitions()

    def run_in_process(self, defs: dg.Definitions, ephemeral: bool = False) -> JobRun:
        """The job with execute_in_process on this home's instance (or an in-memory one), metered."""
        instance_of = dg.DagsterInstance.ephemeral if ephemeral else self.instance
        with self.environment(), instance_of() as instance:
            meter = Meter()
            with meter.installed(instance.event_log_storage, METERED):
                started = time.perf_counter()
                result = launch(defs, instance, JOB, dg.RunRequest())
                seconds = time.perf_counter() - started
            if not result.success:
                raise RuntimeError(f"{JOB} failed in run {result.run_id}")
            return JobRun(
                seconds, _step_seconds(instance, result.run_id), _events(instance, result.run_id), meter
            )

    def run_cli(self) -> JobRun:
        """The job as `dagster job execute` in a new process, with console logging at WARNING."""
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as config:
            config.write("loggers:\n  console:\n    config:\n      log_level: WARNING\n")
        command = [
            str(Path(sys.executable).parent / "dagster"),
            "job",
            "execute",
            "-m",
            "gecko_pipeline.definitions",
            "-j",
            JOB,
            "-c",
            config.name,
        ]
        try:
            started_at, started = time.time(), time.perf_counter()
            done = subprocess.run(
                command, env={**os.environ, **self.variables()}, cwd=ROOT, capture_output=True, text=True
            )
            seconds = time.perf_counter() - started
        finally:
            Path(config.name).unlink()
        if done.returncode:
            raise RuntimeError(f"dagster job execute failed:\n{done.stderr[-3000:]}")
        with self.instance() as instance:
            record = instance.get_run_records(dg.RunsFilter(job_name=JOB), limit=1)[0]
            run_id = record.dagster_run.run_id
            return JobRun(
                seconds,
                _step_seconds(instance, run_id),
                _events(instance, run_id),
                startup_s=record.create_timestamp.timestamp() - started_at,
            )

    def same_work(self) -> tuple[float, float]:
        """The job's work in this process without Dagster: (seconds, of which the extract's)."""
        resources = build_resources(self.settings)
        warehouse, gecko_api = resources["warehouse"], resources["gecko_api"]
        started = time.perf_counter()
        with (
            gecko_api.get_client() as client,
            warehouse.connect(memory_limit=warehouse.sync_memory_limit) as con,
        ):
            run = extract_tables(
                client,
                con,
                [spec.name for spec in TABLE_LIST],
                quality.RULES,
                overlap=timedelta(seconds=warehouse.incremental_overlap_seconds),
            )
            list(run.events())  # the results the step hands to Dagster, built the same way
        extract_s = time.perf_counter() - started
        # A directly invoked asset logs its lines to stderr (a console logger of its own): not the figures.
        with contextlib.redirect_stderr(io.StringIO()):
            for asset in (channel_order_sync, channels, published_warehouse):
                _invoke(asset, resources)
        return time.perf_counter() - started, extract_s


def _invoke(asset: dg.AssetsDefinition, resources: Mapping[str, Any]) -> None:
    """An asset's function called directly (no run, no event log), its results consumed."""
    with dg.build_asset_context(resources=resources) as context:
        outcome = asset(context, ChannelScopeConfig()) if asset is channels else asset(context)
        if isinstance(outcome, Iterator):
            list(outcome)  # a generator does its work as it is consumed


def quiet_tick(defs: dg.Definitions, instance: dg.DagsterInstance, sensor: str, cursor: str | None) -> object:
    """tools/daemon.tick, without the sensor's INFO lines on stderr (a console logger of its own)."""
    with contextlib.redirect_stderr(io.StringIO()):
        return tick(defs, instance, sensor, cursor)


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    return {
        s.step_key: (s.end_time or 0.0) - (s.start_time or 0.0) for s in instance.get_run_step_stats(run_id)
    }


def _events(instance: dg.DagsterInstance, run_id: str) -> int:
    return len(instance.get_records_for_run(run_id, limit=100_000).records)


@dataclass(frozen=True)
class LoopRun:
    """A run a SensorLoop launched: its request, when it started and ended (time.monotonic), its result."""

    request: dg.RunRequest
    started: float
    ended: float
    result: dg.ExecuteInProcessResult


class SensorLoop:
    """The Dagster daemon's part for one sensor, in a thread: the sensor evaluated every `interval`
    seconds on a fixed cadence, each run it asks for executed in process (a tick due while a run goes is
    skipped, as the daemon does). A failed run or a tick that raised goes into `problems` and the loop
    goes on; so does a skip whose message contains one of `problem_skips`. Use it as a context manager."""

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        sensor: str,
        job: str,
        interval: float,
        cursor: str | None = None,
        problem_skips: tuple[str, ...] = (),
    ) -> None:
        self.defs, self.instance, self.sensor, self.job = defs, instance, sensor, job
        self.interval, self.cursor, self.problem_skips = interval, cursor, problem_skips
        self.runs: list[LoopRun] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._doing = ("starting", time.perf_counter())
        self._thread = threading.Thread(target=self._loop, name=f"{sensor}-loop", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 120.0) -> None:
        """Stops ticking; waits up to `timeout` for a run in progress to end."""
        self._stop.set()
        self._thread.join(timeout=timeout)

    def __enter__(self) -> SensorLoop:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def finished_runs(self) -> list[LoopRun]:
        with self.lock:
            return list(self.runs)

    def doing(self) -> str:
        """What the loop is doing and for how long (for a report on something not seen in time)."""
        what, since = self._doing
        return f"{what} for {time.perf_counter() - since:.1f} s"

    def _now_doing(self, what: str) -> None:
        self._doing = (what, time.perf_counter())

    def _loop(self) -> None:
        next_tick = time.monotonic() + self.interval
        while not self._stop.wait(max(next_tick - time.monotonic(), 0)):
            try:
                self._tick()
            except Exception as exc:  # noqa: BLE001 - a daemon goes on after a bad tick; the report says it
                where = " <- ".join(
                    f"{Path(f.filename).name}:{f.lineno} {f.name}"
                    for f in reversed(traceback.extract_tb(exc.__traceback__)[-4:])
                )
                self.problems.append(f"tick failed: {exc!r} at {where}")
            self._now_doing("waiting for the next tick")
            now = time.monotonic()
            while next_tick <= now:
                next_tick += self.interval

    def _tick(self) -> None:
        self._now_doing(f"evaluating {self.sensor}")
        result = quiet_tick(self.defs, self.instance, self.sensor, self.cursor)
        if isinstance(result, dg.SensorResult) and result.cursor:
            self.cursor = result.cursor
        skipped = result.skip_reason if isinstance(result, dg.SensorResult) else None
        message = (skipped.skip_message if skipped else None) or ""
        if any(s in message for s in self.problem_skips):
            self.problems.append(f"tick: {message}")
        for request in run_requests(result):
            self._now_doing(f"running {self.job} ({request.run_key})")
            started = time.monotonic()
            run = launch(self.defs, self.instance, self.job, request, raise_on_error=False)
            with self.lock:
                self.runs.append(LoopRun(request, started, time.monotonic(), run))
            if not run.success:
                steps = run.get_step_failure_events()
                error = steps[0].event_specific_data.error if steps else None  # type: ignore[union-attr]
                why = error.message.strip() if error else "no step failed"
                self.problems.append(f"run {run.run_id} failed: {why[:300]}")
