"""A run whose worker process dies must not block later syncs; a live run must never lose its slot.

Real `dagster job execute` processes on a real DAGSTER_HOME (the repo's dagster.yaml), real SIGKILL and
SIGTERM, against the sandbox. To catch a run mid-step, holding its `duckdb_writer` slot, the sandbox
answers slowly (two minutes, beyond the client's 30 s timeout, so the step keeps retrying) until the test
lets requests through again. Waits are bounded and only assert that things finish.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from gecko_pipeline.defs.labels import POOL
from gecko_pipeline.defs.runs import BOOT_TAG, WorkerProcess, dead_run_sensor

pytestmark = pytest.mark.slow(70)

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
JOB = "incremental_sync_job"


def wait_for(condition: Callable[[], Any], *, within: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"{what}: not within {within:g}s")


@dataclass
class Deployment:
    """A sandbox, a data folder and a Dagster home, and runs started as the command line starts them."""

    sandbox: Any
    home: Path
    env: dict[str, str]
    logs: Path
    instance: dg.DagsterInstance
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_run(self, name: str, *, only_asset: str | None = None) -> subprocess.Popen[bytes]:
        """`dagster job execute` of the sync job, or `dagster asset materialize` of one asset (a short run
        in the same pool, through the same executor)."""
        what = (
            ["job", "execute", "-j", JOB]
            if only_asset is None
            else ["asset", "materialize", "--select", only_asset]
        )
        with (self.logs / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(
                [str(DAGSTER), *what, "-m", "gecko_pipeline.definitions"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        """Kill what a failed test left running (a run that hangs is the failure these tests look for)."""
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)

    def run_of(self, proc: subprocess.Popen[bytes]) -> dg.DagsterRun:
        """The run a process executes: the one whose "Executing steps in process" event names its pid."""

        def pid_of(entry: Any) -> str | None:
            data = entry.get_dagster_event().engine_event_data
            pid = data.metadata.get("pid") if data and data.metadata else None
            return pid.value if pid is not None else None

        def find() -> dg.DagsterRun | None:
            for record in self.instance.get_run_records():
                events = self.instance.all_logs(
                    record.dagster_run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
                )
                if any(pid_of(entry) == str(proc.pid) for entry in events):
                    return record.dagster_run
            return None

        return wait_for(find, within=180, what=f"the run of pid {proc.pid}")

    def holders(self) -> set[str]:
        return {s.run_id for s in self.instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}

    def messages(self, run_id: str) -> list[str]:
        return [entry.message for entry in self.instance.all_logs(run_id)]

    def status(self, run_id: str) -> dg.DagsterRunStatus:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        return run.status

    def hang_requests(self) -> None:
        httpx.put(f"{self.sandbox.url}/_sandbox/faults", json={"latency_ms": 120_000}).raise_for_status()

    def release_requests(self) -> None:
        httpx.put(f"{self.sandbox.url}/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()


@pytest.fixture
def deployment(sandbox_factory, tmp_path: Path) -> Iterator[Deployment]:
    sandbox = sandbox_factory(scale=20)
    home, data, logs = tmp_path / "dagster_home", tmp_path / "data", tmp_path / "logs"
    for folder in (home, data, logs):
        folder.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        "PATH": str(DAGSTER.parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(home),
        "GECKO_DATA_DIR": str(data),
        "GECKO_API_URL": sandbox.url,
        "GECKO_ACCESS_TOKEN": sandbox.token,
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        deployment = Deployment(sandbox, home, env, logs, instance)
        deployment.hang_requests()
        try:
            yield deployment
        finally:
            deployment.stop_all()


def holding_a_slot(deployment: Deployment, proc: subprocess.Popen[bytes]) -> dg.DagsterRun:
    run = deployment.run_of(proc)
    wait_for(lambda: run.run_id in deployment.holders(), within=120, what=f"run {run.run_id} holding a slot")
    return run


def kill_mid_extract(deployment: Deployment, proc: subprocess.Popen[bytes]) -> dg.DagsterRun:
    run = holding_a_slot(deployment, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert deployment.holders() == {run.run_id}, "killed between two steps: no slot to recover"
    assert deployment.status(run.run_id) == dg.DagsterRunStatus.STARTED
    return run


def test_a_killed_run_is_marked_failed_and_the_next_run_takes_its_slot(deployment: Deployment) -> None:
    first = deployment.start_run("killed")
    dead = kill_mid_extract(deployment, first)
    deployment.release_requests()

    second = deployment.start_run("next")
    assert second.wait(timeout=300) == 0, (deployment.logs / "next.log").read_text()[-3000:]
    run = deployment.run_of(second)
    assert deployment.status(run.run_id) == dg.DagsterRunStatus.SUCCESS
    line = f"freed pool slot of dead run {dead.run_id} (pid {first.pid} on host {socket.gethostname()}"
    assert any(line in m for m in deployment.messages(run.run_id)), deployment.messages(run.run_id)
    assert deployment.status(dead.run_id) == dg.DagsterRunStatus.FAILURE
    assert any("died" in m and f"run {run.run_id}" in m for m in deployment.messages(dead.run_id))
    assert deployment.holders() == set()


def test_the_daemon_path_frees_a_dead_runs_slot_from_the_sensor(deployment: Deployment) -> None:
    dead = kill_mid_extract(deployment, deployment.start_run("killed"))
    result = dead_run_sensor(dg.build_sensor_context(instance=deployment.instance))
    assert isinstance(result, dg.SkipReason)
    assert f"freed pool slot of dead run {dead.run_id}" in (result.skip_message or "")
    assert deployment.holders() == set()
    assert deployment.status(dead.run_id) == dg.DagsterRunStatus.FAILURE
    # Nothing left to do on the next tick.
    again = dead_run_sensor(dg.build_sensor_context(instance=deployment.instance))
    assert isinstance(again, dg.SkipReason) and again.skip_message == "no dead runs"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in USER_HZ (100 on Linux)


def test_a_live_run_keeps_its_slot_and_a_waiting_run_sleeps_and_stops_on_sigterm(
    deployment: Deployment,
) -> None:
    # Short runs of one asset each: what is tested is who waits for whom, not the sync.
    alive = deployment.start_run("alive", only_asset="account")
    holder = holding_a_slot(deployment, alive)

    stopped = deployment.start_run("stopped", only_asset="locations")
    waiting = deployment.run_of(stopped)
    line = f"waits for a slot of pool {POOL}, held by run {holder.run_id}"
    wait_for(
        lambda: any(line in m for m in deployment.messages(waiting.run_id)),
        within=120,
        what="the waiting run naming the run it waits for",
    )
    # Waiting, it sleeps between claim checks instead of spinning a core.
    before, since = cpu_seconds(stopped.pid), time.monotonic()
    time.sleep(4)
    assert cpu_seconds(stopped.pid) - before < (time.monotonic() - since) / 2
    # SIGTERM ends a run that waits for a slot (Dagster's loop would only notice once a step starts).
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(timeout=60) != 0
    assert deployment.status(waiting.run_id) == dg.DagsterRunStatus.FAILURE

    queued = deployment.start_run("queued", only_asset="locations")
    behind = deployment.run_of(queued)
    wait_for(
        lambda: any(line in m for m in deployment.messages(behind.run_id)),
        within=120,
        what="the next run waiting too",
    )
    assert deployment.holders() == {holder.run_id}  # nobody took the live run's slot
    assert deployment.status(holder.run_id) == dg.DagsterRunStatus.STARTED

    deployment.release_requests()  # the live run's request times out, is retried, and the run goes on
    assert alive.wait(timeout=300) == 0
    assert queued.wait(timeout=300) == 0
    for run in (holder, behind):
        assert deployment.status(run.run_id) == dg.DagsterRunStatus.SUCCESS
        assert not any("dead run" in m for m in deployment.messages(run.run_id))


def test_a_worker_is_dead_only_when_provably_so() -> None:
    me = WorkerProcess.current()
    assert me.why_dead() is None
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    gone = WorkerProcess(int(done.stdout), me.host, me.boot_id, me.started)
    assert gone.why_dead() == "the process is gone"
    if me.started is not None:  # Linux: a reused pid has another start time
        reused = WorkerProcess(me.pid, me.host, me.boot_id, str(int(me.started) - 1))
        assert reused.why_dead() == "its pid now belongs to another process"
    if me.boot_id is not None:
        rebooted = WorkerProcess.from_tags({**me.tags(), BOOT_TAG: "another-boot"})
        assert rebooted is not None and rebooted.why_dead() == "the host restarted since"
    # Processes of another machine or container: their pids say nothing here, so never freed.
    assert dataclasses.replace(gone, host="another-host").why_dead() is None
    if me.machine_id is not None:
        assert dataclasses.replace(gone, machine_id="another-machine").why_dead() is None
    if me.pid_namespace is not None:
        assert dataclasses.replace(gone, pid_namespace="pid:[1]").why_dead() is None
    assert WorkerProcess.from_tags(me.tags()) == me
    assert WorkerProcess.from_tags({"dagster/priority": "0"}) is None
