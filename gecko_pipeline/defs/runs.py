"""Runs whose worker process died (SIGKILL, OOM, a host restart) must not keep the pool slots they held.

Dagster frees a step's `duckdb_writer` slot when the step ends; a run worker killed mid-step never gets
there, and Dagster 1.13 cannot tell that the worker is gone (the DefaultRunLauncher supports no worker
health check, and `run_monitoring.free_slots_after_run_end_seconds` only frees slots of runs already
marked finished). Such a run stays STARTED and its slot claimed forever, and every later sync waits.

So every run records its worker process in run tags (pid, host name, machine and boot id, pid
namespace, the process's start time) before any step claims a slot (defs/executor.py), and
`reap_dead_runs` looks at the runs holding pool slots (or still STARTED): a run whose worker is provably
dead on this host (the host rebooted since, the pid is gone or a zombie, or the pid now belongs to a
process started later) is marked failed and its slots are freed. A run on another machine or in another
container, or without the tags, is never touched: a live run's slot is never freed. The reaper runs at
the start of every run, while a step waits for a slot, and from `dead_run_sensor` under the daemon
(where a queued run is not even started while the pool is full).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

PID_TAG = "gecko_pipeline/worker_pid"
HOST_TAG = "gecko_pipeline/worker_host"
BOOT_TAG = "gecko_pipeline/worker_boot_id"
PID_NS_TAG = "gecko_pipeline/worker_pid_namespace"  # containers sharing a host name have their own pids
MACHINE_TAG = "gecko_pipeline/worker_machine_id"  # two machines may share a host name, not a machine id
STARTED_TAG = "gecko_pipeline/worker_started"  # process start, clock ticks since boot (/proc/<pid>/stat)

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_MACHINE_IDS = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
_UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def _read_first(*paths: Path) -> str | None:
    for path in paths:
        try:
            found = path.read_text().strip()
        except OSError:
            continue
        if found:
            return found
    return None


def _boot_id() -> str | None:
    return _read_first(_BOOT_ID)  # None off Linux: a reboot is then detected only through the pid


def _machine_id() -> str | None:
    return _read_first(*_MACHINE_IDS)


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc, or None when there is no such file."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], fields[19]  # fields 3 (state) and 22 (starttime) of proc(5)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _differ(recorded: str | None, here: str | None) -> bool:
    return bool(recorded and here and recorded != here)


@dataclass(frozen=True)
class WorkerProcess:
    """The process that executes a run's steps (and holds its pool slots)."""

    pid: int
    host: str
    boot_id: str | None
    started: str | None
    pid_namespace: str | None = None
    machine_id: str | None = None

    @classmethod
    def current(cls) -> WorkerProcess:
        pid = os.getpid()
        stat = _proc_stat(pid)
        started = stat[1] if stat else None
        return cls(pid, socket.gethostname(), _boot_id(), started, _pid_namespace(), _machine_id())

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> WorkerProcess | None:
        try:
            pid, host = int(tags[PID_TAG]), tags[HOST_TAG]
        except (KeyError, ValueError):
            return None
        return cls(
            pid,
            host,
            tags.get(BOOT_TAG),
            tags.get(STARTED_TAG),
            tags.get(PID_NS_TAG),
            tags.get(MACHINE_TAG),
        )

    def tags(self) -> dict[str, str]:
        found = {
            PID_TAG: str(self.pid),
            HOST_TAG: self.host,
            BOOT_TAG: self.boot_id,
            STARTED_TAG: self.started,
            PID_NS_TAG: self.pid_namespace,
            MACHINE_TAG: self.machine_id,
        }
        return {name: value for name, value in found.items() if value}

    def why_dead(self) -> str | None:
        """Why this process is provably gone, or None: alive, or not provable from here."""
        if self.host != socket.gethostname() or _differ(self.machine_id, _machine_id()):
            return None  # another machine's pids say nothing here
        if _differ(self.boot_id, _boot_id()):
            return "the host restarted since"  # a restart ends every process of the machine
        if _differ(self.pid_namespace, _pid_namespace()):
            return None  # another container on this host: its pids are not ours
        stat = _proc_stat(self.pid)
        if stat is None:
            return None if _pid_exists(self.pid) else "the process is gone"
        state, started = stat
        if self.started and started != self.started:
            return "its pid now belongs to another process"
        if state in ("Z", "X"):
            return "the process is gone (a zombie)"
        return None

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}"


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    worker: WorkerProcess
    reason: str
    held_slots: bool

    def line(self) -> str:
        what = "freed pool slot of dead run" if self.held_slots else "marked failed dead run"
        return f"{what} {self.run_id} ({self.worker.describe()}: {self.reason})"


def pool_holders(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """Run ids holding a slot of `pool`, or given one they have not taken yet."""
    if not instance.event_log_storage.supports_global_concurrency_limits:
        return []
    info = instance.event_log_storage.get_concurrency_info(pool)
    assigned = [step.run_id for step in info.pending_steps if step.assigned_timestamp is not None]
    return list(dict.fromkeys([*(slot.run_id for slot in info.claimed_slots), *assigned]))


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    worker = WorkerProcess.from_tags(run.tags) if run else None
    if run is None:
        return f"run {run_id} (deleted)"
    if worker is None:
        return (
            f"run {run_id} ({run.status.value}, no worker process recorded: free it in the UI if it is dead)"
        )
    return f"run {run_id} ({run.status.value}, {worker.describe()})"


def reap_dead_runs(
    instance: dg.DagsterInstance, *, by: str, exclude_run_id: str | None = None
) -> list[DeadRun]:
    """Mark failed, and free the pool slots of, every run whose worker is provably dead on this host.

    `by` says who found it, for the failed run's event log (e.g. "run <id>", "dead_run_sensor"); the
    caller logs each `DeadRun.line()` where its reader looks (the run's log, the sensor's, the console).
    """
    storage = instance.event_log_storage
    holding = storage.get_concurrency_run_ids() if storage.supports_global_concurrency_limits else set()
    # STARTED runs of this host too: a dead run with no slot still blocks sensors that wait for it.
    unfinished = instance.get_run_records(
        filters=dg.RunsFilter(statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    )
    candidates = dict.fromkeys([*sorted(holding), *(r.dagster_run.run_id for r in unfinished)])
    reaped: list[DeadRun] = []
    for run_id in candidates:
        if run_id == exclude_run_id:
            continue
        run = instance.get_run_by_id(run_id)
        worker = WorkerProcess.from_tags(run.tags) if run else None
        reason = worker.why_dead() if worker else None
        if run is None or worker is None or reason is None:
            continue  # deleted (Dagster freed its slots), unprovable, or alive
        dead = DeadRun(run_id, worker, reason, held_slots=run_id in holding)
        if run.status not in (
            dg.DagsterRunStatus.SUCCESS,
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED,
        ):
            instance.report_run_failed(
                run,
                f"Run worker {worker.describe()} died ({reason}) without ending the run: marked failed "
                f"by {by} so that its pool slots are freed.",
            )
        if dead.held_slots:
            storage.free_concurrency_slots_for_run(run_id)
        reaped.append(dead)
    return reaped


DEAD_RUN_SENSOR_INTERVAL_SECONDS = 60


@dg.sensor(
    minimum_interval_seconds=DEAD_RUN_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Every {DEAD_RUN_SENSOR_INTERVAL_SECONDS} s: marks failed the runs whose worker process died on this host (killed, out of memory, "
        "a host restart) and frees the `duckdb_writer` pool slots they held, so queued syncs can start. "
        "A run that is alive, or whose worker is on another host, is never touched."
    ),
)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    reaped = reap_dead_runs(context.instance, by="dead_run_sensor")
    for dead in reaped:
        context.log.warning(dead.line())
    return dg.SkipReason("; ".join(d.line() for d in reaped) or "no dead runs")
