"""The pipeline's executor: Dagster's in-process executor, plus run recovery and a sane wait for pool slots.

Before any step claims a slot, the run records its worker process in run tags and frees the slots of
runs whose worker died (defs/runs.py), saying so in this run's log.

Waiting for a `duckdb_writer` slot, Dagster 1.13's in-process loop polls without sleeping
(`InstanceConcurrencyContext.interval_to_next_pending_claim_check` returns `min(0, ...)`, so
`sleep_til_ready` never sleeps: a whole core spins) and only looks at SIGTERM / SIGINT once a step
starts (they are captured, not raised, between steps). `BoundedPoolWait` replaces that context for
our runs: it sleeps until the next claim check (at most a second), turns a captured interrupt into
the run's end, names the runs it waits for, looks for dead holders again every
`dead_run_check_interval_seconds`, and gives up with `PoolSlotWaitTimeout` after `max_pool_wait_seconds`.

Built on Dagster internals (InProcessExecutor, InstanceConcurrencyContext, inner_plan_execution_iterator),
checked against dagster 1.13.27, the version pyproject pins; `execute()` mirrors InProcessExecutor.execute
with our concurrency context swapped in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import dagster as dg
from dagster._config import Field
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.execution.step_dependency_config import (
    StepDependencyConfig,
    get_step_dependency_config_field,
)
from dagster._core.executor.in_process import InProcessExecutor
from dagster._utils.interrupts import pop_captured_interrupt

from gecko_pipeline.defs.runs import WorkerProcess, describe_run, pool_holders, reap_dead_runs

# A sync waiting this long for the writer is behind something wrong (a nightly full refresh of a large
# account takes a few hours at 300 requests per 5 minutes): fail with the holders' names instead.
DEFAULT_MAX_POOL_WAIT_SECONDS = 6 * 3600.0
DEFAULT_DEAD_RUN_CHECK_INTERVAL_SECONDS = 30.0
MAX_CLAIM_POLL_SECONDS = 1.0  # how soon a waiting run notices a freed slot or an interrupt


class PoolSlotWaitTimeout(Exception):
    """A step waited longer than `max_pool_wait_seconds` for a slot of its pool."""


class BoundedPoolWait(InstanceConcurrencyContext):
    """Dagster's pool-slot claims, with a bounded, sleeping, interruptible, explained wait."""

    def __init__(self, job_context: PlanExecutionContext, max_wait: float, check_interval: float) -> None:
        super().__init__(job_context.instance, job_context.dagster_run)
        self._job_context = job_context
        self._max_wait = max_wait
        self._check_interval = check_interval
        self._waiting_since: dict[str, float] = {}
        self._next_check = 0.0
        self._reported: str | None = None

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        if super().claim(concurrency_key, step_key, step_priority):
            self._waiting_since.pop(step_key, None)
            return True
        if pop_captured_interrupt():
            raise DagsterExecutionInterruptedError(
                f"interrupted while {step_key} waited for a slot of pool {concurrency_key}"
            )
        now = time.monotonic()
        since = self._waiting_since.setdefault(step_key, now)
        if now >= self._next_check:  # at once on the run's first wait, then every check interval
            self._next_check = now + self._check_interval
            self._look_at_holders(concurrency_key, step_key)
        if now - since > self._max_wait:
            raise PoolSlotWaitTimeout(
                f"{step_key} waited {now - since:.0f}s (max_pool_wait_seconds={self._max_wait:g}) for a slot "
                f"of pool {concurrency_key}, held by {self._holders(concurrency_key) or 'no run any more'}"
            )
        return False

    def _holders(self, pool: str) -> str:
        others = [r for r in pool_holders(self._instance, pool) if r != self._run_id]
        return ", ".join(describe_run(self._instance, r) for r in others)

    def _look_at_holders(self, pool: str, step_key: str) -> None:
        log = self._job_context.log
        reaped = reap_dead_runs(self._instance, by=f"run {self._run_id}", exclude_run_id=self._run_id)
        for dead in reaped:
            log.warning(dead.line())
        if reaped:  # claim again at once rather than after Dagster's backoff (up to 15 s)
            for key in self._pending_timeouts:
                self._pending_timeouts[key] = 0.0
        holders = self._holders(pool)
        if holders != self._reported:  # one line per change, not one per step or per check
            self._reported = holders
            log.info(
                f"{step_key} waits for a slot of pool {pool}, held by {holders or 'nobody at the moment'}; "
                f"a step gives up after {self._max_wait:g}s"
            )

    def interval_to_next_pending_claim_check(self) -> float:
        # Dagster's own returns min(0, ...): never a sleep, so the wait spins a core.
        if not self._pending_claims:
            return 0.0
        now = time.time()
        soonest = min((ready - now for ready in self._pending_timeouts.values()), default=0.0)
        return min(max(soonest, 0.0), MAX_CLAIM_POLL_SECONDS)


class RecoveringInProcessExecutor(InProcessExecutor):
    def __init__(
        self,
        retries: RetryMode,
        step_dependency_config: StepDependencyConfig,
        max_pool_wait_seconds: float,
        dead_run_check_interval_seconds: float,
    ) -> None:
        super().__init__(retries=retries, step_dependency_config=step_dependency_config)
        self.max_pool_wait_seconds = max_pool_wait_seconds
        self.dead_run_check_interval_seconds = dead_run_check_interval_seconds

    def _iterator(
        self, job_context: PlanExecutionContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        with BoundedPoolWait(
            job_context, self.max_pool_wait_seconds, self.dead_run_check_interval_seconds
        ) as concurrency:
            yield from inner_plan_execution_iterator(job_context, execution_plan, concurrency)

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        instance, run_id = plan_context.instance, plan_context.run_id
        worker = WorkerProcess.current()
        # Recorded before any step can claim a slot, so a reaper can always tell whether we are alive.
        instance.add_run_tags(run_id, worker.tags())
        for dead in reap_dead_runs(instance, by=f"run {run_id}", exclude_run_id=run_id):
            plan_context.log.warning(dead.line())
        step_keys = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process ({worker.describe()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys),
        )
        yield from ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=self._iterator,
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job,
                retry_mode=plan_context.retry_mode,
                execution_plan=plan_context.execution_plan,
                run_config=plan_context.run_config,
                dagster_run=plan_context.dagster_run,
                instance=instance,
                raise_on_error=plan_context.raise_on_error,
                output_capture=plan_context.output_capture,
                step_dependency_config=self.step_dependency_config,
            ),
        )
        yield DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in process ({worker.describe()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys),
        )


@dg.executor(
    name="in_process",
    config_schema={
        "retries": get_retries_config(),
        "step_dependency_config": get_step_dependency_config_field(),
        "max_pool_wait_seconds": Field(
            float,
            default_value=DEFAULT_MAX_POOL_WAIT_SECONDS,
            description="A step waiting longer than this for a pool slot fails the run with PoolSlotWaitTimeout.",
        ),
        "dead_run_check_interval_seconds": Field(
            float,
            default_value=DEFAULT_DEAD_RUN_CHECK_INTERVAL_SECONDS,
            description="While a step waits for a slot, how often the holders are checked for dead workers.",
        ),
    },
)
def recovering_in_process_executor(init_context: dg.InitExecutorContext) -> RecoveringInProcessExecutor:
    """All steps in one process (DuckDB takes one writer per file); dead runs' pool slots are freed
    first, and a wait for a slot is bounded, sleeps, and ends on SIGTERM."""
    config = init_context.executor_config
    return RecoveringInProcessExecutor(
        retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
        step_dependency_config=StepDependencyConfig.from_config(config.get("step_dependency_config")),  # type: ignore[arg-type]
        max_pool_wait_seconds=float(config["max_pool_wait_seconds"]),  # type: ignore[arg-type]
        dead_run_check_interval_seconds=float(config["dead_run_check_interval_seconds"]),  # type: ignore[arg-type]
    )
