"""What the Dagster daemon does, in this process: evaluate a sensor of the Definitions and run what it
asks for. The demo, the benchmarks and the tests drive the pipeline this way, through the very sensors
and jobs a deployment runs, without a daemon in the background."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from gecko_pipeline.defs.runs import WorkerProcess
from gecko_pipeline.tools.runs import CONSOLE_QUIET_RUN_CONFIG


@contextmanager
def _sigterm_kept() -> Iterator[None]:
    """Puts SIGTERM's handler back as it was once Dagster code has run on the main thread.

    Dagster's interrupt handling (a run, a sensor's resources) ends by giving SIGTERM SIGINT's handler,
    which is SIG_IGN in a process that a shell without job control started in the background
    (`command &` in a script). Every process started afterwards would ignore SIGTERM, among them the
    `tail` processes of the compute-log capture of a run launched off the main thread (where Dagster
    sets no handler): Dagster stops those with SIGTERM and waits 30 s for each, so such a run ended a
    minute after its work, left both running, and a loop ticking the sensor stood still meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; Dagster leaves them alone there too
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler not set from Python, which cannot be restored
            signal.signal(signal.SIGTERM, previous)


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, sensor: str, cursor: str | None = None
) -> object:
    """One evaluation of `sensor`, with the code location's resources (a SensorResult, RunRequest or
    SkipReason, whatever the sensor returns)."""
    definition = defs.resolve_sensor_def(sensor)
    with (
        _sigterm_kept(),
        dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=defs.resources, definitions=defs
        ) as context,
    ):
        return definition(context)


def run_requests(result: object) -> list[dg.RunRequest]:
    """The run requests of a sensor's answer, whatever its shape."""
    if isinstance(result, dg.RunRequest):
        return [result]
    if isinstance(result, dg.SensorResult):
        return [r for r in result.run_requests or [] if isinstance(r, dg.RunRequest)]
    return []


def launch(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job: str,
    request: dg.RunRequest,
    logging_config: Mapping[str, Any] = CONSOLE_QUIET_RUN_CONFIG,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Runs a sensor's request in process: its config, tags and asset selection. execute_in_process
    uses Dagster's own executor, so the run is tagged with this process: a later run can then tell
    whether a run this process left STARTED (killed mid-run) is dead (defs/runs.py). Fit for a thread
    (a stand-in daemon's loop) as well as the main thread: see `_sigterm_kept`."""
    with _sigterm_kept():
        return defs.resolve_job_def(job).execute_in_process(
            run_config={**dict(request.run_config or {}), **logging_config},
            instance=instance,
            tags={**request.tags, **WorkerProcess.current().tags()},
            asset_selection=list(request.asset_selection) if request.asset_selection else None,
            raise_on_error=raise_on_error,
        )
